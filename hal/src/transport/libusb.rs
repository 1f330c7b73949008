//! [`Transport`] on a real device (or on umockdev's emulation of one) through libusb.
//!
//! rusb's own calls are blocking: one transfer at a time, and a transfer can only end by
//! completing or timing out. Readers need more: the U.are.U 4000 keeps an interrupt transfer in
//! flight for the whole session while it reads registers and the image, and a capture that waits
//! for a finger must stop when the user cancels. So this transport uses libusb's asynchronous API
//! (through `rusb::ffi`, libusb1-sys) behind a safe surface:
//!
//! - `submit` allocates a `libusb_transfer`, gives it a heap buffer that this transport owns, and
//!   submits it; the transfer and its buffer are recorded as in flight.
//! - libusb calls `transfer_finished` (from whichever thread handles events) which only pushes the
//!   transfer's address onto a queue shared through an `Arc`.
//! - `reap` handles libusb events in short slices on the calling thread until the queue yields a
//!   transfer, then reads its status and data, frees it and returns a [`Completion`].
//! - `cancel` calls `libusb_cancel_transfer`; the transfer still comes back through `reap`.
//! - Dropping the transport cancels what is in flight and waits for it to come back before it
//!   frees anything; memory that libusb might still write is leaked rather than freed.
//!
//! A thread per transfer over rusb's blocking calls was the alternative; it cannot cancel a
//! transfer (only let it time out, which loses data the device was about to send and, under
//! umockdev's pcap replay, the recorded completion) and it cannot resubmit the interrupt transfer
//! at the moment the previous one completes, which the recorded U.are.U session requires.

use std::collections::VecDeque;
use std::ffi::{c_int, c_uint, c_void};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusb::ffi;
use rusb::ffi::constants as libusb;
use rusb::UsbContext;

use super::{Completion, TransferId, TransferKind, TransferRequest, Transport, TransportError, SETUP_PACKET_LEN};

/// Longest stretch that one round of libusb event handling blocks, milliseconds. `reap` looks at
/// its own deadline between rounds.
const EVENT_SLICE_MS: u64 = 100;
/// How long dropping the transport waits for cancelled transfers to come back, milliseconds.
const DRAIN_ON_DROP_MS: u64 = 2000;

impl From<rusb::Error> for TransportError {
    fn from(e: rusb::Error) -> Self {
        match e {
            rusb::Error::NoDevice => TransportError::NoDevice,
            rusb::Error::Timeout => TransportError::Timeout,
            rusb::Error::Pipe => TransportError::Stall,
            rusb::Error::Access | rusb::Error::Busy => TransportError::Access(e.to_string()),
            rusb::Error::Overflow => TransportError::Overflow,
            other => TransportError::Other(other.to_string()),
        }
    }
}

/// The error of a libusb call that returned `code` (< 0).
fn error_from_code(code: c_int) -> TransportError {
    match code {
        libusb::LIBUSB_ERROR_NO_DEVICE => TransportError::NoDevice,
        libusb::LIBUSB_ERROR_TIMEOUT => TransportError::Timeout,
        libusb::LIBUSB_ERROR_PIPE => TransportError::Stall,
        libusb::LIBUSB_ERROR_OVERFLOW => TransportError::Overflow,
        libusb::LIBUSB_ERROR_ACCESS => TransportError::Access("libusb: access denied".into()),
        libusb::LIBUSB_ERROR_BUSY => TransportError::Access("libusb: the device is busy".into()),
        other => TransportError::Other(format!("libusb error {other}")),
    }
}

/// The outcome of a transfer with libusb status `status`.
fn result_from_status(status: c_int) -> Result<(), TransportError> {
    match status {
        libusb::LIBUSB_TRANSFER_COMPLETED => Ok(()),
        libusb::LIBUSB_TRANSFER_TIMED_OUT => Err(TransportError::Timeout),
        libusb::LIBUSB_TRANSFER_CANCELLED => Err(TransportError::Cancelled),
        libusb::LIBUSB_TRANSFER_STALL => Err(TransportError::Stall),
        libusb::LIBUSB_TRANSFER_NO_DEVICE => Err(TransportError::NoDevice),
        libusb::LIBUSB_TRANSFER_OVERFLOW => Err(TransportError::Overflow),
        libusb::LIBUSB_TRANSFER_ERROR => Err(TransportError::Other("the transfer failed".into())),
        other => Err(TransportError::Other(format!("unknown libusb transfer status {other}"))),
    }
}

