//! The harness of the end-to-end tests: a deployment made by the real `shimon-server init` in a
//! temporary folder, the real server binary started on a free loopback port, and client
//! configurations pointing at it. Killing the server (`SIGKILL`) and starting it again on the
//! same store is what the crash tests do.
//!
//! The server binary is the one `cargo test --workspace` builds beside the test binaries (the
//! server package's own command-line tests make cargo build it).
//!
//! Administration needs a person signed in at the station: [`Deployment::with_admin`] bootstraps
//! `root` (general manager and system administrator, simulated person [`ADMIN_SEED`]) with the
//! real `shimon-server bootstrap`, and [`admin_station`] signs root in with their finger and makes
//! them a registration officer of [`DEPARTMENT`] too, so one station can do everything.

use shimon_agent::ClientConfig;
use shimon_hal::{CancelHandle, Reader};
use shimon_proto::v1::{Finger, Purpose, RightRequest, Role, RoleGrant, RoleRequest};
use shimon_station::Station;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the server may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `shimon-server` binary beside the running test binary.
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // target/<profile>/deps/<test> -> target/<profile>/shimon-server
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join(format!("shimon-server{}", std::env::consts::EXE_SUFFIX)))
        .expect("the test binary lies in target/<profile>/deps");
    assert!(
        path.is_file(),
        "{} is missing: build it first (cargo build -p shimon-server), or run cargo test --workspace",
        path.display()
    );
    path
}

/// The simulated person who is `root`, the bootstrapped administrator.
pub const ADMIN_SEED: u64 = 9001;
/// The department of the test users.
pub const DEPARTMENT: &str = "accounts";

/// Impression `impression` of `finger` of simulated person `person` (enrollment uses 1 to 3).
pub fn capture(person: u64, finger: Finger, impression: u32) -> shimon_hal::FingerImage {
    let mut reader = shimon_agent::person::simulated_reader(person, finger);
    reader.set_next_impression(impression);
    reader
        .capture(Duration::from_secs(5), &CancelHandle::new())
        .expect("the simulated reader captures")
}

/// The fingers every test enrolls.
pub const FINGERS: [Finger; 2] = [Finger::RightIndex, Finger::LeftIndex];

/// The captures a station sends to enroll simulated person `person`: [`FINGERS`], 3 impressions
/// each of quality 40 or better, as an officer's station takes them.
pub fn enrollment_captures(person: u64) -> Vec<shimon_station::CapturedFinger> {
    let policy = shimon_station::CapturePolicy::new(3, 40, Duration::from_secs(5)).expect("a valid policy");
    shimon_station::capture_fingers(
        &mut shimon_station::FingerReaders::simulated(person),
        &FINGERS,
        &policy,
        &CancelHandle::new(),
        &mut |_| {},
    )
    .expect("the simulated reader captures")
}

/// A station signed in as `user` (simulated person `person`, right index), trying impressions
/// from 9 on until one matches (a login agent asks again after a poor capture).
pub async fn signed_in_station(config: &ClientConfig, user: &str, person: u64) -> Station {
    let mut station = Station::connect(config).await.expect("the station connects");
    for impression in 9..15 {
        match station
            .sign_in(user, &capture(person, Finger::RightIndex, impression))
            .await
        {
            Ok(_) => return station,
            Err(shimon_station::StationError::SignInRefused(_)) => continue,
            Err(e) => panic!("{user} cannot sign in: {e}"),
        }
    }
    panic!("{user}'s finger never matched")
}

/// The station signed in as root, who is also a registration officer of [`DEPARTMENT`].
pub async fn admin_station(deployment: &Deployment, server: &Server) -> Station {
    let station = signed_in_station(&deployment.client("station", server), "root", ADMIN_SEED).await;
    let officer = RoleRequest {
        user_id: "root".into(),
        role: Some(RoleGrant {
            role: Role::RegistrationOfficer as i32,
            department: DEPARTMENT.into(),
            purpose: 0,
        }),
    };
    match station.administration().assign_role(officer).await {
        Ok(_) => {}
        Err(status) if status.message().contains("holds this role already") => {}
        Err(status) => panic!("root cannot become an officer: {status}"),
    }
    station
}

