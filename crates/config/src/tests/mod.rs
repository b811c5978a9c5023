//! Tests of the public behaviour: defaults, layering, errors, round-trip.

mod auth;
mod broker;
mod channels;
mod defaults;
mod docs;
mod env_errors;
mod file_errors;
mod layering;
mod roundtrip;
mod sinks;
mod validation_errors;

use crate::{CliOverrides, Config, ConfigError};

/// The error `from_toml_str` gives for `toml`; fails the test if it loads.
fn toml_err(toml: &str) -> ConfigError {
    match Config::from_toml_str(toml) {
        Ok(config) => panic!("expected an error for:\n{toml}\ngot {config:?}"),
        Err(e) => e,
    }
}

/// The error `load` gives for these variables and no file.
fn env_err(vars: &[(&str, &str)]) -> ConfigError {
    match Config::load(None, env(vars), &CliOverrides::default()) {
        Ok(config) => panic!("expected an error for {vars:?}, got {config:?}"),
        Err(e) => e,
    }
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A file holding one endpoint at `/a` with `extra` lines in its table.
fn endpoint(extra: &str) -> String {
    format!("[[endpoints]]\npath = \"/a\"\n{extra}\n")
}
