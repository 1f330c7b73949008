//! `shimon-server`: `init` makes a new deployment in a data directory; `bootstrap` enrolls its
//! first general manager and system administrator; `run` serves it; `audit verify` checks the
//! audit log offline.

use anyhow::Context;
use clap::{Parser, Subcommand};
use shimon_proto::v1::Finger;
use shimon_server::audit::verify_store;
use shimon_server::bootstrap::{bootstrap, BootstrapOptions, FingerSource};
use shimon_server::config::Config;
use shimon_server::init::{add_new_client, init, InitOptions, NewClient};
use shimon_server::policy::Role;
use shimon_server::store::{ClientKind, Store};
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
    /// Enroll the first general manager and/or system administrator of a deployment with a reader,
    /// on the server host with the server stopped (nobody can sign in at a station before).
    Bootstrap {
        #[command(flatten)]
        deployment: DeploymentArgs,
        /// The person's user id.
        #[arg(long, value_name = "ID")]
        user: String,
        /// The person's name.
        #[arg(long)]
        name: String,
        /// The person's department.
        #[arg(long, value_name = "DEPT")]
        department: String,
        /// A role to give (repeat for both; default: both).
        #[arg(long = "role", value_enum)]
        roles: Vec<BootstrapRole>,
        /// The fingers to enroll, comma-separated, at least 2.
        #[arg(long, value_name = "LIST", default_value = "right-index,left-index")]
        fingers: String,
        /// Impressions of each finger.
        #[arg(long, value_name = "N", default_value_t = 3)]
        impressions: u32,
        /// Capture with this reader (see `shimon-reader list`).
        #[arg(
            long,
            value_name = "ID",
            conflicts_with = "simulated",
            required_unless_present = "simulated"
        )]
        reader: Option<String>,
        /// Capture the fingers of the simulated person with this seed.
        #[arg(long, value_name = "SEED")]
        simulated: Option<u64>,
        /// How long each capture waits for a finger, seconds.
        #[arg(long = "timeout-s", value_name = "SECONDS", default_value_t = 60)]
        timeout_s: u64,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Serve a deployment.
    Run {
        #[command(flatten)]
        deployment: DeploymentArgs,
        /// Listen here instead of the configured address (port 0: any free port, printed at start).
        #[arg(long, env = "SHIMON_LISTEN")]
        listen: Option<SocketAddr>,
        /// Log JSON lines.
        #[arg(long, env = "SHIMON_LOG_JSON")]
        log_json: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain and the signed checkpoints offline (stop the server first, or
    /// point at a copy of the store) and name the first entry that was altered, removed or
    /// reordered. Exit status 0 when intact, 1 when not.
    Verify {
        #[command(flatten)]
        deployment: DeploymentArgs,
        /// The server's signing public key in hex (as `shimon-agent public-key` prints it);
        /// default: the key recorded in the store.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// Check this store directory instead of the configured one (e.g. a backup).
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
    },
}

/// Where the deployment's configuration is.
#[derive(clap::Args)]
struct DeploymentArgs {
    /// The configuration file (default: DATA_DIR/server.toml).
    #[arg(long, env = "SHIMON_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory made by `init`.
    #[arg(long, env = "SHIMON_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl DeploymentArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let path = match (&self.config, &self.data_dir) {
            (Some(path), _) => path.clone(),
            (None, Some(dir)) => dir.join("server.toml"),
            (None, None) => anyhow::bail!("give --config FILE or --data-dir DIR"),
        };
        Ok(Config::load(&path)?)
    }
}

/// A role that `bootstrap` gives.
#[derive(Clone, Copy, clap::ValueEnum)]
enum BootstrapRole {
    GeneralManager,
    SystemAdministrator,
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
        Command::Bootstrap {
            deployment,
            user,
            name,
            department,
            roles,
            fingers,
            impressions,
            reader,
            simulated,
            timeout_s,
        } => {
            let config = deployment.load()?;
            let roles = if roles.is_empty() {
                vec![Role::GeneralManager, Role::SystemAdministrator]
            } else {
                roles
                    .iter()
                    .map(|r| match r {
                        BootstrapRole::GeneralManager => Role::GeneralManager,
                        BootstrapRole::SystemAdministrator => Role::SystemAdministrator,
                    })
                    .collect()
            };
            let fingers = fingers
                .split(',')
                .map(|name| {
                    Finger::from_cli_name(name.trim()).ok_or_else(|| anyhow::anyhow!("unknown finger {name:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let source = match (reader, simulated) {
                (_, Some(seed)) => FingerSource::Simulated(seed),
                (Some(id), None) => FingerSource::Reader(id),
                (None, None) => anyhow::bail!("give --reader ID or --simulated SEED"),
            };
            let done = bootstrap(
                &config,
                &BootstrapOptions {
                    user_id: user,
                    name,
                    department,
                    roles,
                    fingers,
                    impressions,
                    source,
                    timeout: std::time::Duration::from_secs(timeout_s),
                },
            )?;
            println!("{done}");
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    deployment,
                    public_key,
                    store,
                },
        } => {
            let store_path = match store {
                Some(path) => path,
                None => deployment.load()?.store,
            };
            let key = public_key
                .map(|hex_key| hex::decode(hex_key.trim()).context("--public-key is not hex"))
                .transpose()?;
            let store = Store::open(&store_path).with_context(|| {
                format!(
                    "cannot open the store {} (stop the server first, or check a copy)",
                    store_path.display()
                )
            })?;
            match verify_store(&store, key.as_deref())? {
                Ok(report) => {
                    println!(
                        "audit log intact: {} entries, {} signed checkpoints, signed up to entry {}",
                        report.entries, report.checkpoints, report.signed_up_to
                    );
                    if report.signed_up_to < report.entries {
                        println!(
                            "entries after {} are not covered by a signed checkpoint yet",
                            report.signed_up_to
                        );
                    }
                    Ok(())
                }
                Err(fault) => {
                    println!("audit log broken: {fault}");
                    std::process::exit(1);
                }
            }
        }
        Command::Run {
            deployment,
            listen,
            log_json,
        } => {
            let mut config = deployment.load()?;
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
