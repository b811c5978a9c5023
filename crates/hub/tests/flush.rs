//! Fan-outs written by flush passes: real connections (transport `serve`
//! on loopback sockets), several publishers sending at once, every frame
//! arriving once and in each publisher's order; and connections with a
//! write delay, flushed by the same tasks once their delay has passed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_hub::{ConnectionId, Entry, Format, Hub, Target};
use switchboard_protocol::event::ConnectionInfo;
use switchboard_transport::{
    serve, CloseFrame, ConnectionSettings, Handler, Message, OutMessage, Outbound, OverflowPolicy,
    TrafficStats,
};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const CONNECTIONS: usize = 64;
const PUBLISHERS: usize = 4;
const MESSAGES: usize = 500;

struct Ignore;

impl Handler for Ignore {
    async fn on_message(&mut self, _message: Message) -> Result<(), CloseFrame> {
        Ok(())
    }
}

fn info(id: ConnectionId) -> Arc<ConnectionInfo> {
    Arc::new(ConnectionInfo {
        id: id.to_string(),
        endpoint: "/ws".into(),
        remote_addr: "127.0.0.1:1".into(),
        user_agent: None,
        origin: None,
        subprotocol: None,
        user: None,
        transport: Default::default(),
        connected_at: "now".into(),
    })
}

/// Opens a served connection registered in `hub`; returns its id and the
/// client side.
async fn connect(
    hub: &Hub,
    listener: &TcpListener,
    write_delay: Option<Duration>,
) -> (ConnectionId, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let stats = Arc::new(TrafficStats::default());
    let outbound = Outbound::new(1 << 24, OverflowPolicy::Close, stats.clone());
    let id = ConnectionId::random();
    let entry = Entry {
        info: info(id),
        outbound: outbound.clone(),
        format: Format::Plain,
    };
    let registration = hub.register(id, entry);
    tokio::spawn(async move {
        let settings = ConnectionSettings {
            write_delay,
            ..ConnectionSettings::default()
        };
        let mut handler = Ignore;
        let cancel = CancellationToken::new();
        let _registration = registration;
        serve(
            server,
            Bytes::new(),
            None,
            &settings,
            outbound,
            &stats,
            &mut handler,
            cancel,
        )
        .await
    });
    (id, client)
}

/// Reads `count` unmasked text frames.
async fn read_texts(mut client: TcpStream, count: usize) -> Vec<String> {
    let (mut buf, mut texts) = (Vec::new(), Vec::new());
    let mut chunk = [0u8; 4096];
    while texts.len() < count {
        let n = client.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed after {} frames", texts.len());
        buf.extend_from_slice(&chunk[..n]);
        while buf.len() >= 2 && buf.len() >= 2 + (buf[1] as usize) {
            assert_eq!(buf[0], 0x81, "a whole text frame");
            let len = buf[1] as usize;
            assert!(len < 126);
            texts.push(String::from_utf8(buf[2..2 + len].to_vec()).unwrap());
            buf.drain(..2 + len);
        }
    }
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fan_outs_arrive_whole_once_and_in_order() {
    let hub = Hub::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(connect(&hub, &listener, None).await.1);
    }
    // Let every connection task reach its wait (and lend its socket).
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let readers: Vec<_> = clients
        .into_iter()
        .map(|c| tokio::spawn(read_texts(c, PUBLISHERS * MESSAGES)))
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let hub = hub.clone();
            tokio::spawn(async move {
                for i in 0..MESSAGES {
                    let text = format!("{p}:{i}");
                    let sent = hub.send(Target::All, &[], |_| Some(OutMessage::text(text.clone())));
                    assert_eq!(sent.delivered, CONNECTIONS as u64);
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.unwrap();
    }
    for reader in readers {
        let texts = tokio::time::timeout(std::time::Duration::from_secs(20), reader)
            .await
            .expect("every connection gets every message")
            .unwrap();
        let mut next = [0usize; PUBLISHERS];
        for text in texts {
            let (p, i) = text.split_once(':').unwrap();
            let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[p], "publisher {p}'s messages in order, none lost");
            next[p] += 1;
        }
        assert_eq!(next, [MESSAGES; PUBLISHERS]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_delay_holds_each_connections_frames_for_one_write() {
    const DELAY: Duration = Duration::from_millis(500);
    let hub = Hub::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // Enough delayed connections that every shard of the flusher has some,
    // so its task sleeps when the prompt connections' message comes.
    let (mut held, mut prompt) = (Vec::new(), Vec::new());
    for _ in 0..48 {
        held.push(connect(&hub, &listener, Some(DELAY)).await);
    }
    for _ in 0..8 {
        prompt.push(connect(&hub, &listener, None).await);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;

    let held_ids: Vec<_> = held.iter().map(|(id, _)| *id).collect();
    let sent = Instant::now();
    for i in 0..5 {
        let text = format!("h{i}");
        let delivery = hub.send(Target::Connections(&held_ids), &[], |_| {
            Some(OutMessage::text(text.clone()))
        });
        assert_eq!(delivery.delivered, held.len() as u64);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let prompt_ids: Vec<_> = prompt.iter().map(|(id, _)| *id).collect();
    let prompt_sent = Instant::now();
    hub.send(Target::Connections(&prompt_ids), &[], |_| {
        Some(OutMessage::text("now"))
    });
    for (_, client) in prompt {
        assert_eq!(read_texts(client, 1).await, ["now"]);
    }
    let prompt_took = prompt_sent.elapsed();
    assert!(
        prompt_took < DELAY / 2,
        "connections without a delay are not held behind delayed ones: {prompt_took:?}"
    );

    for (_, mut client) in held {
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await.unwrap();
        let waited = sent.elapsed();
        assert!(
            waited >= DELAY - Duration::from_millis(5),
            "held for the delay: {waited:?}"
        );
        // Five 2-byte frames of 2-byte texts, written in one system call.
        assert_eq!(
            &chunk[..n],
            b"\x81\x02h0\x81\x02h1\x81\x02h2\x81\x02h3\x81\x02h4"
        );
    }
}
