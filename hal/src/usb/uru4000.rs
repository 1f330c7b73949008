//! DigitalPersona U.are.U 4000B and 4500 (05ba:000a): an optical press reader driven by vendor
//! control requests, which reports fingers through an interrupt endpoint and scrambles its image.
//!
//! Protocol (interface 0; interrupt IN 0x81, 64 bytes; bulk IN 0x82 for the image): registers are
//! read and written with vendor control requests (`bRequest` 4, `wValue` the first register).
//! Throughout a session one interrupt transfer is always in flight, submitted again the moment it
//! completes; its first two bytes (big-endian) say what happened (`56aa` the scanner is powered,
//! `0101` a finger arrived, `0200` it left). So a register access and the image transfer are in
//! flight beside it: this driver needs the transport's submit/reap, and a [`Session`] routes each
//! completion to whoever waits for it.
//!
//! A capture, as a state machine (the same order as the recorded session):
//!
//! 1. `ReadStatus`: read `HWSTAT`. If bits 7 and 2 are both set the device is confused:
//!    `RebootPower` writes its low nibble and polls until bit 0 is set.
//! 2. `PowerDown` (if bit 7, low power, is clear: set it), `PowerUp` (write the low nibble, read
//!    back until bit 7 is clear; up to 100 tries 10 ms apart), then `AwaitScanPower`: the `56aa`
//!    interrupt, within 1 s, or the whole power cycle again (3 attempts).
//! 3. `ReadDeviceInfo`: 16 bytes at `0xf0` (hardware and firmware versions).
//! 4. `AwaitFinger`: mode "await finger on"; wait for `0101` within the caller's timeout.
//! 5. `Capture`: submit the image transfer (64-byte header + 290 rows of 384 bytes), set mode
//!    "capture", wait for the image. A header that announces too many rows, or fewer bytes than
//!    it announces, gets the transfer submitted again (3 attempts).
//! 6. `ExchangeKey`: write the header's key number and a 32-bit seed to `0x33`, read 4 bytes at
//!    `0x34`; the scrambling key is those bytes (little-endian) XOR the seed.
//! 7. `Decode`: the header lists up to 15 blocks of rows, each with flags: scrambled blocks are
//!    unscrambled with the key stream (see [`unscramble`]), plain blocks advance the key stream by
//!    their length, a block flagged "change key" needs a new key exchange (key number + 1) first,
//!    and a block flagged "not present" repeats rows without consuming them.
//! 8. `Finish`: the blocks' rows in order, turned half a turn and inverted (the sensor sees
//!    ridges bright), which is the image the reference driver delivers; then modes "await finger
//!    off" and "off", and the interrupt transfer is cancelled.
//!
//! The scrambling key stream is a 32-bit linear feedback shift register: each step shifts the key
//! right by one and feeds in, at bit 31, the parity of the key's bits 0, 2, 3, 6, 10, 12, 19, 22,
//! 25, 28 and 31 ([`LFSR_TAPS`]). Byte `i` of a scrambled block is unmasked with 8 bits picked from
//! the key (bits 4, 8, 11, 14, 18, 21, 24, 29, [`MASK_BITS`]) and the block moves one byte
//! forward: the device sends each byte one place late, and the block's last byte is 0.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::clock::CaptureClock;
use super::{transfer_failed, UsbModel};
use crate::error::ReaderError;
use crate::image::FingerImage;
use crate::reader::{CancelHandle, Reader, ReaderInfo, SensorKind};
use crate::transport::{Completion, ControlSetup, TransferId, TransferRequest, Transport};

