//! Serde helpers: durations are whole milliseconds in TOML.
//!
//! TOML has no duration type, and a bare integer with the unit in the key
//! name (`…_ms`) is the least ambiguous spelling for operators.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// TOML integers are `i64`; clamp so serialising never fails.
fn to_millis(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `Duration` <-> integer milliseconds.
pub(crate) mod millis {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(to_millis(d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// `Option<Duration>` <-> integer milliseconds, where 0 means `None`
/// (disabled). `None` is written as 0 so the effective config shows the key.
pub(crate) mod opt_millis {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.as_ref().map_or(0, to_millis))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let ms = u64::deserialize(d)?;
        Ok((ms > 0).then(|| Duration::from_millis(ms)))
    }
}
