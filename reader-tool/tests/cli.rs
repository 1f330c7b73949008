//! shimon-reader end to end: `simulate` writes the dataset layout that `shimon-fp eval` reads,
//! `capture` writes a PNG from the simulated reader, and bad arguments fail with a message.

use std::process::Command;

fn tool() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shimon-reader"))
}

#[test]
fn simulate_writes_images_and_dataset_toml() {
    let dir = tempfile::tempdir().unwrap();
    let out = tool()
        .args([
            "simulate",
            "--fingers",
            "2",
            "--impressions",
            "2",
            "--seed",
            "5",
            "--dpi",
            "569",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["1_1.png", "1_2.png", "2_1.png", "2_2.png"] {
        let image = image::open(dir.path().join(name)).unwrap();
        // The sensor keeps its size in millimetres: 384x448 at 500 dpi is 437x510 at 569 dpi.
        assert_eq!((image.width(), image.height()), (437, 510), "{name}");
    }
    let toml = std::fs::read_to_string(dir.path().join("dataset.toml")).unwrap();
    assert!(toml.lines().any(|l| l == "dpi = 569"), "{toml}");
    assert!(toml.lines().any(|l| l == "fingers = 2"), "{toml}");
}

#[test]
fn capture_from_the_simulated_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.png");
    let out = tool()
        .args(["capture", "--simulated", "3", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(image::open(&path).unwrap().width(), 384);
    let listed = tool().arg("list").output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("sim:1"));
}

#[test]
fn bad_arguments_fail_with_a_reason() {
    let out = tool()
        .args(["simulate", "--fingers", "0", "--impressions", "1", "--out", "/tmp/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1"));
    let out = tool()
        .args([
            "simulate",
            "--fingers",
            "1",
            "--impressions",
            "1",
            "--dpi",
            "5",
            "--out",
            "/tmp/x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dpi"));
    let out = tool()
        .args(["capture", "--device", "floppy:0", "--out", "/tmp/x.png"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no fingerprint reader"));
}
