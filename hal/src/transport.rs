//! The transport seam under the USB drivers: the few USB transfers a fingerprint reader needs
//! (bulk, interrupt and control, in and out), as a small trait. Drivers are written against the
//! trait, so the same driver code runs on a real device through rusb ([`RusbTransport`]), on a
//! recorded session, or under umockdev.

use std::time::Duration;

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
    /// The operating system refused access (permissions, or another driver holds the device).
    #[error("access to the USB device was refused: {0}")]
    Access(String),
    /// The device sent more data than the buffer holds.
    #[error("the USB device sent more data than expected")]
    Overflow,
    /// Any other failure, with the USB library's words.
    #[error("USB error: {0}")]
    Other(String),
}

/// The setup fields of a control transfer (USB 2.0, section 9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlSetup {
    /// `bmRequestType`: direction, type and recipient. The direction bit must match the call
    /// (`control_in` or `control_out`).
    pub request_type: u8,
    /// `bRequest`.
    pub request: u8,
    /// `wValue`.
    pub value: u16,
    /// `wIndex`.
    pub index: u16,
}

/// Direction bit of `bmRequestType` and of endpoint addresses: device to host.
pub const DIRECTION_IN: u8 = 0x80;

/// USB transfers on one opened device (with its interface claimed).
pub trait Transport: Send {
    /// Reads one bulk transfer from IN endpoint `endpoint` into `buf`; returns the bytes read.
    fn bulk_in(&mut self, endpoint: u8, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Writes `data` to bulk OUT endpoint `endpoint`; returns the bytes written.
    fn bulk_out(&mut self, endpoint: u8, data: &[u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Reads one interrupt transfer from IN endpoint `endpoint`.
    fn interrupt_in(&mut self, endpoint: u8, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Writes `data` to interrupt OUT endpoint `endpoint`.
    fn interrupt_out(&mut self, endpoint: u8, data: &[u8], timeout: Duration) -> Result<usize, TransportError>;
    /// A control transfer that reads from the device into `buf`.
    fn control_in(&mut self, setup: ControlSetup, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// A control transfer that writes `data` to the device.
    fn control_out(&mut self, setup: ControlSetup, data: &[u8], timeout: Duration) -> Result<usize, TransportError>;
}

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

/// [`Transport`] over a device opened with rusb (libusb).
pub struct RusbTransport {
    handle: rusb::DeviceHandle<rusb::GlobalContext>,
    interface: u8,
}

impl std::fmt::Debug for RusbTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RusbTransport")
            .field("interface", &self.interface)
            .finish()
    }
}

impl RusbTransport {
    /// Opens `device` and claims `interface`, detaching a kernel driver from it where the
    /// platform allows.
    pub fn open(device: &rusb::Device<rusb::GlobalContext>, interface: u8) -> Result<Self, TransportError> {
        let handle = device.open()?;
        // Not every platform can detach kernel drivers; claiming will tell if one is in the way.
        if let Err(e) = handle.set_auto_detach_kernel_driver(true) {
            tracing::debug!(error = %e, "cannot auto-detach kernel drivers on this platform");
        }
        handle.claim_interface(interface)?;
        Ok(RusbTransport { handle, interface })
    }

    /// Wraps a handle whose `interface` the caller has already claimed.
    pub fn from_handle(handle: rusb::DeviceHandle<rusb::GlobalContext>, interface: u8) -> Self {
        RusbTransport { handle, interface }
    }
}

impl Drop for RusbTransport {
    fn drop(&mut self) {
        if let Err(e) = self.handle.release_interface(self.interface) {
            tracing::debug!(error = %e, interface = self.interface, "releasing the USB interface failed");
        }
    }
}

fn check_in(endpoint: u8) -> Result<(), TransportError> {
    if endpoint & DIRECTION_IN == 0 {
        return Err(TransportError::Other(format!(
            "endpoint {endpoint:#04x} is not an IN endpoint"
        )));
    }
    Ok(())
}

fn check_out(endpoint: u8) -> Result<(), TransportError> {
    if endpoint & DIRECTION_IN != 0 {
        return Err(TransportError::Other(format!(
            "endpoint {endpoint:#04x} is not an OUT endpoint"
        )));
    }
    Ok(())
}

impl Transport for RusbTransport {
    fn bulk_in(&mut self, endpoint: u8, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        check_in(endpoint)?;
        Ok(self.handle.read_bulk(endpoint, buf, timeout)?)
    }

    fn bulk_out(&mut self, endpoint: u8, data: &[u8], timeout: Duration) -> Result<usize, TransportError> {
        check_out(endpoint)?;
        Ok(self.handle.write_bulk(endpoint, data, timeout)?)
    }

    fn interrupt_in(&mut self, endpoint: u8, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        check_in(endpoint)?;
        Ok(self.handle.read_interrupt(endpoint, buf, timeout)?)
    }

    fn interrupt_out(&mut self, endpoint: u8, data: &[u8], timeout: Duration) -> Result<usize, TransportError> {
        check_out(endpoint)?;
        Ok(self.handle.write_interrupt(endpoint, data, timeout)?)
    }

    fn control_in(&mut self, setup: ControlSetup, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        if setup.request_type & DIRECTION_IN == 0 {
            return Err(TransportError::Other("control_in needs an IN request type".into()));
        }
        Ok(self.handle.read_control(
            setup.request_type,
            setup.request,
            setup.value,
            setup.index,
            buf,
            timeout,
        )?)
    }

    fn control_out(&mut self, setup: ControlSetup, data: &[u8], timeout: Duration) -> Result<usize, TransportError> {
        if setup.request_type & DIRECTION_IN != 0 {
            return Err(TransportError::Other("control_out needs an OUT request type".into()));
        }
        Ok(self.handle.write_control(
            setup.request_type,
            setup.request,
            setup.value,
            setup.index,
            data,
            timeout,
        )?)
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
    fn a_vanished_device_is_a_disconnect_for_the_reader() {
        use crate::error::ReaderError;
        assert_eq!(ReaderError::from(TransportError::NoDevice), ReaderError::Disconnected);
        assert!(matches!(
            ReaderError::from(TransportError::Stall),
            ReaderError::Device(_)
        ));
    }

    #[test]
    fn directions_are_checked() {
        assert!(check_in(0x81).is_ok());
        assert!(check_in(0x01).is_err());
        assert!(check_out(0x02).is_ok());
        assert!(check_out(0x82).is_err());
    }
}
