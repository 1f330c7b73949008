//! `shimon-station`: the enrollment station of registration officers and administrators on the
//! command line. Every command but `report` runs under a session: the person signs in with their
//! own finger (`--officer ID` and the reader), or passes the token a `sign-in` printed
//! (`--session`, or `SHIMON_SESSION`). `register` registers a user; `enroll` and `reenroll`
//! capture the user's fingers (showing each impression's quality and capturing again when it is
//! poor) and send them; `list` shows what is enrolled; `user`, `right`, `role`, `incident` and
//! `audit` are the guideline's administration. Errors are printed as `error: ...` (from the
//! server: `error: CODE: message`) with a non-zero exit.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use shimon_agent::ConnectionArgs;
use shimon_hal::CancelHandle;
use shimon_hal::Reader;
use shimon_proto::v1::{
    EnrolledFinger, EraseUserRequest, Finger, GetUserRequest, Incident, IncidentActionRequest, IncidentKind,
    IncidentState, LiftLockoutRequest, LiftRestrictionRequest, ListIncidentsRequest, ListReregistrationRequest,
    ListRightRequestsRequest, ListUsersRequest, Purpose, QueryAuditRequest, RefuseRightRequestRequest,
    ReportIncidentRequest, RequestRightRequest, RestrictUserRequest, RightRequest, RightsRequestInfo,
    RightsRequestState, Role, RoleGrant, RoleRequest, SignInResponse, UserDetails,
};
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
    #[command(flatten)]
    officer: OfficerArgs,
    #[command(subcommand)]
    command: Command,
}

