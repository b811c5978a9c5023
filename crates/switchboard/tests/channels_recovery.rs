//! Channels mode: recovery of missed publications on resubscribe — exact
//! under load, refused when history was trimmed (size or age) or the epoch
//! is wrong — and last-value delivery.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use std::time::{Duration, Instant};

use centrifuge::{api_publish, channels_toml, offsets, publications, Centrifuge, PATH};
use common::TestServer;
use serde_json::{json, Value};

fn toml() -> String {
    channels_toml(
        r#"
[[channels.namespaces]]
name = "chat"
history_size = 10000
history_ttl_ms = 600000
recovery = true
allow_publish = true

[[channels.namespaces]]
name = "short"
history_size = 10
history_ttl_ms = 600000
recovery = true

[[channels.namespaces]]
name = "ttl"
history_size = 100
history_ttl_ms = 300
recovery = true

[[channels.namespaces]]
name = "norecovery"
history_size = 10
history_ttl_ms = 600000

[[channels.namespaces]]
name = "prices"
history_size = 10
history_ttl_ms = 600000
recovery = true
last_value = true
"#,
    )
}

async fn start() -> (TestServer, String) {
    let server = TestServer::start(&toml()).await;
    let url = server.ws_url(PATH);
    (server, url)
}

fn recover(channel: &str, offset: u64, epoch: &str) -> Value {
    json!({"channel": channel, "recover": true, "offset": offset, "epoch": epoch})
}

