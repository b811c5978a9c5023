//! `[channels]`, `[channels.default]` and `[[channels.namespaces]]`:
//! defaults, the example file, and an error test for every rule.

use std::time::Duration;

use super::{env, env_err, toml_err};
use crate::*;

const EXAMPLE: &str = include_str!("../../../../examples/channels.toml");

/// Asserts the error is at `key` with `value`, and returns it.
#[track_caller]
fn at(toml: &str, key: &str, value: &str) -> ConfigError {
    let e = toml_err(toml);
    assert_eq!((e.key.as_str(), e.value.as_str()), (key, value), "{e}");
    assert!(!e.problem.is_empty() && !e.fix.is_empty(), "{e}");
    e
}

/// `[channels]` with `extra` lines in it.
fn channels(extra: &str) -> String {
    format!("[channels]\n{extra}\n")
}

/// One `[[channels.namespaces]]` named `chat` with `extra` lines in it.
fn namespace(extra: &str) -> String {
    format!("[[channels.namespaces]]\nname = \"chat\"\n{extra}\n")
}

#[test]
fn defaults_match_the_documented_values() {
    let c = ChannelsConfig::default();
    assert_eq!(c.max_channels_per_connection, 128);
    assert_eq!(c.channel_max_length, 255);
    assert_eq!(c.ping_interval, Duration::from_secs(25));
    assert_eq!(c.pong_timeout, Duration::from_secs(8));
    assert_eq!(c.user_offline_grace, Duration::from_secs(5));
    assert!(c.allow_anonymous);
    assert!(c.namespaces.is_empty());
    assert_eq!(Config::default().channels, c);
    let o = c.default;
    assert_eq!(o.history_size, 0);
    assert_eq!(o.history_ttl, Duration::ZERO);
    assert!(!o.recovery && !o.presence && !o.join_leave);
    assert_eq!(o.allow_publish, Access::Nobody);
    assert!(o.echo_to_publisher);
    for access in [o.allow_subscribe, o.allow_history, o.allow_presence] {
        assert_eq!(access, Access::Anyone);
    }
    assert!(!o.last_value);
    assert_eq!(o.max_subscribers, 0);
    assert_eq!(o.offline_queue_size, 0);
    assert_eq!(o.offline_queue_ttl, Duration::ZERO);
}

#[test]
fn a_namespace_takes_option_defaults_not_channels_default() {
    let c = Config::from_toml_str(
        "[channels.default]\nallow_publish = true\npresence = true\n\
         [[channels.namespaces]]\nname = \"chat\"\njoin_leave = true\n",
    )
    .unwrap();
    assert!(c.channels.default.allow_publish == Access::Anyone && c.channels.default.presence);
    assert_eq!(
        c.channels.namespaces,
        [Namespace {
            name: "chat".into(),
            options: NamespaceOptions {
                join_leave: true,
                ..NamespaceOptions::default()
            },
        }]
    );
}

#[test]
fn channels_mode_parses() {
    let c = Config::from_toml_str("[[endpoints]]\npath = \"/c\"\nmode = \"channels\"\n").unwrap();
    assert_eq!(c.endpoints[0].mode, Mode::Channels);
}