/// Addresses of transfers whose completion callback has run, oldest first.
#[derive(Default)]
struct FinishedQueue(Mutex<VecDeque<usize>>);

impl FinishedQueue {
    fn push(&self, address: usize) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push_back(address);
    }

    fn pop(&self) -> Option<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop_front()
    }
}

/// libusb's completion callback for every transfer this transport submits.
extern "system" fn transfer_finished(transfer: *mut ffi::libusb_transfer) {
    // SAFETY: libusb passes the transfer that `submit` filled in, whose `user_data` points to the
    // transport's `FinishedQueue`. The transport keeps that queue alive (through its `Arc`) until
    // every transfer it submitted has come back, and leaks it if one never does (see `Drop`), so
    // the pointer is valid here. The queue is only used through `&` and is `Sync`.
    let queue = unsafe { &*((*transfer).user_data as *const FinishedQueue) };
    queue.push(transfer as usize);
}

/// A transfer handed to libusb and not yet reaped.
struct InFlight {
    id: TransferId,
    /// Allocated by `libusb_alloc_transfer`; freed by `reap` once libusb has given it back.
    transfer: *mut ffi::libusb_transfer,
    /// The memory libusb reads from or writes into (a control transfer's starts with its setup
    /// packet). A boxed slice never moves, so the pointer given to libusb stays valid.
    buffer: Box<[u8]>,
    /// Where the data stage starts in `buffer`.
    data_offset: usize,
    is_in: bool,
}

/// [`Transport`] over a device opened with rusb (libusb), several transfers in flight at a time.
pub struct RusbTransport {
    /// `None` only after `Drop` had to leak the handle.
    handle: Option<rusb::DeviceHandle<rusb::GlobalContext>>,
    interface: u8,
    finished: Arc<FinishedQueue>,
    in_flight: Vec<InFlight>,
    next_id: u64,
}

// SAFETY: the raw transfer pointers in `in_flight` belong to this value alone (nothing else holds
// them), and libusb allows submitting, cancelling and freeing transfers and handling events from
// any thread. The completion callback, which may run on another thread, touches only the
// `FinishedQueue`, which is behind a `Mutex`.
unsafe impl Send for RusbTransport {}

impl std::fmt::Debug for RusbTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RusbTransport")
            .field("interface", &self.interface)
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