/// The interface the driver claims.
pub const INTERFACE: u8 = 0;
/// Interrupt IN endpoint: finger and power events.
const EP_INTERRUPT: u8 = 0x81;
/// Bulk IN endpoint: the image.
const EP_IMAGE: u8 = 0x82;
/// `bRequest` of every register access.
const REGISTER_REQUEST: u8 = 0x04;
/// `bmRequestType` of a register read: device to host, vendor, device.
const REQUEST_TYPE_READ: u8 = 0xc0;
/// `bmRequestType` of a register write: host to device, vendor, device.
const REQUEST_TYPE_WRITE: u8 = 0x40;
/// Timeout of a register access, milliseconds.
const CONTROL_TIMEOUT_MS: u64 = 5000;
/// Length of an interrupt transfer, bytes.
const INTERRUPT_LEN: usize = 64;
/// Longest wait for the image once the finger is on, milliseconds.
const IMAGE_WAIT_MS: u64 = 5000;
/// How long a cancelled transfer may take to come back, milliseconds.
const CANCEL_GRACE_MS: u64 = 1000;
/// How often waits look at the caller's cancel handle and deadline, milliseconds.
const WAIT_SLICE_MS: u64 = 50;
/// Power-up (and power-reboot) tries, and the pause between two, milliseconds.
const POWER_TRIES: u32 = 100;
const POWER_PAUSE_MS: u64 = 10;
/// How long to wait for the "scanner powered" interrupt after power-up, milliseconds.
const SCAN_POWER_WAIT_MS: u64 = 1000;
/// Power cycles tried before giving up.
const POWER_ATTEMPTS: u32 = 3;
/// Image transfers tried before giving up on a capture whose header does not add up.
const CAPTURE_ATTEMPTS: u32 = 3;
/// Image width, pixels.
pub const WIDTH_PX: u32 = 384;
/// Image height, pixels.
pub const HEIGHT_PX: u32 = 290;
/// Resolution, dots per inch.
pub const DPI: u32 = 512;
/// Header before the image rows, bytes.
const IMAGE_HEADER_LEN: usize = 64;
/// Length of the image transfer, bytes.
const IMAGE_TRANSFER_LEN: usize = IMAGE_HEADER_LEN + WIDTH_PX as usize * HEIGHT_PX as usize;
/// Where the header holds the number of rows sent (u16 little-endian).
const HEADER_ROWS_AT: usize = 4;
/// Where the header holds the key number.
const HEADER_KEY_NUMBER_AT: usize = 6;
/// Where the header's block list starts: (flags, rows) byte pairs.
const HEADER_BLOCKS_AT: usize = 16;
/// Entries of the block list.
const HEADER_BLOCK_COUNT: usize = 15;

/// Registers.
const REG_HWSTAT: u16 = 0x07;
const REG_SCRAMBLE_INDEX: u16 = 0x33;
const REG_SCRAMBLE_KEY: u16 = 0x34;
const REG_MODE: u16 = 0x4e;
const REG_DEVICE_INFO: u16 = 0xf0;
/// Length of the device information, bytes.
const DEVICE_INFO_LEN: usize = 16;

/// `HWSTAT` bits: low power, something went wrong, ready.
const HWSTAT_LOW_POWER: u8 = 0x80;
const HWSTAT_FAULT: u8 = 0x04;
const HWSTAT_READY: u8 = 0x01;
/// The bits of `HWSTAT` written back when powering up.
const HWSTAT_WRITABLE: u8 = 0x0f;

/// Modes (register `0x4e`).
const MODE_AWAIT_FINGER_ON: u8 = 0x10;
const MODE_AWAIT_FINGER_OFF: u8 = 0x12;
const MODE_CAPTURE: u8 = 0x20;
const MODE_OFF: u8 = 0x70;

/// Interrupt types.
const IRQ_SCAN_POWER_ON: u16 = 0x56aa;
const IRQ_FINGER_ON: u16 = 0x0101;
const IRQ_DEATH: u16 = 0x0800;

/// Block flags in the image header.
const BLOCK_CHANGE_KEY: u8 = 0x80;
const BLOCK_NO_KEY_UPDATE: u8 = 0x04;
const BLOCK_SCRAMBLED: u8 = 0x02;
const BLOCK_NOT_PRESENT: u8 = 0x01;

/// The key bits that feed the shift register (bit 0 is the least significant).
pub const LFSR_TAPS: u32 = (1 << 0)
    | (1 << 2)
    | (1 << 3)
    | (1 << 6)
    | (1 << 10)
    | (1 << 12)
    | (1 << 19)
    | (1 << 22)
    | (1 << 25)
    | (1 << 28)
    | (1 << 31);
/// The key bits that make a byte's mask, for mask bits 0 to 7.
pub const MASK_BITS: [u32; 8] = [4, 8, 11, 14, 18, 21, 24, 29];
/// The seed of the key exchange. The device answers with the key XOR this seed over the same bus
/// that carries the seed, so the seed hides nothing and any value serves; this is the one of the
/// reference recording, so that a replay of it matches byte for byte.
pub const SCRAMBLE_SEED: u32 = 0x51ea_2124;

/// The table row of the U.are.U 4000B / 4500.
pub const MODEL: UsbModel = UsbModel {
    vendor_id: 0x05ba,
    product_id: 0x000a,
    vendor: "DigitalPersona",
    model: "U.are.U 4000B/4500",
    dpi: DPI,
    width_px: WIDTH_PX,
    height_px: HEIGHT_PX,
    kind: SensorKind::Press,
    interface: INTERFACE,
    driver: open,
};

