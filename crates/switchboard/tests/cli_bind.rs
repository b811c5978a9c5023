//! The binary on a port that is taken, or with a malformed `--bind`.

mod common;

use common::*;

#[tokio::test]
async fn a_port_in_use_exits_2_naming_server_bind() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let (code, stdout, stderr) = BinCommand::new(&["--bind", &addr]).clean_env().run().await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains(&addr), "{stderr}");
    assert!(stderr.contains("server.bind"), "{stderr}");
    assert!(stderr.to_lowercase().contains("in use"), "{stderr}");
    assert!(
        stderr.contains("another process holds this port"),
        "{stderr}"
    );
    drop(holder);
}

#[tokio::test]
async fn a_malformed_bind_flag_exits_2() {
    let (code, stdout, stderr) = BinCommand::new(&["--bind", "not-an-address", "check-config"])
        .clean_env()
        .run()
        .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("--bind"), "{stderr}");
}
