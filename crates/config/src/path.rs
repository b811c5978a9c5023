//! Key paths inside the TOML tree, and how they are shown in errors.
//!
//! Errors name keys the way an operator would find them in the file:
//! `endpoints[0].heartbeat.mode`.

use toml::Value;

/// One step into the tree: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// `endpoints[0].heartbeat.mode`.
pub(crate) fn dotted(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// `endpoints.heartbeat.mode`: the key without array indexes, for looking up
/// per-key hints that do not depend on which endpoint it is.
pub(crate) fn generic(segs: &[Seg]) -> String {
    let keys: Vec<&str> = segs
        .iter()
        .filter_map(|seg| match seg {
            Seg::Key(key) => Some(key.as_str()),
            Seg::Index(_) => None,
        })
        .collect();
    keys.join(".")
}

/// The value at `segs`, if the tree has one there.
pub(crate) fn lookup<'a>(root: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    segs.iter().try_fold(root, |value, seg| match (value, seg) {
        (Value::Table(table), Seg::Key(key)) => table.get(key),
        (Value::Array(array), Seg::Index(i)) => array.get(*i),
        _ => None,
    })
}

/// Longest rendering of a value in an error; a pasted certificate should
/// not flood the terminal.
const MAX_RENDERED: usize = 80;

/// A value as it would be written in TOML, shortened for error messages.
pub(crate) fn render(value: &Value) -> String {
    let full = render_full(value);
    if full.chars().count() <= MAX_RENDERED {
        return full;
    }
    let mut short: String = full.chars().take(MAX_RENDERED).collect();
    short.push('…');
    short
}

fn render_full(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(render_full).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Table(table) => {
            let items: Vec<String> = table
                .iter()
                .map(|(k, v)| format!("{k} = {}", render_full(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

/// A string in double quotes with TOML basic-string escapes.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
