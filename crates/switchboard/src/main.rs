//! The `switchboard` command: run the server, or check a configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchboard::config::{CliOverrides, Config, LogFormat};
use switchboard::Server;

/// Switchboard: a real-time WebSocket server and gateway.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address, overriding server.bind.
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    bind: Option<std::net::SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the configuration and print the effective config as TOML.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = CliOverrides { bind: cli.bind };
    let config = match Config::load(cli.config.as_deref(), std::env::vars(), &overrides) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::CheckConfig) = cli.command {
        print!("{}", config.to_toml_string());
        return ExitCode::SUCCESS;
    }
    init_logging(&config);
    raise_open_file_limit();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    // Listen for signals before announcing the address: a signal sent as soon
    // as the server is up must start a drain, not hit the default action.
    let mut signals = Signals::new();
    let mut hangups = Hangups::new();
    let server = match Server::builder().config(config).start().await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    eprintln!("switchboard listening on {}", server.local_addr());
    loop {
        tokio::select! {
            () = signals.recv() => break,
            () = hangups.recv() => match server.reload_tls() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                Err(err) => tracing::error!(error = %err, "SIGHUP: TLS certificate not reloaded; the old one stays"),
            },
        }
    }
    // Drain on the first signal; a second one closes what is left at once.
    let drain = server.shutdown();
    tokio::pin!(drain);
    tokio::select! {
        _ = &mut drain => {}
        () = signals.recv() => {
            tracing::warn!("second signal: not waiting for clients");
            std::process::exit(1);
        }
    }
    ExitCode::SUCCESS
}

/// SIGTERM and SIGINT (Ctrl-C), registered once for the whole run, so a
/// signal arriving while nobody is waiting on it is kept, not lost.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// The next SIGTERM or SIGINT.
    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(&mut self.term) => {}
                () = next(&mut self.int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// SIGHUP: reload the TLS certificate (a no-op without `[server.tls]`).
struct Hangups {
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(hup) = &mut self.hup {
            hup.recv().await;
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// Every connection is a file descriptor, and the usual soft limit (1024)
/// is far below the default `max_connections`; raise it to the hard limit.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(err) => tracing::warn!(error = %err, "could not raise the open file limit"),
    }
}

/// Logs go to stderr; stdout carries only events (JSON lines).
fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: log files and collectors get plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