/// Who acts at the station: a session token, or the person signing in now with their finger.
#[derive(Debug, clap::Args)]
struct OfficerArgs {
    /// A session token printed by `sign-in`.
    #[arg(
        long,
        global = true,
        env = "SHIMON_SESSION",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    session: Option<String>,
    /// Sign this person in with their finger before the command.
    #[arg(long, global = true, value_name = "ID")]
    officer: Option<String>,
    /// The finger the person signs in with.
    #[arg(long, global = true, value_name = "FINGER", default_value = "right-index", value_parser = Finger::parse_cli)]
    officer_finger: Finger,
    /// Capture the person's finger with this reader (default: the first USB reader).
    #[arg(long, global = true, value_name = "ID")]
    officer_reader: Option<String>,
    /// The person is the simulated person with this seed.
    #[arg(long, global = true, value_name = "SEED")]
    officer_simulated: Option<u64>,
    /// The simulated impression presented to sign in (enrollment uses 1, 2, 3, ...).
    #[arg(long, global = true, value_name = "N", default_value_t = 9)]
    officer_impression: u32,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in with a finger (--officer and its reader) and print the session token.
    SignIn,
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
    /// Users: show, list, erase, restrict, lift a restriction or a lockout, re-registration list.
    #[command(subcommand)]
    User(UserCommand),
    /// Rights to purposes of use.
    #[command(subcommand)]
    Right(RightCommand),
    /// Roles of the guideline.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Incidents and failures.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Query the audit log.
    Audit {
        /// Entries about or by this user.
        #[arg(long, value_name = "ID")]
        user: Option<String>,
        /// Entries of this department.
        #[arg(long, value_name = "DEPT")]
        department: Option<String>,
        /// This action, or a prefix ending in '.' (user., enrollment., verify).
        #[arg(long)]
        action: Option<String>,
        /// At most this many of the newest entries.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Show a user.
    Show {
        #[arg(long, value_name = "ID")]
        user: String,
    },
    /// List the users of a department (or of all, for the general manager and administrator).
    List {
        #[arg(long, value_name = "DEPT")]
        department: Option<String>,
    },
    /// Erase a user who left: every record, and their key.
    Erase {
        #[arg(long, value_name = "ID")]
        user: String,
        #[arg(long)]
        reason: String,
    },
    /// Restrict a user: Verify refuses them.
    Restrict {
        #[arg(long, value_name = "ID")]
        user: String,
        #[arg(long)]
        reason: String,
    },
    /// Lift a restriction.
    LiftRestriction {
        #[arg(long, value_name = "ID")]
        user: String,
        #[arg(long)]
        reason: String,
    },
    /// Lift a lockout after too many failed attempts.
    LiftLockout {
        #[arg(long, value_name = "ID")]
        user: String,
        #[arg(long)]
        reason: String,
    },
    /// The users of a department who should be re-registered, and why.
    Reregistration {
        #[arg(long, value_name = "DEPT")]
        department: String,
    },
}

#[derive(Debug, Subcommand)]
enum RightCommand {
    /// Grant a user the right to a purpose.
    Grant {
        #[arg(long, value_name = "ID")]
        user: String,
        #[arg(long, value_parser = Purpose::parse_cli)]
        purpose: Purpose,
    },
    /// Revoke a user's right to a purpose.
    Revoke {
        #[arg(long, value_name = "ID")]
        user: String,
        #[arg(long, value_parser = Purpose::parse_cli)]
        purpose: Purpose,
    },
    /// Ask the general manager to grant a user the right to your purpose.
    Request {
        #[arg(long, value_name = "ID")]
        user: String,
        #[arg(long, value_parser = Purpose::parse_cli)]
        purpose: Purpose,
        #[arg(long)]
        reason: String,
    },
    /// List requests for rights.
    List {
        /// Only pending ones.
        #[arg(long)]
        pending: bool,
    },
    /// Refuse a pending request.
    Refuse {
        #[arg(long)]
        id: u64,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
enum RoleCommand {
    /// Give a person a role.
    Assign(RoleArgs),
    /// Take a role away.
    Revoke(RoleArgs),
}

#[derive(Debug, clap::Args)]
struct RoleArgs {
    #[arg(long, value_name = "ID")]
    user: String,
    #[arg(long, value_enum)]
    role: RoleName,
    /// The department (operations manager, registration officer).
    #[arg(long, value_name = "DEPT")]
    department: Option<String>,
    /// The purpose (business owner).
    #[arg(long, value_parser = Purpose::parse_cli)]
    purpose: Option<Purpose>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoleName {
    GeneralManager,
    SystemAdministrator,
    BusinessOwner,
    OperationsManager,
    RegistrationOfficer,
}

#[derive(Debug, Subcommand)]
enum IncidentCommand {
    /// Report a security incident or a failure (a session is optional).
    Report {
        #[arg(long, value_enum)]
        kind: ReportKind,
        #[arg(long)]
        description: String,
    },
    /// List incidents.
    List {
        /// Only those not closed.
        #[arg(long)]
        open: bool,
    },
    /// Acknowledge an incident.
    Acknowledge {
        #[arg(long)]
        id: u64,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Close an incident with a note.
    Close {
        #[arg(long)]
        id: u64,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReportKind {
    Security,
    Failure,
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
    let config = cli.connection.resolve()?;
    let mut station = Station::connect(&config).await?;
    if let Command::Incident(IncidentCommand::Report { kind, description }) = &cli.command {
        // Anyone may report; a session, if given, names the reporter.
        if cli.officer.officer.is_some() || cli.officer.session.is_some() {
            sign_in(&mut station, &cli.officer, &cancel).await?;
        }
        let incident = station
            .reporting()
            .report_incident(ReportIncidentRequest {
                kind: match kind {
                    ReportKind::Security => IncidentKind::SecurityReport,
                    ReportKind::Failure => IncidentKind::FailureReport,
                } as i32,
                description: description.clone(),
            })
            .await?
            .into_inner();
        println!("reported as incident {}", incident.id);
        return Ok(());
    }
    let signed_in = sign_in(&mut station, &cli.officer, &cancel).await?;
    match cli.command {
        Command::SignIn => {
            let Some(response) = signed_in else {
                anyhow::bail!("give --officer ID to sign in with a finger");
            };
            println!(
                "signed in until {}; roles: {}",
                shimon_agent::time::format_utc(response.expires_at_unix_s),
                response.roles.iter().map(describe_role).collect::<Vec<_>>().join(", ")
            );
            println!("session: {}", response.token);
        }
        Command::Register { user, name, department } => {
            let user = station.register_user(&user, &name, &department).await?;
            println!("registered {} ({}) in {}", user.user_id, user.name, user.department);
        }
        Command::Enroll(args) => enroll(&station, EnrollMode::Enroll, args, cancel).await?,
        Command::Reenroll(args) => enroll(&station, EnrollMode::Reenroll, args, cancel).await?,
        Command::List { user } => {
            let listed = station.list_fingers(&user).await?;
            if listed.fingers.is_empty() {
                println!("{user}: no finger enrolled");
            } else {
                println!("{user}: record version {}", listed.record_version);
                print_fingers(&listed.fingers);
            }
        }
        Command::User(command) => user_command(&station, command).await?,
        Command::Right(command) => right_command(&station, command).await?,
        Command::Role(command) => {
            let (args, assign) = match command {
                RoleCommand::Assign(args) => (args, true),
                RoleCommand::Revoke(args) => (args, false),
            };
            let request = RoleRequest {
                user_id: args.user,
                role: Some(RoleGrant {
                    role: match args.role {
                        RoleName::GeneralManager => Role::GeneralManager,
                        RoleName::SystemAdministrator => Role::SystemAdministrator,
                        RoleName::BusinessOwner => Role::BusinessOwner,
                        RoleName::OperationsManager => Role::OperationsManager,
                        RoleName::RegistrationOfficer => Role::RegistrationOfficer,
                    } as i32,
                    department: args.department.unwrap_or_default(),
                    purpose: args.purpose.map_or(0, |p| p as i32),
                }),
            };
            let mut admin = station.administration();
            let details = if assign {
                admin.assign_role(request).await?
            } else {
                admin.revoke_role(request).await?
            };
            print_user(&details.into_inner());
        }
        Command::Incident(command) => incident_command(&station, command).await?,
        Command::Audit {
            user,
            department,
            action,
            limit,
        } => {
            let entries = station
                .administration()
                .query_audit(QueryAuditRequest {
                    user_id: user.unwrap_or_default(),
                    department: department.unwrap_or_default(),
                    action: action.unwrap_or_default(),
                    limit,
                    ..QueryAuditRequest::default()
                })
                .await?
                .into_inner()
                .entries;
            for e in entries {
                println!(
                    "{:>6} {} {} actor={} client={} subject={} dept={} {} {}",
                    e.seq,
                    shimon_agent::time::format_utc(e.at_unix_s),
                    e.action,
                    e.actor,
                    e.client,
                    e.subject,
                    e.department,
                    e.outcome,
                    e.detail
                );
            }
        }
    }
    Ok(())
}

/// Signs in with the person's finger (when `--officer` is given) or takes the `--session` token.
async fn sign_in(
    station: &mut Station,
    officer: &OfficerArgs,
    cancel: &CancelHandle,
) -> anyhow::Result<Option<SignInResponse>> {
    let Some(person) = &officer.officer else {
        let token = officer
            .session
            .as_deref()
            .ok_or_else(|| anyhow!("sign in first: give --officer ID (and its reader) or --session TOKEN"))?;
        station.use_session(token)?;
        return Ok(None);
    };
    let mut reader: Box<dyn Reader> = match (officer.officer_simulated, &officer.officer_reader) {
        (Some(seed), _) => {
            let mut reader = shimon_agent::person::simulated_reader(seed, officer.officer_finger);
            reader.set_next_impression(officer.officer_impression);
            Box::new(reader)
        }
        (None, Some(id)) => shimon_hal::open(id).with_context(|| format!("cannot open reader {id:?}"))?,
        (None, None) => shimon_hal::open_first(false).context("cannot open a fingerprint reader")?,
    };
    println!(
        "{person}: place {} on the reader to sign in",
        officer.officer_finger.cli_name()
    );
    let cancel = cancel.clone();
    let image = tokio::task::spawn_blocking(move || reader.capture(Duration::from_secs(60), &cancel))
        .await
        .context("the capture thread failed")??;
    Ok(Some(station.sign_in(person, &image).await?))
}

fn describe_role(grant: &RoleGrant) -> String {
    let role = Role::try_from(grant.role).map_or("unknown role", |r| r.as_str_name());
    let purpose = Purpose::try_from(grant.purpose)
        .ok()
        .filter(|p| *p != Purpose::Unspecified);
    match (grant.department.as_str(), purpose) {
        ("", None) => role.to_lowercase(),
        ("", Some(p)) => format!("{} of {}", role.to_lowercase(), p.cli_name()),
        (d, _) => format!("{} of {d}", role.to_lowercase()),
    }
}

fn print_user(d: &UserDetails) {
    let user = d.user.clone().unwrap_or_default();
    println!("{} ({}), {}", user.user_id, user.name, user.department);
    let roles: Vec<_> = d.roles.iter().map(describe_role).collect();
    println!(
        "  roles: {}",
        if roles.is_empty() {
            "none".into()
        } else {
            roles.join(", ")
        }
    );
    let rights: Vec<_> = d
        .rights
        .iter()
        .filter_map(|&p| Purpose::try_from(p).ok())
        .map(Purpose::cli_name)
        .collect();
    println!(
        "  rights: {}",
        if rights.is_empty() {
            "none".into()
        } else {
            rights.join(", ")
        }
    );
    println!("  enrolled fingers: {}", d.enrolled_fingers);
    if d.restricted {
        println!("  RESTRICTED: {}", d.restriction_reason);
    }
    if d.login_disabled {
        println!("  LOGIN DISABLED after {} failures", d.consecutive_failures);
    } else if d.consecutive_failures > 0 {
        println!("  failed attempts in a row: {}", d.consecutive_failures);
    }
    if !d.reregistration_reason.is_empty() {
        println!("  re-register: {}", d.reregistration_reason);
    }
}

async fn user_command(station: &Station, command: UserCommand) -> anyhow::Result<()> {
    let mut admin = station.administration();
    match command {
        UserCommand::Show { user } => print_user(&admin.get_user(GetUserRequest { user_id: user }).await?.into_inner()),
        UserCommand::List { department } => {
            let users = admin
                .list_users(ListUsersRequest {
                    department: department.unwrap_or_default(),
                })
                .await?
                .into_inner()
                .users;
            users.iter().for_each(print_user);
        }
        UserCommand::Erase { user, reason } => {
            admin
                .erase_user(EraseUserRequest {
                    user_id: user.clone(),
                    reason,
                })
                .await?;
            println!("erased {user}");
        }
        UserCommand::Restrict { user, reason } => print_user(
            &admin
                .restrict_user(RestrictUserRequest { user_id: user, reason })
                .await?
                .into_inner(),
        ),
        UserCommand::LiftRestriction { user, reason } => print_user(
            &admin
                .lift_restriction(LiftRestrictionRequest { user_id: user, reason })
                .await?
                .into_inner(),
        ),
        UserCommand::LiftLockout { user, reason } => print_user(
            &admin
                .lift_lockout(LiftLockoutRequest { user_id: user, reason })
                .await?
                .into_inner(),
        ),
        UserCommand::Reregistration { department } => {
            let users = admin
                .list_reregistration(ListReregistrationRequest { department })
                .await?
                .into_inner()
                .users;
            if users.is_empty() {
                println!("nobody needs re-registration");
            }
            users.iter().for_each(print_user);
        }
    }
    Ok(())
}

async fn right_command(station: &Station, command: RightCommand) -> anyhow::Result<()> {
    let mut admin = station.administration();
    let print_request = |r: &RightsRequestInfo| {
        let state = RightsRequestState::try_from(r.state).map_or("?", |s| s.as_str_name());
        let purpose = Purpose::try_from(r.purpose).map_or("?", Purpose::cli_name);
        println!(
            "request {}: {} for {purpose} by {} ({state}): {}{}",
            r.id,
            r.user_id,
            r.requested_by,
            r.reason,
            if r.note.is_empty() {
                String::new()
            } else {
                format!("; note: {}", r.note)
            }
        );
    };
    match command {
        RightCommand::Grant { user, purpose } => print_user(
            &admin
                .grant_right(RightRequest {
                    user_id: user,
                    purpose: purpose as i32,
                })
                .await?
                .into_inner(),
        ),
        RightCommand::Revoke { user, purpose } => print_user(
            &admin
                .revoke_right(RightRequest {
                    user_id: user,
                    purpose: purpose as i32,
                })
                .await?
                .into_inner(),
        ),
        RightCommand::Request { user, purpose, reason } => print_request(
            &admin
                .request_right(RequestRightRequest {
                    user_id: user,
                    purpose: purpose as i32,
                    reason,
                })
                .await?
                .into_inner(),
        ),
        RightCommand::List { pending } => admin
            .list_right_requests(ListRightRequestsRequest { pending_only: pending })
            .await?
            .into_inner()
            .requests
            .iter()
            .for_each(print_request),
        RightCommand::Refuse { id, note } => print_request(
            &admin
                .refuse_right_request(RefuseRightRequestRequest { id, note })
                .await?
                .into_inner(),
        ),
    }
    Ok(())
}

async fn incident_command(station: &Station, command: IncidentCommand) -> anyhow::Result<()> {
    let mut admin = station.administration();
    let print_incident = |i: &Incident| {
        let kind = IncidentKind::try_from(i.kind).map_or("?", |k| k.as_str_name());
        let state = IncidentState::try_from(i.state).map_or("?", |s| s.as_str_name());
        println!(
            "incident {} [{state}] {kind} raised by {} at {}: {}",
            i.id,
            i.raised_by,
            shimon_agent::time::format_utc(i.raised_at_unix_s),
            i.description
        );
        for note in &i.notes {
            println!("  note: {note}");
        }
    };
    match command {
        IncidentCommand::Report { .. } => unreachable!("handled before signing in"),
        IncidentCommand::List { open } => admin
            .list_incidents(ListIncidentsRequest { open_only: open })
            .await?
            .into_inner()
            .incidents
            .iter()
            .for_each(print_incident),
        IncidentCommand::Acknowledge { id, note } => print_incident(
            &admin
                .acknowledge_incident(IncidentActionRequest { id, note })
                .await?
                .into_inner(),
        ),
        IncidentCommand::Close { id, note } => print_incident(
            &admin
                .close_incident(IncidentActionRequest { id, note })
                .await?
                .into_inner(),
        ),
    }
    Ok(())
}

async fn enroll(station: &Station, mode: EnrollMode, args: EnrollArgs, cancel: CancelHandle) -> anyhow::Result<()> {
    // Everything that can be checked here is checked before the first capture.
    let fingers = parse_fingers(&args.fingers)?;
    let policy = CapturePolicy::new(args.impressions, args.min_quality, Duration::from_secs(args.timeout_s))?;
    let mut readers = match (args.simulated, &args.reader) {
        (Some(seed), _) => FingerReaders::simulated(seed),
        (None, Some(id)) => {
            FingerReaders::Device(shimon_hal::open(id).with_context(|| format!("cannot open reader {id:?}"))?)
        }
        (None, None) => {
            FingerReaders::Device(shimon_hal::open_first(false).context("cannot open a fingerprint reader")?)
        }
    };
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
