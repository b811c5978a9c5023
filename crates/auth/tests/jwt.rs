//! The verifier against real tokens: every algorithm family, every key
//! source, and every way a token must be refused.

use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use switchboard_auth::{unix_now, TokenError, Verifier};
use switchboard_config::Config;

const SECRET: &str = "test-secret-test-secret-test-secret!";

fn key_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(name)
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(key_file(name)).unwrap()
}

fn private(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(SECRET.as_bytes())
        }
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem("p256.key")).unwrap(),
        Algorithm::ES384 => EncodingKey::from_ec_pem(&pem("p384.key")).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem("ed25519.key")).unwrap(),
        _ => EncodingKey::from_rsa_pem(&pem("rsa.key")).unwrap(),
    }
}

fn sign(alg: Algorithm, claims: &Value) -> String {
    encode(&Header::new(alg), claims, &private(alg)).unwrap()
}

fn sign_kid(alg: Algorithm, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    encode(&header, claims, &private(alg)).unwrap()
}

fn valid(sub: &str) -> Value {
    json!({"sub": sub, "exp": unix_now() + 600})
}

fn verifier(edit: impl FnOnce(&mut Config)) -> Verifier {
    let mut config = Config::default();
    edit(&mut config);
    Verifier::from_config(&config).unwrap()
}

fn all_pem_keys(c: &mut Config) {
    // One inline key and one file: both sources are used together.
    c.auth.jwt.public_key_pem = String::from_utf8(pem("rsa.pub")).unwrap();
    c.auth.jwt.public_key_file = Some(key_file("p256.pub"));
}

async fn user(v: &Verifier, token: &str) -> Result<String, TokenError> {
    v.connect_token(token).await.map(|id| id.user)
}

#[tokio::test]
async fn hmac_algorithms_verify_with_the_secret() {
    let v = verifier(|c| c.auth.jwt.hmac_secret = SECRET.into());
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        assert_eq!(
            user(&v, &sign(alg, &valid("h"))).await,
            Ok("h".into()),
            "{alg:?}"
        );
    }
}

#[tokio::test]
async fn the_older_channels_secret_still_works() {
    let v = verifier(|c| c.channels.token_hmac_secret = SECRET.into());
    assert_eq!(
        user(&v, &sign(Algorithm::HS256, &valid("old"))).await,
        Ok("old".into())
    );
}

