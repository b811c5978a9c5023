//! Which events a sink takes: by endpoint path and by event type.

use switchboard_protocol::event::{Event, EventType};

/// An event filter; empty lists match everything.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    endpoints: Vec<String>,
    events: Vec<EventType>,
}

impl EventFilter {
    /// A filter from the config's `endpoints` and `events` lists. Event type
    /// names are validated by the config; an unknown one matches nothing.
    pub fn new(endpoints: &[String], events: &[String]) -> Self {
        EventFilter {
            endpoints: endpoints.to_vec(),
            events: events
                .iter()
                .filter_map(|name| {
                    serde_json::from_value(serde_json::Value::String(name.clone())).ok()
                })
                .collect(),
        }
    }

    /// True when the sink takes `event`.
    pub fn matches(&self, event: &Event) -> bool {
        (self.endpoints.is_empty()
            || self
                .endpoints
                .iter()
                .any(|e| **e == *event.connection.endpoint))
            && (self.events.is_empty() || self.events.contains(&event.event))
    }

    /// True when events of `endpoint` can pass.
    pub fn takes_endpoint(&self, endpoint: &str) -> bool {
        self.endpoints.is_empty() || self.endpoints.iter().any(|e| e == endpoint)
    }
}
