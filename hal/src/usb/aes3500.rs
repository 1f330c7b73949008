//! AuthenTec AES3500 (08ff:5731): a small 128x128 press sensor (about 6.5 mm a side, 500 dpi)
//! programmed by register writes, whose image comes as 4-bit frames and is delivered upscaled to
//! 256x256 (so 1000 dpi).
//!
//! Protocol (vendor class, interface 0; bulk OUT 0x02, bulk IN 0x81; no control or interrupt
//! transfers; no register reads): every OUT transfer is a list of (register, value) pairs. A
//! capture, as a state machine:
//!
//! 1. `Activate`: ten writes (master reset, scan reset, register buffering off, then the sensor
//!    configuration).
//! 2. `RequestCapture`: three writes.
//! 3. `AwaitFinger`: one bulk IN of 8329 bytes, which the device completes only once a finger is on
//!    the sensor, so it is submitted without a USB timeout; the driver waits for it in slices of
//!    50 ms and cancels it when the caller's timeout passes ([`ReaderError::TimedOut`]) or the
//!    cancel handle fires ([`ReaderError::Cancelled`]). A waiting capture costs nothing on the bus.
//! 4. `Decode`: 8 frames of (header byte `E0`..`E7`, 1024 bytes), then a 129-byte trailer that is
//!    ignored. A frame is 128 columns x 16 rows, column-major, 8 bytes a column: the low nibble of
//!    byte j is row 2j, the high nibble row 2j+1; a pixel is nibble x 17. Frames stack top to
//!    bottom into 128x128.
//! 5. The delivered image, like the one of the reference driver that made the recordings: upscaled
//!    2x bilinearly in integers ([`upscale_2x`]), turned by half a turn, inverted.

use std::time::{Duration, Instant};

use super::clock::CaptureClock;
use super::{transfer_failed, UsbModel};
use crate::error::ReaderError;
use crate::image::FingerImage;
use crate::reader::{CancelHandle, Reader, ReaderInfo, SensorKind};
use crate::transport::{TransferId, TransferRequest, Transport};

/// The interface the driver claims.
pub const INTERFACE: u8 = 0;
/// Bulk OUT endpoint for register writes.
const EP_REGISTERS: u8 = 0x02;
/// Bulk IN endpoint for the image.
const EP_IMAGE: u8 = 0x81;
/// Timeout of a register write, milliseconds.
const WRITE_TIMEOUT_MS: u64 = 4000;
/// How often the wait for a finger looks at the cancel handle and the deadline, milliseconds.
const WAIT_SLICE_MS: u64 = 50;
/// How long a cancelled image transfer may take to come back, milliseconds.
const CANCEL_GRACE_MS: u64 = 1000;
/// Length of the image transfer, bytes.
const CAPTURE_LEN: usize = FRAME_COUNT * (1 + FRAME_DATA_LEN) + TRAILER_LEN;
/// Frames in one image.
const FRAME_COUNT: usize = 8;
/// Header byte of frame 0 (frame k has `FRAME_HEADER_BASE + k`).
const FRAME_HEADER_BASE: u8 = 0xe0;
/// Pixel bytes of one frame.
const FRAME_DATA_LEN: usize = FRAME_COLUMNS * FRAME_ROWS / 2;
/// Columns of one frame (the sensor's width).
const FRAME_COLUMNS: usize = 128;
/// Rows of one frame.
const FRAME_ROWS: usize = 16;
/// Bytes after the last frame.
const TRAILER_LEN: usize = 129;
/// A 4-bit value times this is its 8-bit grey.
const NIBBLE_TO_GREY: u8 = 17;
/// The sensor's side, pixels.
const SENSOR_SIDE_PX: usize = FRAME_COLUMNS;
/// Side of the delivered (upscaled) image, pixels.
pub const IMAGE_SIDE_PX: u32 = 2 * SENSOR_SIDE_PX as u32;
/// Resolution of the delivered image, dots per inch: the sensor's 500 dpi, upscaled twice. (The
/// recorded capture's ridge period is 19 px in the delivered image, 0.48 mm at 1000 dpi; at
/// 500 dpi it would be an impossible 0.96 mm.)
pub const DPI: u32 = 1000;

