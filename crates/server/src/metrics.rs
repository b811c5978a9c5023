//! `GET /metrics` in the Prometheus text format (version 0.0.4).
//!
//! The figures already live in atomics owned by the layers that count them
//! (transport traffic, endpoint counters, sink stats), so this module only
//! renders them at scrape time: nothing on the message path knows metrics
//! exist. See ARCHITECTURE.md for why this is hand-rendered.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use switchboard_transport::TrafficStats;

use crate::endpoint::{Endpoint, EndpointCounters};
use crate::state::AppState;

/// The scrape route.
pub async fn scrape(State(state): State<AppState>) -> Response {
    let body = render(&state);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(
            self.0,
            "# HELP switchboard_{name} {help}\n# TYPE switchboard_{name} {kind}"
        );
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        let _ = write!(self.0, "switchboard_{name}");
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let escaped = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.0, "{k}=\"{escaped}\"");
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// A counter family with one sample per endpoint and reason.
fn by_endpoint_and_reason<'a>(
    t: &mut Text,
    eps: &'a [Arc<Endpoint>],
    name: &str,
    help: &str,
    reasons: impl Fn(&'a EndpointCounters) -> Vec<(&'static str, &'a AtomicU64)>,
) {
    t.family(name, "counter", help);
    for ep in eps {
        for (reason, counter) in reasons(&ep.counters) {
            let labels = [("endpoint", ep.config.path.as_str()), ("reason", reason)];
            t.sample(name, &labels, get(counter));
        }
    }
}