/// The driver entry of [`MODEL`]: a reader on `transport`.
pub fn open(transport: Box<dyn Transport>, info: ReaderInfo) -> Result<Box<dyn Reader>, ReaderError> {
    Ok(Box::new(Uru4000 { transport, info }))
}

/// One step of the key stream.
pub fn next_key(key: u32) -> u32 {
    let feedback = (key & LFSR_TAPS).count_ones() & 1;
    (feedback << 31) | (key >> 1)
}

/// The mask that the key stream at `key` puts on one byte.
fn mask(key: u32) -> u8 {
    MASK_BITS
        .iter()
        .enumerate()
        .fold(0u8, |byte, (bit, &from)| byte | ((((key >> from) & 1) as u8) << bit))
}

/// Unscrambles `block` in place with the key stream starting at `key`; returns the key that
/// follows the block. Each byte takes the next byte of the block, unmasked; the last becomes 0.
pub fn unscramble(block: &mut [u8], mut key: u32) -> u32 {
    for i in 0..block.len().saturating_sub(1) {
        let m = mask(key);
        key = next_key(key);
        block[i] = block[i + 1] ^ m;
    }
    if let Some(last) = block.last_mut() {
        *last = 0;
    }
    next_key(key)
}

/// A U.are.U 4000B or 4500.
pub struct Uru4000 {
    transport: Box<dyn Transport>,
    info: ReaderInfo,
}

impl std::fmt::Debug for Uru4000 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uru4000").field("info", &self.info).finish()
    }
}

/// The transfers of one session: the interrupt transfer kept in flight, the interrupts it
/// brought, and the image transfer.
struct Session<'t> {
    transport: &'t mut dyn Transport,
    interrupt: Option<TransferId>,
    interrupts: VecDeque<u16>,
    image: Option<TransferId>,
    image_done: Option<Completion>,
}

impl<'t> Session<'t> {
    fn new(transport: &'t mut dyn Transport) -> Self {
        Session {
            transport,
            interrupt: None,
            interrupts: VecDeque::new(),
            image: None,
            image_done: None,
        }
    }

    fn start_interrupts(&mut self) -> Result<(), ReaderError> {
        let request = TransferRequest::interrupt_in(EP_INTERRUPT, INTERRUPT_LEN).with_timeout(None);
        let id = self
            .transport
            .submit(request)
            .map_err(|e| transfer_failed("U.are.U interrupt transfer", e))?;
        self.interrupt = Some(id);
        Ok(())
    }

    /// Files a completion: an interrupt is recorded and its transfer submitted again at once; the
    /// image is kept for [`Session::await_image`]. Anything else is handed back.
    fn route(&mut self, done: Completion) -> Result<Option<Completion>, ReaderError> {
        if Some(done.id) == self.interrupt {
            self.interrupt = None;
            let data = done
                .into_result()
                .map_err(|e| transfer_failed("U.are.U interrupt transfer", e))?;
            if data.len() != INTERRUPT_LEN {
                return Err(ReaderError::Device(format!(
                    "U.are.U interrupt transfer: short read, {} of {INTERRUPT_LEN} bytes",
                    data.len()
                )));
            }
            let kind = u16::from_be_bytes([data[0], data[1]]);
            tracing::debug!(interrupt = format_args!("{kind:04x}"), "U.are.U interrupt");
            if kind == IRQ_DEATH {
                tracing::warn!("the U.are.U announced trouble (interrupt 0800): the next image may fail");
            }
            self.interrupts.push_back(kind);
            self.start_interrupts()?;
            return Ok(None);
        }
        if Some(done.id) == self.image {
            self.image = None;
            self.image_done = Some(done);
            return Ok(None);
        }
        Ok(Some(done))
    }

    /// Reaps for at most `wait` and files what completed.
    fn pump(&mut self, wait: Duration) -> Result<Option<Completion>, ReaderError> {
        match self.transport.reap(Some(wait)) {
            Ok(Some(done)) => self.route(done),
            Ok(None) => Ok(None),
            Err(e) => Err(transfer_failed("U.are.U", e)),
        }
    }

