//! The `device` file of a recording: umockdev's description of the recorded device and its
//! parents in sysfs. The first block is the device itself; from it the replay takes the vendor
//! and product ids (which pick the driver), the bus and device numbers (which pick its packets in
//! a usbmon capture), the sysfs path and device node (which umockdev-run is told), and the USB
//! descriptor blob of its `N:` line (which declares the endpoints).
//!
//! Format, one entry a line, blocks separated by blank lines: `P: <sysfs path>`,
//! `N: <node below /dev>[=<contents in hex>]`, `E: KEY=value` (udev properties),
//! `A: attribute=value`, `H: attribute=<hex>`, `L: link=target`, `S: symlink`.

use super::ReplayError;

/// Largest `device` file read, bytes (real ones are a few tens of KiB).
pub const MAX_DEVICE_FILE_BYTES: usize = 4 << 20;

/// What a USB endpoint carries (bmAttributes bits 0-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// 0: control.
    Control,
    /// 1: isochronous.
    Isochronous,
    /// 2: bulk.
    Bulk,
    /// 3: interrupt.
    Interrupt,
}

/// One endpoint from an interface descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Address with the direction bit (0x80 = IN).
    pub address: u8,
    /// Transfer type.
    pub kind: EndpointKind,
    /// Largest packet, bytes.
    pub max_packet_size: u16,
    /// Number of the interface that declares it.
    pub interface: u8,
}

/// The USB descriptors of the recorded device, as far as a replay needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptors {
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
    /// Index of the serial number string (0: none).
    pub serial_index: u8,
    /// Every endpoint of every interface of every configuration.
    pub endpoints: Vec<Endpoint>,
}

/// The recorded device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDescription {
    /// Its sysfs path (`P:`), e.g. `/devices/pci0000:00/.../usb1/1-7`.
    pub sysfs_path: String,
    /// Its device node, e.g. `/dev/bus/usb/001/003`.
    pub dev_node: String,
    /// USB bus number.
    pub bus: u16,
    /// Device address on the bus.
    pub address: u8,
    /// The descriptors of its `N:` line.
    pub descriptors: Descriptors,
}