/// A family with one sample per endpoint.
fn by_endpoint(
    t: &mut Text,
    eps: &[Arc<Endpoint>],
    (name, kind, help): (&str, &str, &str),
    value: impl Fn(&EndpointCounters) -> u64,
) {
    t.family(name, kind, help);
    for ep in eps {
        t.sample(name, &[("endpoint", &ep.config.path)], value(&ep.counters));
    }
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Renders every metric.
pub fn render(state: &AppState) -> String {
    let mut t = Text(String::with_capacity(4096));
    let eps = &state.endpoints;

    let open = (
        "connections",
        "gauge",
        "Open connections by endpoint (WebSocket, SSE and HTTP streaming).",
    );
    by_endpoint(&mut t, eps, open, |c| get(&c.active));
    t.family(
        "stream_sessions",
        "gauge",
        "Open SSE and HTTP-streaming sessions on this node (also counted in switchboard_connections).",
    );
    t.sample("stream_sessions", &[], state.streams.len() as u64);
    by_endpoint_and_reason(
        &mut t,
        eps,
        "channel_commands_refused_total",
        "Channels commands refused by a per-connection limit or a permission, by endpoint and reason.",
        |c| {
            vec![
                ("permission", &c.refused_permission),
                ("subscription_limit", &c.refused_subscription_limit),
                ("channel_name", &c.refused_channel_name),
            ]
        },
    );
    t.family(
        "http_refused_total",
        "counter",
        "HTTP connections ended before a request: headers larger than server.max_header_bytes (431), or not sent within server.handshake_timeout_ms.",
    );
    for (reason, counter) in [
        ("header_too_large", &state.http_refused.header_too_large),
        ("header_timeout", &state.http_refused.header_timeout),
    ] {
        t.sample("http_refused_total", &[("reason", reason)], get(counter));
    }
    let rate_limited = (
        "messages_rate_limited_total",
        "counter",
        "Client messages refused by an endpoint's rate limits.",
    );
    by_endpoint(&mut t, eps, rate_limited, |c| get(&c.rate_limited));
    let accepted = (
        "connections_accepted_total",
        "counter",
        "Connections accepted by endpoint.",
    );
    by_endpoint(&mut t, eps, accepted, |c| get(&c.accepted));
    by_endpoint_and_reason(
        &mut t,
        eps,
        "connections_rejected_total",
        "Connections refused, by endpoint and reason.",
        |c| {
            vec![
                ("capacity", &c.rejected_capacity),
                ("draining", &c.rejected_draining),
                ("handshake", &c.rejected_handshake),
                ("origin", &c.rejected_origin),
                ("auth", &c.rejected_auth),
                ("per_ip", &c.rejected_per_ip),
                ("busy", &c.rejected_busy),
            ]
        },
    );
    t.family(
        "connections_closed_total",
        "counter",
        "Connections closed, by endpoint and close code.",
    );
    for ep in eps {
        for (code, n) in ep.counters.close_codes() {
            let code = code.to_string();
            t.sample(
                "connections_closed_total",
                &[("endpoint", &ep.config.path), ("code", &code)],
                n,
            );
        }
    }
    type Pick = fn(&TrafficStats) -> &AtomicU64;
    let traffic: [(&str, &str, Pick); 6] = [
        (
            "messages_in_total",
            "Data messages received from clients.",
            |s| &s.messages_in,
        ),
        (
            "bytes_in_total",
            "Payload bytes received from clients.",
            |s| &s.bytes_in,
        ),
        (
            "messages_out_total",
            "Data messages sent to clients.",
            |s| &s.messages_out,
        ),
        (
            "bytes_out_total",
            "Payload bytes sent to clients (before compression).",
            |s| &s.bytes_out,
        ),
        (
            "queue_dropped_total",
            "Messages dropped by a full outbound queue (policy drop).",
            |s| &s.queue_dropped,
        ),
        (
            "queue_overflow_closes_total",
            "Connections closed by a full outbound queue (policy close).",
            |s| &s.queue_overflow_closes,
        ),
    ];
    for (name, help, pick) in traffic {
        t.family(name, "counter", help);
        for ep in eps {
            t.sample(
                name,
                &[("endpoint", &ep.config.path)],
                get(pick(&ep.traffic)),
            );
        }
    }
    t.family(
        "sink_events_total",
        "counter",
        "Events handled by each sink, by outcome.",
    );
    for (sink, stats) in state.bus.stats() {
        for (outcome, counter) in [
            ("delivered", &stats.delivered),
            ("dropped", &stats.dropped),
            ("failed", &stats.failed),
            ("spilled", &stats.spilled),
            ("dead_lettered", &stats.dead_lettered),
        ] {
            t.sample(
                "sink_events_total",
                &[("sink", &sink), ("outcome", outcome)],
                get(counter),
            );
        }
    }
    t.family(
        "sink_backlog",
        "gauge",
        "Events waiting in each webhook or stream sink, in memory and in the store.",
    );
    for handle in state.sinks.all() {
        let status = handle.status();
        t.sample("sink_backlog", &[("sink", handle.name())], status.queued);
    }
    by_endpoint(
        &mut t,
        eps,
        (
            "messages_busy_total",
            "counter",
            "Client messages answered busy because a sink's backlog was above its busy_backlog.",
        ),
        |c| get(&c.busy_messages),
    );
    by_endpoint(
        &mut t,
        eps,
        (
            "messages_invalid_total",
            "counter",
            "Client messages refused because they do not satisfy the endpoint's message_schema_file.",
        ),
        |c| get(&c.invalid_messages),
    );
    t.family(
        "broker_up",
        "gauge",
        "1 while the broker answers this node's announcements, else 0.",
    );
    t.sample("broker_up", &[], u64::from(state.nodes.broker_healthy()));
    let b = &state.broker_metrics;
    t.family(
        "broker_errors_total",
        "counter",
        "Broker and presence calls that failed (unreachable, timed out).",
    );
    t.sample("broker_errors_total", &[], get(&b.errors));
    t.family(
        "broker_reconnects_total",
        "counter",
        "Times the broker's pub/sub connection was re-established.",
    );
    t.sample("broker_reconnects_total", &[], b.broker.reconnects());
    t.family(
        "uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    t.sample("uptime_seconds", &[], state.started.elapsed().as_secs());
    t.0
}