#[tokio::test]
async fn every_public_key_family_verifies_from_pem() {
    let cases = [
        (
            "rsa.pub",
            [
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
            ]
            .as_slice(),
        ),
        ("p256.pub", &[Algorithm::ES256]),
        ("p384.pub", &[Algorithm::ES384]),
        ("ed25519.pub", &[Algorithm::EdDSA]),
    ];
    for (file, algs) in cases {
        let v = verifier(|c| c.auth.jwt.public_key_file = Some(key_file(file)));
        for alg in algs {
            assert_eq!(
                user(&v, &sign(*alg, &valid("p"))).await,
                Ok("p".into()),
                "{alg:?}"
            );
        }
    }
    let v = verifier(all_pem_keys);
    assert_eq!(
        user(&v, &sign(Algorithm::RS256, &valid("r"))).await,
        Ok("r".into())
    );
    assert_eq!(
        user(&v, &sign(Algorithm::ES256, &valid("e"))).await,
        Ok("e".into())
    );
    // A family that has no configured key.
    assert_eq!(
        user(&v, &sign(Algorithm::EdDSA, &valid("x"))).await,
        Err(TokenError::Invalid("algorithm not allowed"))
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let v = verifier(|c| {
        c.auth.jwt.hmac_secret = SECRET.into();
        all_pem_keys(c);
    });
    let b64 = |v: &Value| {
        use std::fmt::Write;
        let bytes = v.to_string().into_bytes();
        // base64url without padding, by hand: no extra dependency for a test.
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                let _ = write!(out, "{}", T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    };
    for alg in ["none", "None", "NONE"] {
        let token = format!(
            "{}.{}.",
            b64(&json!({"alg": alg, "typ": "JWT"})),
            b64(&valid("n"))
        );
        assert!(
            matches!(user(&v, &token).await, Err(TokenError::Invalid(_))),
            "{alg}"
        );
    }
}

#[tokio::test]
async fn an_hs_token_signed_with_the_public_key_is_refused() {
    // The classic confusion: the attacker signs HS256 with the server's
    // public key (which is public) as the HMAC secret.
    let public = pem("rsa.pub");
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &valid("mallory"),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    let rsa_only = verifier(|c| c.auth.jwt.public_key_file = Some(key_file("rsa.pub")));
    assert_eq!(
        user(&rsa_only, &forged).await,
        Err(TokenError::Invalid("algorithm not allowed"))
    );
    let both = verifier(|c| {
        c.auth.jwt.hmac_secret = SECRET.into();
        c.auth.jwt.public_key_file = Some(key_file("rsa.pub"));
    });
    assert_eq!(
        user(&both, &forged).await,
        Err(TokenError::Invalid("bad signature"))
    );
}

#[tokio::test]
async fn exp_is_required_checked_and_given_leeway() {
    let v = verifier(|c| c.auth.jwt.hmac_secret = SECRET.into());
    let now = unix_now();
    let token = |claims: Value| sign(Algorithm::HS256, &claims);
    assert_eq!(
        user(&v, &token(json!({"sub": "a"}))).await,
        Err(TokenError::Invalid("missing exp"))
    );
    assert_eq!(
        user(&v, &token(json!({"sub": "a", "exp": now - 60}))).await,
        Err(TokenError::Expired)
    );
    // Within the default 5 s leeway.
    assert_eq!(
        user(&v, &token(json!({"sub": "a", "exp": now - 2}))).await,
        Ok("a".into())
    );
    assert_eq!(
        user(
            &v,
            &token(json!({"sub": "a", "exp": now + 60, "nbf": now + 60}))
        )
        .await,
        Err(TokenError::Invalid("not yet valid"))
    );
    let lax = verifier(|c| {
        c.auth.jwt.hmac_secret = SECRET.into();
        c.auth.jwt.require_exp = false;
    });
    assert_eq!(
        user(&lax, &token(json!({"sub": "a"}))).await,
        Ok("a".into())
    );
}

#[tokio::test]
async fn bad_signatures_and_garbage_are_refused() {
    let v = verifier(|c| {
        c.auth.jwt.hmac_secret = SECRET.into();
        all_pem_keys(c);
    });
    let other = encode(
        &Header::new(Algorithm::HS256),
        &valid("a"),
        &EncodingKey::from_secret(b"another-secret-another-secret-another"),
    )
    .unwrap();
    assert_eq!(
        user(&v, &other).await,
        Err(TokenError::Invalid("bad signature"))
    );
    let rsa = sign(Algorithm::RS256, &valid("a"));
    let (head, _) = rsa.rsplit_once('.').unwrap();
    let tampered = format!("{head}.{}", "A".repeat(342));
    assert_eq!(
        user(&v, &tampered).await,
        Err(TokenError::Invalid("bad signature"))
    );
    for garbage in [
        "",
        "x",
        "a.b.c",
        "..",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.sig",
    ] {
        assert!(
            matches!(user(&v, garbage).await, Err(TokenError::Invalid(_))),
            "{garbage:?}"
        );
    }
}

#[tokio::test]
async fn audience_and_issuer_are_checked_when_configured() {
    let v = verifier(|c| {
        c.auth.jwt.hmac_secret = SECRET.into();
        c.auth.jwt.audience = "switchboard".into();
        c.auth.jwt.issuer = "https://login.example".into();
    });
    let exp = unix_now() + 600;
    let token = |claims: Value| sign(Algorithm::HS256, &claims);
    let good = json!({"sub": "a", "exp": exp, "aud": ["other", "switchboard"], "iss": "https://login.example"});
    assert_eq!(user(&v, &token(good)).await, Ok("a".into()));
    let wrong_aud = json!({"sub": "a", "exp": exp, "aud": "other", "iss": "https://login.example"});
    assert_eq!(
        user(&v, &token(wrong_aud)).await,
        Err(TokenError::Invalid("wrong audience"))
    );
    let wrong_iss = json!({"sub": "a", "exp": exp, "aud": "switchboard", "iss": "https://evil"});
    assert_eq!(
        user(&v, &token(wrong_iss)).await,
        Err(TokenError::Invalid("wrong issuer"))
    );
    let no_aud = json!({"sub": "a", "exp": exp, "iss": "https://login.example"});
    assert_eq!(
        user(&v, &token(no_aud)).await,
        Err(TokenError::Invalid("missing claim"))
    );
}

fn jwks(keys: &[(Algorithm, &str)]) -> String {
    let keys = keys
        .iter()
        .map(|(alg, kid)| {
            let mut jwk = Jwk::from_encoding_key(&private(*alg), *alg).unwrap();
            jwk.common.key_id = Some((*kid).into());
            jwk
        })
        .collect();
    serde_json::to_string(&JwkSet { keys }).unwrap()
}

#[tokio::test]
async fn a_jwks_file_selects_the_key_by_kid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(
        &path,
        jwks(&[(Algorithm::RS256, "r1"), (Algorithm::ES256, "e1")]),
    )
    .unwrap();
    let v = verifier(|c| c.auth.jwt.jwks_file = Some(path));
    assert_eq!(
        user(&v, &sign_kid(Algorithm::RS256, "r1", &valid("a"))).await,
        Ok("a".into())
    );
    assert_eq!(
        user(&v, &sign_kid(Algorithm::ES256, "e1", &valid("b"))).await,
        Ok("b".into())
    );
    // Without a kid every matching key is tried.
    assert_eq!(
        user(&v, &sign(Algorithm::ES256, &valid("c"))).await,
        Ok("c".into())
    );
    assert_eq!(
        user(&v, &sign_kid(Algorithm::RS256, "r2", &valid("d"))).await,
        Err(TokenError::Invalid("unknown key"))
    );
    // The key named by kid is an RSA key: an ES token naming it fails.
    assert_eq!(
        user(&v, &sign_kid(Algorithm::ES256, "r1", &valid("e"))).await,
        Err(TokenError::Invalid("unknown key"))
    );
}

#[test]
fn unusable_key_material_names_the_key() {
    let mut c = Config::default();
    c.auth.jwt.public_key_file = Some(key_file("missing.pub"));
    let err = Verifier::from_config(&c).unwrap_err();
    assert_eq!(err.key, "auth.jwt.public_key_file");
    c.auth.jwt.public_key_file = Some(key_file("README.md"));
    let err = Verifier::from_config(&c).unwrap_err();
    assert!(err.problem.contains("public key in PEM"), "{err}");
    let mut c = Config::default();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#).unwrap();
    c.auth.jwt.jwks_file = Some(path);
    let err = Verifier::from_config(&c).unwrap_err();
    assert_eq!(err.key, "auth.jwt.jwks_file");
    assert!(err.problem.contains("no usable public key"), "{err}");
}

/// A one-route HTTP server that answers every request with `body()`,
/// after `delay`. Returns its URL.
async fn serve_jwks(
    body: std::sync::Arc<std::sync::Mutex<String>>,
    delay: Duration,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (url, hits)
}

#[tokio::test]
async fn a_jwks_url_is_fetched_when_a_kid_is_unknown() {
    let body = std::sync::Arc::new(std::sync::Mutex::new(jwks(&[(Algorithm::EdDSA, "k1")])));
    let (url, hits) = serve_jwks(body.clone(), Duration::ZERO).await;
    let v = verifier(|c| c.auth.jwt.jwks_url = url);
    // Nothing fetched yet: the unknown kid makes the first fetch.
    assert_eq!(
        user(&v, &sign_kid(Algorithm::EdDSA, "k1", &valid("a"))).await,
        Ok("a".into())
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Known kid: served from the cache.
    assert_eq!(
        user(&v, &sign_kid(Algorithm::EdDSA, "k1", &valid("b"))).await,
        Ok("b".into())
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A rotated key within 10 s of the last fetch is not fetched again
    // (forged kids cannot make us poll the key server).
    *body.lock().unwrap() = jwks(&[(Algorithm::ES384, "k2")]);
    assert_eq!(
        user(&v, &sign_kid(Algorithm::ES384, "k2", &valid("c"))).await,
        Err(TokenError::Invalid("unknown key"))
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_jwks_refresh_picks_up_rotated_keys() {
    let body = std::sync::Arc::new(std::sync::Mutex::new(jwks(&[(Algorithm::RS256, "old")])));
    let (url, _) = serve_jwks(body.clone(), Duration::ZERO).await;
    let v = std::sync::Arc::new(verifier(|c| {
        c.auth.jwt.jwks_url = url;
        c.auth.jwt.jwks_refresh = Duration::from_secs(1);
    }));
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn({
        let (v, stop) = (v.clone(), stop.clone());
        async move { v.start(stop).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        user(&v, &sign_kid(Algorithm::RS256, "old", &valid("a"))).await,
        Ok("a".into())
    );
    *body.lock().unwrap() = jwks(&[(Algorithm::ES256, "new")]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        user(&v, &sign_kid(Algorithm::ES256, "new", &valid("b"))).await,
        Ok("b".into())
    );
    assert_eq!(
        user(&v, &sign_kid(Algorithm::RS256, "old", &valid("c"))).await,
        Err(TokenError::Invalid("unknown key")),
        "a key dropped from the set is no longer trusted"
    );
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_slow_key_server_is_bounded_by_the_fetch_timeout() {
    let body = std::sync::Arc::new(std::sync::Mutex::new(jwks(&[(Algorithm::RS256, "k")])));
    let (url, _) = serve_jwks(body, Duration::from_secs(30)).await;
    let v = verifier(|c| {
        c.auth.jwt.jwks_url = url;
        c.auth.jwt.jwks_fetch_timeout = Duration::from_millis(300);
    });
    let started = std::time::Instant::now();
    let result = user(&v, &sign_kid(Algorithm::RS256, "k", &valid("a"))).await;
    assert_eq!(result, Err(TokenError::Invalid("unknown key")));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn subscription_tokens_carry_the_channel() {
    let v = verifier(|c| c.auth.jwt.hmac_secret = SECRET.into());
    let token = sign(
        Algorithm::HS256,
        &json!({"sub": "a", "channel": "private:x", "exp": unix_now() + 60, "info": {"role": "mod"}}),
    );
    let grant = v.subscription_token(&token).await.unwrap();
    assert_eq!(
        (grant.user.as_str(), grant.channel.as_str()),
        ("a", "private:x")
    );
    assert_eq!(grant.info.as_deref(), Some(&br#"{"role":"mod"}"#[..]));
}
