//! NEXT Biometrics NB-1010-U (298d:1010) and NB-2020-U (298d:2020): a press sensor that answers
//! bulk commands and sends its image as raw 8-bit rows.
//!
//! Protocol (interface 0; commands on bulk OUT 0x02, replies and image on bulk IN 0x83; every
//! transfer 500 ms): a message starts `0x80, opcode, sequence, 0x00` and a u32 little-endian total
//! length; replies are 16 bytes and echo the sequence. A capture, as a state machine:
//!
//! 1. `Wait`: 50 ms.
//! 2. `CheckFinger`: send the finger check, read the reply; byte 12 is the presence level. Above
//!    0x30 a finger is on; otherwise back to `Wait` (until the caller's timeout).
//! 3. `SetUpScan`, `StartScan`: two commands, each with its 16-byte reply.
//! 4. `ReadRows`: 90 bulk reads of exactly 540 bytes: a 25-byte header (byte 12 is 1 while more
//!    chunks follow, u32 at 16 the index of the chunk's last row, u32 at 20 the width 256), two
//!    rows of 256 pixels, 3 padding bytes. The rows in order are the 256x180 image, as is.
//!
//! A short or malformed reply, a chunk out of order or a device that stops early ends the capture
//! with [`ReaderError::Device`] saying what was wrong; a vanished device with
//! [`ReaderError::Disconnected`].

use std::time::Duration;

use super::clock::CaptureClock;
use super::{transfer_failed, UsbModel};
use crate::error::ReaderError;
use crate::image::FingerImage;
use crate::reader::{CancelHandle, Reader, ReaderInfo, SensorKind};
use crate::transport::Transport;

/// USB vendor id of NEXT Biometrics.
pub const VENDOR_ID: u16 = 0x298d;
/// The interface the driver claims.
pub const INTERFACE: u8 = 0;
/// Bulk OUT endpoint for commands.
const EP_COMMAND: u8 = 0x02;
/// Bulk IN endpoint for replies and image data.
const EP_DATA: u8 = 0x83;
/// Timeout of every transfer, milliseconds.
const TRANSFER_TIMEOUT_MS: u64 = 500;
/// Pause before each finger check, milliseconds.
const POLL_INTERVAL_MS: u64 = 50;
/// A finger is on when the presence level is above this.
const PRESENCE_THRESHOLD: u8 = 0x30;
/// Length of a command reply, bytes.
const REPLY_LEN: usize = 16;
/// Where a finger-check reply carries the presence level.
const PRESENCE_AT: usize = 12;
/// Image width, pixels.
pub const WIDTH_PX: u32 = 256;
/// Image height, pixels.
pub const HEIGHT_PX: u32 = 180;
/// Resolution, dots per inch (256 px over the sensor's 16.9 mm).
pub const DPI: u32 = 385;
/// Length of one image chunk, bytes.
const CHUNK_LEN: usize = 540;
/// Header before a chunk's pixels, bytes.
const CHUNK_HEADER_LEN: usize = 25;
/// Image rows in one chunk.
const ROWS_PER_CHUNK: usize = 2;
/// Chunks in one image.
const CHUNK_COUNT: usize = HEIGHT_PX as usize / ROWS_PER_CHUNK;
/// Where a chunk header says whether more chunks follow (1) or not (0).
const CHUNK_MORE_AT: usize = 12;
/// Where a chunk header holds the index of its last row (u32 little-endian).
const CHUNK_LAST_ROW_AT: usize = 16;
/// Where a chunk header holds the row width (u32 little-endian).
const CHUNK_WIDTH_AT: usize = 20;

/// Finger check: opcode 0x38, sequence 1.
const FINGER_CHECK: [u8; 8] = [0x80, 0x38, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00];
/// First capture command: opcode 0x0d, sequence 3.
const SCAN_SETUP: [u8; 12] = [0x80, 0x0d, 0x03, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00];