/// Activation: one OUT transfer each.
const ACTIVATION: [&[u8]; 10] = [
    &[0x80, 0x01],
    &[0x80, 0x00],
    &[0x81, 0x00, 0x80, 0x00],
    &[0x80, 0x02],
    &[0x80, 0x00],
    &[0x80, 0x04],
    &[0x80, 0x00],
    &[0x81, 0x00],
    &[
        0x80, 0x00, 0x81, 0x00, 0x82, 0x04, 0x83, 0x13, 0x84, 0x07, 0x85, 0x3d, 0x86, 0x03, 0x87, 0x01, 0x88, 0x02,
        0x89, 0x02, 0x8a, 0x33, 0x8b, 0x33, 0x8c, 0x0f, 0x8d, 0x04, 0x8e, 0x23, 0x8f, 0x07,
    ],
    &[
        0x90, 0x00, 0x91, 0x1c, 0x92, 0x08, 0x93, 0x00, 0x94, 0x07, 0x95, 0x00, 0x96, 0x1f, 0x97, 0x04, 0x98, 0x28,
        0x99, 0x00, 0x9a, 0x0b, 0x9b, 0x00, 0x9c, 0x00, 0x9d, 0x09, 0x9e, 0x53, 0x9f, 0x6b,
    ],
];

/// Capture request: one OUT transfer each.
const CAPTURE_REQUEST: [&[u8]; 3] = [&[0x80, 0x00, 0x81, 0x00], &[0x81, 0x04], &[0x81, 0x00]];

/// The table row of the AES3500.
pub const MODEL: UsbModel = UsbModel {
    vendor_id: 0x08ff,
    product_id: 0x5731,
    vendor: "AuthenTec",
    model: "AES3500",
    dpi: DPI,
    width_px: IMAGE_SIDE_PX,
    height_px: IMAGE_SIDE_PX,
    kind: SensorKind::Press,
    interface: INTERFACE,
    driver: open,
};

/// The driver entry of [`MODEL`]: a reader on `transport`.
pub fn open(transport: Box<dyn Transport>, info: ReaderInfo) -> Result<Box<dyn Reader>, ReaderError> {
    Ok(Box::new(Aes3500 { transport, info }))
}

/// An AES3500.
pub struct Aes3500 {
    transport: Box<dyn Transport>,
    info: ReaderInfo,
}

impl std::fmt::Debug for Aes3500 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aes3500").field("info", &self.info).finish()
    }
}

/// The steps of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Activate { write: usize },
    RequestCapture { write: usize },
    AwaitFinger,
    Decode(Vec<u8>),
}

impl Aes3500 {
    fn write_registers(&mut self, pairs: &[u8], step: &str) -> Result<(), ReaderError> {
        let written = self
            .transport
            .bulk_out(EP_REGISTERS, pairs, Duration::from_millis(WRITE_TIMEOUT_MS))
            .map_err(|e| transfer_failed(step, e))?;
        if written != pairs.len() {
            return Err(ReaderError::Device(format!(
                "{step}: the device took {written} of {} bytes",
                pairs.len()
            )));
        }
        Ok(())
    }

