//! `shimon-server`: `init` makes a new deployment in a data directory; `run` serves it.

use anyhow::Context;
use clap::{Parser, Subcommand};
use shimon_server::config::Config;
use shimon_server::init::{add_new_client, init, InitOptions, NewClient};
use shimon_server::store::ClientKind;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "shimon-server",
    version,
    about = "The shimon fingerprint authentication server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a deployment: master key, development CA and certificates, a station and a terminal
    /// registered as clients, the store and the configuration file DATA_DIR/server.toml.
    Init {
        /// The data directory to create the deployment in.
        #[arg(long, env = "SHIMON_DATA_DIR")]
        data_dir: PathBuf,
        /// Address and port the server will listen on.
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// A DNS name or IP address the server's certificate is valid for (repeat for more; the
        /// first is the one clients connect to). Default: localhost and 127.0.0.1.
        #[arg(long = "server-name")]
        server_names: Vec<String>,
        /// The department of the first station and terminal.
        #[arg(long, default_value = "general-affairs")]
        department: String,
    },
    /// Issue a certificate for one more station or terminal, register it, and write its client
    /// configuration to DATA_DIR/clients/NAME.toml (stop the server first: the store is locked
    /// while it runs).
    AddClient {
        /// The data directory made by `init`.
        #[arg(long, env = "SHIMON_DATA_DIR")]
        data_dir: PathBuf,
        /// The client's name (lowercase letters, digits, '-', '_'), shown in logs and assertions.
        #[arg(long)]
        name: String,
        /// What it is.
        #[arg(long, value_enum)]
        kind: Kind,
        /// The department it serves.
        #[arg(long)]
        department: String,
        /// The name in the server's certificate that the client connects to.
        #[arg(long, default_value = "localhost")]
        server_name: String,
    },
    /// Serve a deployment.
    Run {
        /// The configuration file (default: DATA_DIR/server.toml).
        #[arg(long, env = "SHIMON_CONFIG")]
        config: Option<PathBuf>,
        /// The data directory made by `init`, whose server.toml is read.
        #[arg(long, env = "SHIMON_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Listen here instead of the configured address (port 0: any free port, printed at start).
        #[arg(long, env = "SHIMON_LISTEN")]
        listen: Option<SocketAddr>,
        /// Log JSON lines.
        #[arg(long, env = "SHIMON_LOG_JSON")]
        log_json: bool,
    },
}

/// A kind of client.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// A registration officers' enrollment station.
    Station,
    /// A terminal's login agent.
    Terminal,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Init {
            data_dir,
            listen,
            server_names,
            department,
        } => {
            let deployment = init(&InitOptions {
                data_dir,
                listen,
                server_names,
                station_department: department,
            })?;
            println!("configuration: {}", deployment.config_path.display());
            println!("station client configuration: {}", deployment.station_config.display());
            println!(
                "terminal client configuration: {}",
                deployment.terminal_config.display()
            );
            Ok(())
        }
        Command::AddClient {
            data_dir,
            name,
            kind,
            department,
            server_name,
        } => {
            let config = add_new_client(&NewClient {
                data_dir,
                name,
                kind: match kind {
                    Kind::Station => ClientKind::Station,
                    Kind::Terminal => ClientKind::Terminal,
                },
                department,
                server_name,
            })?;
            println!("client configuration: {}", config.display());
            Ok(())
        }
        Command::Run {
            config,
            data_dir,
            listen,
            log_json,
        } => {
            let path = match (config, data_dir) {
                (Some(path), _) => path,
                (None, Some(dir)) => dir.join("server.toml"),
                (None, None) => anyhow::bail!("give --config FILE or --data-dir DIR"),
            };
            let mut config = Config::load(&path)?;
            config.log_json |= log_json;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            if config.log_json {
                tracing_subscriber::fmt()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_env_filter(filter)
                    .init();
            } else {
                tracing_subscriber::fmt()
                    .with_writer(std::io::stderr)
                    .with_env_filter(filter)
                    .init();
            }
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(config.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", config.listen))?;
                // Tests and scripts wait for this line, which comes only once the store is open,
                // and read the address from it (port 0 asks for any free port).
                let ready = |address| println!("listening on {address}");
                shimon_server::server::serve(config, listener, ready, shutdown_signal()).await
            })
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}