/// Second capture command: opcode 0x12, sequence 4, 32 bytes with byte 8 = 0x02, byte 28 = 0x20.
fn scan_start() -> [u8; 32] {
    let mut command = [0u8; 32];
    command[..8].copy_from_slice(&[0x80, 0x12, 0x04, 0x00, 0x20, 0x00, 0x00, 0x00]);
    command[8] = 0x02;
    command[28] = 0x20;
    command
}

/// The table row of a model of this family.
pub const fn model(product_id: u16, name: &'static str) -> UsbModel {
    UsbModel {
        vendor_id: VENDOR_ID,
        product_id,
        vendor: "NEXT Biometrics",
        model: name,
        dpi: DPI,
        width_px: WIDTH_PX,
        height_px: HEIGHT_PX,
        kind: SensorKind::Press,
        interface: INTERFACE,
        driver: open,
    }
}

/// The driver entry of [`model`]: a reader on `transport`.
pub fn open(transport: Box<dyn Transport>, info: ReaderInfo) -> Result<Box<dyn Reader>, ReaderError> {
    Ok(Box::new(Nb1010 { transport, info }))
}

/// An NB-1010-U or NB-2020-U.
pub struct Nb1010 {
    transport: Box<dyn Transport>,
    info: ReaderInfo,
}

impl std::fmt::Debug for Nb1010 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nb1010").field("info", &self.info).finish()
    }
}

/// The steps of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Wait,
    CheckFinger,
    SetUpScan,
    StartScan,
    ReadRows { chunk: usize },
}

impl Nb1010 {
    fn timeout() -> Duration {
        Duration::from_millis(TRANSFER_TIMEOUT_MS)
    }

    /// Sends `command` and reads its 16-byte reply, which must echo the command's sequence.
    fn exchange(&mut self, command: &[u8]) -> Result<[u8; REPLY_LEN], ReaderError> {
        let opcode = command[1];
        let step = |what: &str| format!("{} command {opcode:#04x}: {what}", self.info.model);
        let written = self
            .transport
            .bulk_out(EP_COMMAND, command, Self::timeout())
            .map_err(|e| transfer_failed(&step("sending"), e))?;
        if written != command.len() {
            return Err(ReaderError::Device(step(&format!(
                "the device took {written} of {} bytes",
                command.len()
            ))));
        }
        let mut reply = [0u8; REPLY_LEN];
        let read = self
            .transport
            .bulk_in(EP_DATA, &mut reply, Self::timeout())
            .map_err(|e| transfer_failed(&step("reading the reply"), e))?;
        if read != REPLY_LEN {
            return Err(ReaderError::Device(step(&format!(
                "short reply, {read} of {REPLY_LEN} bytes"
            ))));
        }
        let announced = u32::from_le_bytes([reply[4], reply[5], reply[6], reply[7]]);
        if reply[0] != 0x80 || reply[2] != command[2] || announced != REPLY_LEN as u32 {
            return Err(ReaderError::Device(step(&format!(
                "malformed reply {} (expected 80 .. {:02x} 00 10 00 00 00 ...)",
                crate::transport::hex_bytes(&reply, REPLY_LEN),
                command[2]
            ))));
        }
        Ok(reply)
    }

    /// The presence level the sensor reports now.
    fn presence(&mut self) -> Result<u8, ReaderError> {
        Ok(self.exchange(&FINGER_CHECK)?[PRESENCE_AT])
    }

