//! The OpenAPI document at `GET /api/openapi.json` against the real routes:
//! every method the server knows has a path and every path is a method the
//! server knows; real answers (results and errors) satisfy the document's
//! response schemas.

mod common;

use common::*;
use serde_json::{json, Value};

async fn document(server: &TestServer) -> Value {
    let response = server
        .http
        .get(server.http_url("/api/openapi.json"))
        .send()
        .await
        .expect("reachable");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    response.json().await.expect("JSON")
}

/// Validates `instance` against the schema at `pointer` inside `doc`, with
/// the whole document as the root so its `$ref`s resolve.
fn check(doc: &Value, pointer: &str, instance: &Value) -> Result<(), String> {
    let mut root = doc.clone();
    root["$ref"] = json!(format!("#{pointer}"));
    let validator =
        jsonschema::validator_for(&root).map_err(|e| format!("schema {pointer}: {e}"))?;
    validator
        .validate(instance)
        .map_err(|e| format!("{pointer} at {}: {e}\n{instance}", e.instance_path()))
}

/// The JSON pointer of a response's schema (following a `$ref`ed response).
fn response_schema(doc: &Value, path: &str, method: &str, status: &str) -> Option<String> {
    let escaped = path.replace('~', "~0").replace('/', "~1");
    let at = format!("/paths/{escaped}/{method}/responses/{status}");
    let response = doc.pointer(&at)?;
    let (response, at) = match response["$ref"].as_str() {
        Some(target) => (doc.pointer(&target[1..])?, target[1..].to_owned()),
        None => (response, at),
    };
    response.pointer("/content/application~1json/schema")?;
    Some(format!("{at}/content/application~1json/schema"))
}

#[tokio::test]
async fn every_method_is_documented_and_answers_as_documented() {
    let server = TestServer::start(
        "[[endpoints]]\npath = \"/ws\"\n\n[[endpoints]]\npath = \"/connection/websocket\"\nmode = \"channels\"\n",
    )
    .await;
    let doc = document(&server).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));

    // The server's own list, from its answer to an unknown method.
    let (status, unknown) = server.api("no_such_method", json!({})).await;
    assert_eq!(status, 404);
    check(&doc, "/components/schemas/ErrorBody", &unknown)
        .or_else(|_| {
            check(
                &doc,
                &response_schema(&doc, "/api/info", "post", "404").unwrap(),
                &unknown,
            )
        })
        .unwrap();
    let message = unknown["error"]["message"].as_str().unwrap();
    let listed: Vec<&str> = message
        .split_once("methods: ")
        .expect("the 404 lists the methods")
        .1
        .split(", ")
        .collect();
    let paths = doc["paths"].as_object().unwrap();
    let documented: Vec<&str> = paths
        .keys()
        .filter_map(|p| p.strip_prefix("/api/"))
        .filter(|m| *m != "openapi.json")
        .collect();
    let mut sorted_listed = listed.clone();
    sorted_listed.sort_unstable();
    let mut sorted_documented = documented.clone();
    sorted_documented.sort_unstable();
    assert_eq!(
        sorted_listed, sorted_documented,
        "methods vs documented paths"
    );

    // Each method, called with an empty object: a result or an error, as documented.
    let mut checked = 0;
    for method in listed {
        let path = format!("/api/{method}");
        let operation = &doc["paths"][&path]["post"];
        assert_eq!(operation["operationId"], method);
        let (status, body) = server.api(method, json!({})).await;
        assert_ne!(status, 404, "{method} is a real route");
        let pointer =
            response_schema(&doc, &path, "post", &status.to_string()).unwrap_or_else(|| {
                panic!("{method} answered {status}, which is not documented: {body}")
            });
        check(&doc, &pointer, &body).unwrap();
        checked += 1;
    }
    assert!(checked >= 21);

    // Calls with real parameters, whose results are documented too.
    let calls = [
        ("info", json!({})),
        ("connections", json!({"limit": 10})),
        ("send", json!({"all": true, "data": {"hello": 1}})),
        ("publish", json!({"channel": "news", "data": {"n": 1}})),
        ("presence_stats", json!({"channel": "news"})),
        ("channels", json!({})),
        ("sinks", json!({})),
    ];
    let _client = server.connect("/ws").await;
    for (method, params) in calls {
        let (status, body) = server.api(method, params).await;
        let path = format!("/api/{method}");
        let pointer = response_schema(&doc, &path, "post", &status.to_string()).unwrap();
        check(&doc, &pointer, &body).unwrap();
    }

    // The check can fail: a result of the wrong shape is refused.
    let info = response_schema(&doc, "/api/info", "post", "200").unwrap();
    assert!(check(&doc, &info, &json!({"result": {"nodes": "not a list"}})).is_err());

    // The other routes exist.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} documented");
        let response = server.http.get(server.http_url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}
