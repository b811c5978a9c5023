//! API keys, matched in constant time.
//!
//! Every key is kept as its SHA-256, whether the config gave it in clear
//! or hashed, and a presented key is hashed once and compared with every
//! entry without stopping at the first match: the time taken says nothing
//! about which bytes, or which key, matched.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_config::ApiScope;

struct Entry {
    name: String,
    digest: [u8; 32],
    scope: ApiScope,
}

/// A set of named keys.
#[derive(Default)]
pub struct KeyRing {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
        f.debug_struct("KeyRing").field("names", &names).finish()
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn from_hex(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl KeyRing {
    /// Adds a key given in clear (`key`) or as its SHA-256 in hex
    /// (`key_sha256`); the config's validation guarantees exactly one.
    pub fn add(&mut self, name: &str, key: &str, key_sha256: &str, scope: ApiScope) {
        let digest = if key.is_empty() {
            from_hex(key_sha256)
        } else {
            Some(sha256(key.as_bytes()))
        };
        if let Some(digest) = digest {
            self.entries.push(Entry {
                name: name.to_owned(),
                digest,
                scope,
            });
        }
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The holder and scope of the presented key, if it is one of ours.
    pub fn find(&self, presented: &str) -> Option<(&str, ApiScope)> {
        let digest = sha256(presented.as_bytes());
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.digest.ct_eq(&digest)) && found.is_none() {
                found = Some((entry.name.as_str(), entry.scope));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_clear_and_hashed() {
        let mut ring = KeyRing::default();
        ring.add("ops", "clear-key", "", ApiScope::Admin);
        // printf %s hashed-key | sha256sum
        let hashed = "0e9a5bfa8e3a5bd4b4e8f5f70b1b0f2fb1d2c1c7c2dd3d4bb5e6f708192a3b4c";
        ring.add("reader", "", hashed, ApiScope::Read);
        let real = sha256(b"hashed-key")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        ring.add("reader2", "", &real, ApiScope::Read);
        assert_eq!(ring.find("clear-key"), Some(("ops", ApiScope::Admin)));
        assert_eq!(ring.find("hashed-key"), Some(("reader2", ApiScope::Read)));
        assert_eq!(ring.find("clear-key "), None);
        assert_eq!(ring.find(""), None);
        assert!(!ring.is_empty());
    }

    #[test]
    fn a_bad_hash_adds_nothing() {
        let mut ring = KeyRing::default();
        ring.add("x", "", "zz", ApiScope::Read);
        assert!(ring.is_empty());
    }
}
