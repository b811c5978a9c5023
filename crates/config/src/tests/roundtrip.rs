use std::time::Duration;

use crate::*;

/// A config with every field away from its default.
fn everything_set() -> Config {
    Config {
        server: ServerConfig {
            bind: "[::1]:9443".parse().unwrap(),
            trusted_proxies: vec![
                "10.0.0.0/8".parse().unwrap(),
                "192.0.2.7/32".parse().unwrap(),
            ],
            shutdown_notice: Some("restarting \"soon\"\n".into()),
            drain_timeout: Duration::from_millis(1234),
            handshake_timeout: Duration::from_millis(2500),
            max_header_bytes: 9000,
            tls: Some(TlsConfig {
                cert_file: "/etc/switchboard/cert.pem".into(),
                key_file: "/etc/switchboard/key.pem".into(),
            }),
            emulation_path: "/emu".into(),
        },
        api: ApiConfig {
            key: "s3cret".into(),
            max_body_size: 4096,
            keys: vec![ApiKey {
                name: "reader".into(),
                key: String::new(),
                key_sha256: "ab".repeat(32),
                scope: ApiScope::Read,
            }],
            reply_hold_size: 7,
            reply_hold_ttl: Duration::from_millis(9000),
        },
        endpoints: vec![
            EndpointConfig {
                path: "/a".into(),
                message_schema_file: "schemas/a.json".into(),
                receipts: true,
                sse_path: "/a/sse".into(),
                http_stream_path: String::new(),
                mode: Mode::Echo,
                max_connections: 7,
                max_message_size: 125,
                idle_timeout: Some(Duration::from_millis(60_000)),
                max_lifetime: Some(Duration::from_millis(3_600_000)),
                heartbeat: HeartbeatConfig {
                    mode: HeartbeatMode::Send,
                    interval: Duration::from_millis(500),
                    timeout: Duration::from_millis(100),
                },
                welcome: true,
                welcome_message: "hi {remote_addr} at {timestamp}".into(),
                compression: Compression::Dedicated,
                deflate: DeflateConfig {
                    server_max_window_bits: 9,
                    client_max_window_bits: 12,
                    level: 9,
                    threshold: 0,
                },
                outbound_queue_bytes: 1024,
                overflow: OverflowPolicy::Drop,
                write_delay: Some(Duration::from_millis(5)),
                format: EventFormat::Envelope,
                allowed_origins: vec!["https://example.com".into(), "*".into()],
                subprotocols: vec!["graphql-ws".into()],
                auth: EndpointAuth {
                    mode: AuthMode::ApiKey,
                    sources: vec![TokenSource::Query, TokenSource::Connect],
                    query_param: "key".into(),
                    connect_timeout: Duration::from_millis(2500),
                    api_keys: vec![ClientKey {
                        name: "device-1".into(),
                        key: "k3y-k3y-k3y".into(),
                        key_sha256: String::new(),
                    }],
                },
                limits: EndpointLimits {
                    connections_per_ip: 3,
                    messages_per_second: 2.5,
                    message_burst: 4,
                    user_messages_per_second: 10.0,
                    excess_before_close: 7,
                },
            },
            EndpointConfig {
                path: "/b".into(),
                ..EndpointConfig::default()
            },
            EndpointConfig {
                path: "/connection/websocket".into(),
                mode: Mode::Channels,
                http_stream_path: "/connection/http_stream".into(),
                ..EndpointConfig::default()
            },
        ],
        proxy: ProxyConfig {
            connect_url: "http://backend/connect".into(),
            subscribe_url: "http://backend/subscribe".into(),
            publish_url: "https://backend/publish".into(),
            rpc_url: "http://backend/rpc".into(),
            timeout: Duration::from_millis(750),
            cache_ttl: Duration::from_millis(30_000),
            on_error: OnError::Allow,
            secret: "proxy-secret".into(),
            headers: [("X-Env".to_string(), "test".to_string())].into(),
        },
        sinks: SinksConfig {
            stdout: StdoutSinkConfig {
                enabled: false,
                queue_capacity: 1,
            },
            store_path: "/var/lib/switchboard/sinks.redb".into(),
            webhooks: vec![WebhookConfig {
                name: "flows".into(),
                url: "https://flows.example/hook".into(),
                secret: "s".into(),
                headers: [("X-Source".to_string(), "sb".to_string())].into(),
                endpoints: vec!["/b".into()],
                events: vec!["message".into(), "rpc".into()],
                timeout: Duration::from_millis(2500),
                replies: false,
                delivery: Delivery {
                    batch_size: 50,
                    linger: Duration::from_millis(5),
                    busy_backlog: 1000,
                    ..Delivery::default()
                },
            }],
            redis_streams: vec![RedisStreamConfig {
                name: "stream".into(),
                url: "redis://127.0.0.1:6379".into(),
                maxlen: 0,
                ..RedisStreamConfig::default()
            }],
        },
        log: LogConfig {
            level: "debug,hyper=warn".into(),
            format: LogFormat::Json,
        },
        broker: crate::BrokerConfig {
            kind: crate::BrokerKind::Redis,
            url: "rediss://10.0.0.9:6380/2".into(),
            urls: vec![
                "rediss://10.0.0.9:7000".into(),
                "rediss://10.0.0.10:7000".into(),
            ],
            cluster: true,
            username: "app".into(),
            password: "hunter2".into(),
            // Validation reads the file, and tls_insecure excludes it;
            // tests/broker.rs round-trips a CA file.
            tls_ca_file: String::new(),
            tls_insecure: true,
            prefix: "sb-test.1".into(),
            start_degraded: true,
        },
        channels: ChannelsConfig {
            max_channels_per_connection: 1,
            channel_max_length: 1024,
            history_max_limit: 7,
            ping_interval: Duration::from_millis(1500),
            pong_timeout: Duration::from_millis(1499),
            user_offline_grace: Duration::ZERO,
            allow_anonymous: false,
            token_hmac_secret: "0123456789abcdef0123456789abcdef".into(),
            default: every_option_set(),
            namespaces: vec![
                Namespace {
                    name: "chat_1-x".into(),
                    options: every_option_set(),
                },
                Namespace {
                    name: "plain".into(),
                    options: NamespaceOptions::default(),
                },
            ],
        },
        auth: AuthConfig {
            jwt: JwtConfig {
                hmac_secret: "0123456789abcdef0123456789abcdef".into(),
                public_key_pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
                    .into(),
                public_key_file: Some("/etc/switchboard/jwt.pub".into()),
                jwks_url: "https://login.example/jwks.json".into(),
                jwks_file: Some("/etc/switchboard/jwks.json".into()),
                jwks_refresh: Duration::from_millis(60_000),
                jwks_fetch_timeout: Duration::from_millis(750),
                audience: "switchboard".into(),
                issuer: "https://login.example".into(),
                leeway: Duration::from_millis(2000),
                require_exp: false,
            },
            refresh_window: Duration::from_millis(3000),
        },
        demo: DemoConfig {
            enabled: true,
            dir: "/srv/demo".into(),
        },
    }
}

