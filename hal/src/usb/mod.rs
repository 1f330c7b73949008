//! USB readers: the table of supported devices (by vendor and product id), their discovery and
//! opening through rusb, and the drivers, one file per device family:
//!
//! - [`nb1010`]: NEXT Biometrics NB-1010-U and NB-2020-U (bulk commands, raw 8-bit rows);
//! - [`aes3500`]: AuthenTec AES3500 (register writes, 4-bit frames, upscaled);
//! - [`uru4000`]: DigitalPersona U.are.U 4000B / 4500 (vendor control requests, an interrupt
//!   transfer always in flight beside the others, a scrambled image).
//!
//! Each driver is a state machine over [`Transport`], so it runs the same on a device through
//! libusb, on a recording ([`crate::replay`]) and under umockdev.

pub mod aes3500;
mod clock;
pub mod nb1010;
pub mod uru4000;

use crate::error::ReaderError;
use crate::reader::{Reader, ReaderInfo, SensorKind};
use crate::transport::{RusbTransport, Transport, TransportError};

/// Builds a reader on an opened transport; `info` describes the device found.
pub type DriverFn = fn(Box<dyn Transport>, ReaderInfo) -> Result<Box<dyn Reader>, ReaderError>;

/// A supported USB reader model.
#[derive(Debug, Clone, Copy)]
pub struct UsbModel {
    /// USB vendor id.
    pub vendor_id: u16,
    /// USB product id.
    pub product_id: u16,
    /// Maker's name.
    pub vendor: &'static str,
    /// Model name.
    pub model: &'static str,
    /// Resolution, dots per inch.
    pub dpi: u32,
    /// Image width, pixels.
    pub width_px: u32,
    /// Image height, pixels.
    pub height_px: u32,
    /// Press or swipe.
    pub kind: SensorKind,
    /// The interface the driver claims.
    pub interface: u8,
    /// The driver.
    pub driver: DriverFn,
}

/// Supported USB readers.
pub const SUPPORTED: &[UsbModel] = &[
    nb1010::model(0x1010, "NB-1010-U"),
    nb1010::model(0x2020, "NB-2020-U"),
    aes3500::MODEL,
    uru4000::MODEL,
];

/// The model in `table` with these ids.
pub fn find_model(table: &[UsbModel], vendor_id: u16, product_id: u16) -> Option<&UsbModel> {
    table
        .iter()
        .find(|m| m.vendor_id == vendor_id && m.product_id == product_id)
}

/// A driver's view of a failed transfer: a vanished device is [`ReaderError::Disconnected`];
/// anything else is a [`ReaderError::Device`] that says which step of the protocol failed.
pub(crate) fn transfer_failed(step: &str, error: TransportError) -> ReaderError {
    match error {
        TransportError::NoDevice => ReaderError::Disconnected,
        other => ReaderError::Device(format!("{step}: {other}")),
    }
}

/// Reader id of the USB device at `bus` and `address`.
pub fn usb_id(bus: u8, address: u8) -> String {
    format!("usb:{bus:03}:{address:03}")
}

/// Bus and address from an id made by [`usb_id`].
pub fn parse_usb_id(id: &str) -> Option<(u8, u8)> {
    let rest = id.strip_prefix("usb:")?;
    let (bus, address) = rest.split_once(':')?;
    Some((bus.parse().ok()?, address.parse().ok()?))
}

/// The description of a reader of `model` with this id and serial number.
pub(crate) fn describe(model: &UsbModel, id: String, serial: String) -> ReaderInfo {
    ReaderInfo {
        id,
        vendor: model.vendor.into(),
        model: model.model.into(),
        serial,
        dpi: model.dpi,
        width_px: model.width_px,
        height_px: model.height_px,
        kind: model.kind,
    }
}

fn serial_of(device: &rusb::Device<rusb::GlobalContext>, descriptor: &rusb::DeviceDescriptor) -> String {
    if descriptor.serial_number_string_index().is_none() {
        return String::new();
    }
    match device.open() {
        Ok(handle) => handle.read_serial_number_string_ascii(descriptor).unwrap_or_default(),
        Err(e) => {
            tracing::debug!(error = %e, "cannot open the USB device to read its serial number");
            String::new()
        }
    }
}

