//! Server API calls that reach connections on every node.
//!
//! A connection lives on one node, but the server API may be called on any
//! of them. Methods that act on connections (`send`, `disconnect`,
//! `subscribe`, `unsubscribe`, `refresh`, `channels`, `revoke_token`) run
//! here, and are also sent over the broker's control bus to every other
//! node, which runs the same method on its own connections and answers
//! with its result. The caller waits for one answer per live node (the
//! node registry says how many) or [`ANSWER_WITHIN`], and the results are
//! merged: counts are added up, channel lists joined. A node that does not
//! answer in time is left out of the figures (and logged), never waited
//! for longer. With the memory broker there is no other node and nothing
//! is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_broker::{Broker, BrokerError, ControlHandler};
use tokio::sync::mpsc;

use crate::state::{AppState, Shared};
use crate::stream::Delivery;

/// How long a call waits for the other nodes' answers.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The methods that act on this node's connections, so every node must run them.
pub const NODE_LOCAL_METHODS: &[&str] = &[
    "send",
    "disconnect",
    "subscribe",
    "unsubscribe",
    "refresh",
    "channels",
    "revoke_token",
    // Not `offline_queue`: the queues are in the broker layer, shared by
    // every node, so adding up every node's answer would count them twice.
];

/// What travels on the control bus.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum ControlMessage {
    /// Run `method` with `params` on your connections; answer node `from`.
    Request {
        id: String,
        from: String,
        method: String,
        params: Value,
    },
    /// Hand `data` to stream session `session`, which node `to` holds;
    /// answer node `from` with the delivery's HTTP status.
    Emulate {
        id: String,
        from: String,
        to: String,
        session: String,
        data: String,
    },
    /// The answer to request `id` (`result`, or `error` when the method failed there).
    Answer {
        id: String,
        from: String,
        #[serde(default)]
        result: Option<Value>,
        #[serde(default)]
        error: Option<Value>,
    },
}

/// Calls in flight and the broker they travel through.
pub struct Cluster {
    broker: Arc<dyn Broker>,
    waiting: Mutex<HashMap<String, mpsc::Sender<Value>>>,
}

impl Cluster {
    /// Calls over `broker`'s control bus.
    pub fn new(broker: Arc<dyn Broker>) -> Self {
        Self {
            broker,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// Joins the control bus, so other nodes' requests reach `state`.
    pub async fn join(state: &AppState) -> Result<(), BrokerError> {
        let inbox = Arc::new(Inbox {
            state: Arc::downgrade(state),
        });
        state
            .cluster
            .broker
            .join_control(&state.node_uid, inbox)
            .await
    }

    /// Runs `method` on every other live node; their results, in no order.
    pub async fn ask_others(&self, state: &AppState, method: &str, params: &Value) -> Vec<Value> {
        let others = state.nodes.count_others(&state.node_uid).await;
        if others == 0 {
            return Vec::new();
        }
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, mut rx) = mpsc::channel(others);
        self.lock().insert(id.clone(), tx);
        let request = ControlMessage::Request {
            id: id.clone(),
            from: state.node_uid.clone(),
            method: method.to_owned(),
            params: params.clone(),
        };
        let mut results = Vec::with_capacity(others);
        match self.broker.publish_control(None, encode(&request)).await {
            Ok(()) => {
                let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
                while results.len() < others {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(result)) => results.push(result),
                        _ => break,
                    }
                }
                if results.len() < others {
                    tracing::warn!(
                        method,
                        answered = results.len(),
                        expected = others,
                        "not every node answered in time; their connections are not counted"
                    );
                }
            }
            Err(err) => {
                tracing::warn!(method, error = %err, "cannot reach the other nodes")
            }
        }
        self.lock().remove(&id);
        results
    }

    /// Hands `data` to stream session `session` on node `node`; a node
    /// that does not answer in time is taken for gone.
    pub async fn emulate(
        &self,
        state: &AppState,
        node: &str,
        session: &str,
        data: Bytes,
    ) -> Delivery {
        let Ok(data) = String::from_utf8(data.to_vec()) else {
            return Delivery::NoSession;
        };
        // A node the registry does not list gets nothing sent and waited
        // for: a made-up node id costs one registry read, not 2 s.
        if !state.nodes.is_live(node).await {
            return Delivery::NoSession;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, mut rx) = mpsc::channel(1);
        self.lock().insert(id.clone(), tx);
        let request = ControlMessage::Emulate {
            id: id.clone(),
            from: state.node_uid.clone(),
            to: node.to_owned(),
            session: session.to_owned(),
            data,
        };
        let answer = match self
            .broker
            .publish_control(Some(node), encode(&request))
            .await
        {
            Ok(()) => tokio::time::timeout(ANSWER_WITHIN, rx.recv())
                .await
                .ok()
                .flatten(),
            Err(err) => {
                tracing::warn!(node, error = %err, "cannot reach the node of a stream session");
                None
            }
        };
        self.lock().remove(&id);
        match answer
            .as_ref()
            .and_then(|a| a.get("status"))
            .and_then(Value::as_u64)
        {
            Some(status) => Delivery::from_status(status as u16),
            None => Delivery::NoSession,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<Value>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn answered(&self, id: &str, result: Value) {
        if let Some(tx) = self.lock().get(id) {
            // Full or gone: the call stopped waiting.
            let _ = tx.try_send(result);
        }
    }
}

fn encode(message: &ControlMessage) -> Bytes {
    // Plain data with string keys: serialising cannot fail.
    Bytes::from(serde_json::to_vec(message).unwrap_or_default())
}

/// Receives control messages for one server.
struct Inbox {
    state: Weak<Shared>,
}

impl ControlHandler for Inbox {
    fn on_control(&self, message: Bytes) {
        let Some(state) = self.state.upgrade() else {
            return;
        };
        let message: ControlMessage = match serde_json::from_slice(&message) {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(error = %err, "undecodable control message; skipped");
                return;
            }
        };
        match message {
            ControlMessage::Request { from, .. } if from == state.node_uid => {}
            ControlMessage::Request {
                id,
                from,
                method,
                params,
            } => {
                tokio::spawn(answer(state, id, from, method, params));
            }
            // Sent to this node only; a bus that delivers to every node is
            // not trusted to.
            ControlMessage::Emulate { to, .. } if to != state.node_uid => {}
            ControlMessage::Emulate {
                id,
                from,
                session,
                data,
                ..
            } => {
                tokio::spawn(deliver(state, id, from, session, data));
            }
            ControlMessage::Answer {
                id,
                from,
                result,
                error,
            } => {
                if let Some(error) = error {
                    tracing::warn!(node = from, %error, "the method failed on another node");
                }
                // An error counts as an answer with nothing to add.
                state.cluster.answered(&id, result.unwrap_or(Value::Null));
            }
        }
    }
}