    /// Submits `request` and waits until it completes (its own timeout bounds the wait), filing
    /// the other completions that arrive meanwhile.
    fn transfer(&mut self, request: TransferRequest, step: &str) -> Result<Vec<u8>, ReaderError> {
        let length = request.length;
        let is_in = request.is_in();
        let id = self
            .transport
            .submit(request.with_timeout(Some(Duration::from_millis(CONTROL_TIMEOUT_MS))))
            .map_err(|e| transfer_failed(step, e))?;
        loop {
            let Some(done) = self.pump(Duration::from_millis(WAIT_SLICE_MS))? else {
                continue;
            };
            if done.id != id {
                tracing::debug!(id = ?done.id, "ignoring the completion of an earlier transfer");
                continue;
            }
            let moved = done.actual_length;
            let data = done.into_result().map_err(|e| transfer_failed(step, e))?;
            if moved != length {
                return Err(ReaderError::Device(format!(
                    "{step}: {} {moved} of {length} bytes",
                    if is_in { "short read," } else { "the device took" }
                )));
            }
            return Ok(data);
        }
    }

    fn read_registers(&mut self, first: u16, count: usize) -> Result<Vec<u8>, ReaderError> {
        let setup = ControlSetup {
            request_type: REQUEST_TYPE_READ,
            request: REGISTER_REQUEST,
            value: first,
            index: 0,
        };
        self.transfer(
            TransferRequest::control_in(setup, count),
            &format!("U.are.U reading register {first:#04x}"),
        )
    }

    fn write_registers(&mut self, first: u16, values: &[u8]) -> Result<(), ReaderError> {
        let setup = ControlSetup {
            request_type: REQUEST_TYPE_WRITE,
            request: REGISTER_REQUEST,
            value: first,
            index: 0,
        };
        self.transfer(
            TransferRequest::control_out(setup, values),
            &format!("U.are.U writing register {first:#04x}"),
        )
        .map(|_| ())
    }

    fn read_hwstat(&mut self) -> Result<u8, ReaderError> {
        Ok(self.read_registers(REG_HWSTAT, 1)?[0])
    }

    /// Waits until an interrupt of type `wanted` has arrived (ignoring others), for at most
    /// `limit`, and within the caller's limits when `clock` is given. `Ok(false)` when `limit`
    /// passed.
    fn await_interrupt(
        &mut self,
        wanted: u16,
        limit: Option<Duration>,
        clock: Option<&CaptureClock>,
    ) -> Result<bool, ReaderError> {
        let until = limit.and_then(|l| Instant::now().checked_add(l));
        loop {
            while let Some(kind) = self.interrupts.pop_front() {
                if kind == wanted {
                    return Ok(true);
                }
                tracing::debug!(interrupt = format_args!("{kind:04x}"), "ignoring interrupt");
            }
            if let Some(clock) = clock {
                clock.check()?;
            }
            let mut slice = Duration::from_millis(WAIT_SLICE_MS);
            if let Some(clock) = clock {
                slice = clock.slice(slice);
            }
            if let Some(until) = until {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                slice = slice.min(left);
            }
            if let Some(other) = self.pump(slice)? {
                tracing::debug!(id = ?other.id, "ignoring the completion of an earlier transfer");
            }
        }
    }

    /// Submits the image transfer.
    fn start_image(&mut self) -> Result<(), ReaderError> {
        let request = TransferRequest::bulk_in(EP_IMAGE, IMAGE_TRANSFER_LEN).with_timeout(None);
        let id = self
            .transport
            .submit(request)
            .map_err(|e| transfer_failed("U.are.U image transfer", e))?;
        self.image = Some(id);
        self.image_done = None;
        Ok(())
    }

    /// Waits for the image transfer (at most [`IMAGE_WAIT_MS`], or until cancelled).
    fn await_image(&mut self, cancel: &CancelHandle) -> Result<Vec<u8>, ReaderError> {
        let step = "U.are.U image transfer";
        let until = Instant::now() + Duration::from_millis(IMAGE_WAIT_MS);
        loop {
            if let Some(done) = self.image_done.take() {
                return done.into_result().map_err(|e| transfer_failed(step, e));
            }
            if cancel.is_cancelled() {
                return Err(ReaderError::Cancelled);
            }
            if Instant::now() >= until {
                return Err(ReaderError::Device(format!(
                    "{step}: no image {IMAGE_WAIT_MS} ms after the finger arrived"
                )));
            }
            if let Some(other) = self.pump(Duration::from_millis(WAIT_SLICE_MS))? {
                tracing::debug!(id = ?other.id, "ignoring the completion of an earlier transfer");
            }
        }
    }