/// Grants `user` the right to every purpose (root's station must be signed in).
pub async fn grant_all_purposes(station: &Station, user: &str) {
    for purpose in Purpose::ALL {
        station
            .administration()
            .grant_right(RightRequest {
                user_id: user.into(),
                purpose: purpose as i32,
            })
            .await
            .expect("root grants rights");
    }
}

/// A deployment in a temporary folder.
pub struct Deployment {
    /// Keeps the folder alive.
    pub dir: tempfile::TempDir,
    /// The data directory made by `init`.
    pub data: PathBuf,
}

impl Default for Deployment {
    fn default() -> Self {
        Self::new()
    }
}

impl Deployment {
    /// Runs `shimon-server init` in a new temporary folder.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("data");
        let out = Command::new(server_binary())
            .args(["init", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .output()
            .expect("shimon-server init runs");
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir, data }
    }

    /// A new deployment whose `root` (general manager and system administrator, simulated person
    /// [`ADMIN_SEED`]) was enrolled by `shimon-server bootstrap`.
    pub fn with_admin() -> Self {
        let deployment = Self::new();
        deployment.bootstrap("root", ADMIN_SEED, &[]);
        deployment
    }

    /// Runs `shimon-server bootstrap` for simulated person `person` as `user_id` with `roles`
    /// (`general-manager`, `system-administrator`; none: both). Panics if it fails.
    pub fn bootstrap(&self, user_id: &str, person: u64, roles: &[&str]) {
        let out = self.bootstrap_command(user_id, person, roles);
        assert!(
            out.status.success(),
            "bootstrap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `shimon-server bootstrap` and returns what it did.
    pub fn bootstrap_command(&self, user_id: &str, person: u64, roles: &[&str]) -> std::process::Output {
        let mut command = Command::new(server_binary());
        command
            .args([
                "bootstrap",
                "--user",
                user_id,
                "--name",
                "Root",
                "--department",
                "general-affairs",
            ])
            .args(["--simulated", &person.to_string(), "--data-dir"])
            .arg(&self.data);
        for role in roles {
            command.args(["--role", role]);
        }
        command.output().expect("shimon-server bootstrap runs")
    }

    /// Starts the server on a free port and waits until it listens.
    pub fn start(&self) -> Server {
        self.start_with(Command::new(server_binary()).stderr(Stdio::null()), &[])
    }

    /// Starts the server as [`Deployment::start`] does, logging JSON lines at debug level (its
    /// own and its libraries') to `log`.
    pub fn start_logging_to(&self, log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("a log file");
        self.start_with(
            Command::new(server_binary()).env("RUST_LOG", "debug").stderr(file),
            &["--log-json"],
        )
    }

    fn start_with(&self, command: &mut Command, extra_args: &[&str]) -> Server {
        let mut child = command
            .args(["run", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&self.data)
            .args(extra_args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("shimon-server run starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("listening on ") {
                    let _ = tx.send(address.trim().to_owned());
                }
            }
        });
        let address = rx.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the server did not start within {START_TIMEOUT:?}")
        });
        let address: SocketAddr = address.parse().expect("the server prints its address");
        Server { child, address }
    }

    /// The configuration of the client `name` (`station` or `terminal`) for a server at `address`.
    pub fn client(&self, name: &str, server: &Server) -> ClientConfig {
        let clients = self.data.join("clients");
        ClientConfig {
            server: format!("https://localhost:{}", server.address.port()),
            server_name: "localhost".into(),
            ca: self.data.join("tls/ca.pem"),
            cert: clients.join(format!("{name}.pem")),
            key: clients.join(format!("{name}.key")),
        }
    }
}

/// A running server process, killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
}

impl Server {
    /// Kills the server at once (SIGKILL): no shutdown, no final flush.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
