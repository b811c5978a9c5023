use super::env_err;

#[test]
fn bad_env_value_names_the_variable_and_the_key() {
    let e = env_err(&[("SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS", "lots")]);
    assert_eq!(
        e.key,
        "SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS (endpoints[0].max_connections)"
    );
    assert_eq!(e.value, "lots");
    assert!(e.problem.contains("whole number"), "{e}");
}

#[test]
fn env_value_failing_validation_names_the_variable() {
    let e = env_err(&[("SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS", "0")]);
    assert_eq!(
        e.key,
        "SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS (endpoints[0].max_connections)"
    );
    assert_eq!(e.value, "0");
    let e = env_err(&[("SWITCHBOARD_SERVER__BIND", "nowhere")]);
    assert_eq!(e.key, "SWITCHBOARD_SERVER__BIND (server.bind)");
    assert_eq!(e.value, "nowhere");
    let e = env_err(&[("SWITCHBOARD_ENDPOINTS__0__HEARTBEAT__MODE", "sned")]);
    assert_eq!(
        e.key,
        "SWITCHBOARD_ENDPOINTS__0__HEARTBEAT__MODE (endpoints[0].heartbeat.mode)"
    );
    assert!(e.fix.contains("did you mean `send`"), "{e}");
}

#[test]
fn unknown_key_from_env_names_the_variable() {
    let e = env_err(&[("SWITCHBOARD_SERVER__BINDD", "127.0.0.1:1")]);
    assert_eq!(e.key, "SWITCHBOARD_SERVER__BINDD (server.bindd)");
    assert!(e.fix.contains("`bind`"), "{e}");
    let e = env_err(&[("SWITCHBOARD_NOPE", "1")]);
    assert_eq!(e.key, "SWITCHBOARD_NOPE (nope)");
}

#[test]
fn an_index_past_the_end_names_the_variable() {
    let e = env_err(&[("SWITCHBOARD_ENDPOINTS__2__PATH", "/x")]);
    assert_eq!(e.key, "SWITCHBOARD_ENDPOINTS__2__PATH");
    assert_eq!(e.value, "/x");
    assert!(e.problem.contains("next new entry is number 1"), "{e}");
}

#[test]
fn an_appended_endpoint_still_needs_a_path() {
    let e = env_err(&[("SWITCHBOARD_ENDPOINTS__1__MODE", "echo")]);
    assert_eq!(e.key, "endpoints[1].path");
}

#[test]
fn malformed_variable_names() {
    let e = env_err(&[("SWITCHBOARD_SERVER____BIND", "127.0.0.1:1")]);
    assert_eq!(e.key, "SWITCHBOARD_SERVER____BIND");
    let e = env_err(&[("SWITCHBOARD_SERVER__BIND__PORT", "1")]);
    assert_eq!(e.key, "SWITCHBOARD_SERVER__BIND__PORT");
    assert!(e.problem.contains("single value"), "{e}");
    let e = env_err(&[("SWITCHBOARD_ENDPOINTS__FIRST__PATH", "/x")]);
    assert!(e.problem.contains("entry number"), "{e}");
}

#[test]
fn an_env_error_deep_inside_a_value_it_set_is_attributed() {
    let e = env_err(&[(
        "SWITCHBOARD_ENDPOINTS__0__ALLOWED_ORIGINS",
        r#"["https://ok.example", "bad"]"#,
    )]);
    assert_eq!(
        e.key,
        "SWITCHBOARD_ENDPOINTS__0__ALLOWED_ORIGINS (endpoints[0].allowed_origins[1])"
    );
    assert_eq!(e.value, "\"bad\"");
}

#[test]
fn a_variable_that_makes_a_table_where_a_value_belongs_is_named() {
    // `server.shutdown_notice` has no default to show it is a plain value.
    let e = env_err(&[("SWITCHBOARD_SERVER__SHUTDOWN_NOTICE__TEXT", "bye")]);
    assert_eq!(
        e.key,
        "SWITCHBOARD_SERVER__SHUTDOWN_NOTICE__TEXT (server.shutdown_notice)"
    );
}