/// Runs a request from node `from` here and sends the answer back.
async fn answer(state: AppState, id: String, from: String, method: String, params: Value) {
    if !NODE_LOCAL_METHODS.contains(&method.as_str()) {
        tracing::warn!(
            method,
            "control request for a method that is not node-local; ignored"
        );
        return;
    }
    let (result, error) = match crate::api::run_here(&state, &method, params).await {
        Ok(result) => (Some(result), None),
        Err(failure) => (None, Some(failure.to_json())),
    };
    let answer = ControlMessage::Answer {
        id,
        from: state.node_uid.clone(),
        result,
        error,
    };
    if let Err(err) = state
        .cluster
        .broker
        .publish_control(Some(&from), encode(&answer))
        .await
    {
        tracing::warn!(method, error = %err, "cannot answer a control request");
    }
}

/// Delivers a stream session's message for node `from` and answers with
/// the HTTP status its client gets.
async fn deliver(state: AppState, id: String, from: String, session: String, data: String) {
    let delivery = state.streams.deliver(&session, Bytes::from(data)).await;
    let answer = ControlMessage::Answer {
        id,
        from: state.node_uid.clone(),
        result: Some(serde_json::json!({ "status": delivery.status().as_u16() })),
        error: None,
    };
    if let Err(err) = state
        .cluster
        .broker
        .publish_control(Some(&from), encode(&answer))
        .await
    {
        tracing::warn!(error = %err, "cannot answer a stream session's message");
    }
}

/// Merges this node's result with the other nodes': numbers are added,
/// and for `channels` the per-channel client counts.
pub fn merge(method: &str, mut local: Value, remote: Vec<Value>) -> Value {
    for other in remote {
        match method {
            "channels" => merge_channels(&mut local, &other),
            _ => add_numbers(&mut local, &other),
        }
    }
    local
}

fn add_numbers(into: &mut Value, other: &Value) {
    let (Value::Object(into), Value::Object(other)) = (into, other) else {
        return;
    };
    for (key, value) in other {
        if let (Some(a), Some(b)) = (into.get(key).and_then(Value::as_u64), value.as_u64()) {
            into.insert(key.clone(), Value::from(a + b));
        }
    }
}

fn merge_channels(into: &mut Value, other: &Value) {
    let Some(Value::Object(theirs)) = other.get("channels") else {
        return;
    };
    let Some(Value::Object(ours)) = into.get_mut("channels") else {
        return;
    };
    for (name, info) in theirs {
        match ours.get_mut(name) {
            Some(mine) => add_numbers(mine, info),
            None => {
                ours.insert(name.clone(), info.clone());
            }
        }
    }
    sort_keys(ours);
}

fn sort_keys(map: &mut Map<String, Value>) {
    let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    map.extend(entries);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_add_up_across_nodes() {
        let merged = merge(
            "send",
            json!({ "delivered": 2, "dropped": 0 }),
            vec![json!({ "delivered": 3, "dropped": 1 }), json!({})],
        );
        assert_eq!(merged, json!({ "delivered": 5, "dropped": 1 }));
    }

    #[test]
    fn channel_lists_join_and_client_counts_add_up() {
        let merged = merge(
            "channels",
            json!({ "channels": { "b": { "num_clients": 1 } } }),
            vec![json!({ "channels": { "a": { "num_clients": 2 }, "b": { "num_clients": 4 } } })],
        );
        assert_eq!(
            merged,
            json!({ "channels": { "a": { "num_clients": 2 }, "b": { "num_clients": 5 } } })
        );
        let keys: Vec<&String> = merged["channels"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b"], "sorted by name");
    }
}
