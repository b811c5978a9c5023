//! API authentication: with `api.key` set, every call needs the key in
//! `X-API-Key` or `Authorization: apikey KEY`.

mod common;

use common::*;

const KEYED: &str = "[api]\nkey = \"s3cret-Key\"\n[[endpoints]]\npath = \"/ws\"\n";

#[tokio::test]
async fn calls_without_the_right_key_are_refused() {
    let t = TestServer::start(KEYED).await;
    for headers in [
        vec![],
        vec![("X-API-Key", "wrong")],
        vec![("X-API-Key", "s3cret-key")], // case matters
        vec![("X-API-Key", "s3cret-Key2")],
        vec![("X-API-Key", "")],
        vec![("Authorization", "apikey wrong")],
        vec![("Authorization", "Bearer s3cret-Key")],
        vec![("Authorization", "s3cret-Key")],
    ] {
        let (status, body) = t.api_raw("info", "{}", &headers).await;
        assert_eq!(status, 401, "{headers:?}: {body}");
        assert_eq!(body["error"]["code"], 101, "{headers:?}: {body}");
        assert!(body.get("result").is_none());
    }
    t.server.shutdown().await;
}

#[tokio::test]
async fn either_header_form_with_the_key_is_served() {
    let t = TestServer::start(KEYED).await;
    for headers in [
        vec![("X-API-Key", "s3cret-Key")],
        vec![("x-api-key", "s3cret-Key")],
        vec![("Authorization", "apikey s3cret-Key")],
    ] {
        let (status, body) = t.api_raw("info", "{}", &headers).await;
        assert_eq!(status, 200, "{headers:?}: {body}");
        assert_eq!(body["result"]["endpoints"][0]["path"], "/ws");
    }
    t.server.shutdown().await;
}

#[tokio::test]
async fn authentication_comes_before_method_lookup_and_parsing() {
    // Without the key, nothing about the API is revealed: not which
    // methods exist, not how a body is parsed.
    let t = TestServer::start(KEYED).await;
    let (status, body) = t.api_raw("nosuchmethod", "{}", &[]).await;
    assert_eq!((status, body["error"]["code"].as_u64()), (401, Some(101)));
    let (status, body) = t.api_raw("send", "{not json", &[]).await;
    assert_eq!((status, body["error"]["code"].as_u64()), (401, Some(101)));
    t.server.shutdown().await;
}

#[tokio::test]
async fn without_a_key_loopback_callers_are_served() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    // Any header, even a wrong key, is irrelevant when no key is set.
    let (status, body) = t.api_raw("info", "{}", &[("X-API-Key", "anything")]).await;
    assert_eq!(status, 200, "{body}");
    t.server.shutdown().await;
}

#[tokio::test]
async fn probes_do_not_need_the_key() {
    let t = TestServer::start(KEYED).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = t.http.get(t.http_url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    t.server.shutdown().await;
}
