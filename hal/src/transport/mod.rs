//! The transport seam under the USB drivers: the few USB transfers a fingerprint reader needs
//! (bulk, interrupt and control, in and out) as a small trait. Drivers are written against the
//! trait, so the same driver code runs on a real device through libusb ([`RusbTransport`]), on a
//! recorded session ([`crate::replay`]), or under umockdev (which is the libusb path again).
//!
//! The trait is asynchronous at its core: [`Transport::submit`] starts a transfer and returns at
//! once, [`Transport::reap`] hands back the next transfer that completed, [`Transport::cancel`]
//! asks for one to stop. Several transfers can be in flight at a time, which some readers need
//! (the U.are.U 4000 keeps its interrupt endpoint listening while it reads registers and the
//! image). The blocking calls ([`Transport::bulk_in`] and its siblings) are built on those three
//! for drivers that only ever have one transfer in flight.

mod libusb;

use std::time::Duration;

pub use libusb::RusbTransport;

/// Why a transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The device is gone (unplugged or reset).
    #[error("the USB device is gone")]
    NoDevice,
    /// The transfer did not complete in time.
    #[error("the USB transfer timed out")]
    Timeout,
    /// The endpoint stalled: the device refused the request.
    #[error("the USB endpoint stalled")]
    Stall,
    /// The transfer was cancelled before it completed: by the driver through
    /// [`Transport::cancel`], or by the host or kernel behind the driver's back.
    #[error("the USB transfer was cancelled before it completed")]
    Cancelled,
    /// The operating system refused access (permissions, or another driver holds the device).
    #[error("access to the USB device was refused: {0}")]
    Access(String),
    /// The device sent more data than the buffer holds.
    #[error("the USB device sent more data than expected")]
    Overflow,
    /// A replayed recording does not hold what the driver did: the message names what the driver
    /// sent and what the recording expected.
    #[error("the driver left the recording: {0}")]
    Replay(String),
    /// Any other failure, with the USB library's words.
    #[error("USB error: {0}")]
    Other(String),
}

/// The setup fields of a control transfer (USB 2.0, section 9.3). `wLength` is the length of the
/// request ([`TransferRequest::length`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlSetup {
    /// `bmRequestType`: direction, type and recipient. The direction bit must match the request
    /// (`control_in` or `control_out`).
    pub request_type: u8,
    /// `bRequest`.
    pub request: u8,
    /// `wValue`.
    pub value: u16,
    /// `wIndex`.
    pub index: u16,
}

impl ControlSetup {
    /// The 8-byte setup packet as it goes on the wire, for a data stage of `length` bytes.
    pub fn packet(&self, length: u16) -> [u8; 8] {
        let [value_lo, value_hi] = self.value.to_le_bytes();
        let [index_lo, index_hi] = self.index.to_le_bytes();
        let [length_lo, length_hi] = length.to_le_bytes();
        [
            self.request_type,
            self.request,
            value_lo,
            value_hi,
            index_lo,
            index_hi,
            length_lo,
            length_hi,
        ]
    }
}

/// Direction bit of `bmRequestType` and of endpoint addresses: device to host.
pub const DIRECTION_IN: u8 = 0x80;

/// Size of a control transfer's setup packet, bytes.
pub const SETUP_PACKET_LEN: usize = 8;

/// Largest transfer the seam accepts, bytes (no reader moves more than a few hundred KiB).
pub const MAX_TRANSFER_LEN: usize = 16 << 20;

/// The USB transfer types a reader uses (isochronous transfers are not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// Control transfer on endpoint 0, with a setup packet.
    Control,
    /// Bulk transfer.
    Bulk,
    /// Interrupt transfer.
    Interrupt,
}

impl TransferKind {
    /// The type number that usbfs and usbmon use (1 interrupt, 2 control, 3 bulk).
    pub fn usbfs_type(self) -> u8 {
        match self {
            TransferKind::Interrupt => 1,
            TransferKind::Control => 2,
            TransferKind::Bulk => 3,
        }
    }

    /// The kind with usbfs/usbmon type number `number`, if the seam supports it.
    pub fn from_usbfs_type(number: u8) -> Option<Self> {
        match number {
            1 => Some(TransferKind::Interrupt),
            2 => Some(TransferKind::Control),
            3 => Some(TransferKind::Bulk),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TransferKind::Control => "control",
            TransferKind::Bulk => "bulk",
            TransferKind::Interrupt => "interrupt",
        }
    }
}

/// One transfer that a driver asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// Transfer type.
    pub kind: TransferKind,
    /// Endpoint address with its direction bit. Control transfers use endpoint 0 and take their
    /// direction from the setup packet.
    pub endpoint: u8,
    /// The setup fields of a control transfer; `None` for bulk and interrupt.
    pub setup: Option<ControlSetup>,
    /// OUT: the bytes to send. IN: empty.
    pub data: Vec<u8>,
    /// Bytes to move: for IN what the driver asks for, for OUT `data.len()`.
    pub length: usize,
    /// How long the USB stack may take before it gives up; `None` waits for ever (until the
    /// transfer is cancelled).
    pub timeout: Option<Duration>,
}