    /// Submits the image transfer and waits for it within the caller's limits.
    fn await_image(&mut self, clock: &CaptureClock) -> Result<Vec<u8>, ReaderError> {
        let step = "AES3500 image transfer";
        let request = TransferRequest::bulk_in(EP_IMAGE, CAPTURE_LEN).with_timeout(None);
        let id = self.transport.submit(request).map_err(|e| transfer_failed(step, e))?;
        loop {
            if let Err(stop) = clock.check() {
                self.abandon(id);
                return Err(stop);
            }
            let slice = clock.slice(Duration::from_millis(WAIT_SLICE_MS));
            match self.transport.reap(Some(slice)) {
                Ok(Some(done)) if done.id == id => {
                    let data = done.into_result().map_err(|e| transfer_failed(step, e))?;
                    if data.len() != CAPTURE_LEN {
                        return Err(ReaderError::Device(format!(
                            "{step}: short read, {} of {CAPTURE_LEN} bytes",
                            data.len()
                        )));
                    }
                    return Ok(data);
                }
                Ok(Some(other)) => {
                    tracing::debug!(id = ?other.id, "ignoring the completion of an earlier transfer");
                }
                Ok(None) => {}
                Err(e) => {
                    self.abandon(id);
                    return Err(transfer_failed(step, e));
                }
            }
        }
    }

    /// Cancels transfer `id` and waits (briefly) until it has come back, so that nothing of this
    /// capture is left in flight.
    fn abandon(&mut self, id: TransferId) {
        if let Err(e) = self.transport.cancel(id) {
            tracing::debug!(error = %e, "cancelling the image transfer");
        }
        let give_up = Instant::now() + Duration::from_millis(CANCEL_GRACE_MS);
        while Instant::now() < give_up {
            match self.transport.reap(Some(Duration::from_millis(WAIT_SLICE_MS))) {
                Ok(Some(done)) if done.id == id => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "reaping the cancelled image transfer");
                    return;
                }
            }
        }
        tracing::warn!("the cancelled image transfer did not come back");
    }
}

/// The 128x128 grey image in the 8 frames of a capture transfer.
pub fn decode_frames(data: &[u8]) -> Result<Vec<u8>, ReaderError> {
    if data.len() < FRAME_COUNT * (1 + FRAME_DATA_LEN) {
        return Err(ReaderError::Device(format!(
            "AES3500 image: {} bytes, too few for {FRAME_COUNT} frames",
            data.len()
        )));
    }
    let mut pixels = vec![0u8; SENSOR_SIDE_PX * SENSOR_SIDE_PX];
    for (k, frame) in data.chunks_exact(1 + FRAME_DATA_LEN).take(FRAME_COUNT).enumerate() {
        let expected = FRAME_HEADER_BASE + k as u8;
        if frame[0] != expected {
            return Err(ReaderError::Device(format!(
                "AES3500 image: frame {k} starts with {:#04x}, expected {expected:#04x}",
                frame[0]
            )));
        }
        for (column, bytes) in frame[1..].chunks_exact(FRAME_ROWS / 2).enumerate() {
            for (j, byte) in bytes.iter().enumerate() {
                let row = k * FRAME_ROWS + 2 * j;
                pixels[row * SENSOR_SIDE_PX + column] = (byte & 0x0f) * NIBBLE_TO_GREY;
                pixels[(row + 1) * SENSOR_SIDE_PX + column] = (byte >> 4) * NIBBLE_TO_GREY;
            }
        }
    }
    Ok(pixels)
}

/// The two source pixels (index, weight in 1/256) of output position `d` of a 2x upscale: even
/// `d = 2k` takes 64 of `k-1` and 192 of `k`, odd `d = 2k+1` takes 192 of `k` and 64 of `k+1`
/// (output pixel centres at `(d + 0.5) / 2 - 0.5` in the source). A source index outside the image
/// is `None` and counts as 0.
fn taps(d: usize, side: usize) -> [(Option<usize>, u32); 2] {
    let k = d / 2;
    let at = |i: Option<usize>| i.filter(|&i| i < side);
    if d % 2 == 0 {
        [(at(k.checked_sub(1)), 64), (at(Some(k)), 192)]
    } else {
        [(at(Some(k)), 192), (at(Some(k + 1)), 64)]
    }
}

