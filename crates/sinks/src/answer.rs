//! The reply path: what a sink's target answered for each event, and the
//! receipts of clients that asked for one.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use switchboard_protocol::event::Event;

/// A webhook's answer to one event (all parts optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Answer {
    /// Sent to the connection that caused the event, as JSON.
    pub reply: Option<Value>,
    /// Sent to that connection as a plain text frame.
    pub reply_text: Option<String>,
    /// Server API `send` requests.
    pub send: Vec<Value>,
    /// Server API `publish` requests.
    pub publish: Vec<Value>,
    /// The workflow's result, for a client that asked for a receipt.
    pub result: Option<Value>,
}

impl Answer {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == Answer::default()
    }
}

/// Acts on deliveries; the server implements it (the sinks know nothing
/// of connections). Called by a durable sink's worker, in event order, for
/// events with a receipt or an answer. Must not block: spawn what takes time.
pub trait Responder: Send + Sync + 'static {
    /// `sink`'s target took `event` and answered `answer` for it.
    fn delivered(&self, sink: &str, event: &Arc<Event>, answer: Option<Answer>);
    /// `sink` gave `event` up: it is a dead letter now.
    fn failed(&self, sink: &str, event: &Arc<Event>, error: &str);
}

/// Reads a response body into one answer per event of the batch: an
/// object answers a single event (or, for a batch, gives `send`/`publish`
/// for the whole batch, attached to its last event); an array answers each
/// event by position. Anything else (empty, text, `OK`) answers nothing.
pub fn parse(body: &[u8], events: usize) -> Vec<Option<Answer>> {
    let mut out: Vec<Option<Answer>> = vec![None; events];
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return out;
    };
    match value {
        Value::Array(items) => {
            for (slot, item) in out.iter_mut().zip(items) {
                *slot = serde_json::from_value(item).ok();
            }
        }
        Value::Object(_) if events > 0 => {
            if let Ok(mut answer) = serde_json::from_value::<Answer>(value) {
                if events > 1 {
                    // Which event a batch-wide reply is for is unknowable.
                    answer.reply = None;
                    answer.reply_text = None;
                    answer.result = None;
                }
                out[events - 1] = Some(answer);
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_event_object() {
        let body = br#"{"reply":{"ok":true},"publish":[{"channel":"news","data":1}],"extra":1}"#;
        let answers = parse(body, 1);
        let a = answers[0].as_ref().unwrap();
        assert_eq!(a.reply, Some(json!({"ok": true})));
        assert_eq!(a.publish.len(), 1);
    }

    #[test]
    fn batches_answer_by_position_and_ignore_junk() {
        let answers = parse(br#"[{"reply":1},null,{"reply_text":"x"}]"#, 3);
        assert_eq!(answers[0].as_ref().unwrap().reply, Some(json!(1)));
        assert!(answers[1].is_none());
        assert_eq!(
            answers[2].as_ref().unwrap().reply_text.as_deref(),
            Some("x")
        );
        assert!(parse(b"OK", 2).iter().all(Option::is_none));
        assert!(parse(b"", 1)[0].is_none());
        let wide = parse(br#"{"reply":1,"send":[{"all":true,"data":1}]}"#, 2);
        let last = wide[1].as_ref().unwrap();
        assert_eq!((last.reply.clone(), last.send.len()), (None, 1));
    }
}
