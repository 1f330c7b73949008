//! The USB drivers on the recorded traffic of real readers (`../shared/datasets/usb-recordings`,
//! found through `SHIMON_SHARED` like every test that reads the shared folder; absent, the tests
//! say so and pass, except under `CI=true` where absence fails them).
//!
//! - Golden: each recording, replayed through the driver of its device, gives exactly the image
//!   the reference driver made (`capture.png`, whose G channel holds the grey levels).
//! - Mutations of the real recordings, built in memory: a truncated image chunk, a presence level
//!   that never rises, a cancelled transfer, a short read where a full one is due, a device that
//!   vanishes mid-capture, a driver that leaves the recording. Each ends in its own typed error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shimon_hal::replay::{IoctlRecording, Recording, ReplayError, Traffic};
use shimon_hal::{CancelHandle, FingerImage, Reader, ReaderError};

const TIMEOUT: Duration = Duration::from_secs(5);

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// `$SHIMON_SHARED` (relative to the workspace root) or `<workspace>/../shared`.
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

/// The grey levels of a recording's `capture.png` (its G channel).
fn expected_image(dir: &Path) -> (u32, u32, Vec<u8>) {
    let png = image::open(dir.join("capture.png"))
        .expect("capture.png decodes")
        .into_rgb8();
    let (w, h) = png.dimensions();
    (w, h, png.pixels().map(|p| p.0[1]).collect())
}

fn capture(reader: &mut dyn Reader) -> Result<FingerImage, ReaderError> {
    reader.capture(TIMEOUT, &CancelHandle::new())
}

/// Asserts that `image` is the recording's `capture.png`, pixel for pixel.
fn assert_golden(name: &str, dir: &Path, image: &FingerImage) {
    let (w, h, expected) = expected_image(dir);
    assert_eq!((image.width, image.height), (w, h), "{name}: size");
    let differing = image.pixels.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 0, "{name}: {differing} of {} pixels differ", expected.len());
}

fn golden(name: &str) {
    let Some(root) = recordings_dir() else { return };
    let dir = root.join(name);
    let mut reader = shimon_hal::replay::open_reader(&dir).expect("the recording opens");
    let image = capture(reader.as_mut()).expect("the recorded capture replays");
    assert_golden(name, &dir, &image);
    // The same reader through the id the station and the agent would be given.
    let mut by_id = shimon_hal::open(&format!("replay:{}", dir.display())).expect("opens by id");
    assert_eq!(by_id.info().model, reader.info().model);
    assert_eq!(capture(by_id.as_mut()).unwrap(), image);
}

#[test]
fn nb1010_replays_to_the_recorded_image() {
    golden("nb1010");
}

#[test]
fn aes3500_replays_to_the_recorded_image() {
    golden("aes3500");
}

#[test]
fn uru4000_replays_to_the_recorded_image() {
    golden("uru4000-4500");
}

/// The text of a recording's `capture.ioctl`, and its folder.
fn ioctl_text(name: &str) -> Option<(PathBuf, String)> {
    let dir = recordings_dir()?.join(name);
    let text = std::fs::read_to_string(dir.join("capture.ioctl")).expect("capture.ioctl reads");
    Some((dir, text))
}

/// Replays `text` (a mutated `capture.ioctl`) as the device of the recording in `dir`.
fn replay_mutated(dir: &Path, text: &str) -> Result<Box<dyn Reader>, ReaderError> {
    let mut recording = Recording::load(dir).expect("the original recording loads");
    recording.traffic = Traffic::Ioctl(IoctlRecording::parse(text)?);
    recording.open_reader()
}

/// Rewrites line `line` (0-based) of `text` with `edit`, which gets the line's fields.
fn edit_line(text: &str, line: usize, edit: impl FnOnce(&mut Vec<String>)) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let indent = lines[line].len() - lines[line].trim_start().len();
    let mut fields: Vec<String> = lines[line].split_whitespace().map(str::to_string).collect();
    edit(&mut fields);
    lines[line] = format!("{}{}", " ".repeat(indent), fields.join(" "));
    lines.join("\n") + "\n"
}

/// Line index of the `n`th (0-based) URB line that reads endpoint `endpoint` with `length` bytes.
fn in_line(text: &str, endpoint: u8, length: usize, n: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 6 && f[3] == endpoint.to_string() && f[6] == length.to_string()
        })
        .nth(n)
        .map(|(i, _)| i)
        .expect("the recording has that transfer")
}