/// Namespace options with every field away from its default.
fn every_option_set() -> NamespaceOptions {
    NamespaceOptions {
        history_size: 7,
        history_ttl: Duration::from_millis(60_001),
        recovery: true,
        presence: true,
        join_leave: true,
        allow_publish: Access::Authenticated,
        allow_subscribe: Access::Token,
        allow_history: Access::Nobody,
        allow_presence: Access::Nobody,
        echo_to_publisher: false,
        last_value: true,
        max_subscribers: 3,
        offline_queue_size: 9,
        offline_queue_ttl: Duration::from_millis(5),
        proxy_subscribe: true,
        proxy_publish: true,
    }
}

#[test]
fn every_field_round_trips_through_toml() {
    let original = everything_set();
    assert_eq!(original.validate(), Ok(()));
    let text = original.to_toml_unredacted().unwrap();
    assert_eq!(Config::from_toml_str(&text), Ok(original), "{text}");
    // Namespaces are flat tables: `name` next to the options.
    assert!(
        text.contains("[[channels.namespaces]]\nname = \"chat_1-x\"\nhistory_size = 7\n"),
        "{text}"
    );
}

#[test]
fn defaults_round_trip_through_the_shown_toml() {
    let text = Config::default().to_toml_string();
    assert_eq!(
        Config::from_toml_str(&text),
        Ok(Config::default()),
        "{text}"
    );
}

#[test]
fn shown_toml_redacts_the_api_key() {
    let text = everything_set().to_toml_string();
    assert!(text.contains("key = \"<redacted>\""), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    // Pasting the shown config back must not install "<redacted>" as the key.
    let e = Config::from_toml_str(&text).unwrap_err();
    assert_eq!(e.key, "api.key");
}

#[test]
fn an_empty_api_key_is_shown_as_empty() {
    assert!(Config::default().to_toml_string().contains("key = \"\""));
}