impl TransferRequest {
    fn new(kind: TransferKind, endpoint: u8, setup: Option<ControlSetup>, data: Vec<u8>, length: usize) -> Self {
        TransferRequest {
            kind,
            endpoint,
            setup,
            data,
            length,
            timeout: None,
        }
    }

    /// Reads `length` bytes from bulk IN endpoint `endpoint`.
    pub fn bulk_in(endpoint: u8, length: usize) -> Self {
        Self::new(TransferKind::Bulk, endpoint, None, Vec::new(), length)
    }

    /// Writes `data` to bulk OUT endpoint `endpoint`.
    pub fn bulk_out(endpoint: u8, data: &[u8]) -> Self {
        Self::new(TransferKind::Bulk, endpoint, None, data.to_vec(), data.len())
    }

    /// Reads `length` bytes from interrupt IN endpoint `endpoint`.
    pub fn interrupt_in(endpoint: u8, length: usize) -> Self {
        Self::new(TransferKind::Interrupt, endpoint, None, Vec::new(), length)
    }

    /// Writes `data` to interrupt OUT endpoint `endpoint`.
    pub fn interrupt_out(endpoint: u8, data: &[u8]) -> Self {
        Self::new(TransferKind::Interrupt, endpoint, None, data.to_vec(), data.len())
    }

    /// A control transfer that reads `length` bytes from the device.
    pub fn control_in(setup: ControlSetup, length: usize) -> Self {
        Self::new(TransferKind::Control, 0, Some(setup), Vec::new(), length)
    }

    /// A control transfer that writes `data` to the device.
    pub fn control_out(setup: ControlSetup, data: &[u8]) -> Self {
        Self::new(TransferKind::Control, 0, Some(setup), data.to_vec(), data.len())
    }

    /// The same request with this timeout (`None`: wait for ever).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// True when data flows from the device to the host.
    pub fn is_in(&self) -> bool {
        match (self.kind, self.setup) {
            (TransferKind::Control, Some(setup)) => setup.request_type & DIRECTION_IN != 0,
            _ => self.endpoint & DIRECTION_IN != 0,
        }
    }

    /// The setup packet of a control transfer (with `wLength`), or `None`.
    pub fn setup_packet(&self) -> Option<[u8; 8]> {
        let length = u16::try_from(self.length).unwrap_or(u16::MAX);
        self.setup.map(|s| s.packet(length))
    }

    /// Checks that the request is one the seam can carry: a direction that matches the call, a
    /// setup packet exactly for control transfers, OUT data of the stated length, sizes in range.
    pub fn check(&self) -> Result<(), TransportError> {
        let bad = |why: String| {
            Err(TransportError::Other(format!(
                "invalid transfer ({}): {why}",
                self.describe()
            )))
        };
        if self.length > MAX_TRANSFER_LEN {
            return bad(format!("longer than {MAX_TRANSFER_LEN} bytes"));
        }
        match (self.kind, self.setup) {
            (TransferKind::Control, None) => return bad("a control transfer needs a setup packet".into()),
            (TransferKind::Control, Some(_)) => {
                if self.endpoint != 0 {
                    return bad("control transfers use endpoint 0".into());
                }
                if self.length > usize::from(u16::MAX) {
                    return bad("a control transfer moves at most 65535 bytes".into());
                }
            }
            (_, Some(_)) => return bad("only control transfers have a setup packet".into()),
            (_, None) => {
                if self.endpoint & 0x0f == 0 {
                    return bad("endpoint 0 carries only control transfers".into());
                }
            }
        }
        if self.is_in() {
            if !self.data.is_empty() {
                return bad("an IN transfer carries no data to send".into());
            }
        } else if self.data.len() != self.length {
            return bad(format!(
                "{} bytes of data for a length of {}",
                self.data.len(),
                self.length
            ));
        }
        Ok(())
    }

    /// A one-line description for messages: `bulk IN 0x83, 540 bytes`,
    /// `control OUT 40 04 4e 00 00 00 01 00, data 10`.
    pub fn describe(&self) -> String {
        let direction = if self.is_in() { "IN" } else { "OUT" };
        let mut text = match self.setup_packet() {
            Some(setup) => format!("{} {direction} setup {}", self.kind.name(), hex_bytes(&setup, 8)),
            None => format!("{} {direction} {:#04x}", self.kind.name(), self.endpoint),
        };
        text.push_str(&format!(", {} bytes", self.length));
        if !self.is_in() && !self.data.is_empty() {
            text.push_str(&format!(": {}", hex_bytes(&self.data, 40)));
        }
        text
    }
}