/// A square `side` x `side` image upscaled 2x, bilinear in integers: each output pixel is
/// `sum(w_x * w_y * p) >> 16` over its four source pixels, truncated.
pub fn upscale_2x(pixels: &[u8], side: usize) -> Vec<u8> {
    let out_side = 2 * side;
    let mut out = vec![0u8; out_side * out_side];
    for y in 0..out_side {
        let rows = taps(y, side);
        for x in 0..out_side {
            let columns = taps(x, side);
            let mut sum = 0u32;
            for (row, wy) in rows {
                for (column, wx) in columns {
                    if let (Some(r), Some(c)) = (row, column) {
                        sum += wy * wx * u32::from(pixels[r * side + c]);
                    }
                }
            }
            out[y * out_side + x] = (sum >> 16) as u8;
        }
    }
    out
}

/// The delivered image from the decoded sensor image: upscaled, turned half a turn (flipped
/// horizontally, then vertically), inverted.
pub fn finish_image(sensor: &[u8]) -> Vec<u8> {
    let mut image = upscale_2x(sensor, SENSOR_SIDE_PX);
    image.reverse(); // a half turn of a row-major image is its pixels in reverse order
    for p in &mut image {
        *p = 255 - *p;
    }
    image
}

impl Reader for Aes3500 {
    fn info(&self) -> &ReaderInfo {
        &self.info
    }

    /// The AES3500 has no register to read: it tells of a finger only by completing a capture.
    fn finger_present(&mut self) -> Result<bool, ReaderError> {
        Err(ReaderError::Device(
            "the AES3500 cannot report a finger without capturing".into(),
        ))
    }

