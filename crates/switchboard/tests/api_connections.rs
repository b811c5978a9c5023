//! The `connections` API method: listing, filters, pagination, bad parameters.

mod common;

use common::*;
use serde_json::{json, Value};
use switchboard::protocol::event::EventType;

const TWO_ENDPOINTS: &str = "[[endpoints]]\npath = \"/a\"\n[[endpoints]]\npath = \"/b\"\n";

/// Connects `n` clients to `path`, returning them with their connection ids.
async fn connect_n(t: &mut TestServer, path: &str, n: usize) -> (Vec<Client>, Vec<String>) {
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..n {
        clients.push(t.connect(path).await);
        ids.push(t.next_event(EventType::Connect).await.connection.id.clone());
    }
    (clients, ids)
}

fn ids_of(result: &Value) -> Vec<String> {
    result["connections"]
        .as_array()
        .expect("connections array")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn lists_connections_with_their_details_sorted_by_id() {
    let mut t = TestServer::start(TWO_ENDPOINTS).await;
    let (a, mut a_ids) = connect_n(&mut t, "/a", 2).await;
    let (b, b_ids) = connect_n(&mut t, "/b", 1).await;

    let (status, body) = t.api("connections", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["total"], 3);
    assert!(result.get("next_cursor").is_none(), "{result}");
    let mut all: Vec<String> = a_ids.iter().chain(&b_ids).cloned().collect();
    all.sort();
    assert_eq!(ids_of(result), all);

    let b_info = result["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == b_ids[0].as_str())
        .unwrap();
    assert_eq!(b_info["endpoint"], "/b");
    let port = local_port(&b[0]);
    assert_eq!(b_info["remote_addr"], format!("127.0.0.1:{port}"));
    assert!(b_info["connected_at"].as_str().unwrap().ends_with('Z'));

    let (_, body) = t.api("connections", json!({"endpoint": "/a"})).await;
    a_ids.sort();
    assert_eq!(body["result"]["total"], 2);
    assert_eq!(ids_of(&body["result"]), a_ids);
    drop((a, b));
    t.server.shutdown().await;
}

#[tokio::test]
async fn closed_connections_leave_the_list() {
    let mut t = TestServer::start(TWO_ENDPOINTS).await;
    let (mut clients, ids) = connect_n(&mut t, "/a", 2).await;
    let mut first = clients.remove(0);
    first.close(None).await.unwrap();
    t.next_event(EventType::Disconnect).await;

    let (_, body) = t.api("connections", json!({})).await;
    assert_eq!(body["result"]["total"], 1);
    assert_eq!(ids_of(&body["result"]), vec![ids[1].clone()]);
    drop((first, clients));
    t.server.shutdown().await;
}

#[tokio::test]
async fn pages_cover_every_connection_once() {
    let mut t = TestServer::start(TWO_ENDPOINTS).await;
    let (clients, mut ids) = connect_n(&mut t, "/a", 5).await;
    ids.sort();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = json!({"limit": 2});
        if let Some(cursor) = &cursor {
            request["cursor"] = json!(cursor);
        }
        let (status, body) = t.api("connections", request).await;
        assert_eq!(status, 200, "{body}");
        let result = &body["result"];
        assert_eq!(result["total"], 5, "total counts all pages");
        let page = ids_of(result);
        assert!(page.len() <= 2);
        seen.extend(page);
        pages += 1;
        match result.get("next_cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    drop(clients);
    t.server.shutdown().await;
}

#[tokio::test]
async fn user_filter_matches_only_that_user() {
    // Endpoints do not authenticate yet, so no connection has a user.
    let mut t = TestServer::start(TWO_ENDPOINTS).await;
    let (clients, _) = connect_n(&mut t, "/a", 2).await;
    let (status, body) = t.api("connections", json!({"user": "alice"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["total"], 0);
    assert_eq!(body["result"]["connections"], json!([]));
    drop(clients);
    t.server.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_are_method_errors() {
    let t = TestServer::start(TWO_ENDPOINTS).await;
    for request in [
        json!({"endpoint": "/nope"}),
        json!({"limit": 0}),
        json!({"limit": 1001}),
    ] {
        let (status, body) = t.api("connections", request.clone()).await;
        assert_eq!(status, 200, "{request}: {body}");
        assert_eq!(body["error"]["code"], 107, "{request}: {body}");
        assert!(body.get("result").is_none(), "{body}");
    }
    let (status, body) = t.api("connections", json!({"limit": 1000})).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["total"], 0, "{body}");

    // A misspelt parameter is not silently ignored.
    let (status, body) = t.api("connections", json!({"endpont": "/a"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], 107);
    t.server.shutdown().await;
}