#[test]
fn the_example_file_loads() {
    let c = Config::from_toml_str(EXAMPLE).unwrap();
    assert_eq!(c.server.bind, "0.0.0.0:8000".parse().unwrap());
    assert_eq!(c.api.key, "change-me-api-key");
    assert_eq!(c.endpoints.len(), 1);
    assert_eq!(c.endpoints[0].path, "/connection/websocket");
    assert_eq!(c.endpoints[0].mode, Mode::Channels);
    let ch = &c.channels;
    assert!(ch.allow_anonymous);
    assert_eq!(ch.default, NamespaceOptions::default());
    let names: Vec<&str> = ch.namespaces.iter().map(|ns| ns.name.as_str()).collect();
    assert_eq!(names, ["chat", "prices", "personal"]);

    let chat = ch.namespace_options("chat:room1").unwrap();
    assert_eq!(
        chat,
        &NamespaceOptions {
            history_size: 1000,
            history_ttl: Duration::from_secs(600),
            recovery: true,
            presence: true,
            join_leave: true,
            allow_publish: Access::Anyone,
            ..NamespaceOptions::default()
        }
    );
    let prices = ch.namespace_options("prices:EURUSD").unwrap();
    assert_eq!(
        prices,
        &NamespaceOptions {
            history_size: 1,
            history_ttl: Duration::from_secs(3600),
            last_value: true,
            recovery: true,
            allow_publish: Access::Nobody,
            ..NamespaceOptions::default()
        }
    );
    let personal = ch
        .namespace_options("personal:notifications#alice")
        .unwrap();
    assert_eq!(
        personal,
        &NamespaceOptions {
            offline_queue_size: 100,
            offline_queue_ttl: Duration::from_secs(86_400),
            presence: true,
            ..NamespaceOptions::default()
        }
    );
    assert_eq!(ch.namespace_options("news"), Some(&ch.default));
    assert_eq!(ch.namespace_options("nope:x"), None);
    // The secret the auth work will use is mentioned, but not configured.
    assert!(EXAMPLE.contains("change-me-hs256-secret-0123456789"));
}

#[test]
fn connection_limits() {
    let e = at(
        &channels("max_channels_per_connection = 0"),
        "channels.max_channels_per_connection",
        "0",
    );
    assert!(e.problem.contains("106"), "{e}");
    at(
        &channels("channel_max_length = 0"),
        "channels.channel_max_length",
        "0",
    );
    let e = at(
        &channels("channel_max_length = 1025"),
        "channels.channel_max_length",
        "1025",
    );
    assert!(e.problem.contains("1 to 1024"), "{e}");
    assert!(Config::from_toml_str(&channels("channel_max_length = 1024")).is_ok());
    assert!(Config::from_toml_str(&channels("channel_max_length = 1")).is_ok());
}

#[test]
fn ping_and_pong_timers() {
    at(
        &channels("ping_interval_ms = 999"),
        "channels.ping_interval_ms",
        "999",
    );
    at(
        &channels("pong_timeout_ms = 99"),
        "channels.pong_timeout_ms",
        "99",
    );
    let e = at(
        &channels("ping_interval_ms = 1000\npong_timeout_ms = 1000"),
        "channels.pong_timeout_ms",
        "1000",
    );
    assert!(
        e.problem.contains("less than ping_interval_ms (1000)"),
        "{e}"
    );
    let c = Config::from_toml_str(&channels(
        "ping_interval_ms = 1000\npong_timeout_ms = 100\nuser_offline_grace_ms = 0",
    ))
    .unwrap();
    assert_eq!(c.channels.pong_timeout, Duration::from_millis(100));
    assert_eq!(c.channels.user_offline_grace, Duration::ZERO);
}

#[test]
fn namespace_names() {
    for (name, problem) in [
        ("", "empty"),
        ("a:b", "`:`"),
        ("a b", "` `"),
        ("chät", "`ä`"),
        ("a.b", "`.`"),
    ] {
        let e = at(
            &format!("[[channels.namespaces]]\nname = \"{name}\"\n"),
            "channels.namespaces[0].name",
            &format!("\"{name}\""),
        );
        assert!(e.problem.contains(problem), "{e}");
    }
    let long = "n".repeat(65);
    let e = at(
        &format!("[[channels.namespaces]]\nname = \"{long}\"\n"),
        "channels.namespaces[0].name",
        &format!("\"{long}\""),
    );
    assert!(e.problem.contains("at most 64"), "{e}");
    let ok = "a-Z_0".repeat(12) + "abcd";
    assert!(Config::from_toml_str(&format!("[[channels.namespaces]]\nname = \"{ok}\"\n")).is_ok());
}

