//! The environment layer: `SWITCHBOARD_SECTION__KEY=value` overlays the
//! TOML tree at `section.key`.
//!
//! Overlaying the tree rather than the typed `Config` means a variable goes
//! through exactly the same deserialization and validation as a file key,
//! so it cannot bypass a check or be silently ignored.

use toml::{Table, Value};

use crate::error::ConfigError;
use crate::model::Config;
use crate::path::{self, Seg};
use crate::sources::{Origin, Sources};

/// Only variables with this prefix are read; everything else in the
/// environment belongs to someone else.
pub(crate) const PREFIX: &str = "SWITCHBOARD_";

/// Separates key path parts; a single `_` is part of key names.
const SEPARATOR: &str = "__";

/// One `SWITCHBOARD_…` variable, split into its key path.
struct Var {
    name: String,
    raw: String,
    parts: Vec<String>,
}

/// Applies every `SWITCHBOARD_` variable in `vars` to `tree`, recording in
/// `sources` which variable set which key.
pub(crate) fn overlay(
    tree: &mut Value,
    vars: impl IntoIterator<Item = (String, String)>,
    sources: &mut Sources,
) -> Result<(), ConfigError> {
    let mut vars: Vec<Var> = vars
        .into_iter()
        .filter_map(|(name, raw)| {
            let rest = name.strip_prefix(PREFIX)?;
            let parts = rest.split(SEPARATOR).map(str::to_lowercase).collect();
            Some(Var { name, raw, parts })
        })
        .collect();
    // The process environment has no order; sorting (numbers numerically)
    // makes `…__1__…` come before `…__2__…`, so new entries append in order.
    vars.sort_by_cached_key(|var| sort_key(&var.parts));

    let defaults = default_tree()?;
    for var in &vars {
        apply(tree, &defaults, var, sources)?;
    }
    Ok(())
}

fn apply(
    tree: &mut Value,
    defaults: &Value,
    var: &Var,
    sources: &mut Sources,
) -> Result<(), ConfigError> {
    if var.parts.iter().any(String::is_empty) {
        return Err(ConfigError::new(
            &var.name,
            &var.raw,
            "the name has an empty key part",
            "name keys as SWITCHBOARD_SECTION__KEY, with `__` only between parts, \
             e.g. SWITCHBOARD_SERVER__BIND",
        ));
    }
    if let Some(problem) = through_single_value(defaults, &var.parts) {
        return Err(ConfigError::new(
            &var.name,
            &var.raw,
            problem,
            "name the key itself, e.g. SWITCHBOARD_SERVER__BIND=0.0.0.0:9000",
        ));
    }
    ensure_default_lists(tree, defaults, &var.parts);
    let value = parse_value(&var.raw, is_string_key(defaults, &var.parts));
    let segs = set(tree, &var.parts, value).map_err(|problem| {
        ConfigError::new(
            &var.name,
            &var.raw,
            problem,
            "check the variable name against docs/CONFIG.md; \
             list entries are numbered from 0 with no gaps",
        )
    })?;
    sources.insert(
        path::dotted(&segs),
        Origin {
            label: var.name.clone(),
            raw: var.raw.clone(),
        },
    );
    Ok(())
}

/// A file without `[[endpoints]]` means "the default endpoint list", so a
/// variable that edits `endpoints[0]` must edit that list, not start an
/// empty one; likewise `channels.namespaces` must become a list (empty by
/// default) for `CHANNELS__NAMESPACES__0__NAME` to add its first entry.
/// Walks `parts`, putting the built-in default in place of every missing
/// list on the way (and an empty table in place of a missing table).
fn ensure_default_lists(tree: &mut Value, defaults: &Value, parts: &[String]) {
    let mut cur = tree;
    for (n, part) in parts.iter().enumerate() {
        cur = match cur {
            Value::Table(table) => {
                if !table.contains_key(part) {
                    match default_at(defaults, &parts[..=n]) {
                        Some(list @ Value::Array(_)) => {
                            table.insert(part.clone(), list.clone());
                        }
                        Some(Value::Table(_)) if n + 1 < parts.len() => {
                            table.insert(part.clone(), Value::Table(Table::new()));
                        }
                        _ => return,
                    }
                }
                match table.get_mut(part) {
                    Some(next) => next,
                    None => return,
                }
            }
            Value::Array(items) => {
                match part.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(next) => next,
                    None => return,
                }
            }
            _ => return,
        };
    }
}

/// The built-in defaults as a tree, used for the default endpoint list and
/// to know which keys hold strings.
fn default_tree() -> Result<Value, ConfigError> {
    Value::try_from(Config::default()).map_err(|e| {
        ConfigError::new(
            "defaults",
            "(built in)",
            format!("cannot represent the built-in defaults as TOML: {e}"),
            "report this as a bug",
        )
    })
}

/// String keys whose default is absent (an optional value, or an entry of
/// a list that is empty by default), so the default tree cannot tell.
/// Written without list indexes.
const OPTIONAL_STRING_KEYS: [&str; 2] = ["server.shutdown_notice", "channels.namespaces.name"];

/// Whether the key holds a string, so the value must be taken verbatim:
/// `SWITCHBOARD_API__KEY=12345` is the key "12345", not the integer 12345.
fn is_string_key(defaults: &Value, parts: &[String]) -> bool {
    let generic: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|part| part.parse::<usize>().is_err())
        .collect();
    OPTIONAL_STRING_KEYS.contains(&generic.join(".").as_str())
        || matches!(default_at(defaults, parts), Some(Value::String(_)))
}

