//! `shimon-station`: the enrollment station of registration officers on the command line.
//! `register` registers a user; `enroll` and `reenroll` capture the user's fingers (showing each
//! impression's quality and capturing again when it is poor) and send them; `list` shows what is
//! enrolled. Errors are printed as `error: ...` (from the server: `error: CODE: message`) with a
//! non-zero exit.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use shimon_agent::ConnectionArgs;
use shimon_hal::CancelHandle;
use shimon_proto::v1::{EnrolledFinger, Finger};
use shimon_station::plan::{DEFAULT_MIN_QUALITY, DEFAULT_TIMEOUT_S, MIN_IMPRESSIONS};
use shimon_station::{capture_fingers, parse_fingers, CaptureEvent, CapturePolicy, EnrollMode, FingerReaders, Station};

#[derive(Debug, Parser)]
#[command(
    name = "shimon-station",
    version,
    about = "The enrollment station of registration officers"
)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register a user so that their fingers can be enrolled.
    Register {
        /// The user's id.
        #[arg(long, value_name = "ID")]
        user: String,
        /// The user's name, as shown to officers.
        #[arg(long)]
        name: String,
        /// The user's department.
        #[arg(long, value_name = "DEPT")]
        department: String,
    },
    /// Capture and enroll the fingers of a user who has none enrolled yet.
    Enroll(EnrollArgs),
    /// Capture the fingers of a user and replace everything enrolled for them.
    Reenroll(EnrollArgs),
    /// List the enrolled fingers of a user.
    List {
        /// The user's id.
        #[arg(long, value_name = "ID")]
        user: String,
    },
}

#[derive(Debug, clap::Args)]
struct EnrollArgs {
    /// The user's id.
    #[arg(long, value_name = "ID")]
    user: String,
    /// The fingers, comma-separated, at least 2 different ones (right-index,left-index).
    #[arg(long, value_name = "LIST")]
    fingers: String,
    /// Impressions captured of each finger (at least 3).
    #[arg(long, value_name = "N", default_value_t = MIN_IMPRESSIONS)]
    impressions: u32,
    /// The quality (0-100) an impression must reach; a poorer one is captured again.
    #[arg(long, value_name = "Q", default_value_t = u32::from(DEFAULT_MIN_QUALITY))]
    min_quality: u32,
    /// Capture with this reader (usb:BUS:ADDRESS or sim:SEED); default: the first USB reader.
    #[arg(long, value_name = "ID", conflicts_with = "simulated")]
    reader: Option<String>,
    /// Capture the fingers of the simulated person with this seed.
    #[arg(long, value_name = "SEED")]
    simulated: Option<u64>,
    /// How long each capture waits for a finger, seconds.
    #[arg(long = "timeout-s", value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_S, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout_s: u64,
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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", shimon_agent::connection::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, cancel: CancelHandle) -> anyhow::Result<()> {
    match cli.command {
        Command::Register { user, name, department } => {
            let station = Station::connect(&cli.connection.resolve()?).await?;
            let user = station.register_user(&user, &name, &department).await?;
            println!("registered {} ({}) in {}", user.user_id, user.name, user.department);
        }
        Command::Enroll(args) => enroll(&cli.connection, EnrollMode::Enroll, args, cancel).await?,
        Command::Reenroll(args) => enroll(&cli.connection, EnrollMode::Reenroll, args, cancel).await?,
        Command::List { user } => {
            let station = Station::connect(&cli.connection.resolve()?).await?;
            let listed = station.list_fingers(&user).await?;
            if listed.fingers.is_empty() {
                println!("{user}: no finger enrolled");
            } else {
                println!("{user}: record version {}", listed.record_version);
                print_fingers(&listed.fingers);
            }
        }
    }
    Ok(())
}

async fn enroll(
    connection: &ConnectionArgs,
    mode: EnrollMode,
    args: EnrollArgs,
    cancel: CancelHandle,
) -> anyhow::Result<()> {
    // Everything that can be checked here is checked before the first capture.
    let fingers = parse_fingers(&args.fingers)?;
    let policy = CapturePolicy::new(args.impressions, args.min_quality, Duration::from_secs(args.timeout_s))?;
    let config = connection.resolve()?;
    let mut readers = match (args.simulated, &args.reader) {
        (Some(seed), _) => FingerReaders::simulated(seed),
        (None, Some(id)) => {
            FingerReaders::Device(shimon_hal::open(id).with_context(|| format!("cannot open reader {id:?}"))?)
        }
        (None, None) => {
            FingerReaders::Device(shimon_hal::open_first(false).context("cannot open a fingerprint reader")?)
        }
    };
    let station = Station::connect(&config).await?;

    let min_quality = policy.min_quality;
    let max_retries = policy.max_retries;
    let captured = tokio::task::spawn_blocking(move || {
        capture_fingers(&mut readers, &fingers, &policy, &cancel, &mut |event| {
            show(event, min_quality, max_retries)
        })
    })
    .await
    .context("the capture thread failed")??;

    let response = station.enroll(mode, &args.user, &captured).await?;
    let verb = match mode {
        EnrollMode::Enroll => "enrolled",
        EnrollMode::Reenroll => "re-enrolled",
    };
    println!("{verb} {}: record version {}", args.user, response.record_version);
    print_fingers(&response.fingers);
    Ok(())
}

/// Shows the officer what the capture loop is doing.
fn show(event: &CaptureEvent, min_quality: u8, max_retries: u32) {
    match *event {
        CaptureEvent::Place {
            finger,
            impression,
            impressions,
            retry,
        } => {
            if retry == 0 {
                println!(
                    "place {} on the reader (impression {impression} of {impressions})",
                    finger.cli_name()
                );
            } else {
                println!(
                    "place {} on the reader again (impression {impression} of {impressions}, retry {retry} of {max_retries})",
                    finger.cli_name()
                );
            }
        }
        CaptureEvent::Captured {
            finger,
            impression,
            quality,
            accepted,
            ..
        } => {
            if accepted {
                println!("  {} impression {impression}: quality {quality}", finger.cli_name());
            } else {
                println!(
                    "  {} impression {impression}: quality {quality} is below {min_quality}",
                    finger.cli_name()
                );
            }
        }
    }
}

fn print_fingers(fingers: &[EnrolledFinger]) {
    for f in fingers {
        let name = Finger::try_from(f.finger)
            .map(Finger::cli_name)
            .unwrap_or("unknown finger");
        let qualities: Vec<String> = f.qualities.iter().map(u32::to_string).collect();
        println!(
            "  {name}: {} templates, qualities {}, enrolled at {}",
            f.templates,
            qualities.join(" "),
            shimon_agent::time::format_utc(f.enrolled_at_unix_s)
        );
    }
}
