//! `shimon-reader` on the recorded USB traffic of real readers
//! (`../shared/datasets/usb-recordings`, found through `SHIMON_SHARED`; absent, the tests say so
//! and pass, except under `CI=true`):
//!
//! - `capture --replay DIR` writes the recording's `capture.png`, pixel for pixel;
//! - the real binary, unmodified, run under `umockdev-run` with the recording (libusb talking to
//!   umockdev's emulated device: no root, no kernel USB) finds the reader with `list` and writes
//!   the same image with `capture --out` (no device named: the first reader found). Without
//!   `umockdev-run` on the PATH the test skips with a message, except under `CI=true` (where
//!   `scripts/setup` installs it) when it fails;
//! - the captured images go through the engine: it finds minutiae in each, as `shimon-fp extract`
//!   would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use shimon_matcher::{extract, FingerprintImage};

/// A recording with a driver, and what the engine makes of its capture.
struct Expected {
    /// Folder in the recordings.
    name: &'static str,
    /// Resolution the driver reports, dots per inch.
    dpi: u32,
    /// Fewest minutiae the engine must find.
    min_minutiae: usize,
    /// The range the engine's quality (0-100) must fall in.
    quality: std::ops::RangeInclusive<u8>,
}

const RECORDINGS: &[Expected] = &[
    Expected {
        name: "nb1010",
        dpi: 385,
        min_minutiae: 10,
        quality: 30..=100,
    },
    // The AES3500's window is only 6.5 mm square: few minutiae fit.
    Expected {
        name: "aes3500",
        dpi: 1000,
        min_minutiae: 3,
        quality: 30..=100,
    },
    // The U.are.U recording holds hardly a print (a faint smudge in sensor noise): the engine
    // must say so through its quality, whatever it makes of the noise.
    Expected {
        name: "uru4000-4500",
        dpi: 512,
        min_minutiae: 1,
        quality: 0..=15,
    },
];
/// How long one run of the tool may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

fn recordings_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = match std::env::var_os("SHIMON_SHARED") {
        Some(v) if !v.is_empty() => root.join(v),
        _ => root.join("..").join("shared"),
    };
    let dir = shared.join("datasets").join("usb-recordings");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        !under_ci(),
        "{} not found: under CI the USB recording tests must run",
        dir.display()
    );
    eprintln!("SKIPPED: {} not found (set SHIMON_SHARED)", dir.display());
    None
}

/// Runs `command` to its end, or kills it after [`RUN_LIMIT`].
fn run(mut command: Command) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("the command starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("waiting on the child").is_some() {
            return child.wait_with_output().expect("collecting the output");
        }
        if started.elapsed() > RUN_LIMIT {
            child.kill().ok();
            let out = child.wait_with_output().expect("collecting the output");
            panic!(
                "{command:?} still ran after {RUN_LIMIT:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tool() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shimon-reader"));
    command.env("RUST_BACKTRACE", "0");
    command
}

/// Grey levels of a PNG (the G channel of colour ones).
fn grey(path: &Path) -> (u32, u32, Vec<u8>) {
    let image = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_rgb8();
    let (w, h) = image.dimensions();
    (w, h, image.pixels().map(|p| p.0[1]).collect())
}

fn assert_same_image(name: &str, written: &Path, recording: &Path) {
    let (w, h, got) = grey(written);
    let (ew, eh, expected) = grey(&recording.join("capture.png"));
    assert_eq!((w, h), (ew, eh), "{name}: size");
    let differing = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 0, "{name}: {differing} pixels differ from capture.png");
}

