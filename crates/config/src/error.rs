//! The error type: every problem names the key, the bad value, what is
//! wrong and how to fix it, so an operator never has to read the source.

use thiserror::Error;

/// A configuration problem.
///
/// Displayed as `config error: <key> = <value>: <problem>; fix: <fix>`.
/// For problems with the file itself (missing, unreadable, bad TOML syntax)
/// `key` is `--config` and `value` the path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("config error: {key} = {value}: {problem}; fix: {fix}")]
pub struct ConfigError {
    /// Where the problem is: a dotted key path such as
    /// `endpoints[0].heartbeat.mode`; `VAR (key path)` when an environment
    /// variable or flag set the value; `--config` for problems with the file
    /// itself.
    pub key: String,
    /// The offending value as written (TOML syntax for file values, the raw
    /// text for environment variables).
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
    /// What to do instead.
    pub fix: String,
}

impl ConfigError {
    /// Builds an error from its four parts.
    pub fn new(
        key: impl Into<String>,
        value: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        ConfigError {
            key: key.into(),
            value: value.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely
/// typo: about one edit per three characters, and at least one.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count().div_ceil(3)).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance: Levenshtein plus adjacent swaps, the
/// commonest typo. Inputs are short key names, so O(n·m) is fine.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_all_four_parts() {
        let e = ConfigError::new("a.b", "1", "too small", "use 2");
        assert_eq!(
            e.to_string(),
            "config error: a.b = 1: too small; fix: use 2"
        );
    }

    #[test]
    fn closest_finds_typos_only() {
        let keys = ["max_connections", "max_message_size", "mode"];
        assert_eq!(closest("max_conections", &keys), Some("max_connections"));
        assert_eq!(closest("mdoe", &keys), Some("mode"));
        assert_eq!(closest("completely_else", &keys), None);
        assert_eq!(closest("foo", &["log", "api"]), None);
    }
}