// Fields of a URB line: 0 name, 1 ret, 2 type, 3 endpoint, 4 status, 5 flags, 6 buffer length,
// 7 actual length, 8 error count, 9 data.
const STATUS: usize = 4;
const ACTUAL: usize = 7;
const DATA: usize = 9;

#[test]
fn nb1010_truncated_image_chunk_is_a_malformed_recording() {
    let Some((dir, text)) = ioctl_text("nb1010") else {
        return;
    };
    let line = in_line(&text, 0x83, 540, 45);
    let mutated = edit_line(&text, line, |f| f[DATA].truncate(600));
    let e = replay_mutated(&dir, &mutated).err().expect("refused");
    let message = e.to_string();
    assert!(matches!(e, ReaderError::Device(_)), "{e:?}");
    assert!(message.contains(&format!("line {}", line + 1)), "{message}");
    assert!(
        message.contains("300 data bytes where the actual length needs 540"),
        "{message}"
    );
    // The same through the parser's own error type.
    assert!(matches!(
        IoctlRecording::parse(&mutated),
        Err(ReplayError::Malformed { line: l, .. }) if l == line + 1
    ));
}

#[test]
fn nb1010_short_image_chunk_is_a_device_error() {
    let Some((dir, text)) = ioctl_text("nb1010") else {
        return;
    };
    let line = in_line(&text, 0x83, 540, 45);
    let mutated = edit_line(&text, line, |f| {
        f[ACTUAL] = "300".into();
        f[DATA].truncate(600);
    });
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    let e = capture(reader.as_mut()).unwrap_err();
    assert_eq!(
        e,
        ReaderError::Device("NB-1010-U image chunk 46 of 90: short read, 300 of 540 bytes".into())
    );
}

#[test]
fn nb1010_short_reply_is_a_device_error() {
    let Some((dir, text)) = ioctl_text("nb1010") else {
        return;
    };
    // The reply to the first capture command, cut to 8 of its 16 bytes.
    let line = in_line(&text, 0x83, 16, 1);
    let mutated = edit_line(&text, line, |f| {
        f[ACTUAL] = "8".into();
        f[DATA].truncate(16);
    });
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    let e = capture(reader.as_mut()).unwrap_err();
    assert_eq!(
        e,
        ReaderError::Device("NB-1010-U command 0x0d: short reply, 8 of 16 bytes".into())
    );
}

#[test]
fn nb1010_presence_that_never_rises_times_out() {
    let Some((dir, text)) = ioctl_text("nb1010") else {
        return;
    };
    // The finger check's reply says 0x10 instead of 0xF7: the driver polls until its timeout.
    let line = in_line(&text, 0x83, 16, 0);
    let mutated = edit_line(&text, line, |f| f[DATA].replace_range(24..26, "10"));
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    assert!(!reader.finger_present().unwrap());
    let timeout = Duration::from_millis(400);
    let started = Instant::now();
    let e = reader.capture(timeout, &CancelHandle::new()).unwrap_err();
    assert_eq!(e, ReaderError::TimedOut(timeout));
    assert!(started.elapsed() >= timeout);
    // Cancelling the same wait ends it at once with Cancelled.
    let cancel = CancelHandle::new();
    cancel.cancel();
    assert_eq!(reader.capture(Duration::MAX, &cancel), Err(ReaderError::Cancelled));
}

#[test]
fn nb1010_cancelled_transfer_is_a_device_error() {
    let Some((dir, text)) = ioctl_text("nb1010") else {
        return;
    };
    let line = in_line(&text, 0x83, 540, 10);
    let mutated = edit_line(&text, line, |f| {
        f[STATUS] = "-2".into();
        f[ACTUAL] = "0".into();
        f.truncate(DATA);
    });
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    let e = capture(reader.as_mut()).unwrap_err();
    assert_eq!(
        e,
        ReaderError::Device(
            "NB-1010-U image chunk 11 of 90: the USB transfer was cancelled before it completed".into()
        )
    );
}

#[test]
fn nb1010_device_vanishing_mid_capture_is_a_disconnect() {
    let Some((dir, text)) = ioctl_text("nb1010") else {
        return;
    };
    let line = in_line(&text, 0x83, 540, 30);
    let mutated = edit_line(&text, line, |f| {
        f[STATUS] = "-19".into();
        f[ACTUAL] = "0".into();
        f.truncate(DATA);
    });
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    assert_eq!(capture(reader.as_mut()), Err(ReaderError::Disconnected));
}