#[test]
fn a_namespace_name_must_leave_room_for_a_channel() {
    let e = at(
        "[channels]\nchannel_max_length = 5\n[[channels.namespaces]]\nname = \"chat\"\n",
        "channels.namespaces[0].name",
        "\"chat\"",
    );
    assert!(e.problem.contains("channel_max_length (5)"), "{e}");
    assert!(Config::from_toml_str(
        "[channels]\nchannel_max_length = 6\n[[channels.namespaces]]\nname = \"chat\"\n"
    )
    .is_ok());
}

#[test]
fn duplicate_namespace_names() {
    let e = at(
        "[[channels.namespaces]]\nname = \"a\"\n[[channels.namespaces]]\nname = \"b\"\n\
         [[channels.namespaces]]\nname = \"a\"\n",
        "channels.namespaces[2].name",
        "\"a\"",
    );
    assert!(e.problem.contains("channels.namespaces[0]"), "{e}");
}

#[test]
fn a_namespace_without_a_name_is_an_error() {
    let e = at(
        "[[channels.namespaces]]\nname = \"a\"\n[[channels.namespaces]]\npresence = true\n",
        "channels.namespaces[1].name",
        "(missing)",
    );
    assert!(e.problem.contains("needs a name"), "{e}");
}

#[test]
fn history_needs_both_bounds() {
    let e = at(
        &namespace("history_size = 10"),
        "channels.namespaces[0].history_ttl_ms",
        "0",
    );
    assert!(e.problem.contains("forever"), "{e}");
    let e = at(
        &namespace("history_ttl_ms = 1000"),
        "channels.namespaces[0].history_ttl_ms",
        "1000",
    );
    assert!(e.problem.contains("history_size is 0"), "{e}");
    at(
        "[channels.default]\nhistory_size = 10\n",
        "channels.default.history_ttl_ms",
        "0",
    );
    let e = at(
        &namespace("history_size = 1000001\nhistory_ttl_ms = 1000"),
        "channels.namespaces[0].history_size",
        "1000001",
    );
    assert!(e.problem.contains("1000000"), "{e}");
    assert!(
        Config::from_toml_str(&namespace("history_size = 1000000\nhistory_ttl_ms = 1")).is_ok()
    );
}

#[test]
fn recovery_and_last_value_need_history() {
    for key in ["recovery", "last_value"] {
        let e = at(
            &namespace(&format!("{key} = true")),
            &format!("channels.namespaces[0].{key}"),
            "true",
        );
        assert!(e.problem.contains("history_size is 0"), "{e}");
        assert!(e.fix.contains("history_size"), "{e}");
        at(
            &format!("[channels.default]\n{key} = true\n"),
            &format!("channels.default.{key}"),
            "true",
        );
        assert!(Config::from_toml_str(&namespace(&format!(
            "{key} = true\nhistory_size = 1\nhistory_ttl_ms = 1000"
        )))
        .is_ok());
    }
}

#[test]
fn join_leave_does_not_need_presence() {
    let c = Config::from_toml_str(&namespace("join_leave = true")).unwrap();
    assert!(c.channels.namespaces[0].options.join_leave);
    assert!(!c.channels.namespaces[0].options.presence);
}

#[test]
fn offline_queue_needs_both_bounds() {
    let e = at(
        &namespace("offline_queue_size = 5"),
        "channels.namespaces[0].offline_queue_ttl_ms",
        "0",
    );
    assert!(e.problem.contains("forever"), "{e}");
    at(
        &namespace("offline_queue_ttl_ms = 1000"),
        "channels.namespaces[0].offline_queue_ttl_ms",
        "1000",
    );
    let e = at(
        &namespace("offline_queue_size = 10001\noffline_queue_ttl_ms = 1000"),
        "channels.namespaces[0].offline_queue_size",
        "10001",
    );
    assert!(e.problem.contains("10000"), "{e}");
    assert!(Config::from_toml_str(&namespace(
        "offline_queue_size = 10000\noffline_queue_ttl_ms = 1"
    ))
    .is_ok());
}