    /// Cancels what is in flight and waits (briefly) until it has come back.
    fn stop(&mut self) {
        let mut outstanding = Vec::new();
        for id in [self.image.take(), self.interrupt.take()].into_iter().flatten() {
            if let Err(e) = self.transport.cancel(id) {
                tracing::debug!(error = %e, "cancelling a transfer");
            }
            outstanding.push(id);
        }
        let give_up = Instant::now() + Duration::from_millis(CANCEL_GRACE_MS);
        while !outstanding.is_empty() && Instant::now() < give_up {
            match self.transport.reap(Some(Duration::from_millis(WAIT_SLICE_MS))) {
                Ok(Some(done)) => outstanding.retain(|id| *id != done.id),
                Ok(None) => {}
                Err(_) => return,
            }
        }
        if !outstanding.is_empty() {
            tracing::warn!(
                count = outstanding.len(),
                "cancelled U.are.U transfers did not come back"
            );
        }
    }
}

/// The steps of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    ReadStatus { attempt: u32 },
    RebootPower { status: u8, attempt: u32 },
    PowerDown { status: u8, attempt: u32 },
    PowerUp { status: u8, attempt: u32 },
    AwaitScanPower { attempt: u32 },
    ReadDeviceInfo,
    AwaitFinger,
    Capture { attempt: u32 },
    Unscramble { image: Scrambled },
    Finish { pixels: Vec<u8> },
}

/// A scrambled image as it came from the device (header and rows), with the header's row count
/// and key number.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scrambled {
    data: Vec<u8>,
    rows: usize,
    key_number: u8,
}

impl Scrambled {
    fn block(&self, index: usize) -> (u8, usize) {
        let at = HEADER_BLOCKS_AT + 2 * index;
        (self.data[at], usize::from(self.data[at + 1]))
    }

    fn clear_flag(&mut self, index: usize, flag: u8) {
        self.data[HEADER_BLOCKS_AT + 2 * index] &= !flag;
    }

    /// The bytes of rows `first..first + count`, if the device sent them.
    fn rows_mut(&mut self, first: usize, count: usize) -> Option<&mut [u8]> {
        let width = WIDTH_PX as usize;
        let start = IMAGE_HEADER_LEN + first * width;
        self.data.get_mut(start..start + count * width)
    }
}

impl Uru4000 {
    /// Checks the image header; `None` when the image must be taken again.
    fn check_header(data: Vec<u8>) -> Option<Scrambled> {
        if data.len() < IMAGE_HEADER_LEN {
            tracing::warn!(bytes = data.len(), "U.are.U image without a header; capturing again");
            return None;
        }
        let rows = usize::from(u16::from_le_bytes([data[HEADER_ROWS_AT], data[HEADER_ROWS_AT + 1]]));
        if rows >= HEIGHT_PX as usize || data.len() < IMAGE_HEADER_LEN + rows * WIDTH_PX as usize {
            tracing::warn!(
                rows,
                bytes = data.len(),
                "U.are.U image header does not add up; capturing again"
            );
            return None;
        }
        Some(Scrambled {
            key_number: data[HEADER_KEY_NUMBER_AT],
            data,
            rows,
        })
    }

    /// Asks the device for the key of `key_number`.
    fn exchange_key(session: &mut Session, key_number: u8) -> Result<u32, ReaderError> {
        let mut index = [0u8; 5];
        index[0] = key_number;
        index[1..].copy_from_slice(&SCRAMBLE_SEED.to_le_bytes());
        session.write_registers(REG_SCRAMBLE_INDEX, &index)?;
        let answer = session.read_registers(REG_SCRAMBLE_KEY, 4)?;
        let answer = u32::from_le_bytes([answer[0], answer[1], answer[2], answer[3]]);
        Ok(answer ^ SCRAMBLE_SEED)
    }