    /// Reads image chunk number `chunk` and appends its rows to `pixels`.
    fn read_chunk(&mut self, chunk: usize, pixels: &mut Vec<u8>) -> Result<(), ReaderError> {
        let step = format!("{} image chunk {} of {CHUNK_COUNT}", self.info.model, chunk + 1);
        let mut buf = [0u8; CHUNK_LEN];
        let read = self
            .transport
            .bulk_in(EP_DATA, &mut buf, Self::timeout())
            .map_err(|e| transfer_failed(&step, e))?;
        if read != CHUNK_LEN {
            return Err(ReaderError::Device(format!(
                "{step}: short read, {read} of {CHUNK_LEN} bytes"
            )));
        }
        let u32_at = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
        let last_row = u32_at(CHUNK_LAST_ROW_AT);
        let expected_last_row = (chunk * ROWS_PER_CHUNK + ROWS_PER_CHUNK - 1) as u32;
        if last_row != expected_last_row {
            return Err(ReaderError::Device(format!(
                "{step}: holds rows up to {last_row}, expected {expected_last_row}"
            )));
        }
        let width = u32_at(CHUNK_WIDTH_AT);
        if width != WIDTH_PX {
            return Err(ReaderError::Device(format!(
                "{step}: rows of {width} pixels, expected {WIDTH_PX}"
            )));
        }
        let last = chunk + 1 == CHUNK_COUNT;
        match (buf[CHUNK_MORE_AT], last) {
            (1, false) | (0, true) => {}
            (0, false) => {
                return Err(ReaderError::Device(format!(
                    "{step}: the device ended the image after {} of {HEIGHT_PX} rows",
                    expected_last_row + 1
                )))
            }
            (more, _) => {
                return Err(ReaderError::Device(format!(
                    "{step}: 'more follow' flag {more:#04x} where {} was due",
                    u8::from(!last)
                )))
            }
        }
        let rows = &buf[CHUNK_HEADER_LEN..CHUNK_HEADER_LEN + ROWS_PER_CHUNK * WIDTH_PX as usize];
        pixels.extend_from_slice(rows);
        Ok(())
    }
}

impl Reader for Nb1010 {
    fn info(&self) -> &ReaderInfo {
        &self.info
    }

    fn finger_present(&mut self) -> Result<bool, ReaderError> {
        Ok(self.presence()? > PRESENCE_THRESHOLD)
    }

    fn capture(&mut self, timeout: Duration, cancel: &CancelHandle) -> Result<FingerImage, ReaderError> {
        let clock = CaptureClock::start(timeout, cancel);
        let mut pixels = Vec::with_capacity(WIDTH_PX as usize * HEIGHT_PX as usize);
        let mut state = State::Wait;
        loop {
            state = match state {
                State::Wait => {
                    clock.pause(Duration::from_millis(POLL_INTERVAL_MS))?;
                    State::CheckFinger
                }
                State::CheckFinger => {
                    let level = self.presence()?;
                    tracing::trace!(reader = %self.info.id, level, "finger check");
                    if level > PRESENCE_THRESHOLD {
                        State::SetUpScan
                    } else {
                        State::Wait
                    }
                }
                State::SetUpScan => {
                    self.exchange(&SCAN_SETUP)?;
                    State::StartScan
                }
                State::StartScan => {
                    self.exchange(&scan_start())?;
                    State::ReadRows { chunk: 0 }
                }
                State::ReadRows { chunk } if chunk == CHUNK_COUNT => break,
                State::ReadRows { chunk } => {
                    if cancel.is_cancelled() {
                        return Err(ReaderError::Cancelled);
                    }
                    self.read_chunk(chunk, &mut pixels)?;
                    State::ReadRows { chunk: chunk + 1 }
                }
            };
        }
        tracing::debug!(reader = %self.info.id, "captured");
        Ok(FingerImage {
            width: WIDTH_PX,
            height: HEIGHT_PX,
            dpi: DPI,
            pixels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_as_documented() {
        let start = scan_start();
        assert_eq!(&start[..9], &[0x80, 0x12, 0x04, 0x00, 0x20, 0x00, 0x00, 0x00, 0x02]);
        assert_eq!(start.iter().filter(|b| **b != 0).count(), 6);
        assert_eq!(start[28], 0x20);
        assert_eq!(u32::from_le_bytes([SCAN_SETUP[4], 0, 0, 0]) as usize, SCAN_SETUP.len());
        assert_eq!(
            u32::from_le_bytes([FINGER_CHECK[4], 0, 0, 0]) as usize,
            FINGER_CHECK.len()
        );
        assert_eq!(CHUNK_COUNT, 90);
        assert_eq!(CHUNK_HEADER_LEN + ROWS_PER_CHUNK * WIDTH_PX as usize + 3, CHUNK_LEN);
    }
}
