//! Remembers which environment variable or flag set which key, so an error
//! in that value names what the operator actually typed.

use std::collections::BTreeMap;

use crate::error::ConfigError;

/// Where a value in the tree came from, when not from the file.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// The variable or flag name, e.g. `SWITCHBOARD_API__KEY` or `--bind`.
    pub(crate) label: String,
    /// Its text as given.
    pub(crate) raw: String,
}

/// Dotted key path (`endpoints[0].max_connections`) to its origin.
pub(crate) type Sources = BTreeMap<String, Origin>;

/// Rewrites `err` to name the variable or flag that set its key (or a
/// table above it): `SWITCHBOARD_X (endpoints[0].x)`.
pub(crate) fn attribute(mut err: ConfigError, sources: &Sources) -> ConfigError {
    let outer = sources
        .iter()
        .filter(|(key, _)| covers(key, &err.key))
        .max_by_key(|(key, _)| key.len());
    // Otherwise a variable may have written inside the faulty value, e.g.
    // created a table where a plain value belongs.
    let origin = outer.or_else(|| sources.iter().find(|(key, _)| covers(&err.key, key)));
    if let Some((key, origin)) = origin {
        if *key == err.key {
            err.value = origin.raw.clone();
        }
        err.key = format!("{} ({})", origin.label, err.key);
    }
    err
}

/// Whether `outer` is `inner` or a table/list containing it.
fn covers(outer: &str, inner: &str) -> bool {
    match inner.strip_prefix(outer) {
        Some("") => true,
        Some(rest) => rest.starts_with('.') || rest.starts_with('['),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_whole_segments_only() {
        assert!(covers("api.key", "api.key"));
        assert!(covers("endpoints[0]", "endpoints[0].path"));
        assert!(covers(
            "server.trusted_proxies",
            "server.trusted_proxies[1]"
        ));
        assert!(!covers("api.key", "api.keys"));
        assert!(!covers("endpoints[1]", "endpoints[10].path"));
    }
}
