//! Unit tests of the connection loop, and helpers other transport tests share.

use std::sync::Arc;

use super::*;
use crate::message::Message;
use crate::queue::OverflowPolicy;

/// A handler that takes every message and does nothing.
pub(crate) struct Ignore;

impl Handler for Ignore {
    async fn on_message(&mut self, _message: Message) -> Result<(), CloseFrame> {
        Ok(())
    }
}

/// Every open connection keeps this future (its task's state) for its
/// whole life: its size is most of what an idle connection costs.
#[tokio::test]
async fn the_connection_future_stays_small() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let stats = Arc::new(TrafficStats::default());
    let outbound = Outbound::new(1 << 20, OverflowPolicy::Close, stats.clone());
    let settings = ConnectionSettings::default();
    let mut handler = Ignore;
    let future = serve(
        stream,
        Bytes::new(),
        None,
        &settings,
        outbound,
        &stats,
        &mut handler,
        CancellationToken::new(),
    );
    let size = std::mem::size_of_val(&future);
    // 528 bytes with Rust 1.95 (the handler's futures live in the
    // busy turns' box); the bound leaves room for a field or two, not
    // for a future held across the quiet wait.
    assert!(size <= 576, "the connection future grew to {size} bytes");
}
