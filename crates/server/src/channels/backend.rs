//! The backend proxy from a channels session: connect, subscribe, publish
//! and RPC asked about with the session's client and user.

use serde_json::{Map, Value};
use switchboard_protocol::client::ReplyError;
use switchboard_transport::CloseFrame;

use super::session::ChannelsSession;
use crate::proxy::{base_request, Kind, Verdict};

/// A JSON value from a command's raw payload (absent: nothing).
pub(super) fn json_of(raw: Option<&serde_json::value::RawValue>) -> Option<Value> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
}

/// The `data` of a backend's result, as the raw JSON a reply carries.
pub(super) fn result_data(result: &Value) -> Option<Box<serde_json::value::RawValue>> {
    result
        .get("data")
        .filter(|d| !d.is_null())
        .and_then(|d| serde_json::value::to_raw_value(d).ok())
}

impl ChannelsSession {
    /// True when namespace options of `channel` say to ask the backend.
    pub(super) fn proxied(&self, channel: &str, kind: Kind) -> bool {
        let options = self.state.config.channels.namespace_options(channel);
        options.is_some_and(|o| match kind {
            Kind::Subscribe => o.proxy_subscribe,
            Kind::Publish => o.proxy_publish,
            Kind::Connect | Kind::Rpc => false,
        })
    }

    /// Asks the backend about command `id`. `Some(result)`: go ahead;
    /// `None`: refused (the error reply is sent) or disconnected (the close
    /// is queued after what the connection already has queued).
    pub(super) async fn ask_backend(
        &self,
        id: u32,
        kind: Kind,
        fields: Map<String, Value>,
    ) -> Option<Value> {
        let Some(proxy) = &self.state.proxy else {
            return Some(Value::Object(Map::new()));
        };
        let mut request = base_request(&self.conn.id, "json");
        let user = self.user.clone().unwrap_or_default();
        request.insert("user".into(), Value::from(user));
        request.extend(fields);
        match proxy.ask(kind, Value::Object(request)).await {
            Verdict::Allow(result) => Some(result),
            Verdict::Deny { code, message } => {
                self.fail(id, ReplyError::new(code, message));
                None
            }
            Verdict::Disconnect { code, reason } => {
                self.outbound.close(CloseFrame::new(code, reason));
                None
            }
        }
    }
}
