//! Layering: built-in defaults < TOML file < environment < CLI flags.
//!
//! Every layer is merged into one TOML tree, which is then deserialized and
//! validated once, so all layers get identical checks and error messages.

use std::io;
use std::path::Path;

use toml::{Table, Value};

use crate::de_error;
use crate::env;
use crate::error::ConfigError;
use crate::model::{CliOverrides, Config};
use crate::path;
use crate::sources::{attribute, Origin, Sources};

/// What [`Config::to_toml_string`] shows instead of a non-empty API key, so
/// the output of `switchboard check-config` can be pasted into a ticket.
pub const REDACTED: &str = "<redacted>";

impl Config {
    /// Loads the configuration with full layering: built-in defaults, then
    /// the TOML `file` if given, then `SWITCHBOARD_…` variables from `env`
    /// (pass `std::env::vars()` in production, a `Vec` in tests), then the
    /// CLI `overrides`; the result is validated.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &CliOverrides,
    ) -> Result<Config, ConfigError> {
        let mut tree = match file {
            Some(file) => read_file(file)?,
            None => Value::Table(Table::new()),
        };
        let mut sources = Sources::new();
        env::overlay(&mut tree, env, &mut sources)?;
        apply_cli(&mut tree, overrides, &mut sources);
        build(&tree, &sources)
    }

    /// Parses and validates a TOML document on top of the built-in defaults,
    /// without environment or CLI layers.
    pub fn from_toml_str(s: &str) -> Result<Config, ConfigError> {
        let tree = parse(s, "toml", "(string)")?;
        build(&tree, &Sources::new())
    }

    /// The configuration as TOML, as `switchboard check-config` prints it.
    /// Every non-empty secret (API keys, token secrets, Redis passwords) is
    /// shown as [`REDACTED`].
    pub fn to_toml_string(&self) -> String {
        let mut shown = self.clone();
        if !shown.api.key.is_empty() {
            shown.api.key = REDACTED.to_string();
        }
        crate::auth::redact(&mut shown.channels.token_hmac_secret);
        for key in &mut shown.api.keys {
            crate::auth::redact(&mut key.key);
        }
        for endpoint in &mut shown.endpoints {
            for key in &mut endpoint.auth.api_keys {
                crate::auth::redact(&mut key.key);
            }
        }
        shown.auth = shown.auth.redacted();
        shown.broker = shown.broker.redacted();
        crate::auth::redact(&mut shown.proxy.secret);
        for webhook in &mut shown.sinks.webhooks {
            crate::auth::redact(&mut webhook.secret);
        }
        for stream in &mut shown.sinks.redis_streams {
            stream.url = crate::broker::redact_url(&stream.url);
        }
        // Only a hand-built value beyond TOML's i64 range can fail here.
        shown
            .to_toml_unredacted()
            .unwrap_or_else(|e| format!("# cannot show this configuration as TOML: {e}\n"))
    }

    /// The configuration as TOML with the API key in clear; what
    /// [`Config::from_toml_str`] reads back to an equal `Config`.
    pub(crate) fn to_toml_unredacted(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}

fn read_file(file: &Path) -> Result<Value, ConfigError> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| {
        let (problem, fix) = match e.kind() {
            io::ErrorKind::NotFound => (
                "the file does not exist".to_string(),
                "check the path, or leave out --config to use the built-in defaults",
            ),
            io::ErrorKind::PermissionDenied => (
                "permission denied".to_string(),
                "make the file readable by the user the server runs as",
            ),
            io::ErrorKind::InvalidData => (
                "the file is not UTF-8 text".to_string(),
                "save the file as UTF-8",
            ),
            _ => (
                format!("cannot read the file: {e}"),
                "point --config at a readable TOML file",
            ),
        };
        ConfigError::new("--config", &shown, problem, fix)
    })?;
    parse(&text, "--config", &shown)
}

/// Parses TOML text into a tree; syntax errors give line and column.
fn parse(text: &str, key: &str, shown: &str) -> Result<Value, ConfigError> {
    text.parse::<Table>().map(Value::Table).map_err(|e| {
        let at = match e.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                format!(" at line {line}, column {column}")
            }
            None => String::new(),
        };
        ConfigError::new(
            key,
            shown,
            format!("TOML syntax error{at}: {}", one_line(e.message())),
            "correct the TOML syntax at that position",
        )
    })
}

/// toml's messages span lines; errors are one line so they grep and log well.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(", ")
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

fn apply_cli(tree: &mut Value, overrides: &CliOverrides, sources: &mut Sources) {
    let CliOverrides { bind } = overrides;
    if let (Some(bind), Value::Table(root)) = (bind, tree) {
        let server = root
            .entry("server")
            .or_insert_with(|| Value::Table(Table::new()));
        // A non-table `server` is left alone, so deserialization reports it.
        if let Value::Table(server) = server {
            server.insert("bind".to_string(), Value::String(bind.to_string()));
            sources.insert(
                "server.bind".to_string(),
                Origin {
                    label: "--bind".to_string(),
                    raw: bind.to_string(),
                },
            );
        }
    }
}

/// Deserializes and validates the merged tree.
fn build(tree: &Value, sources: &Sources) -> Result<Config, ConfigError> {
    require_keys_in_lists(tree).map_err(|e| attribute(e, sources))?;
    let config: Config = serde_path_to_error::deserialize(tree.clone())
        .map_err(|e| attribute(de_error::translate(&e, tree), sources))?;
    config.validate().map_err(|e| attribute(e, sources))?;
    Ok(config)
}

/// Keys that have a default for embedders building the structs by hand,
/// but that every entry of a list must set in a file: silently serving a
/// second `/ws`, or a namespace named "", would be a surprise.
const REQUIRED_IN_LISTS: [(&str, &str, &str, &str); 2] = [
    (
        "endpoints",
        "path",
        "every endpoint needs a path",
        "add path = \"/…\" to this [[endpoints]] table, e.g. path = \"/ws\"",
    ),
    (
        "channels.namespaces",
        "name",
        "every namespace needs a name: channels `name:…` use its options",
        "add name = \"…\" to this [[channels.namespaces]] table, e.g. name = \"chat\"",
    ),
];

fn require_keys_in_lists(tree: &Value) -> Result<(), ConfigError> {
    for (list, required, problem, fix) in REQUIRED_IN_LISTS {
        let segs: Vec<path::Seg> = list.split('.').map(|k| path::Seg::Key(k.into())).collect();
        let Some(Value::Array(entries)) = path::lookup(tree, &segs) else {
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            if let Value::Table(table) = entry {
                if !table.contains_key(required) {
                    return Err(ConfigError::new(
                        format!("{list}[{i}].{required}"),
                        "(missing)",
                        problem,
                        fix,
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("a\nbcd", 4), (2, 3));
        assert_eq!(line_column("é\nx", 3), (2, 1));
    }
}