/// The readers of `table` attached now. A machine without USB access (no libusb context, no
/// `/dev/bus/usb`) has none; that is logged, not an error.
pub fn list(table: &[UsbModel]) -> Vec<ReaderInfo> {
    let devices = match rusb::devices() {
        Ok(d) => d,
        Err(e) => {
            tracing::info!(error = %e, "USB is not available: no USB readers");
            return Vec::new();
        }
    };
    let mut found = Vec::new();
    for device in devices.iter() {
        let descriptor = match device.device_descriptor() {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(error = %e, bus = device.bus_number(), address = device.address(), "unreadable USB descriptor");
                continue;
            }
        };
        if let Some(model) = find_model(table, descriptor.vendor_id(), descriptor.product_id()) {
            let serial = serial_of(&device, &descriptor);
            found.push(describe(model, usb_id(device.bus_number(), device.address()), serial));
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

/// Opens the reader of `table` at `bus` and `address`.
pub fn open(table: &[UsbModel], bus: u8, address: u8) -> Result<Box<dyn Reader>, ReaderError> {
    open_with_serial(table, bus, address, None)
}

/// As [`open`], with the serial number already known (from [`list`]), which spares asking the
/// device again.
pub fn open_with_serial(
    table: &[UsbModel],
    bus: u8,
    address: u8,
    serial: Option<String>,
) -> Result<Box<dyn Reader>, ReaderError> {
    let id = usb_id(bus, address);
    let devices = rusb::devices().map_err(|e| ReaderError::NoReader(format!("{id}: USB is not available ({e})")))?;
    let device = devices
        .iter()
        .find(|d| d.bus_number() == bus && d.address() == address)
        .ok_or_else(|| ReaderError::NoReader(format!("no USB device at {id}")))?;
    let descriptor = device
        .device_descriptor()
        .map_err(|e| ReaderError::Device(format!("{id}: cannot read the device descriptor: {e}")))?;
    let model = find_model(table, descriptor.vendor_id(), descriptor.product_id()).ok_or_else(|| {
        ReaderError::NoReader(format!(
            "the USB device at {id} ({:04x}:{:04x}) is not a supported reader",
            descriptor.vendor_id(),
            descriptor.product_id()
        ))
    })?;
    let serial = serial.unwrap_or_else(|| serial_of(&device, &descriptor));
    let info = describe(model, id.clone(), serial);
    let transport = RusbTransport::open(&device, model.interface)?;
    tracing::info!(reader = %info.id, model = model.model, "opened USB reader");
    (model.driver)(Box::new(transport), info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_driver(_: Box<dyn Transport>, info: ReaderInfo) -> Result<Box<dyn Reader>, ReaderError> {
        Err(ReaderError::Device(format!("test model {}", info.model)))
    }

    const TABLE: &[UsbModel] = &[UsbModel {
        vendor_id: 0x1234,
        product_id: 0x5678,
        vendor: "Test",
        model: "T-1",
        dpi: 500,
        width_px: 256,
        height_px: 360,
        kind: SensorKind::Press,
        interface: 0,
        driver: no_driver,
    }];

    #[test]
    fn ids_round_trip() {
        assert_eq!(usb_id(1, 14), "usb:001:014");
        assert_eq!(parse_usb_id("usb:001:014"), Some((1, 14)));
        assert_eq!(parse_usb_id("usb:1:300"), None);
        assert_eq!(parse_usb_id("sim:3"), None);
        assert_eq!(parse_usb_id("usb:7"), None);
    }

    #[test]
    fn models_are_found_by_vendor_and_product() {
        assert_eq!(find_model(TABLE, 0x1234, 0x5678).map(|m| m.model), Some("T-1"));
        assert!(find_model(TABLE, 0x1234, 0x0001).is_none());
        let info = describe(&TABLE[0], usb_id(2, 5), "S1".into());
        assert_eq!(info.id, "usb:002:005");
        assert_eq!((info.dpi, info.width_px, info.kind), (500, 256, SensorKind::Press));
    }

    #[test]
    fn walking_the_bus_never_fails() {
        // Whatever this machine has (no USB at all, or devices none of which is in the table),
        // listing returns, and the test table's device is absent.
        assert!(list(TABLE).is_empty());
    }

    #[test]
    fn opening_an_absent_device_says_so() {
        assert!(matches!(open(TABLE, 255, 255), Err(ReaderError::NoReader(_))));
    }
}