const TOTAL: u64 = 5000;
const PER_FRAME: u64 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_under_load_has_no_gap_and_no_duplicate() {
    let (_server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    let sub = a.subscribe("chat:r").await;
    let epoch = sub["epoch"].as_str().expect("epoch").to_owned();
    assert_eq!(sub["recoverable"], true, "{sub}");

    // A second client publishes {"n": 1..=5000} as fast as the server takes
    // them: frames of 50 pipelined publish commands, the next frame once
    // the previous one is answered. One connection's publishes are handled
    // in order, so publication n gets offset n.
    let mut publisher = Centrifuge::connect(&url).await;
    let publishing = tokio::spawn(async move {
        let mut n = 0;
        while n < TOTAL {
            let mut frame = Vec::new();
            let mut ids = Vec::new();
            for _ in 0..PER_FRAME {
                n += 1;
                let (id, line) = publisher
                    .command_line("publish", json!({"channel": "chat:r", "data": {"n": n}}));
                ids.push(id);
                frame.push(line);
            }
            publisher.send_text(&frame.join("\n")).await;
            for id in ids {
                let reply = publisher.reply(id).await;
                assert_eq!(reply["publish"], json!({}), "{reply}");
            }
        }
        publisher
    });

    // A reads about a fifth of the stream, checking it as it goes, then
    // vanishes without a close frame.
    let mut last = 0;
    while last < 1000 {
        let publication = a.next_publication("chat:r").await;
        let offset = publication["offset"].as_u64().expect("offset");
        assert_eq!(offset, last + 1, "live delivery is gapless: {publication}");
        assert_eq!(publication["data"]["n"], offset, "{publication}");
        last = offset;
    }
    drop(a);

    // A new connection recovers from there while publishing goes on.
    let mut b = Centrifuge::connect(&url).await;
    let reply = b.call("subscribe", recover("chat:r", last, &epoch)).await;
    assert_eq!(reply["recovered"], true, "{reply}");
    assert_eq!(reply["was_recovering"], true, "{reply}");
    assert_eq!(reply["epoch"], epoch.as_str());
    let mut got = publications(&reply);
    let in_reply = got.len();
    if let Some(newest) = got.last() {
        assert_eq!(reply["offset"], newest["offset"], "reply offset is the top");
    }
    let mut top = got
        .last()
        .map_or(last, |p| p["offset"].as_u64().expect("offset"));
    while top < TOTAL {
        let publication = b.next_publication("chat:r").await;
        top = publication["offset"].as_u64().expect("offset");
        got.push(publication);
    }
    let want: Vec<u64> = (last + 1..=TOTAL).collect();
    let got_offsets = offsets(&got);
    if got_offsets != want {
        let dups = got_offsets.windows(2).filter(|w| w[1] <= w[0]).count();
        let gaps = got_offsets.windows(2).filter(|w| w[1] > w[0] + 1).count();
        panic!(
            "recovered {in_reply} in the reply then {} live; {dups} out of order or \
             duplicated, {gaps} gaps; first {:?}",
            got.len() - in_reply,
            &got_offsets[..got_offsets.len().min(20)]
        );
    }
    for publication in &got {
        assert_eq!(publication["data"]["n"], publication["offset"]);
    }
    eprintln!(
        "A saw 1..={last}; B recovered {in_reply} in the subscribe reply and {} live",
        got.len() - in_reply
    );

    let mut publisher = publishing.await.expect("publisher task");
    // Nothing after the last one, and the stream agrees.
    let history = publisher
        .call("history", json!({"channel": "chat:r", "limit": 0}))
        .await;
    assert_eq!(history["offset"], TOTAL);
    assert_eq!(history["epoch"], epoch.as_str());
    assert_eq!(b.buffered_pushes(), 0, "no publication after {TOTAL}");
}

#[tokio::test]
async fn recovery_is_refused_once_history_was_trimmed_by_size() {
    let (server, url) = start().await;
    let channel = "short:h";
    let mut initial = Value::Null;
    for n in 1..=5 {
        initial = api_publish(&server, channel, json!({ "n": n })).await;
    }
    assert_eq!(initial["offset"], 5);
    let epoch = initial["epoch"].as_str().expect("epoch").to_owned();
    // 30 more while "away": offsets 6..=35, of which 26..=35 are kept.
    for n in 6..=35 {
        api_publish(&server, channel, json!({ "n": n })).await;
    }

    let mut b = Centrifuge::connect(&url).await;
    let reply = b.call("subscribe", recover(channel, 5, &epoch)).await;
    assert!(reply.get("recovered").is_none(), "6..=25 are gone: {reply}");
    assert_eq!(reply["was_recovering"], true, "{reply}");
    assert_eq!(reply["recoverable"], true, "{reply}");
    assert_eq!(reply["epoch"], epoch.as_str(), "same stream, same epoch");
    assert_eq!(reply["offset"], 35, "the current top, to resync from");
    assert!(publications(&reply).is_empty(), "{reply}");

    // The boundary: from 25 everything missed (26..=35) is still kept…
    let mut c = Centrifuge::connect(&url).await;
    let reply = c.call("subscribe", recover(channel, 25, &epoch)).await;
    assert_eq!(reply["recovered"], true, "{reply}");
    assert_eq!(
        offsets(&publications(&reply)),
        (26..=35).collect::<Vec<u64>>()
    );
    // …from 24 publication 25 is missing.
    let mut d = Centrifuge::connect(&url).await;
    let reply = d.call("subscribe", recover(channel, 24, &epoch)).await;
    assert!(reply.get("recovered").is_none(), "25 was trimmed: {reply}");
    assert_eq!(reply["offset"], 35);
}

#[tokio::test]
async fn recovery_with_a_wrong_epoch_or_future_offset_is_refused() {
    let (server, url) = start().await;
    let channel = "chat:epoch";
    let mut result = Value::Null;
    for n in 1..=3 {
        result = api_publish(&server, channel, json!({ "n": n })).await;
    }
    let epoch = result["epoch"].as_str().expect("epoch").to_owned();

    let mut a = Centrifuge::connect(&url).await;
    let wrong = format!("{epoch}x");
    let reply = a.call("subscribe", recover(channel, 1, &wrong)).await;
    assert!(reply.get("recovered").is_none(), "{reply}");
    assert_eq!(reply["was_recovering"], true);
    assert_eq!(
        reply["epoch"],
        epoch.as_str(),
        "told the real epoch: {reply}"
    );
    assert_eq!(reply["offset"], 3);
    assert!(publications(&reply).is_empty(), "{reply}");

    // An offset the stream never reached is no position of this stream.
    let mut b = Centrifuge::connect(&url).await;
    let reply = b.call("subscribe", recover(channel, 99, &epoch)).await;
    assert!(reply.get("recovered").is_none(), "{reply}");
    assert_eq!(reply["offset"], 3);

    // The right epoch from the top: recovered, with nothing missed.
    let mut c = Centrifuge::connect(&url).await;
    let reply = c.call("subscribe", recover(channel, 3, &epoch)).await;
    assert_eq!(reply["recovered"], true, "{reply}");
    assert!(publications(&reply).is_empty(), "{reply}");
}

#[tokio::test]
async fn recovery_is_refused_once_history_expired() {
    let (server, url) = start().await;
    let channel = "ttl:t";
    api_publish(&server, channel, json!({"n": 1})).await;
    let published = Instant::now();
    let result = api_publish(&server, channel, json!({"n": 2})).await;
    let epoch = result["epoch"].as_str().expect("epoch").to_owned();

    // While still fresh, offset 2 is recoverable from 1 (checked only if
    // this machine got here well within the 300 ms TTL).
    let mut a = Centrifuge::connect(&url).await;
    let fresh = a.call("subscribe", recover(channel, 1, &epoch)).await;
    if published.elapsed() < Duration::from_millis(200) {
        assert_eq!(fresh["recovered"], true, "{fresh}");
        assert_eq!(offsets(&publications(&fresh)), vec![2]);
    }

    // Time is what is under test: let the TTL pass.
    tokio::time::sleep(Duration::from_millis(450).saturating_sub(published.elapsed())).await;
    let mut b = Centrifuge::connect(&url).await;
    let reply = b.call("subscribe", recover(channel, 1, &epoch)).await;
    assert!(reply.get("recovered").is_none(), "expired: {reply}");
    assert_eq!(reply["epoch"], epoch.as_str());
    assert_eq!(reply["offset"], 2, "offsets survive expiry");
    assert!(publications(&reply).is_empty(), "{reply}");

    let (_, history) = server
        .api("history", json!({"channel": channel, "limit": -1}))
        .await;
    assert_eq!(history["result"]["offset"], 2, "{history}");
    assert_eq!(
        history["result"]["publications"],
        json!([]),
        "expired publications are not served: {history}"
    );
}

#[tokio::test]
async fn last_value_subscribe_gets_exactly_the_newest_publication() {
    let (server, url) = start().await;
    let channel = "prices:EURUSD";
    for price in [1.1, 1.2, 1.3] {
        api_publish(&server, channel, json!({ "price": price })).await;
    }
    let mut a = Centrifuge::connect(&url).await;
    let reply = a.subscribe(channel).await;
    let got = publications(&reply);
    assert_eq!(got.len(), 1, "exactly the newest: {reply}");
    assert_eq!(got[0]["data"], json!({"price": 1.3}));
    assert_eq!(got[0]["offset"], 3);
    assert_eq!(reply["offset"], 3, "{reply}");

    // It is not delivered twice, and the next one follows live.
    api_publish(&server, channel, json!({"price": 1.4})).await;
    let next = a.next_publication(channel).await;
    assert_eq!(next["offset"], 4, "{next}");
    assert_eq!(next["data"], json!({"price": 1.4}));
}

#[tokio::test]
async fn recovery_is_not_offered_where_the_namespace_has_it_off() {
    let (server, url) = start().await;
    let channel = "norecovery:x";
    let first = api_publish(&server, channel, json!(1)).await;
    api_publish(&server, channel, json!(2)).await;
    let epoch = first["epoch"].as_str().expect("history keeps an epoch");
    let mut a = Centrifuge::connect(&url).await;
    let reply = a.call("subscribe", recover(channel, 1, epoch)).await;
    assert!(reply.get("recovered").is_none(), "{reply}");
    assert!(reply.get("recoverable").is_none(), "{reply}");
    assert!(publications(&reply).is_empty(), "{reply}");
    assert_eq!(reply["offset"], 2, "{reply}");
}