/// Bytes as spaced hex for messages, at most `limit` of them (then `...` and the count).
pub fn hex_bytes(bytes: &[u8], limit: usize) -> String {
    let mut text = bytes
        .iter()
        .take(limit)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    if bytes.len() > limit {
        text.push_str(&format!(" ... ({} bytes)", bytes.len()));
    }
    text
}

/// Names a submitted transfer until it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(pub u64);

/// A transfer that finished, well or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Which transfer.
    pub id: TransferId,
    /// `Ok` when it completed; else why not.
    pub result: Result<(), TransportError>,
    /// IN: the bytes received (also what arrived before a failure). OUT: empty.
    pub data: Vec<u8>,
    /// Bytes moved: for IN `data.len()`, for OUT the bytes the device took.
    pub actual_length: usize,
}

impl Completion {
    /// The received bytes of a successful transfer, or its error.
    pub fn into_result(self) -> Result<Vec<u8>, TransportError> {
        self.result.map(|()| self.data)
    }
}

/// USB transfers on one opened device (with its interface claimed).
///
/// Implementations: [`RusbTransport`] (libusb, real devices and umockdev),
/// [`crate::replay::IoctlReplay`] and [`crate::replay::PcapReplay`] (recordings).
pub trait Transport: Send {
    /// Starts `request` and returns at once. The transfer is in flight until [`Transport::reap`]
    /// returns its [`Completion`].
    fn submit(&mut self, request: TransferRequest) -> Result<TransferId, TransportError>;

    /// Waits at most `wait` (`None`: for ever) for a transfer in flight to complete and returns it,
    /// or `Ok(None)` when none completed in that time. Completions come back in the order in which
    /// the transfers completed. With nothing in flight it is an error (the wait could never end).
    fn reap(&mut self, wait: Option<Duration>) -> Result<Option<Completion>, TransportError>;

    /// Asks for a transfer in flight to stop. It still completes through [`Transport::reap`]
    /// (usually with [`TransportError::Cancelled`], or normally if it finished first). Cancelling a
    /// transfer that already completed does nothing.
    fn cancel(&mut self, id: TransferId) -> Result<(), TransportError>;

    /// Submits `request` and waits until it completes. Only for use when no other transfer is in
    /// flight: another transfer's completion arriving meanwhile is an error.
    fn transfer(&mut self, request: TransferRequest) -> Result<Completion, TransportError> {
        let id = self.submit(request)?;
        loop {
            // The request's own timeout bounds this wait.
            match self.reap(None)? {
                Some(done) if done.id == id => return Ok(done),
                Some(other) => {
                    return Err(TransportError::Other(format!(
                        "transfer {:?} completed while a blocking call waited for {:?}",
                        other.id, id
                    )))
                }
                None => continue,
            }
        }
    }

    /// Reads one bulk transfer from IN endpoint `endpoint` into `buf`; returns the bytes read.
    fn bulk_in(&mut self, endpoint: u8, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        read_into(self, TransferRequest::bulk_in(endpoint, buf.len()), buf, timeout)
    }

    /// Writes `data` to bulk OUT endpoint `endpoint`; returns the bytes written.
    fn bulk_out(&mut self, endpoint: u8, data: &[u8], timeout: Duration) -> Result<usize, TransportError> {
        write_from(self, TransferRequest::bulk_out(endpoint, data), timeout)
    }

    /// Reads one interrupt transfer from IN endpoint `endpoint`.
    fn interrupt_in(&mut self, endpoint: u8, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        read_into(self, TransferRequest::interrupt_in(endpoint, buf.len()), buf, timeout)
    }

    /// Writes `data` to interrupt OUT endpoint `endpoint`.
    fn interrupt_out(&mut self, endpoint: u8, data: &[u8], timeout: Duration) -> Result<usize, TransportError> {
        write_from(self, TransferRequest::interrupt_out(endpoint, data), timeout)
    }

    /// A control transfer that reads from the device into `buf`.
    fn control_in(&mut self, setup: ControlSetup, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        read_into(self, TransferRequest::control_in(setup, buf.len()), buf, timeout)
    }

    /// A control transfer that writes `data` to the device.
    fn control_out(&mut self, setup: ControlSetup, data: &[u8], timeout: Duration) -> Result<usize, TransportError> {
        write_from(self, TransferRequest::control_out(setup, data), timeout)
    }
}

fn read_into<T: Transport + ?Sized>(
    transport: &mut T,
    request: TransferRequest,
    buf: &mut [u8],
    timeout: Duration,
) -> Result<usize, TransportError> {
    let data = transport.transfer(request.with_timeout(Some(timeout)))?.into_result()?;
    if data.len() > buf.len() {
        return Err(TransportError::Overflow);
    }
    buf[..data.len()].copy_from_slice(&data);
    Ok(data.len())
}