/// The built-in default at `parts`; any index into a list stands for its
/// first entry, so `endpoints.3.path` finds the default endpoint's path.
fn default_at<'a>(defaults: &'a Value, parts: &[String]) -> Option<&'a Value> {
    parts.iter().try_fold(defaults, |value, part| match value {
        Value::Table(table) => table.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and(items.first()),
        _ => None,
    })
}

/// A name that reaches inside a single value, such as
/// `SERVER__BIND__PORT`: the file layer may not mention `server.bind`, so
/// only the defaults show that it holds no keys.
fn through_single_value(defaults: &Value, parts: &[String]) -> Option<String> {
    (1..parts.len()).find_map(|n| match default_at(defaults, &parts[..n]) {
        Some(Value::Table(_) | Value::Array(_)) | None => None,
        Some(_) => Some(format!(
            "`{}` is a single value, so it has no key `{}` inside it",
            parts[..n].join("."),
            parts[n]
        )),
    })
}

/// The value as TOML if it is one (`5`, `true`, `["a", "b"]`), else as a
/// string; string keys always take the text verbatim.
fn parse_value(raw: &str, string_key: bool) -> Value {
    if string_key {
        return Value::String(raw.to_string());
    }
    // Parse as the right-hand side of an assignment; exactly one key must
    // come out, so text like "5\nother = 1" cannot smuggle in more keys.
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut table) if table.len() == 1 => table
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_string())),
        _ => Value::String(raw.to_string()),
    }
}

/// Sets `value` at `parts` in `tree`, creating tables on the way and
/// appending when an index equals the list length. Returns the key path.
fn set(tree: &mut Value, parts: &[String], value: Value) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::with_capacity(parts.len());
    let mut value = Some(value);
    let mut cur = tree;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let here = path::dotted(&segs);
        cur = match cur {
            Value::Table(table) => {
                segs.push(Seg::Key(part.clone()));
                if last {
                    if let Some(value) = value.take() {
                        table.insert(part.clone(), value);
                    }
                    return Ok(segs);
                }
                table
                    .entry(part.clone())
                    .or_insert_with(|| Value::Table(Table::new()))
            }
            Value::Array(items) => {
                let index: usize = part.parse().map_err(|_| {
                    format!("`{here}` is a list, so `{part}` must be an entry number (0, 1, …)")
                })?;
                if index > items.len() {
                    let n = items.len();
                    let entries = if n == 1 { "entry" } else { "entries" };
                    return Err(format!(
                        "`{here}` has {n} {entries}, so the next new entry is number {n}, not {index}"
                    ));
                }
                segs.push(Seg::Index(index));
                let slot = if last {
                    value.take()
                } else {
                    Some(Value::Table(Table::new()))
                };
                if index == items.len() {
                    items.extend(slot.clone());
                }
                if last {
                    if let (Some(item), Some(value)) = (items.get_mut(index), slot) {
                        *item = value;
                    }
                    return Ok(segs);
                }
                items
                    .get_mut(index)
                    .ok_or_else(|| format!("`{here}` has no entry {index}"))?
            }
            _ => {
                return Err(format!(
                    "`{here}` is a single value, so it has no key `{part}` inside it"
                ))
            }
        };
    }
    Ok(segs)
}

/// Orders variables by key path, comparing numeric parts as numbers.
fn sort_key(parts: &[String]) -> Vec<(u64, String)> {
    parts
        .iter()
        .map(|part| match part.parse::<u64>() {
            Ok(n) => (n, String::new()),
            Err(_) => (u64::MAX, part.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_toml_or_fall_back_to_strings() {
        assert_eq!(parse_value("5", false), Value::Integer(5));
        assert_eq!(parse_value("true", false), Value::Boolean(true));
        assert_eq!(
            parse_value(r#"["a","b"]"#, false),
            Value::Array(vec![Value::String("a".into()), Value::String("b".into())])
        );
        assert_eq!(
            parse_value("127.0.0.1:9000", false),
            Value::String("127.0.0.1:9000".into())
        );
        assert_eq!(
            parse_value("5\nother = 1", false),
            Value::String("5\nother = 1".into())
        );
        assert_eq!(parse_value("12345", true), Value::String("12345".into()));
    }

    #[test]
    fn string_keys_are_known_from_the_defaults() {
        let defaults = default_tree().unwrap();
        let parts = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        assert!(is_string_key(&defaults, &parts("api.key")));
        assert!(is_string_key(&defaults, &parts("endpoints.3.path")));
        assert!(is_string_key(&defaults, &parts("server.shutdown_notice")));
        assert!(is_string_key(
            &defaults,
            &parts("channels.namespaces.2.name")
        ));
        assert!(!is_string_key(
            &defaults,
            &parts("channels.namespaces.0.history_size")
        ));
        assert!(!is_string_key(
            &defaults,
            &parts("endpoints.0.max_connections")
        ));
        assert!(!is_string_key(&defaults, &parts("nope")));
    }

    #[test]
    fn numeric_parts_sort_numerically() {
        let k = |s: &str| sort_key(&s.split('.').map(str::to_string).collect::<Vec<_>>());
        assert!(k("endpoints.2.path") < k("endpoints.10.path"));
        assert!(k("endpoints.1") < k("endpoints.1.path"));
    }
}