    fn capture(&mut self, timeout: Duration, cancel: &CancelHandle) -> Result<FingerImage, ReaderError> {
        let clock = CaptureClock::start(timeout, cancel);
        let mut state = State::Activate { write: 0 };
        loop {
            state = match state {
                State::Activate { write } if write == ACTIVATION.len() => State::RequestCapture { write: 0 },
                State::Activate { write } => {
                    clock.check()?;
                    self.write_registers(ACTIVATION[write], &format!("AES3500 activation write {}", write + 1))?;
                    State::Activate { write: write + 1 }
                }
                State::RequestCapture { write } if write == CAPTURE_REQUEST.len() => State::AwaitFinger,
                State::RequestCapture { write } => {
                    self.write_registers(
                        CAPTURE_REQUEST[write],
                        &format!("AES3500 capture request write {}", write + 1),
                    )?;
                    State::RequestCapture { write: write + 1 }
                }
                State::AwaitFinger => State::Decode(self.await_image(&clock)?),
                State::Decode(data) => {
                    let image = finish_image(&decode_frames(&data)?);
                    tracing::debug!(reader = %self.info.id, "captured");
                    return Ok(FingerImage {
                        width: IMAGE_SIDE_PX,
                        height: IMAGE_SIDE_PX,
                        dpi: DPI,
                        pixels: image,
                    });
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Completion, TransportError};
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    #[test]
    fn upscaling_weights_neighbours_and_darkens_the_border() {
        // One bright pixel in a 2x2 image spreads over the 4x4 output with weights 3/4 and 1/4.
        let out = upscale_2x(&[255, 0, 0, 0], 2);
        let row = |y: usize| out[y * 4..y * 4 + 4].to_vec();
        // Outputs 0 and 1 along each axis take 192/256 of source pixel 0, output 2 takes 64/256:
        // 255 * 9/16 = 143.4, 255 * 3/16 = 47.8, 255 / 16 = 15.9, truncated.
        assert_eq!(row(0), [143, 143, 47, 0]);
        assert_eq!(row(1), [143, 143, 47, 0]);
        assert_eq!(row(2), [47, 47, 15, 0]);
        assert_eq!(row(3), [0, 0, 0, 0]);
        // A flat image stays flat inside and fades at its edges.
        let flat = upscale_2x(&[200; 16], 4);
        assert_eq!(flat[3 * 8 + 3], 200);
        assert_eq!(flat[0], ((200u32 * 192 * 192) >> 16) as u8);
        assert_eq!(flat[3], ((200u32 * 192 * 256) >> 16) as u8);
    }

    #[test]
    fn frames_decode_column_major_nibbles() {
        let mut data = vec![0u8; CAPTURE_LEN];
        for k in 0..FRAME_COUNT {
            data[k * (1 + FRAME_DATA_LEN)] = FRAME_HEADER_BASE + k as u8;
        }
        // Frame 1, column 2, byte 3: rows 16 + 6 and 16 + 7.
        data[(1 + FRAME_DATA_LEN) + 1 + 2 * 8 + 3] = 0xa5;
        let pixels = decode_frames(&data).unwrap();
        assert_eq!(pixels[22 * 128 + 2], 5 * 17);
        assert_eq!(pixels[23 * 128 + 2], 10 * 17);
        assert_eq!(pixels.iter().filter(|p| **p != 0).count(), 2);
        data[0] = 0xe1;
        assert!(decode_frames(&data).unwrap_err().to_string().contains("frame 0"));
        assert!(decode_frames(&data[..100]).is_err());
    }

    /// A device that accepts every write and never completes the image transfer until cancelled.
    #[derive(Default)]
    struct NoFinger {
        log: Arc<Mutex<Vec<String>>>,
        next: u64,
        done: VecDeque<Completion>,
        image: Option<TransferId>,
    }

    impl Transport for NoFinger {
        fn submit(&mut self, request: TransferRequest) -> Result<TransferId, TransportError> {
            self.next += 1;
            let id = TransferId(self.next);
            if request.is_in() {
                self.image = Some(id);
            } else {
                self.done.push_back(Completion {
                    id,
                    result: Ok(()),
                    data: Vec::new(),
                    actual_length: request.length,
                });
            }
            Ok(id)
        }

        fn reap(&mut self, wait: Option<Duration>) -> Result<Option<Completion>, TransportError> {
            if let Some(done) = self.done.pop_front() {
                return Ok(Some(done));
            }
            std::thread::sleep(wait.unwrap_or(Duration::from_millis(10)));
            Ok(None)
        }

        fn cancel(&mut self, id: TransferId) -> Result<(), TransportError> {
            if self.image == Some(id) {
                self.log.lock().unwrap().push("cancelled".into());
                self.image = None;
                self.done.push_back(Completion {
                    id,
                    result: Err(TransportError::Cancelled),
                    data: Vec::new(),
                    actual_length: 0,
                });
            }
            Ok(())
        }
    }

    fn reader(log: &Arc<Mutex<Vec<String>>>) -> Box<dyn Reader> {
        let transport = NoFinger {
            log: Arc::clone(log),
            ..NoFinger::default()
        };
        let info = super::super::describe(&MODEL, "test".into(), String::new());
        open(Box::new(transport), info).unwrap()
    }

    #[test]
    fn without_a_finger_the_capture_times_out_and_cancels_its_transfer() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut r = reader(&log);
        let started = Instant::now();
        let timeout = Duration::from_millis(200);
        assert_eq!(
            r.capture(timeout, &CancelHandle::new()),
            Err(ReaderError::TimedOut(timeout))
        );
        assert!(started.elapsed() >= timeout);
        assert_eq!(*log.lock().unwrap(), ["cancelled"]);
    }

    #[test]
    fn a_cancelled_capture_stops_promptly() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut r = reader(&log);
        let cancel = CancelHandle::new();
        let remote = cancel.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            remote.cancel();
        });
        let started = Instant::now();
        // The caller would wait for ever; the cancel handle still ends the wait.
        assert_eq!(r.capture(Duration::MAX, &cancel), Err(ReaderError::Cancelled));
        assert!(started.elapsed() < Duration::from_secs(2));
        canceller.join().unwrap();
        assert_eq!(*log.lock().unwrap(), ["cancelled"]);
    }
}
