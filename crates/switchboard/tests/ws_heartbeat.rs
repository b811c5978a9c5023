//! Heartbeat modes: `send` (server pings, missing pong → 1011), `expect`
//! (client must ping, silence → 1008) and `none` (pings answered).

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use switchboard::protocol::event::EventType;
use tokio_tungstenite::tungstenite::Message;

const SEND: &str = "[[endpoints]]\npath = \"/ws\"\n[endpoints.heartbeat]\nmode = \"send\"\ninterval_ms = 100\ntimeout_ms = 50\n";
const EXPECT: &str = "[[endpoints]]\npath = \"/ws\"\n[endpoints.heartbeat]\nmode = \"expect\"\ninterval_ms = 100\ntimeout_ms = 50\n";

#[tokio::test]
async fn send_mode_terminates_a_client_that_never_answers() {
    let mut t = TestServer::start(SEND).await;
    // A raw client never answers pings by itself.
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    assert_eq!(raw.status, 101);
    let started = Instant::now();
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!(d.code, 1011);
    assert_eq!(d.reason, "heartbeat timeout: no pong");
    assert_eq!(d.initiator, "server");
    // interval + timeout = 150 ms; well under the 5 s close handshake
    // timeout, because a dead peer is not waited for.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // On the wire: the ping, then the best-effort close frame, then EOF.
    let ping = raw.read_frame().await;
    assert_eq!(ping.opcode, 0x9, "{ping:?}");
    assert_eq!(
        raw.read_close().await,
        (1011, "heartbeat timeout: no pong".to_owned())
    );
    t.server.shutdown().await;
}

#[tokio::test]
async fn send_mode_keeps_a_client_that_answers() {
    let mut t = TestServer::start(SEND).await;
    let mut client = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    // tokio-tungstenite answers each ping while it is read. Five pings span
    // several interval + timeout periods.
    let mut pings = 0;
    tokio::time::timeout(WAIT, async {
        while pings < 5 {
            match client.next().await {
                Some(Ok(Message::Ping(_))) => pings += 1,
                other => panic!("expected pings only, got {other:?}"),
            }
        }
    })
    .await
    .expect("five pings in time");
    t.no_event(EventType::Disconnect, Duration::from_millis(10))
        .await;

    // Then it stops reading (so stops answering) and is terminated.
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!((d.code, d.initiator.as_str()), (1011, "server"));
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn expect_mode_closes_a_silent_client_with_1008() {
    let mut t = TestServer::start(EXPECT).await;
    let started = Instant::now();
    let client = t.connect("/ws").await;
    let (code, reason) = close_handshake(client).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "heartbeat timeout: no ping")
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!((d.code, d.initiator.as_str()), (1008, "server"));
    t.server.shutdown().await;
}

#[tokio::test]
async fn expect_mode_keeps_a_client_that_pings() {
    let mut t = TestServer::start(EXPECT).await;
    let mut client = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    let mut ticker = tokio::time::interval(Duration::from_millis(30));
    let mut pongs = 0;
    // 12 pongs at 30 ms take well over interval + timeout (150 ms).
    tokio::time::timeout(WAIT, async {
        while pongs < 12 {
            tokio::select! {
                _ = ticker.tick() => client.send(Message::Ping("hb".into())).await.expect("ping"),
                msg = client.next() => match msg {
                    Some(Ok(Message::Pong(payload))) => {
                        assert_eq!(&payload[..], b"hb");
                        pongs += 1;
                    }
                    other => panic!("expected pongs only, got {other:?}"),
                },
            }
        }
    })
    .await
    .expect("pongs in time");
    t.no_event(EventType::Disconnect, Duration::from_millis(10))
        .await;
    // Silence from here on is noticed.
    let (code, _) = close_handshake(client).await;
    assert_eq!(code, 1008);
    t.server.shutdown().await;
}

#[tokio::test]
async fn none_mode_answers_pings_with_the_same_payload_and_sends_none() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut client = t.connect("/ws").await;
    client
        .send(Message::Ping(b"payload-42".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(WAIT, client.next())
        .await
        .expect("pong in time");
    match pong {
        Some(Ok(Message::Pong(payload))) => assert_eq!(&payload[..], b"payload-42"),
        other => panic!("expected a pong, got {other:?}"),
    }
    // No server pings in this mode.
    let quiet = tokio::time::timeout(Duration::from_millis(300), client.next()).await;
    assert!(quiet.is_err(), "unexpected frame: {quiet:?}");
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn send_mode_data_is_not_a_pong() {
    // A client that keeps talking but never answers pings is still dead to
    // the heartbeat.
    let mut t = TestServer::start(SEND).await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let gone = tokio::time::timeout(WAIT, async {
        loop {
            tokio::select! {
                _ = ticker.tick() => raw.send_frame(true, false, 0x1, b"chatty", true).await,
                event = t.next_event(EventType::Disconnect) => return event,
            }
        }
    })
    .await
    .expect("terminated in time");
    assert_eq!(gone.disconnect.as_ref().unwrap().code, 1011);
    drop(raw);
    t.server.shutdown().await;
}