#[test]
fn the_later_namespace_is_named_in_errors() {
    at(
        &(namespace("") + "[[channels.namespaces]]\nname = \"b\"\nrecovery = true\n"),
        "channels.namespaces[1].recovery",
        "true",
    );
}

#[test]
fn unknown_keys_are_errors_everywhere_in_channels() {
    let e = at(
        &namespace("histroy_size = 5"),
        "channels.namespaces[0].histroy_size",
        "5",
    );
    assert!(e.fix.contains("did you mean `history_size`"), "{e}");
    let e = at(
        "[channels.default]\nnmae = \"x\"\n",
        "channels.default.nmae",
        "\"x\"",
    );
    // `name` belongs only to namespaces.
    assert!(!e.fix.contains("`name`"), "{e}");
    let e = at(
        &channels("ping_interval = 1000"),
        "channels.ping_interval",
        "1000",
    );
    assert!(e.fix.contains("did you mean `ping_interval_ms`"), "{e}");
    let e = at(
        &namespace("flavour = \"x\""),
        "channels.namespaces[0].flavour",
        "\"x\"",
    );
    assert!(
        e.fix.contains("history_size") && e.fix.contains("name"),
        "{e}"
    );
}

#[test]
fn wrong_types_in_channels_get_hints() {
    let e = at(
        &namespace("presence = \"yes\""),
        "channels.namespaces[0].presence",
        "\"yes\"",
    );
    assert!(e.fix.contains("true or false"), "{e}");
    let e = at(
        "[channels.default]\nhistory_ttl_ms = \"10m\"\n",
        "channels.default.history_ttl_ms",
        "\"10m\"",
    );
    assert!(e.fix.contains("milliseconds"), "{e}");
    let e = at(
        &channels("ping_interval_ms = -1"),
        "channels.ping_interval_ms",
        "-1",
    );
    assert!(e.fix.contains("at least 1000"), "{e}");
    let e = at("[channels]\nnamespaces = 5\n", "channels.namespaces", "5");
    assert!(e.fix.contains("[[channels.namespaces]]"), "{e}");
    let e = at(
        "[[channels.namespaces]]\nname = 5\n",
        "channels.namespaces[0].name",
        "5",
    );
    assert!(e.fix.contains("quoted"), "{e}");
}

#[test]
fn mode_errors_list_channels() {
    let e = at(
        &super::endpoint("mode = \"chanels\""),
        "endpoints[0].mode",
        "\"chanels\"",
    );
    assert!(e.fix.contains("raw, echo, channels"), "{e}");
    assert!(e.fix.contains("did you mean `channels`"), "{e}");
}

#[test]
fn env_adds_namespaces_and_sets_channel_keys() {
    let c = Config::load(
        None,
        env(&[
            ("SWITCHBOARD_CHANNELS__NAMESPACES__0__NAME", "123"),
            ("SWITCHBOARD_CHANNELS__NAMESPACES__0__PRESENCE", "true"),
            ("SWITCHBOARD_CHANNELS__NAMESPACES__1__NAME", "chat"),
            ("SWITCHBOARD_CHANNELS__PING_INTERVAL_MS", "30000"),
            ("SWITCHBOARD_CHANNELS__DEFAULT__ALLOW_PUBLISH", "true"),
        ]),
        &CliOverrides::default(),
    )
    .unwrap();
    let names: Vec<&str> = c
        .channels
        .namespaces
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(names, ["123", "chat"]);
    assert!(c.channels.namespaces[0].options.presence);
    assert_eq!(c.channels.ping_interval, Duration::from_secs(30));
    assert_eq!(c.channels.default.allow_publish, Access::Anyone);
    // The endpoint list is untouched.
    assert_eq!(c.endpoints, Config::default().endpoints);
}

