//! The webhook and Redis stream sinks of `[sinks]`: started on the bus,
//! their answers carried out (the reply path), and their backlog turned
//! into admission control.

use std::sync::{Arc, OnceLock, Weak};

use serde_json::{json, Value};
use switchboard_config::SinksConfig;
use switchboard_protocol::event::Event;
use switchboard_sinks::durable::{self, DurableHandle};
use switchboard_sinks::redis_stream::RedisStream;
use switchboard_sinks::webhook::Webhook;
use switchboard_sinks::{Answer, Responder};
use switchboard_sinks::{EventBus, EventFilter, Store};

use crate::state::{AppState, Shared};

/// A sink that could not be started: names the config key.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {key}: {message}")]
pub struct SinkSetupError {
    key: String,
    message: String,
}

/// Smallest intake queue of a durable sink (events between the bus and
/// its backlog).
const INTAKE_MIN: usize = 4096;

/// The durable sinks, by name.
#[derive(Default)]
pub struct Sinks {
    handles: Vec<DurableHandle>,
}

impl Sinks {
    /// Opens the store and starts every webhook and stream sink on `bus`.
    pub fn start(
        config: &SinksConfig,
        bus: &EventBus,
        responder: Arc<dyn Responder>,
    ) -> Result<Sinks, SinkSetupError> {
        if !config.needs_store() {
            return Ok(Sinks::default());
        }
        let store = Store::open(&config.store_path).map_err(|e| SinkSetupError {
            key: format!("sinks.store_path ({})", config.store_path.display()),
            message: format!(
                "{e}; is another switchboard using this file? give each its own store_path"
            ),
        })?;
        let mut handles = Vec::new();
        for (i, hook) in config.webhooks.iter().enumerate() {
            let setup = |message| SinkSetupError {
                key: format!("sinks.webhooks[{i}]"),
                message,
            };
            let target = Webhook::new(hook).map_err(setup)?;
            let filter = EventFilter::new(&hook.endpoints, &hook.events);
            let started = durable::start(
                &hook.name,
                "webhook",
                target,
                &store,
                hook.delivery.clone(),
                filter,
                Some(responder.clone()),
            );
            handles.push(add(
                bus,
                started.map_err(|e| setup(e.to_string()))?,
                &hook.delivery,
            ));
        }
        for (i, stream) in config.redis_streams.iter().enumerate() {
            let setup = |message| SinkSetupError {
                key: format!("sinks.redis_streams[{i}]"),
                message,
            };
            let target = RedisStream::new(stream).map_err(setup)?;
            let filter = EventFilter::new(&stream.endpoints, &stream.events);
            let started = durable::start(
                &stream.name,
                "redis_stream",
                target,
                &store,
                stream.delivery.clone(),
                filter,
                Some(responder.clone()),
            );
            handles.push(add(
                bus,
                started.map_err(|e| setup(e.to_string()))?,
                &stream.delivery,
            ));
        }
        Ok(Sinks { handles })
    }

    /// Every durable sink.
    pub fn all(&self) -> &[DurableHandle] {
        &self.handles
    }

    /// The sink named `name`.
    pub fn get(&self, name: &str) -> Option<&DurableHandle> {
        self.handles.iter().find(|h| h.name() == name)
    }

    /// True when a sink taking events of `endpoint` has a `busy_backlog`.
    pub fn may_be_busy(&self, endpoint: &str) -> bool {
        self.handles
            .iter()
            .any(|h| h.busy_limit() > 0 && h.filter().takes_endpoint(endpoint))
    }

    /// A busy sink that takes events of `endpoint`, if any.
    pub fn busy_for(&self, endpoint: &str) -> Option<&DurableHandle> {
        self.handles
            .iter()
            .find(|h| h.busy() && h.filter().takes_endpoint(endpoint))
    }
}

fn add(
    bus: &EventBus,
    (sink, handle): (durable::DurableSink, DurableHandle),
    delivery: &switchboard_config::Delivery,
) -> DurableHandle {
    let stats = sink.stats();
    // The intake queue only moves events into the backlog, but writing to
    // the store takes a disk flush: it must absorb a burst meanwhile.
    bus.add_filtered_sink(
        handle.name(),
        sink,
        delivery.memory_events.max(INTAKE_MIN),
        handle.filter().clone(),
        stats,
    );
    handle
}

/// Carries out webhook answers through the server API's own methods, so a
/// reply reaches connections on every node.
#[derive(Default)]
pub struct Replies {
    state: OnceLock<Weak<Shared>>,
}

impl Replies {
    /// Connects the replies to the server once its state exists.
    pub fn attach(&self, state: &AppState) {
        let _ = self.state.set(Arc::downgrade(state));
    }
}

impl Replies {
    /// Runs server API calls for `event`'s answer, in order, off the sink's task.
    fn run(&self, calls: Vec<(&'static str, Value)>) {
        let Some(state) = self.state.get().and_then(Weak::upgrade) else {
            return;
        };
        tokio::spawn(async move {
            for (method, params) in calls {
                if let Err(failure) = crate::api::run(&state, method, params).await {
                    tracing::warn!(method, error = %failure.to_json(), "a sink answer could not be carried out");
                }
            }
        });
    }
}

/// A receipt for the client that sent `event`, through its `reply_to`.
fn receipt(event: &Event, sink: &str, status: &str, extra: Value) -> Option<(&'static str, Value)> {
    let tag = event.receipt.as_ref()?;
    let mut data = json!({
        "type": "receipt",
        "receipt": tag,
        "status": status,
        "sink": sink,
        "event_id": event.id,
    });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    Some(("send", json!({"reply_to": event.reply_to, "data": data})))
}

impl Responder for Replies {
    fn delivered(&self, sink: &str, event: &Arc<Event>, answer: Option<Answer>) {
        let mut calls = Vec::new();
        calls.extend(receipt(event, sink, "accepted", Value::Null));
        let Some(answer) = answer else {
            return self.run(calls);
        };
        if let Some(result) = answer.result {
            calls.extend(receipt(event, sink, "done", json!({ "result": result })));
        }
        let reply_to = &event.reply_to;
        if let Some(data) = answer.reply {
            calls.push(("send", json!({"reply_to": reply_to, "data": data})));
        }
        if let Some(text) = answer.reply_text {
            calls.push(("send", json!({"reply_to": reply_to, "text": text})));
        }
        calls.extend(answer.send.into_iter().map(|params| ("send", params)));
        calls.extend(answer.publish.into_iter().map(|params| ("publish", params)));
        self.run(calls);
    }

    fn failed(&self, sink: &str, event: &Arc<Event>, error: &str) {
        self.run(
            receipt(event, sink, "failed", json!({ "error": error }))
                .into_iter()
                .collect(),
        );
    }
}