#[test]
fn nb1010_chunk_out_of_order_is_a_device_error() {
    let Some((dir, text)) = ioctl_text("nb1010") else {
        return;
    };
    // Chunk 21 claims to end at row 1 (as chunk 1 does).
    let line = in_line(&text, 0x83, 540, 20);
    let mutated = edit_line(&text, line, |f| f[DATA].replace_range(32..34, "01"));
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    let e = capture(reader.as_mut()).unwrap_err();
    assert_eq!(
        e,
        ReaderError::Device("NB-1010-U image chunk 21 of 90: holds rows up to 1, expected 41".into())
    );
}

#[test]
fn a_driver_leaving_the_recording_is_told_what_was_expected() {
    let Some((dir, text)) = ioctl_text("nb1010") else {
        return;
    };
    // The recording's capture command differs from what the driver sends.
    let line = text
        .lines()
        .position(|l| l.ends_with("800D03000C00000000040000"))
        .unwrap();
    let mutated = edit_line(&text, line, |f| f[DATA] = "800D03000C00000000050000".into());
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    let e = capture(reader.as_mut()).unwrap_err().to_string();
    assert!(
        e.contains("the driver sent bulk OUT 0x02, 12 bytes: 80 0d 03 00 0c 00 00 00 00 04 00 00"),
        "{e}"
    );
    assert!(e.contains("the recording expects line"), "{e}");
}

#[test]
fn aes3500_short_image_is_a_device_error() {
    let Some((dir, text)) = ioctl_text("aes3500") else {
        return;
    };
    let line = in_line(&text, 0x81, 8329, 0);
    let mutated = edit_line(&text, line, |f| {
        f[ACTUAL] = "4000".into();
        f[DATA].truncate(8000);
    });
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    let e = capture(reader.as_mut()).unwrap_err();
    assert_eq!(
        e,
        ReaderError::Device("AES3500 image transfer: short read, 4000 of 8329 bytes".into())
    );
}

#[test]
fn aes3500_cancelled_image_transfer_is_a_device_error() {
    let Some((dir, text)) = ioctl_text("aes3500") else {
        return;
    };
    let line = in_line(&text, 0x81, 8329, 0);
    let mutated = edit_line(&text, line, |f| {
        f[STATUS] = "-2".into();
        f[ACTUAL] = "0".into();
        f.truncate(DATA);
    });
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    let e = capture(reader.as_mut()).unwrap_err();
    assert_eq!(
        e,
        ReaderError::Device("AES3500 image transfer: the USB transfer was cancelled before it completed".into())
    );
}

#[test]
fn aes3500_bad_frame_header_is_a_device_error() {
    let Some((dir, text)) = ioctl_text("aes3500") else {
        return;
    };
    let line = in_line(&text, 0x81, 8329, 0);
    // Frame 3's header byte sits at 3 * 1025.
    let at = 2 * 3 * 1025;
    let mutated = edit_line(&text, line, |f| f[DATA].replace_range(at..at + 2, "00"));
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    let e = capture(reader.as_mut()).unwrap_err();
    assert_eq!(
        e,
        ReaderError::Device("AES3500 image: frame 3 starts with 0x00, expected 0xe3".into())
    );
}

#[test]
fn a_perturbed_image_no_longer_matches() {
    // The golden comparison can fail: one nibble changed in the recorded AES3500 image changes
    // the pixels around it.
    let Some((dir, text)) = ioctl_text("aes3500") else {
        return;
    };
    let line = in_line(&text, 0x81, 8329, 0);
    let at = 2 * (5 * 1025 + 1 + 300);
    let mutated = edit_line(&text, line, |f| {
        let old = f[DATA][at..at + 2].to_string();
        f[DATA].replace_range(at..at + 2, if old == "00" { "FF" } else { "00" });
    });
    let mut reader = replay_mutated(&dir, &mutated).unwrap();
    let image = capture(reader.as_mut()).unwrap();
    let (_, _, expected) = expected_image(&dir);
    let differing = image.pixels.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert!((1..=40).contains(&differing), "{differing} pixels differ");
}

/// The U.are.U recording with `mutate` applied to its packets, replayed through its driver.
fn uru4000_mutated(mutate: impl FnOnce(&mut Vec<shimon_hal::replay::pcapng::UsbPacket>)) -> Option<Box<dyn Reader>> {
    let dir = recordings_dir()?.join("uru4000-4500");
    let mut recording = Recording::load(&dir).expect("the recording loads");
    let Traffic::Pcap(capture) = &mut recording.traffic else {
        panic!("the U.are.U recording is a pcapng capture");
    };
    mutate(&mut capture.packets);
    Some(recording.open_reader().expect("the reader opens"))
}

