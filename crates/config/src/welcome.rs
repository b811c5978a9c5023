//! The welcome message template: which placeholders exist and how they are
//! filled in.
//!
//! A placeholder is `{name}` where name is letters, digits and `_`; any
//! other `{` (such as the braces of a JSON object) is literal text, so JSON
//! templates need no escaping.

/// The placeholders a welcome template may use.
pub const WELCOME_PLACEHOLDERS: [&str; 4] =
    ["connection_id", "endpoint", "timestamp", "remote_addr"];

/// One piece of a template.
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits a template into literal text and placeholders.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            out.push(Piece::Text(&rest[..open]));
            out.push(Piece::Placeholder(&after[..name_len]));
            rest = &after[name_len + 1..];
        } else {
            out.push(Piece::Text(&rest[..=open]));
            rest = after;
        }
    }
    out.push(Piece::Text(rest));
    out
}

/// The placeholder names used in `template`, in order.
pub(crate) fn placeholders(template: &str) -> Vec<&str> {
    pieces(template)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Placeholder(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Fills `{name}` placeholders in `template` from `values`, escaping each
/// value as the inside of a JSON string (no surrounding quotes), so a
/// hostile `remote_addr` or path cannot break out of the JSON it sits in.
/// Placeholders without a value are left as written.
pub fn render_welcome(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder(name) => match values.iter().find(|(key, _)| *key == name) {
                Some((_, value)) => push_json_escaped(&mut out, value),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    out
}

fn push_json_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_WELCOME_MESSAGE;

    #[test]
    fn default_template_uses_known_placeholders_only() {
        assert_eq!(
            placeholders(DEFAULT_WELCOME_MESSAGE),
            ["connection_id", "endpoint", "timestamp"]
        );
    }

    #[test]
    fn renders_the_default_template() {
        let out = render_welcome(
            DEFAULT_WELCOME_MESSAGE,
            &[
                ("connection_id", "c1"),
                ("endpoint", "/ws"),
                ("timestamp", "2024-01-01T00:00:00Z"),
            ],
        );
        assert_eq!(
            out,
            r#"{"type":"welcome","connection_id":"c1","endpoint":"/ws","timestamp":"2024-01-01T00:00:00Z"}"#
        );
    }

    #[test]
    fn escapes_values_as_json_string_contents() {
        let out = render_welcome(r#"{"a":"{endpoint}"}"#, &[("endpoint", "x\"}\\\n\t\u{1}é")]);
        assert_eq!(out, r#"{"a":"x\"}\\\n\t\u0001é"}"#);
    }

    #[test]
    fn leaves_unknown_and_non_placeholders_alone() {
        assert_eq!(
            render_welcome("{missing} {} { x} {", &[]),
            "{missing} {} { x} {"
        );
        assert_eq!(render_welcome("{a}{a}", &[("a", "1")]), "11");
        assert_eq!(placeholders("{a-b} {ok} {{x}}"), ["ok", "x"]);
    }
}
