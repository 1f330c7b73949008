//! `shimon-agent`: a terminal's login agent on the command line. `verify` captures one finger,
//! asks the server whether it is the user's, and prints the decision and, on a match, the
//! verified assertion; `public-key` prints the server's assertion-signing key; `report` reports a
//! security incident or a failure.
//!
//! Exit codes: 0 on MATCH (and success of other commands), 1 on NO MATCH, 2 on any error.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use shimon_agent::time::format_utc;
use shimon_agent::{Agent, ConnectionArgs, ServerKey};
use shimon_hal::{CancelHandle, FingerImage, Reader};
use shimon_proto::v1::{Finger, Purpose};

#[derive(Debug, Parser)]
#[command(
    name = "shimon-agent",
    version,
    about = "The login agent of a terminal: verify a user's finger"
)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Capture a finger and verify it as the user's; exit 0 on MATCH, 1 on NO MATCH, 2 on error.
    Verify(VerifyArgs),
    /// Print the server's assertion-signing public key (hex) and its key id.
    PublicKey,
    /// Report a security incident or a failure to the system administrator.
    Report {
        /// What kind of report.
        #[arg(long, value_enum)]
        kind: ReportKind,
        /// What happened.
        #[arg(long)]
        description: String,
    },
}

/// The kinds of report a terminal makes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReportKind {
    /// A security incident (第11.1(4)).
    Security,
    /// A failure of the system (第12).
    Failure,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The user who logs in.
    #[arg(long, value_name = "ID")]
    user: String,
    /// The purpose of use: e-applications, website, email, web-search, mail-distribution, other.
    #[arg(long, value_name = "PURPOSE", value_parser = Purpose::parse_cli)]
    purpose: Purpose,
    /// Capture with this reader (usb:BUS:ADDRESS or sim:SEED); default: the first USB reader.
    #[arg(long, value_name = "ID", conflicts_with = "simulated")]
    reader: Option<String>,
    /// Capture from the simulated person with this seed.
    #[arg(long, value_name = "SEED")]
    simulated: Option<u64>,
    /// The simulated person's finger that is presented.
    #[arg(long, value_name = "FINGER", default_value = "right-index", value_parser = Finger::parse_cli, requires = "simulated")]
    finger: Finger,
    /// The simulated impression number presented (enrollment uses 1, 2, 3, ...).
    #[arg(long, value_name = "N", default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..), requires = "simulated")]
    impression: u32,
    /// How long to wait for a finger, seconds.
    #[arg(long = "timeout-s", value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout_s: u64,
    /// Trust only this assertion-signing key (64 hex digits) instead of asking the server for it.
    #[arg(long, env = "SHIMON_PUBLIC_KEY", value_name = "HEX")]
    public_key: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let cli = Cli::parse();
    let cancel = CancelHandle::new();
    let outcome = tokio::select! {
        outcome = run(cli, cancel.clone()) => outcome,
        _ = tokio::signal::ctrl_c() => {
            cancel.cancel();
            Err(anyhow!("interrupted"))
        }
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", shimon_agent::connection::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli, cancel: CancelHandle) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::PublicKey => {
            let config = cli.connection.resolve()?;
            let agent = Agent::connect(&config).await?;
            let key = agent.fetch_public_key().await?;
            println!("public key: {}", key.to_hex());
            println!("key id:     {}", key.key_id);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => verify(&cli.connection, args, cancel).await,
        Command::Report { kind, description } => {
            let agent = Agent::connect(&cli.connection.resolve()?).await?;
            let kind = match kind {
                ReportKind::Security => shimon_proto::v1::IncidentKind::SecurityReport,
                ReportKind::Failure => shimon_proto::v1::IncidentKind::FailureReport,
            };
            let id = agent.report_incident(kind, &description).await?;
            println!("reported as incident {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn verify(connection: &ConnectionArgs, args: VerifyArgs, cancel: CancelHandle) -> anyhow::Result<ExitCode> {
    let config = connection.resolve()?;
    let pinned = args.public_key.as_deref().map(ServerKey::from_hex).transpose()?;
    let reader = open_reader(&args)?;
    // Connect before asking for the finger, so a wrong configuration or an unreachable server
    // shows at once.
    let agent = match pinned {
        Some(key) => Agent::connect_pinned(&config, key.public_key).await?,
        None => Agent::connect(&config).await?,
    };
    eprintln!("place a finger of {} on the reader {} ...", args.user, reader.info().id);
    let image = capture(reader, Duration::from_secs(args.timeout_s), cancel).await?;
    let verification = agent.verify(&args.user, args.purpose, &image).await?;
    let matched = verification.is_match();
    let Some(verified) = verification.assertion.filter(|_| matched) else {
        println!("NO MATCH");
        return Ok(ExitCode::from(1));
    };
    let a = &verified.assertion;
    let purpose = Purpose::try_from(a.purpose).map(Purpose::cli_name).unwrap_or("unknown");
    println!("MATCH");
    println!("user:      {}", a.user_id);
    println!("purpose:   {purpose}");
    println!("terminal:  {}", a.terminal);
    println!("issued:    {} ({})", format_utc(a.issued_at_unix_s), a.issued_at_unix_s);
    println!(
        "expires:   {} ({})",
        format_utc(a.expires_at_unix_s),
        a.expires_at_unix_s
    );
    println!("signature: verified with key {}", verified.signed.key_id);
    Ok(ExitCode::SUCCESS)
}

/// The reader to capture with: the simulated person's finger at the chosen impression, the reader
/// with the given id, or the first USB reader.
fn open_reader(args: &VerifyArgs) -> anyhow::Result<Box<dyn Reader>> {
    if let Some(seed) = args.simulated {
        let mut reader = shimon_agent::person::simulated_reader(seed, args.finger);
        reader.set_next_impression(args.impression);
        return Ok(Box::new(reader));
    }
    Ok(match &args.reader {
        Some(id) => shimon_hal::open(id).with_context(|| format!("cannot open reader {id:?}"))?,
        None => shimon_hal::open_first(false).context("cannot open a fingerprint reader")?,
    })
}

/// Captures one image on a blocking thread, so that Ctrl-C can cancel it.
async fn capture(mut reader: Box<dyn Reader>, timeout: Duration, cancel: CancelHandle) -> anyhow::Result<FingerImage> {
    let image = tokio::task::spawn_blocking(move || reader.capture(timeout, &cancel))
        .await
        .context("the capture thread failed")??;
    Ok(image)
}