impl DeviceDescription {
    /// Parses the text of a `device` file.
    pub fn parse(text: &str) -> Result<Self, ReplayError> {
        let bad = |line: usize, reason: String| ReplayError::Malformed {
            file: "device".into(),
            line,
            reason,
        };
        if text.len() > MAX_DEVICE_FILE_BYTES {
            return Err(bad(0, format!("larger than {MAX_DEVICE_FILE_BYTES} bytes")));
        }
        let mut sysfs_path = None;
        let mut node = None;
        let mut busnum = None;
        let mut devnum = None;
        let mut id_vendor = None;
        let mut id_product = None;
        let mut first_line = 0;
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            if line.trim().is_empty() {
                if sysfs_path.is_some() {
                    break; // the end of the first block: the rest are the device's parents
                }
                continue;
            }
            let (tag, value) = line
                .split_once(": ")
                .ok_or_else(|| bad(number, format!("expected 'X: value', found {line:?}")))?;
            match tag {
                "P" => {
                    if sysfs_path.is_some() {
                        return Err(bad(number, "a second P: line in one block".into()));
                    }
                    sysfs_path = Some(value.to_string());
                    first_line = number;
                }
                _ if sysfs_path.is_none() => {
                    return Err(bad(number, "the first block must start with its P: line".into()));
                }
                "N" => node = Some((number, value.to_string())),
                "E" => {
                    if let Some((key, v)) = value.split_once('=') {
                        match key {
                            "BUSNUM" => busnum = Some((number, unescape(v))),
                            "DEVNUM" => devnum = Some((number, unescape(v))),
                            _ => {}
                        }
                    }
                }
                "A" => {
                    if let Some((key, v)) = value.split_once('=') {
                        match key {
                            "idVendor" => id_vendor = Some((number, unescape(v))),
                            "idProduct" => id_product = Some((number, unescape(v))),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        let sysfs_path = sysfs_path.ok_or_else(|| bad(0, "no P: line: not a umockdev device description".into()))?;
        let (node_line, node) = node.ok_or_else(|| bad(first_line, "the device has no N: line".into()))?;
        let (node_name, blob) = node
            .split_once('=')
            .ok_or_else(|| bad(node_line, "the N: line carries no descriptor blob".into()))?;
        let blob = decode_hex(blob).map_err(|why| bad(node_line, format!("descriptor blob: {why}")))?;
        let descriptors = parse_descriptors(&blob).map_err(|why| bad(node_line, format!("descriptor blob: {why}")))?;
        let number = |field: Option<(usize, String)>, name: &str| -> Result<u32, ReplayError> {
            let (line, value) = field.ok_or_else(|| bad(first_line, format!("the device has no {name}")))?;
            value
                .trim()
                .parse::<u32>()
                .map_err(|_| bad(line, format!("{name} is {value:?}, not a number")))
        };
        let bus =
            u16::try_from(number(busnum, "E: BUSNUM")?).map_err(|_| bad(first_line, "BUSNUM out of range".into()))?;
        let address =
            u8::try_from(number(devnum, "E: DEVNUM")?).map_err(|_| bad(first_line, "DEVNUM out of range".into()))?;
        let hex_id = |field: Option<(usize, String)>, name: &str| -> Result<Option<u16>, ReplayError> {
            match field {
                None => Ok(None),
                Some((line, value)) => u16::from_str_radix(value.trim(), 16)
                    .map(Some)
                    .map_err(|_| bad(line, format!("{name} is {value:?}, not a hex number"))),
            }
        };
        // The attributes, where present, must agree with the descriptor blob.
        for (attribute, from_blob, name) in [
            (hex_id(id_vendor, "idVendor")?, descriptors.vendor_id, "idVendor"),
            (hex_id(id_product, "idProduct")?, descriptors.product_id, "idProduct"),
        ] {
            if let Some(value) = attribute {
                if value != from_blob {
                    return Err(bad(
                        first_line,
                        format!("A: {name}={value:04x} but the descriptor says {from_blob:04x}"),
                    ));
                }
            }
        }
        Ok(DeviceDescription {
            sysfs_path,
            dev_node: format!("/dev/{node_name}"),
            bus,
            address,
            descriptors,
        })
    }
}

/// An attribute's value without the escaped newline (`\n`) that sysfs files end with.
fn unescape(value: &str) -> String {
    let value = value.trim();
    value.strip_suffix("\\n").unwrap_or(value).to_string()
}

/// Bytes from hex digits (either case, no separators).
pub(crate) fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    let hex = hex.trim();
    if hex.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", hex.len()));
    }
    let digit = |c: u8| -> Result<u8, String> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!("{:?} is not a hex digit", char::from(c))),
        }
    };
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| Ok(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

const DESCRIPTOR_DEVICE: u8 = 1;
const DESCRIPTOR_CONFIGURATION: u8 = 2;
const DESCRIPTOR_INTERFACE: u8 = 4;
const DESCRIPTOR_ENDPOINT: u8 = 5;
const DEVICE_DESCRIPTOR_LEN: usize = 18;
const ENDPOINT_DESCRIPTOR_LEN: usize = 7;
const INTERFACE_DESCRIPTOR_LEN: usize = 9;

/// Parses the device descriptor and the configuration descriptors that follow it (as sysfs'
/// `descriptors` file and umockdev's `N:` line hold them).
pub fn parse_descriptors(blob: &[u8]) -> Result<Descriptors, String> {
    let device = blob
        .get(..DEVICE_DESCRIPTOR_LEN)
        .ok_or_else(|| format!("{} bytes, shorter than a device descriptor", blob.len()))?;
    if usize::from(device[0]) != DEVICE_DESCRIPTOR_LEN || device[1] != DESCRIPTOR_DEVICE {
        return Err(format!(
            "starts with length {} type {}, not a device descriptor",
            device[0], device[1]
        ));
    }
    let vendor_id = u16::from_le_bytes([device[8], device[9]]);
    let product_id = u16::from_le_bytes([device[10], device[11]]);
    let serial_index = device[16];
    let mut endpoints = Vec::new();
    let mut interface = None;
    let mut rest = &blob[DEVICE_DESCRIPTOR_LEN..];
    while !rest.is_empty() {
        let length = usize::from(rest[0]);
        if length < 2 || length > rest.len() {
            return Err(format!(
                "a descriptor of length {length} with {} bytes left",
                rest.len()
            ));
        }
        let (descriptor, tail) = rest.split_at(length);
        match descriptor[1] {
            DESCRIPTOR_CONFIGURATION => interface = None,
            DESCRIPTOR_INTERFACE => {
                if length < INTERFACE_DESCRIPTOR_LEN {
                    return Err(format!("an interface descriptor of {length} bytes"));
                }
                interface = Some(descriptor[2]);
            }
            DESCRIPTOR_ENDPOINT => {
                if length < ENDPOINT_DESCRIPTOR_LEN {
                    return Err(format!("an endpoint descriptor of {length} bytes"));
                }
                let interface = interface.ok_or("an endpoint outside any interface")?;
                let kind = match descriptor[3] & 0x03 {
                    0 => EndpointKind::Control,
                    1 => EndpointKind::Isochronous,
                    2 => EndpointKind::Bulk,
                    _ => EndpointKind::Interrupt,
                };
                endpoints.push(Endpoint {
                    address: descriptor[2],
                    kind,
                    max_packet_size: u16::from_le_bytes([descriptor[4], descriptor[5]]) & 0x07ff,
                    interface,
                });
            }
            _ => {}
        }
        rest = tail;
    }
    Ok(Descriptors {
        vendor_id,
        product_id,
        serial_index,
        endpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NB1010: &str = "P: /devices/pci0000:00/0000:00:01.3/0000:02:00.0/usb1/1-7
N: bus/usb/001/003=12010002000000408D29101001000102000109022700010100A032090400000300000000070581034000050705020240000007058302400000
E: DEVNAME=/dev/bus/usb/001/003
E: BUSNUM=001
E: DEVNUM=003
A: idProduct=1010
A: idVendor=298d\\n

P: /devices/pci0000:00/0000:00:01.3/0000:02:00.0/usb1
N: bus/usb/001/001=12010002090001406B1D020004050302010109021900010100E0000904000001090000000705810304000C
E: BUSNUM=001
E: DEVNUM=001
";

    #[test]
    fn the_first_block_is_the_device() {
        let d = DeviceDescription::parse(NB1010).unwrap();
        assert_eq!(d.sysfs_path, "/devices/pci0000:00/0000:00:01.3/0000:02:00.0/usb1/1-7");
        assert_eq!(d.dev_node, "/dev/bus/usb/001/003");
        assert_eq!((d.bus, d.address), (1, 3));
        assert_eq!((d.descriptors.vendor_id, d.descriptors.product_id), (0x298d, 0x1010));
        let addresses: Vec<(u8, EndpointKind, u16)> = d
            .descriptors
            .endpoints
            .iter()
            .map(|e| (e.address, e.kind, e.max_packet_size))
            .collect();
        assert_eq!(
            addresses,
            [
                (0x81, EndpointKind::Interrupt, 64),
                (0x02, EndpointKind::Bulk, 64),
                (0x83, EndpointKind::Bulk, 64)
            ]
        );
    }

    #[test]
    fn malformed_descriptions_are_errors_with_a_line() {
        for (text, needle) in [
            ("", "no P: line"),
            ("garbage", "expected 'X: value'"),
            ("N: x=00\n", "must start with its P: line"),
            ("P: /x\nE: BUSNUM=1\nE: DEVNUM=2\n", "no N: line"),
            ("P: /x\nN: bus/usb/001/002=12010\n", "odd number"),
            ("P: /x\nN: bus/usb/001/002=1201\n", "shorter than a device descriptor"),
            (
                "P: /x\nN: bus/usb/001/002=12010002000000408D29101001000102000109\n",
                "length 9 with 1 bytes left",
            ),
            (
                "P: /x\nN: bus/usb/001/002=12010002000000408D291010010001020001\nE: BUSNUM=x\nE: DEVNUM=2\n",
                "not a number",
            ),
            (
                "P: /x\nN: bus/usb/001/002=12010002000000408D291010010001020001\nE: BUSNUM=1\nE: DEVNUM=2\nA: idVendor=1234\n",
                "descriptor says 298d",
            ),
            (
                "P: /x\nN: bus/usb/001/002=12010002000000408D29101001000102000107058103400005\nE: BUSNUM=1\nE: DEVNUM=2\n",
                "outside any interface",
            ),
        ] {
            let e = DeviceDescription::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