/// Index of the first packet with this event, transfer type and endpoint, after `skip` of them.
fn packet(
    packets: &[shimon_hal::replay::pcapng::UsbPacket],
    event: u8,
    transfer_type: u8,
    endpoint: u8,
    skip: usize,
) -> usize {
    packets
        .iter()
        .enumerate()
        .filter(|(_, p)| p.event == event && p.transfer_type == transfer_type && p.endpoint == endpoint)
        .nth(skip)
        .map(|(i, _)| i)
        .expect("the recording has that packet")
}

#[test]
fn uru4000_device_vanishing_while_waiting_for_a_finger_is_a_disconnect() {
    // The interrupt transfer that brought the finger (the fourth completion) fails: no device.
    let Some(mut reader) = uru4000_mutated(|packets| {
        let i = packet(packets, b'C', 1, 0x81, 3);
        packets[i].status = -108;
        packets[i].data.clear();
        packets[i].length = 0;
    }) else {
        return;
    };
    assert_eq!(capture(reader.as_mut()), Err(ReaderError::Disconnected));
}

#[test]
fn uru4000_short_interrupt_is_a_device_error() {
    let Some(mut reader) = uru4000_mutated(|packets| {
        let i = packet(packets, b'C', 1, 0x81, 0);
        packets[i].data.truncate(10);
        packets[i].length = 10;
    }) else {
        return;
    };
    assert_eq!(
        capture(reader.as_mut()),
        Err(ReaderError::Device(
            "U.are.U interrupt transfer: short read, 10 of 64 bytes".into()
        ))
    );
}

#[test]
fn uru4000_cancelled_image_transfer_is_a_device_error() {
    let Some(mut reader) = uru4000_mutated(|packets| {
        let i = packet(packets, b'C', 3, 0x82, 0);
        packets[i].status = -2;
        packets[i].data.clear();
        packets[i].length = 0;
    }) else {
        return;
    };
    assert_eq!(
        capture(reader.as_mut()),
        Err(ReaderError::Device(
            "U.are.U image transfer: the USB transfer was cancelled before it completed".into()
        ))
    );
}

#[test]
fn uru4000_short_key_read_is_a_device_error() {
    // The scrambling key comes back with 2 of its 4 bytes.
    let Some(mut reader) = uru4000_mutated(|packets| {
        let i = packets
            .iter()
            .position(|p| p.event == b'S' && p.setup.is_some_and(|s| s[..4] == [0xc0, 0x04, 0x34, 0x00]))
            .expect("the key read");
        let urb = packets[i].urb_id;
        let done = packets[i + 1..].iter_mut().find(|p| p.urb_id == urb && p.event == b'C');
        let done = done.expect("its completion");
        done.data.truncate(2);
        done.length = 2;
    }) else {
        return;
    };
    assert_eq!(
        capture(reader.as_mut()),
        Err(ReaderError::Device(
            "U.are.U reading register 0x34: short read, 2 of 4 bytes".into()
        ))
    );
}

#[test]
fn uru4000_header_announcing_rows_not_sent_is_a_device_error() {
    // Block 7 claims 200 rows; with the 173 rows before it that is more than the 289 sent.
    let Some(mut reader) = uru4000_mutated(|packets| {
        let i = packet(packets, b'C', 3, 0x82, 0);
        packets[i].data[16 + 2 * 7 + 1] = 200;
    }) else {
        return;
    };
    assert_eq!(
        capture(reader.as_mut()),
        Err(ReaderError::Device(
            "U.are.U image: block 7 needs rows 173..373 the device did not send".into()
        ))
    );
}

#[test]
fn uru4000_changed_image_byte_changes_the_image() {
    // One scrambled byte changed: the unscrambled image differs in exactly one pixel, so the
    // golden comparison would catch it.
    let Some(root) = recordings_dir() else { return };
    let Some(mut reader) = uru4000_mutated(|packets| {
        let i = packet(packets, b'C', 3, 0x82, 0);
        packets[i].data[64 + 100 * 384 + 7] ^= 0x40;
    }) else {
        return;
    };
    let image = capture(reader.as_mut()).unwrap();
    let (_, _, expected) = expected_image(&root.join("uru4000-4500"));
    let differing = image.pixels.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 1);
}
