//! The Redis stream sink: each event `XADD`ed to a stream, trimmed with
//! `MAXLEN ~`, so that workers read it with consumer groups
//! (`XREADGROUP`) and acknowledge what they have handled. A batch is one
//! pipelined round trip. The connection reconnects on its own; while
//! Redis is down, the durable backlog holds the events.
//!
//! Entry fields: `id` (the event id), `event` (its type), `endpoint`,
//! `connection` (its id) and `data` (the whole event as JSON).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use switchboard_config::RedisStreamConfig;
use switchboard_protocol::event::Event;

use crate::answer::Answer;
use crate::durable::{Failure, Target};

/// A Redis stream target.
pub struct RedisStream {
    conn: ConnectionManager,
    stream: String,
    maxlen: u64,
}

impl RedisStream {
    /// A target for `config`; connects on first use.
    pub fn new(config: &RedisStreamConfig) -> Result<RedisStream, String> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| e.to_string())?;
        let options = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn =
            ConnectionManager::new_lazy_with_config(client, options).map_err(|e| e.to_string())?;
        Ok(RedisStream {
            conn,
            stream: config.stream.clone(),
            maxlen: config.maxlen,
        })
    }
}

impl Target for RedisStream {
    async fn send(&mut self, batch: &[Arc<Event>]) -> Result<Vec<Option<Answer>>, Failure> {
        let mut pipe = redis::pipe();
        for event in batch {
            let cmd = pipe.cmd("XADD").arg(&self.stream);
            if self.maxlen > 0 {
                cmd.arg("MAXLEN").arg("~").arg(self.maxlen);
            }
            let kind = serde_json::to_value(event.event).unwrap_or_default();
            cmd.arg("*")
                .arg("id")
                .arg(&event.id)
                .arg("event")
                .arg(kind.as_str().unwrap_or_default())
                .arg("endpoint")
                .arg(&*event.connection.endpoint)
                .arg("connection")
                .arg(&event.connection.id)
                .arg("data")
                .arg(serde_json::to_vec(event.as_ref()).unwrap_or_default())
                .ignore();
        }
        pipe.query_async::<()>(&mut self.conn)
            .await
            .map(|()| Vec::new())
            // A wrong-type key or a read-only replica will not heal by
            // itself, but an operator can fix it: retrying keeps order.
            .map_err(|err| Failure::transient(format!("redis: {err}")))
    }
}