#[test]
fn env_errors_in_channels_name_the_variable() {
    let e = env_err(&[
        ("SWITCHBOARD_CHANNELS__NAMESPACES__0__NAME", "chat"),
        ("SWITCHBOARD_CHANNELS__NAMESPACES__0__RECOVERY", "true"),
    ]);
    assert_eq!(
        e.key,
        "SWITCHBOARD_CHANNELS__NAMESPACES__0__RECOVERY (channels.namespaces[0].recovery)"
    );
    let e = env_err(&[("SWITCHBOARD_CHANNELS__NAMESPACES__0__PRESENCE", "true")]);
    assert_eq!(e.key, "channels.namespaces[0].name");
    assert_eq!(e.value, "(missing)");
    let e = env_err(&[("SWITCHBOARD_CHANNELS__NAMESPACES__1__NAME", "chat")]);
    assert!(e.problem.contains("next new entry is number 0"), "{e}");
    let e = env_err(&[("SWITCHBOARD_CHANNELS__PONG_TIMEOUT_MS", "25000")]);
    assert_eq!(
        e.key,
        "SWITCHBOARD_CHANNELS__PONG_TIMEOUT_MS (channels.pong_timeout_ms)"
    );
}

#[test]
fn hand_built_channels_are_validated_too() {
    let mut c = Config::default();
    c.channels.namespaces.push(Namespace::default());
    assert_eq!(c.validate().unwrap_err().key, "channels.namespaces[0].name");

    let mut c = Config::default();
    c.channels.default.offline_queue_ttl = Duration::from_secs(1);
    assert_eq!(
        c.validate().unwrap_err().key,
        "channels.default.offline_queue_ttl_ms"
    );

    let mut c = Config::default();
    c.channels.pong_timeout = c.channels.ping_interval;
    assert_eq!(c.validate().unwrap_err().key, "channels.pong_timeout_ms");
}

#[test]
fn welcome_on_a_channels_endpoint_is_refused() {
    let err = crate::Config::from_toml_str(
        "[[endpoints]]\npath = \"/c\"\nmode = \"channels\"\nwelcome = true\n",
    )
    .unwrap_err();
    assert_eq!(err.key, "endpoints[0].welcome");
    assert!(err.fix.contains("welcome = false"), "{err}");
}

#[test]
fn token_secret_is_checked_and_redacted() {
    let short =
        crate::Config::from_toml_str("[channels]\ntoken_hmac_secret = \"short\"\n").unwrap_err();
    assert_eq!(short.key, "channels.token_hmac_secret");
    assert_eq!(short.value, "(hidden)", "the secret must not be echoed");
    let secret = "0123456789abcdef0123456789abcdef";
    let ok =
        crate::Config::from_toml_str(&format!("[channels]\ntoken_hmac_secret = \"{secret}\"\n"))
            .unwrap();
    let shown = ok.to_toml_string();
    assert!(!shown.contains(secret));
    assert!(
        crate::Config::from_toml_str(&shown).is_err(),
        "the placeholder is not a secret"
    );
}

#[test]
fn broker_section_is_checked_and_its_password_redacted() {
    let scheme =
        crate::Config::from_toml_str("[broker]\nkind = \"redis\"\nurl = \"http://h:6379\"\n")
            .unwrap_err();
    assert_eq!(scheme.key, "broker.url");
    let prefix = crate::Config::from_toml_str("[broker]\nprefix = \"a b\"\n").unwrap_err();
    assert_eq!(prefix.key, "broker.prefix");
    let kind = crate::Config::from_toml_str("[broker]\nkind = \"redsi\"\n").unwrap_err();
    assert_eq!(kind.key, "broker.kind");
    let ok = crate::Config::from_toml_str(
        "[broker]\nkind = \"redis\"\nurl = \"redis://:hunter2@10.0.0.1:6379\"\n",
    )
    .unwrap();
    let shown = ok.to_toml_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("redis://<redacted>@10.0.0.1:6379"),
        "{shown}"
    );
}