fn write_from<T: Transport + ?Sized>(
    transport: &mut T,
    request: TransferRequest,
    timeout: Duration,
) -> Result<usize, TransportError> {
    let done = transport.transfer(request.with_timeout(Some(timeout)))?;
    done.result.map(|()| done.actual_length)
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn submit(&mut self, request: TransferRequest) -> Result<TransferId, TransportError> {
        (**self).submit(request)
    }

    fn reap(&mut self, wait: Option<Duration>) -> Result<Option<Completion>, TransportError> {
        (**self).reap(wait)
    }

    fn cancel(&mut self, id: TransferId) -> Result<(), TransportError> {
        (**self).cancel(id)
    }
}

/// What a Linux USB completion status (a negative errno, as usbfs and usbmon record it) means for
/// the transfer, following the kernel's documentation of URB status codes.
pub fn status_from_errno(status: i32) -> Result<(), TransportError> {
    match status {
        0 => Ok(()),
        // -ENOENT: unlinked by the host; -ECONNRESET: unlinked asynchronously.
        -2 | -104 => Err(TransportError::Cancelled),
        // -ENODEV: device removed; -ESHUTDOWN: host controller or device gone.
        -19 | -108 => Err(TransportError::NoDevice),
        // -EPIPE: endpoint stalled.
        -32 => Err(TransportError::Stall),
        // -EOVERFLOW: the device sent more than the buffer holds.
        -75 => Err(TransportError::Overflow),
        // -ETIMEDOUT.
        -110 => Err(TransportError::Timeout),
        other => Err(TransportError::Other(format!("transfer failed with status {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_packets_are_little_endian() {
        let setup = ControlSetup {
            request_type: 0xc0,
            request: 0x04,
            value: 0x00f0,
            index: 0x1234,
        };
        assert_eq!(setup.packet(16), [0xc0, 0x04, 0xf0, 0x00, 0x34, 0x12, 0x10, 0x00]);
    }

    #[test]
    fn requests_are_checked() {
        assert!(TransferRequest::bulk_in(0x81, 64).check().is_ok());
        assert!(!TransferRequest::bulk_in(0x01, 64).is_in());
        assert!(TransferRequest::bulk_out(0x02, &[1, 2]).check().is_ok());
        assert!(TransferRequest::bulk_out(0x82, &[1, 2]).is_in());
        let mut out = TransferRequest::bulk_out(0x02, &[1, 2]);
        out.length = 3;
        assert!(out.check().is_err());
        assert!(
            TransferRequest::bulk_in(0x80, 8).check().is_err(),
            "endpoint 0 is control only"
        );
        let read = ControlSetup {
            request_type: 0xc0,
            request: 4,
            value: 7,
            index: 0,
        };
        assert!(TransferRequest::control_in(read, 1).check().is_ok());
        assert!(TransferRequest::control_in(read, 1).is_in());
        assert!(!TransferRequest::control_out(
            ControlSetup {
                request_type: 0x40,
                ..read
            },
            &[1]
        )
        .is_in());
        assert!(TransferRequest::bulk_in(0x81, MAX_TRANSFER_LEN + 1).check().is_err());
    }

    #[test]
    fn descriptions_name_the_transfer() {
        assert_eq!(
            TransferRequest::bulk_in(0x83, 540).describe(),
            "bulk IN 0x83, 540 bytes"
        );
        assert_eq!(
            TransferRequest::bulk_out(0x02, &[0x80, 0x01]).describe(),
            "bulk OUT 0x02, 2 bytes: 80 01"
        );
        let write = ControlSetup {
            request_type: 0x40,
            request: 4,
            value: 0x4e,
            index: 0,
        };
        assert_eq!(
            TransferRequest::control_out(write, &[0x10]).describe(),
            "control OUT setup 40 04 4e 00 00 00 01 00, 1 bytes: 10"
        );
    }

    #[test]
    fn usb_statuses_map_to_errors() {
        assert_eq!(status_from_errno(0), Ok(()));
        assert_eq!(status_from_errno(-2), Err(TransportError::Cancelled));
        assert_eq!(status_from_errno(-108), Err(TransportError::NoDevice));
        assert_eq!(status_from_errno(-32), Err(TransportError::Stall));
        assert!(matches!(status_from_errno(-71), Err(TransportError::Other(_))));
    }

    #[test]
    fn a_vanished_device_is_a_disconnect_for_the_reader() {
        use crate::error::ReaderError;
        assert_eq!(ReaderError::from(TransportError::NoDevice), ReaderError::Disconnected);
        assert!(matches!(
            ReaderError::from(TransportError::Stall),
            ReaderError::Device(_)
        ));
    }
}
