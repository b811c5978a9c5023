//! `Access`: who may do something in a channel namespace.
//!
//! Written in TOML as `true` (anyone), `false` (nobody), or one of
//! `"anyone"`, `"authenticated"`, `"token"`, `"nobody"`, so files written
//! before the finer levels existed keep their meaning.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Who may subscribe, publish, or read presence or history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// No client (the server API always may).
    Nobody,
    /// Clients holding a token for the channel: a subscription token, or a
    /// connection token whose `channels` (or `subs`) claim lists it.
    Token,
    /// Clients connected as a user (with a token or key), and token holders.
    Authenticated,
    /// Every client.
    Anyone,
}

impl Serialize for Access {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Access::Anyone => s.serialize_bool(true),
            Access::Nobody => s.serialize_bool(false),
            Access::Authenticated => s.serialize_str("authenticated"),
            Access::Token => s.serialize_str("token"),
        }
    }
}

impl<'de> Deserialize<'de> for Access {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AccessVisitor;
        impl Visitor<'_> for AccessVisitor {
            type Value = Access;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false, \"anyone\", \"authenticated\", \"token\" or \"nobody\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Access, E> {
                Ok(if v { Access::Anyone } else { Access::Nobody })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Access, E> {
                match v {
                    "anyone" => Ok(Access::Anyone),
                    "authenticated" => Ok(Access::Authenticated),
                    "token" => Ok(Access::Token),
                    "nobody" => Ok(Access::Nobody),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(AccessVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize)]
    struct T {
        a: Access,
    }

    #[test]
    fn bools_and_names() {
        let read = |s: &str| toml::from_str::<T>(s).map(|t| t.a);
        assert_eq!(read("a = true").unwrap(), Access::Anyone);
        assert_eq!(read("a = false").unwrap(), Access::Nobody);
        assert_eq!(read("a = \"token\"").unwrap(), Access::Token);
        assert_eq!(
            read("a = \"authenticated\"").unwrap(),
            Access::Authenticated
        );
        let err = read("a = \"admins\"").unwrap_err().to_string();
        assert!(err.contains("\"authenticated\""), "{err}");
        for a in [
            Access::Anyone,
            Access::Nobody,
            Access::Token,
            Access::Authenticated,
        ] {
            let text = toml::to_string(&T { a }).unwrap();
            assert_eq!(read(&text).unwrap(), a);
        }
    }
}