impl RusbTransport {
    /// Opens `device` and claims `interface`. Only when a kernel driver holds the interface is it
    /// detached (libusb's automatic detaching asks the kernel first in any case, which umockdev's
    /// emulated usbfs does not answer, so it is not used).
    pub fn open(device: &rusb::Device<rusb::GlobalContext>, interface: u8) -> Result<Self, TransportError> {
        let handle = device.open()?;
        match handle.claim_interface(interface) {
            Ok(()) => {}
            Err(rusb::Error::Busy) if handle.kernel_driver_active(interface).unwrap_or(false) => {
                tracing::info!(interface, "detaching the kernel driver from the reader's interface");
                handle.detach_kernel_driver(interface)?;
                handle.claim_interface(interface)?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Self::from_handle(handle, interface))
    }

    /// Wraps a handle whose `interface` the caller has already claimed.
    pub fn from_handle(handle: rusb::DeviceHandle<rusb::GlobalContext>, interface: u8) -> Self {
        RusbTransport {
            handle: Some(handle),
            interface,
            finished: Arc::new(FinishedQueue::default()),
            in_flight: Vec::new(),
            next_id: 1,
        }
    }

    /// Runs libusb's event handling for at most `wait`; completion callbacks run in here.
    fn handle_events(wait: Duration) -> Result<(), TransportError> {
        match rusb::GlobalContext::default().handle_events(Some(wait)) {
            Ok(()) | Err(rusb::Error::Interrupted) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Turns the finished transfer at `address` into a [`Completion`] and frees it.
    fn collect(&mut self, address: usize) -> Result<Completion, TransportError> {
        let position = self
            .in_flight
            .iter()
            .position(|t| t.transfer as usize == address)
            .ok_or_else(|| TransportError::Other("libusb completed a transfer this transport does not know".into()))?;
        let done = self.in_flight.swap_remove(position);
        // SAFETY: the transfer came back through the callback, so libusb no longer uses it; it was
        // allocated by `libusb_alloc_transfer` and is freed exactly once, here.
        let (status, actual_length) = unsafe {
            let status = (*done.transfer).status;
            let actual_length = (*done.transfer).actual_length;
            ffi::libusb_free_transfer(done.transfer);
            (status, actual_length)
        };
        let room = done.buffer.len() - done.data_offset;
        let actual_length = usize::try_from(actual_length).unwrap_or(0).min(room);
        let data = if done.is_in {
            done.buffer[done.data_offset..done.data_offset + actual_length].to_vec()
        } else {
            Vec::new()
        };
        Ok(Completion {
            id: done.id,
            result: result_from_status(status),
            data,
            actual_length,
        })
    }
}

impl Transport for RusbTransport {
    fn submit(&mut self, request: TransferRequest) -> Result<TransferId, TransportError> {
        request.check()?;
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| TransportError::Other("the device handle is gone".into()))?;
        let (transfer_type, endpoint, data_offset) = match request.kind {
            TransferKind::Control => (libusb::LIBUSB_TRANSFER_TYPE_CONTROL, 0, SETUP_PACKET_LEN),
            TransferKind::Bulk => (libusb::LIBUSB_TRANSFER_TYPE_BULK, request.endpoint, 0),
            TransferKind::Interrupt => (libusb::LIBUSB_TRANSFER_TYPE_INTERRUPT, request.endpoint, 0),
        };
        let mut buffer = vec![0u8; data_offset + request.length].into_boxed_slice();
        if let Some(setup) = request.setup_packet() {
            buffer[..SETUP_PACKET_LEN].copy_from_slice(&setup);
        }
        let is_in = request.is_in();
        if !is_in {
            buffer[data_offset..].copy_from_slice(&request.data);
        }
        let length = c_int::try_from(buffer.len()).map_err(|_| TransportError::Other("transfer too long".into()))?;
        let timeout_ms: c_uint = match request.timeout {
            // libusb reads 0 as "no timeout".
            None => 0,
            Some(t) => c_uint::try_from(t.as_millis().max(1)).unwrap_or(c_uint::MAX),
        };
        // SAFETY: `libusb_alloc_transfer(0)` returns a zeroed transfer without isochronous packets,
        // or null. Every field is then set before submission: the handle is open for as long as
        // this transport lives, the buffer is owned by the `InFlight` record kept until the
        // transfer is reaped, and `user_data` points to the queue the callback needs (see
        // `transfer_finished`). If submission fails libusb keeps nothing, so the transfer is freed.
        let transfer = unsafe {
            let transfer = ffi::libusb_alloc_transfer(0);
            if transfer.is_null() {
                return Err(TransportError::Other("libusb could not allocate a transfer".into()));
            }
            (*transfer).dev_handle = handle.as_raw();
            (*transfer).flags = 0;
            (*transfer).endpoint = endpoint;
            (*transfer).transfer_type = transfer_type;
            (*transfer).timeout = timeout_ms;
            (*transfer).length = length;
            (*transfer).callback = transfer_finished;
            (*transfer).user_data = Arc::as_ptr(&self.finished) as *mut c_void;
            (*transfer).buffer = buffer.as_mut_ptr();
            (*transfer).num_iso_packets = 0;
            let code = ffi::libusb_submit_transfer(transfer);
            if code < 0 {
                ffi::libusb_free_transfer(transfer);
                return Err(error_from_code(code));
            }
            transfer
        };
        let id = TransferId(self.next_id);
        self.next_id += 1;
        self.in_flight.push(InFlight {
            id,
            transfer,
            buffer,
            data_offset,
            is_in,
        });
        Ok(id)
    }

    fn reap(&mut self, wait: Option<Duration>) -> Result<Option<Completion>, TransportError> {
        let deadline = wait.and_then(|w| Instant::now().checked_add(w));
        loop {
            if let Some(address) = self.finished.pop() {
                return self.collect(address).map(Some);
            }
            if self.in_flight.is_empty() {
                return Err(TransportError::Other(
                    "waited for a transfer with none in flight".into(),
                ));
            }
            let slice = Duration::from_millis(EVENT_SLICE_MS);
            let now = Instant::now();
            let round = match deadline {
                Some(deadline) => deadline.saturating_duration_since(now).min(slice),
                None => slice,
            };
            Self::handle_events(round)?;
            if let Some(address) = self.finished.pop() {
                return self.collect(address).map(Some);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    fn cancel(&mut self, id: TransferId) -> Result<(), TransportError> {
        let Some(in_flight) = self.in_flight.iter().find(|t| t.id == id) else {
            return Ok(());
        };
        // SAFETY: the transfer is allocated and not yet freed (it is still in `in_flight`);
        // cancelling one that already finished is allowed and answers NOT_FOUND.
        let code = unsafe { ffi::libusb_cancel_transfer(in_flight.transfer) };
        match code {
            0 | libusb::LIBUSB_ERROR_NOT_FOUND => Ok(()),
            other => Err(error_from_code(other)),
        }
    }
}

impl Drop for RusbTransport {
    fn drop(&mut self) {
        for in_flight in &self.in_flight {
            // SAFETY: as in `cancel`.
            unsafe {
                ffi::libusb_cancel_transfer(in_flight.transfer);
            }
        }
        let give_up = Instant::now() + Duration::from_millis(DRAIN_ON_DROP_MS);
        while !self.in_flight.is_empty() && Instant::now() < give_up {
            while let Some(address) = self.finished.pop() {
                if let Err(e) = self.collect(address) {
                    tracing::debug!(error = %e, "collecting a transfer while closing");
                }
            }
            if self.in_flight.is_empty() {
                break;
            }
            if let Err(e) = Self::handle_events(Duration::from_millis(EVENT_SLICE_MS)) {
                tracing::debug!(error = %e, "handling libusb events while closing");
            }
        }
        if !self.in_flight.is_empty() {
            // libusb still owns these transfers: it may yet write their buffers and call back into
            // the queue, and closing the device under them is not allowed. Leak all of it.
            tracing::error!(
                count = self.in_flight.len(),
                "USB transfers did not come back after cancelling; leaking them and the device handle"
            );
            for in_flight in self.in_flight.drain(..) {
                std::mem::forget(in_flight.buffer);
            }
            std::mem::forget(Arc::clone(&self.finished));
            if let Some(handle) = self.handle.take() {
                std::mem::forget(handle);
            }
            return;
        }
        if let Some(handle) = &self.handle {
            if let Err(e) = handle.release_interface(self.interface) {
                tracing::debug!(error = %e, interface = self.interface, "releasing the USB interface failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rusb_errors_map_to_transport_errors() {
        assert_eq!(TransportError::from(rusb::Error::NoDevice), TransportError::NoDevice);
        assert_eq!(TransportError::from(rusb::Error::Timeout), TransportError::Timeout);
        assert_eq!(TransportError::from(rusb::Error::Pipe), TransportError::Stall);
        assert!(matches!(
            TransportError::from(rusb::Error::Access),
            TransportError::Access(_)
        ));
        assert!(matches!(
            TransportError::from(rusb::Error::Io),
            TransportError::Other(_)
        ));
    }

    #[test]
    fn libusb_statuses_map_to_transport_errors() {
        assert_eq!(result_from_status(libusb::LIBUSB_TRANSFER_COMPLETED), Ok(()));
        assert_eq!(
            result_from_status(libusb::LIBUSB_TRANSFER_CANCELLED),
            Err(TransportError::Cancelled)
        );
        assert_eq!(
            result_from_status(libusb::LIBUSB_TRANSFER_NO_DEVICE),
            Err(TransportError::NoDevice)
        );
        assert_eq!(
            error_from_code(libusb::LIBUSB_ERROR_NO_DEVICE),
            TransportError::NoDevice
        );
        assert!(matches!(result_from_status(42), Err(TransportError::Other(_))));
    }
}
