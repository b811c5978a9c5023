//! Tokens never reach logs or events: a server at `debug` level sees a
//! query token, a bad token and a refused handshake, and neither stderr nor
//! stdout (the events) holds the token.

mod common;

use common::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

const SECRET: &str = "log-secret-log-secret-log-secret-01";

#[tokio::test]
async fn tokens_are_never_logged() {
    let file = config_file(&format!(
        "[server]\nbind = \"127.0.0.1:0\"\n[log]\nlevel = \"trace\"\n[auth.jwt]\nhmac_secret = \"{SECRET}\"\n\n[[endpoints]]\npath = \"/ws\"\n[endpoints.auth]\nmode = \"jwt\"\n"
    ));
    let mut bin = BinCommand::new(&["--config", file.path().to_str().unwrap()]).spawn();
    let line = bin
        .stderr_line_containing("switchboard listening on ")
        .await;
    let addr: std::net::SocketAddr = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
    let good = encode(
        &Header::default(),
        &json!({"sub": "logger", "exp": switchboard_auth::unix_now() + 600}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let (client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={good}"))
        .await
        .expect("connects with the query token");
    drop(client);
    let forged = format!("{good}x");
    let refused = RawClient::upgrade(addr, &format!("/ws?token={forged}"), &[]).await;
    assert_eq!(refused.status, 401);
    assert!(
        !refused.body.contains(&forged),
        "the refusal does not echo the token"
    );
    let bearer = format!("Bearer {forged}");
    let refused = RawClient::upgrade(addr, "/ws", &[("Authorization", &bearer)]).await;
    assert_eq!(refused.status, 401);
    bin.signal("-TERM");
    assert!(bin.wait_exit().await.success());
    let (stdout, stderr) = (bin.stdout_seen.join("\n"), bin.stderr_seen.join("\n"));
    assert!(
        stderr.contains("handshake refused") || stderr.contains("connected"),
        "trace logs were written:\n{stderr}"
    );
    // The signature part is what makes a token usable; no piece of it may appear.
    let signature = good.rsplit('.').next().unwrap();
    for (name, text) in [("stderr", &stderr), ("stdout", &stdout)] {
        assert!(!text.contains(signature), "{name} holds the token:\n{text}");
    }
}