fn assert_success(name: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{name}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn capture_replay_writes_the_recorded_image_and_the_engine_finds_minutiae() {
    let Some(root) = recordings_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for expected in RECORDINGS {
        let (name, dpi) = (expected.name, expected.dpi);
        let dir = root.join(name);
        let png = tmp.path().join(format!("{name}.png"));
        let mut command = tool();
        command.args(["capture", "--replay"]).arg(&dir).arg("--out").arg(&png);
        let out = run(command);
        assert_success(name, &out);
        assert_same_image(name, &png, &dir);

        // The engine's view of the captured image, as `shimon-fp extract` takes it.
        let (w, h, pixels) = grey(&png);
        let info = shimon_hal::replay::open_reader(&dir).unwrap().info().clone();
        assert_eq!(info.dpi, dpi, "{name}: resolution");
        let image = FingerprintImage::new(w, h, dpi, pixels).expect("a valid fingerprint image");
        let template = extract(&image).unwrap_or_else(|e| panic!("{name}: the engine refused the capture: {e}"));
        eprintln!(
            "{name}: {} minutiae, quality {}",
            template.minutiae.len(),
            template.quality
        );
        assert!(
            template.minutiae.len() >= expected.min_minutiae,
            "{name}: only {} minutiae",
            template.minutiae.len()
        );
        assert!(
            expected.quality.contains(&template.quality),
            "{name}: quality {} outside {:?}",
            template.quality,
            expected.quality
        );
    }
}

#[test]
fn replaying_what_cannot_be_replayed_fails_with_a_reason() {
    let Some(root) = recordings_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("x.png");
    for (dir, reason) in [
        (root.join("vfs5011"), "138a:0017 is not a supported reader"),
        (tmp.path().join("absent"), "cannot read"),
    ] {
        let mut command = tool();
        command.args(["capture", "--replay"]).arg(&dir).arg("--out").arg(&png);
        let out = run(command);
        assert!(!out.status.success(), "{}", dir.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(reason), "{}: {stderr}", dir.display());
    }
    assert!(!png.exists());
}

/// `umockdev-run` on the PATH, if any.
fn umockdev_run() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("umockdev-run"))
        .find(|candidate| candidate.is_file())
}

/// The arguments that make umockdev-run replay a recording's traffic: `-i NODE=capture.ioctl`
/// (the node from the file's `@DEV` line) or `-p /sys<sysfs path>=capture.pcapng`.
fn umockdev_traffic_arguments(dir: &Path) -> Vec<String> {
    let ioctl = dir.join("capture.ioctl");
    if ioctl.exists() {
        let text = std::fs::read_to_string(&ioctl).unwrap();
        let node = text
            .lines()
            .find_map(|l| l.strip_prefix("@DEV "))
            .expect("the .ioctl file names its device node");
        return vec!["-i".into(), format!("{}={}", node.trim(), ioctl.display())];
    }
    let device = std::fs::read_to_string(dir.join("device")).unwrap();
    let sysfs = device
        .lines()
        .find_map(|l| l.strip_prefix("P: "))
        .expect("the device file has a P: line");
    vec![
        "-p".into(),
        format!("/sys{}={}", sysfs.trim(), dir.join("capture.pcapng").display()),
    ]
}

fn under_umockdev(umockdev: &Path, dir: &Path, tool_args: &[&str]) -> Command {
    let mut command = Command::new(umockdev);
    command.arg("-d").arg(dir.join("device"));
    command.args(umockdev_traffic_arguments(dir));
    command
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_shimon-reader"))
        .args(tool_args);
    command.env("RUST_BACKTRACE", "0");
    command
}

#[test]
fn the_real_binary_reads_the_recordings_under_umockdev() {
    let Some(root) = recordings_dir() else { return };
    let Some(umockdev) = umockdev_run() else {
        assert!(
            !under_ci(),
            "umockdev-run not found on the PATH: under CI the umockdev test must run (scripts/setup installs umockdev)"
        );
        eprintln!("SKIPPED: umockdev-run not found on the PATH (apt-get install umockdev)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for expected in RECORDINGS {
        let name = expected.name;
        let dir = root.join(name);
        let list = run(under_umockdev(&umockdev, &dir, &["list"]));
        assert_success(name, &list);
        let listed = String::from_utf8_lossy(&list.stdout);
        let first = listed.lines().nth(1).unwrap_or_default();
        assert!(
            first.starts_with("usb:"),
            "{name}: the first reader listed is not USB:\n{listed}"
        );

        let png = tmp.path().join(format!("{name}.png"));
        let png_arg = png.to_str().expect("a UTF-8 temporary path");
        let out = run(under_umockdev(
            &umockdev,
            &dir,
            &["capture", "--timeout", "20", "--out", png_arg],
        ));
        assert_success(name, &out);
        assert_same_image(name, &png, &dir);
    }
}
