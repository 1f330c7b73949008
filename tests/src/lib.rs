//! The harness of the end-to-end tests: a deployment made by the real `shimon-server init` in a
//! temporary folder, the real server binary started on a free loopback port, and client
//! configurations pointing at it. Killing the server (`SIGKILL`) and starting it again on the
//! same store is what the crash tests do.
//!
//! The server binary is the one `cargo test --workspace` builds beside the test binaries (the
//! server package's own command-line tests make cargo build it).

use shimon_agent::ClientConfig;
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
