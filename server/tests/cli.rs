//! The `shimon-server` command line: `init` makes a complete deployment and never overwrites one,
//! and `run` refuses a configuration it cannot use with a message that names the problem.

use std::process::Command;

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shimon-server"))
}

#[test]
fn init_makes_a_deployment_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = server().args(["init", "--data-dir"]).arg(&data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in [
        "server.toml",
        "master.key",
        "tls/ca.pem",
        "tls/server.pem",
        "tls/server.key",
        "clients/station.toml",
        "clients/station.pem",
        "clients/station.key",
        "clients/terminal.toml",
    ] {
        assert!(data.join(file).is_file(), "{file} is missing");
    }
    #[cfg(unix)]
    for private in ["master.key", "tls/server.key", "tls/ca.key", "clients/station.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(private)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{private}");
    }
    let key_before = std::fs::read(data.join("master.key")).unwrap();
    let again = server().args(["init", "--data-dir"]).arg(&data).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("holds a deployment already"));
    assert_eq!(
        std::fs::read(data.join("master.key")).unwrap(),
        key_before,
        "the master key survives"
    );
}

#[test]
fn run_names_what_is_wrong_with_its_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = server()
        .args(["run", "--config"])
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));

    let data = dir.path().join("data");
    assert!(server()
        .args(["init", "--data-dir"])
        .arg(&data)
        .status()
        .unwrap()
        .success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = data.join("master.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = server().args(["run", "--data-dir"]).arg(&data).output().unwrap();
        assert!(!out.status.success());
        let message = String::from_utf8_lossy(&out.stderr);
        assert!(
            message.contains("master.key") && message.contains("chmod 600"),
            "{message}"
        );
    }
}