    /// Unscrambles the image's blocks and lays out its rows: the finished 384x290 image.
    fn unscramble_image(session: &mut Session, mut image: Scrambled) -> Result<Vec<u8>, ReaderError> {
        let width = WIDTH_PX as usize;
        let mut key = Self::exchange_key(session, image.key_number)?;
        let mut block = 0;
        let mut rows_done = 0;
        while block < HEADER_BLOCK_COUNT && rows_done < image.rows {
            let (flags, count) = image.block(block);
            if count == 0 {
                break;
            }
            if flags & BLOCK_CHANGE_KEY != 0 {
                image.clear_flag(block, BLOCK_CHANGE_KEY);
                image.key_number = image.key_number.wrapping_add(1);
                key = Self::exchange_key(session, image.key_number)?;
                continue;
            }
            match flags & (BLOCK_NO_KEY_UPDATE | BLOCK_SCRAMBLED) {
                BLOCK_SCRAMBLED => {
                    let bytes = image.rows_mut(rows_done, count).ok_or_else(|| {
                        ReaderError::Device(format!(
                            "U.are.U image: block {block} needs rows {rows_done}..{} the device did not send",
                            rows_done + count
                        ))
                    })?;
                    key = unscramble(bytes, key);
                }
                0 => {
                    for _ in 0..count * width {
                        key = next_key(key);
                    }
                }
                _ => {}
            }
            if flags & BLOCK_NOT_PRESENT == 0 {
                rows_done += count;
            }
            block += 1;
        }

        // Lay the blocks' rows out; a block "not present" repeats rows without consuming them.
        let mut pixels = vec![0u8; width * HEIGHT_PX as usize];
        let mut to = 0;
        let mut from = 0;
        for block in 0..HEADER_BLOCK_COUNT {
            if from >= image.rows {
                break;
            }
            let (flags, count) = image.block(block);
            if count == 0 {
                break;
            }
            let source = image.rows_mut(from, count).map(|rows| rows.to_vec());
            let target = pixels.get_mut(to * width..(to + count) * width);
            match (source, target) {
                (Some(source), Some(target)) => target.copy_from_slice(&source),
                _ => {
                    return Err(ReaderError::Device(format!(
                        "U.are.U image: block {block} of {count} rows does not fit (rows {from} and {to})"
                    )))
                }
            }
            if flags & BLOCK_NOT_PRESENT == 0 {
                from += count;
            }
            to += count;
        }
        // Upright, as the reference driver delivers it: a half turn (for a row-major image, its
        // pixels in reverse order), and inverted.
        pixels.reverse();
        for p in &mut pixels {
            *p = 255 - *p;
        }
        Ok(pixels)
    }

    fn run(session: &mut Session, clock: &CaptureClock, cancel: &CancelHandle) -> Result<Vec<u8>, ReaderError> {
        session.start_interrupts()?;
        let mut state = State::ReadStatus { attempt: 1 };
        loop {
            state = match state {
                State::ReadStatus { attempt } => {
                    let status = session.read_hwstat()?;
                    if status & (HWSTAT_LOW_POWER | HWSTAT_FAULT) == HWSTAT_LOW_POWER | HWSTAT_FAULT {
                        State::RebootPower { status, attempt }
                    } else {
                        State::PowerDown { status, attempt }
                    }
                }
                State::RebootPower { status, attempt } => {
                    session.write_registers(REG_HWSTAT, &[status & HWSTAT_WRITABLE])?;
                    let mut status = session.read_hwstat()?;
                    let mut tries = 1;
                    while status & HWSTAT_READY == 0 {
                        if tries == POWER_TRIES {
                            return Err(ReaderError::Device(
                                "U.are.U: could not reboot the device's power".into(),
                            ));
                        }
                        clock.pause(Duration::from_millis(POWER_PAUSE_MS))?;
                        status = session.read_hwstat()?;
                        tries += 1;
                    }
                    State::PowerDown { status, attempt }
                }
                State::PowerDown { status, attempt } => {
                    if status & HWSTAT_LOW_POWER == 0 {
                        session.write_registers(REG_HWSTAT, &[status | HWSTAT_LOW_POWER])?;
                    }
                    session.interrupts.clear();
                    State::PowerUp { status, attempt }
                }
                State::PowerUp { status, attempt } => {
                    let mut tries = 0;
                    loop {
                        session.write_registers(REG_HWSTAT, &[status & HWSTAT_WRITABLE])?;
                        tries += 1;
                        if session.read_hwstat()? & HWSTAT_LOW_POWER == 0 {
                            break;
                        }
                        if tries == POWER_TRIES {
                            return Err(ReaderError::Device("U.are.U: could not power the device up".into()));
                        }
                        clock.pause(Duration::from_millis(POWER_PAUSE_MS))?;
                    }
                    State::AwaitScanPower { attempt }
                }
                State::AwaitScanPower { attempt } => {
                    let limit = Duration::from_millis(SCAN_POWER_WAIT_MS);
                    if session.await_interrupt(IRQ_SCAN_POWER_ON, Some(limit), Some(clock))? {
                        State::ReadDeviceInfo
                    } else if attempt < POWER_ATTEMPTS {
                        tracing::warn!(attempt, "the U.are.U scanner did not power up; trying again");
                        State::ReadStatus { attempt: attempt + 1 }
                    } else {
                        return Err(ReaderError::Device(format!(
                            "U.are.U: the scanner did not power up after {POWER_ATTEMPTS} attempts"
                        )));
                    }
                }
                State::ReadDeviceInfo => {
                    let info = session.read_registers(REG_DEVICE_INFO, DEVICE_INFO_LEN)?;
                    tracing::debug!(
                        versions = format_args!("{:02x}{:02x} {:02x}{:02x}", info[10], info[11], info[4], info[5]),
                        "U.are.U powered up"
                    );
                    State::AwaitFinger
                }
                State::AwaitFinger => {
                    session.interrupts.clear();
                    session.write_registers(REG_MODE, &[MODE_AWAIT_FINGER_ON])?;
                    session.await_interrupt(IRQ_FINGER_ON, None, Some(clock))?;
                    State::Capture { attempt: 1 }
                }
                State::Capture { attempt } => {
                    session.start_image()?;
                    if attempt == 1 {
                        session.write_registers(REG_MODE, &[MODE_CAPTURE])?;
                    }
                    let data = session.await_image(cancel)?;
                    match Self::check_header(data) {
                        Some(image) => State::Unscramble { image },
                        None if attempt < CAPTURE_ATTEMPTS => State::Capture { attempt: attempt + 1 },
                        None => {
                            return Err(ReaderError::Device(format!(
                                "U.are.U: no whole image in {CAPTURE_ATTEMPTS} transfers"
                            )))
                        }
                    }
                }
                State::Unscramble { image } => State::Finish {
                    pixels: Self::unscramble_image(session, image)?,
                },
                State::Finish { pixels } => {
                    session.write_registers(REG_MODE, &[MODE_AWAIT_FINGER_OFF])?;
                    return Ok(pixels);
                }
            };
        }
    }
}

