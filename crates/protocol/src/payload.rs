//! Turning a client frame into an event's `message`, as the n8n node does:
//! text that parses as JSON is passed on as JSON, other text as a string,
//! binary as base64.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;

use crate::event::MessageType;

/// A frame read for an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The value for the event's `message`.
    pub message: Value,
    /// How it was read.
    pub message_type: MessageType,
    /// In envelope format: the whole object the client sent.
    pub envelope: Option<Value>,
}

/// Reads a text frame.
pub fn decode_text(text: &str) -> Decoded {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Decoded {
            message: value,
            message_type: MessageType::Json,
            envelope: None,
        },
        Err(_) => Decoded {
            message: Value::String(text.to_owned()),
            message_type: MessageType::Text,
            envelope: None,
        },
    }
}

/// Reads a binary frame.
pub fn decode_binary(bytes: &[u8]) -> Decoded {
    Decoded {
        message: Value::String(BASE64.encode(bytes)),
        message_type: MessageType::Binary,
        envelope: None,
    }
}

/// Envelope format (Node-RED's "entire message"): a JSON object from the
/// client is a whole message object whose `payload` is the message; anything
/// else is treated as the payload itself.
pub fn into_envelope(decoded: Decoded) -> Decoded {
    match decoded.message {
        Value::Object(mut object) if decoded.message_type == MessageType::Json => {
            let payload = object.remove("payload").unwrap_or(Value::Null);
            let whole = Value::Object(object);
            Decoded {
                message: payload,
                message_type: MessageType::Json,
                envelope: Some(whole),
            }
        }
        _ => decoded,
    }
}

/// Wraps outgoing data for an envelope-format endpoint: `{"payload": data}`.
pub fn wrap_envelope(data: &Value) -> Value {
    serde_json::json!({ "payload": data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_text_and_binary() {
        assert_eq!(decode_text(r#"{"a":1}"#).message, json!({"a": 1}));
        assert_eq!(decode_text("42").message_type, MessageType::Json);
        let text = decode_text("hello {");
        assert_eq!(text.message, json!("hello {"));
        assert_eq!(text.message_type, MessageType::Text);
        assert_eq!(decode_binary(&[0, 1, 2, 255]).message, json!("AAEC/w=="));
    }

    #[test]
    fn envelope_splits_payload() {
        let d = into_envelope(decode_text(r#"{"payload":{"t":1},"topic":"x"}"#));
        assert_eq!(d.message, json!({"t": 1}));
        assert_eq!(d.envelope, Some(json!({"topic": "x"})));
        let plain = into_envelope(decode_text("just text"));
        assert_eq!(plain.message, json!("just text"));
        assert_eq!(plain.envelope, None);
    }
}