impl Reader for Uru4000 {
    fn info(&self) -> &ReaderInfo {
        &self.info
    }

    /// The U.are.U tells of a finger only as an interrupt during a capture.
    fn finger_present(&mut self) -> Result<bool, ReaderError> {
        Err(ReaderError::Device(
            "the U.are.U reports a finger only while capturing".into(),
        ))
    }

    fn capture(&mut self, timeout: Duration, cancel: &CancelHandle) -> Result<FingerImage, ReaderError> {
        let clock = CaptureClock::start(timeout, cancel);
        let mut session = Session::new(self.transport.as_mut());
        let result = Self::run(&mut session, &clock, cancel);
        if result != Err(ReaderError::Disconnected) {
            // Switch the sensor off whatever happened (while the interrupt transfer still
            // listens, as the device expects), then stop listening.
            if let Err(e) = session.write_registers(REG_MODE, &[MODE_OFF]) {
                tracing::debug!(error = %e, "switching the U.are.U off");
            }
        }
        session.stop();
        let pixels = result?;
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
    use std::sync::{Arc, Mutex};

    /// A U.are.U that powers up (its interrupt says `56aa` once power-up is written) but on which
    /// no finger ever lands. It logs register writes and cancellations.
    #[derive(Default)]
    struct NoFinger {
        log: Arc<Mutex<Vec<String>>>,
        next: u64,
        done: VecDeque<Completion>,
        interrupt: Option<TransferId>,
    }

    impl NoFinger {
        fn complete(&mut self, id: TransferId, data: Vec<u8>, actual_length: usize) {
            self.done.push_back(Completion {
                id,
                result: Ok(()),
                data,
                actual_length,
            });
        }
    }

    impl Transport for NoFinger {
        fn submit(&mut self, request: TransferRequest) -> Result<TransferId, crate::transport::TransportError> {
            self.next += 1;
            let id = TransferId(self.next);
            match request.setup {
                None => self.interrupt = Some(id),
                Some(setup) if request.is_in() => {
                    let data = if setup.value == REG_HWSTAT {
                        vec![0x01]
                    } else {
                        vec![0; request.length]
                    };
                    self.complete(id, data, request.length);
                }
                Some(setup) => {
                    self.log
                        .lock()
                        .unwrap()
                        .push(format!("write {:#04x} {:02x?}", setup.value, request.data));
                    self.complete(id, Vec::new(), request.length);
                    let powering_up = setup.value == REG_HWSTAT && request.data[0] & HWSTAT_LOW_POWER == 0;
                    if let Some(irq) = self.interrupt.filter(|_| powering_up) {
                        self.interrupt = None;
                        let mut data = vec![0u8; INTERRUPT_LEN];
                        data[..2].copy_from_slice(&IRQ_SCAN_POWER_ON.to_be_bytes());
                        self.complete(irq, data, INTERRUPT_LEN);
                    }
                }
            }
            Ok(id)
        }

        fn reap(&mut self, wait: Option<Duration>) -> Result<Option<Completion>, crate::transport::TransportError> {
            if let Some(done) = self.done.pop_front() {
                return Ok(Some(done));
            }
            std::thread::sleep(wait.unwrap_or(Duration::from_millis(10)));
            Ok(None)
        }

        fn cancel(&mut self, id: TransferId) -> Result<(), crate::transport::TransportError> {
            if self.interrupt == Some(id) {
                self.interrupt = None;
                self.log.lock().unwrap().push("cancel interrupt".into());
                self.done.push_back(Completion {
                    id,
                    result: Err(crate::transport::TransportError::Cancelled),
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
        open(
            Box::new(transport),
            super::super::describe(&MODEL, "test".into(), String::new()),
        )
        .unwrap()
    }

    #[test]
    fn without_a_finger_the_capture_times_out_and_switches_the_sensor_off() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut r = reader(&log);
        let timeout = Duration::from_millis(300);
        assert_eq!(
            r.capture(timeout, &CancelHandle::new()),
            Err(ReaderError::TimedOut(timeout))
        );
        assert_eq!(
            *log.lock().unwrap(),
            [
                "write 0x07 [81]",
                "write 0x07 [01]",
                "write 0x4e [10]",
                "write 0x4e [70]",
                "cancel interrupt"
            ]
        );
    }

    #[test]
    fn a_cancelled_wait_for_a_finger_ends_promptly() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut r = reader(&log);
        let cancel = CancelHandle::new();
        let remote = cancel.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            remote.cancel();
        });
        let started = Instant::now();
        assert_eq!(r.capture(Duration::MAX, &cancel), Err(ReaderError::Cancelled));
        assert!(started.elapsed() < Duration::from_secs(2));
        canceller.join().unwrap();
        assert_eq!(log.lock().unwrap().last().map(String::as_str), Some("cancel interrupt"));
    }

    #[test]
    fn the_key_stream_is_a_shift_register() {
        // Feedback is the parity of the tapped bits, entering at the top.
        assert_eq!(next_key(0), 0);
        assert_eq!(next_key(1), 0x8000_0000);
        assert_eq!(next_key(0b10), 0b1);
        assert_eq!(next_key(0b101), 0b10);
        assert_eq!(LFSR_TAPS, 0x9248_144d);
        // A non-zero key never reaches zero.
        let mut key = 0x1234_5678;
        for _ in 0..10_000 {
            key = next_key(key);
            assert_ne!(key, 0);
        }
    }

    #[test]
    fn masks_pick_their_bits() {
        assert_eq!(mask(1 << 4), 0x01);
        assert_eq!(mask(1 << 29), 0x80);
        assert_eq!(mask(!0), 0xff);
        assert_eq!(
            mask(!((1 << 4) | (1 << 8) | (1 << 11) | (1 << 14) | (1 << 18) | (1 << 21) | (1 << 24) | (1 << 29))),
            0
        );
    }

    #[test]
    fn unscrambling_shifts_by_one_and_zeroes_the_end() {
        // With a key whose masks are zero, unscrambling only moves the bytes.
        let mut block = [1, 2, 3, 4];
        let after = unscramble(&mut block, 0);
        assert_eq!(block, [2, 3, 4, 0]);
        assert_eq!(after, 0);
        // Scrambling with the same key stream and unscrambling give the bytes back.
        let plain: Vec<u8> = (0..50).map(|i| (i * 7) as u8).collect();
        let key = 0xdead_beef;
        let mut scrambled = vec![0u8; plain.len() + 1];
        let mut k = key;
        for (i, p) in plain.iter().enumerate() {
            scrambled[i + 1] = p ^ mask(k);
            k = next_key(k);
        }
        let mut work = scrambled[..plain.len()].to_vec();
        unscramble(&mut work, key);
        assert_eq!(&work[..plain.len() - 1], &plain[..plain.len() - 1]);
        assert_eq!(work[plain.len() - 1], 0);
    }
}
