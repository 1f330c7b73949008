//! usbmon captures in pcapng (what Wireshark and `tcpdump -i usbmonN` write) and a
//! [`Transport`] that replays them strictly in order, by the rules umockdev's pcap replay uses.
//!
//! The file is a list of blocks (`u32 type, u32 total length, body, u32 total length`, 4-byte
//! aligned, little-endian here): a section header, interface descriptions (link type 220, USB
//! Linux with the 64-byte mmapped header) and enhanced packet blocks, each one USB event: the
//! submission (`S`) or completion (`C`, `E`) of one URB, paired by the URB id. OUT data rides on
//! the submission, IN data on the completion.
//!
//! Replay: the driver's submissions wait in a list. To reap, the replay reads the capture from
//! where it stopped: a submission is matched to the oldest waiting transfer with the same type,
//! endpoint, length, setup packet and OUT bytes, and then counts as in flight; a completion of a
//! transfer in flight completes it with the recorded status and data; completions of transfers
//! nobody submitted are skipped, and so are unmatched standard control requests (the kernel's
//! GET_DESCRIPTOR and the like). Any other submission that matches nothing means the driver left
//! the recording: the error names the recorded submission and what the driver has in flight.
//! Several transfers may be in flight, as on the bus. A cancelled transfer comes back cancelled at
//! the next reap, and its recorded completion is skipped.

use std::collections::VecDeque;
use std::time::Duration;

use super::ReplayError;
use crate::transport::{
    hex_bytes, status_from_errno, Completion, TransferId, TransferKind, TransferRequest, Transport, TransportError,
};

/// Largest capture file read, bytes.
pub const MAX_PCAPNG_FILE_BYTES: usize = 256 << 20;
/// pcapng block types.
const BLOCK_SECTION_HEADER: u32 = 0x0A0D_0D0A;
const BLOCK_INTERFACE_DESCRIPTION: u32 = 1;
const BLOCK_OBSOLETE_PACKET: u32 = 2;
const BLOCK_SIMPLE_PACKET: u32 = 3;
const BLOCK_ENHANCED_PACKET: u32 = 6;
/// The section header's byte-order magic as read little-endian.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Link type of usbmon's mmapped interface (64-byte header).
const LINKTYPE_USB_LINUX_MMAPPED: u16 = 220;
/// Size of the usbmon packet header, bytes.
const USBMON_HEADER_LEN: usize = 64;
/// Smallest block: type, length, trailing length.
const MIN_BLOCK_LEN: usize = 12;

/// One usbmon event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbPacket {
    /// 1-based number of the packet in the file (as Wireshark counts them).
    pub number: usize,
    /// The URB's id: pairs a submission with its completion.
    pub urb_id: u64,
    /// `S` submit, `C` complete, `E` error.
    pub event: u8,
    /// usbmon transfer type (0 isochronous, 1 interrupt, 2 control, 3 bulk).
    pub transfer_type: u8,
    /// Endpoint address (0x80 = IN).
    pub endpoint: u8,
    /// Device address on the bus.
    pub device: u8,
    /// Bus number.
    pub bus: u16,
    /// The setup packet of a control submission.
    pub setup: Option<[u8; 8]>,
    /// Completion status (0 or a negative errno; -115 on submissions).
    pub status: i32,
    /// On `S` the length asked for, on `C` the length moved (a control transfer's data stage).
    pub length: u32,
    /// The bytes captured with the event.
    pub data: Vec<u8>,
}

impl UsbPacket {
    fn kind_name(&self) -> &'static str {
        match self.transfer_type {
            0 => "isochronous",
            1 => "interrupt",
            2 => "control",
            _ => "bulk",
        }
    }

    fn describe(&self) -> String {
        let direction = if self.endpoint & 0x80 != 0 { "IN" } else { "OUT" };
        let event = char::from(self.event);
        let mut text = match self.setup {
            Some(setup) => format!(
                "packet {}: {event} {} {direction} setup {}",
                self.number,
                self.kind_name(),
                hex_bytes(&setup, 8)
            ),
            None => format!(
                "packet {}: {event} {} {direction} {:#04x}",
                self.number,
                self.kind_name(),
                self.endpoint
            ),
        };
        text.push_str(&format!(", {} bytes", self.length));
        if !self.data.is_empty() {
            text.push_str(&format!(": {}", hex_bytes(&self.data, 40)));
        }
        text
    }

    /// A control submission of the standard type (GET_DESCRIPTOR, SET_CONFIGURATION, ...).
    fn is_standard_control_submission(&self) -> bool {
        self.event == b'S'
            && self.transfer_type == TransferKind::Control.usbfs_type()
            && self.setup.is_some_and(|s| s[0] & 0x60 == 0)
    }
}

/// The USB events of a pcapng capture, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapRecording {
    /// Every usbmon event of the file.
    pub packets: Vec<UsbPacket>,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

impl PcapRecording {
    /// Parses a pcapng file. Anything malformed is an error naming the byte offset of its block.
    pub fn parse(bytes: &[u8]) -> Result<Self, ReplayError> {
        let bad = |offset: usize, reason: String| ReplayError::Malformed {
            file: "capture.pcapng".into(),
            line: 0,
            reason: format!("block at byte {offset}: {reason}"),
        };
        if bytes.len() > MAX_PCAPNG_FILE_BYTES {
            return Err(bad(0, format!("the file is larger than {MAX_PCAPNG_FILE_BYTES} bytes")));
        }
        let mut packets = Vec::new();
        let mut link_types: Vec<u16> = Vec::new();
        let mut offset = 0;
        let mut seen_section = false;
        let mut packet_number = 0;
        while offset < bytes.len() {
            let rest = &bytes[offset..];
            if rest.len() < MIN_BLOCK_LEN {
                return Err(bad(
                    offset,
                    format!("{} trailing bytes, too few for a block", rest.len()),
                ));
            }
            let block_type = u32_at(rest, 0).unwrap_or_default();
            let total = u32_at(rest, 4).unwrap_or_default() as usize;
            if block_type == BLOCK_SECTION_HEADER {
                let magic = u32_at(rest, 8).unwrap_or_default();
                if magic == BYTE_ORDER_MAGIC.swap_bytes() {
                    return Err(bad(
                        offset,
                        "a big-endian section; only little-endian captures are supported".into(),
                    ));
                }
                if magic != BYTE_ORDER_MAGIC {
                    return Err(bad(
                        offset,
                        format!("byte-order magic {magic:#010x}, not a pcapng section"),
                    ));
                }
                seen_section = true;
                link_types.clear();
            } else if !seen_section {
                return Err(bad(
                    offset,
                    "the file does not start with a pcapng section header".into(),
                ));
            }
            if total < MIN_BLOCK_LEN || total % 4 != 0 || total > rest.len() {
                return Err(bad(
                    offset,
                    format!(
                        "length {total} (need a multiple of 4, at least {MIN_BLOCK_LEN}, at most the {} bytes left)",
                        rest.len()
                    ),
                ));
            }
            if u32_at(rest, total - 4) != Some(total as u32) {
                return Err(bad(offset, "the trailing length differs from the leading one".into()));
            }
            let body = &rest[8..total - 4];
            match block_type {
                BLOCK_INTERFACE_DESCRIPTION => {
                    let link_type =
                        u16_at(body, 0).ok_or_else(|| bad(offset, "interface description too short".into()))?;
                    link_types.push(link_type);
                }
                BLOCK_ENHANCED_PACKET => {
                    packet_number += 1;
                    let interface = u32_at(body, 0).unwrap_or(u32::MAX) as usize;
                    let captured =
                        u32_at(body, 12).ok_or_else(|| bad(offset, "packet block too short".into()))? as usize;
                    match link_types.get(interface) {
                        Some(&LINKTYPE_USB_LINUX_MMAPPED) => {}
                        Some(other) => {
                            return Err(bad(
                                offset,
                                format!("link type {other}; only usbmon's mmapped USB captures (220) are supported"),
                            ))
                        }
                        None => return Err(bad(offset, format!("packet on undeclared interface {interface}"))),
                    }
                    let packet = body
                        .get(20..20usize.saturating_add(captured))
                        .ok_or_else(|| bad(offset, format!("{captured} captured bytes overrun the block")))?;
                    let usb = parse_usbmon(packet, packet_number).map_err(|why| bad(offset, why))?;
                    packets.push(usb);
                }
                BLOCK_OBSOLETE_PACKET | BLOCK_SIMPLE_PACKET => {
                    return Err(bad(offset, format!("packet block type {block_type} is not supported")));
                }
                _ => {} // section header, statistics, name resolution, custom blocks
            }
            offset += total;
        }
        if packets.is_empty() {
            return Err(bad(0, "the capture holds no USB packet".into()));
        }
        Ok(PcapRecording { packets })
    }
}

/// One usbmon packet: the 64-byte header, then the captured data.
fn parse_usbmon(packet: &[u8], number: usize) -> Result<UsbPacket, String> {
    if packet.len() < USBMON_HEADER_LEN {
        return Err(format!(
            "packet {number}: {} bytes, shorter than a usbmon header",
            packet.len()
        ));
    }
    let event = packet[8];
    if !matches!(event, b'S' | b'C' | b'E') {
        return Err(format!("packet {number}: event {event:#04x} is not S, C or E"));
    }
    let transfer_type = packet[9];
    if transfer_type > 3 {
        return Err(format!("packet {number}: transfer type {transfer_type}"));
    }
    let setup_present = packet[14] == 0;
    let captured = u32_at(packet, 36).unwrap_or_default() as usize;
    let data = packet
        .get(USBMON_HEADER_LEN..USBMON_HEADER_LEN.saturating_add(captured))
        .ok_or_else(|| format!("packet {number}: {captured} data bytes announced, fewer captured"))?
        .to_vec();
    let mut setup = [0u8; 8];
    setup.copy_from_slice(&packet[40..48]);
    Ok(UsbPacket {
        number,
        urb_id: u64_at(packet, 0).unwrap_or_default(),
        event,
        transfer_type,
        endpoint: packet[10],
        device: packet[11],
        bus: u16_at(packet, 12).unwrap_or_default(),
        setup: (setup_present && transfer_type == TransferKind::Control.usbfs_type()).then_some(setup),
        status: i32::from_le_bytes(packet[28..32].try_into().unwrap_or_default()),
        length: u32_at(packet, 32).unwrap_or_default(),
        data,
    })
}

/// A transfer the driver submitted and that has not been reaped.
#[derive(Debug)]
struct Waiting {
    id: TransferId,
    request: TransferRequest,
    /// The recorded URB it was matched to, once its submission was read.
    urb_id: Option<u64>,
}

/// [`Transport`] that replays the packets of one device of a [`PcapRecording`].
#[derive(Debug)]
pub struct PcapReplay {
    packets: Vec<UsbPacket>,
    position: usize,
    waiting: Vec<Waiting>,
    cancelled: VecDeque<Completion>,
    next_id: u64,
}

impl PcapReplay {
    /// A replay of the packets of the device at `address` on `bus`.
    pub fn new(recording: PcapRecording, bus: u16, address: u8) -> Result<Self, ReplayError> {
        let packets: Vec<UsbPacket> = recording
            .packets
            .into_iter()
            .filter(|p| p.bus == bus && p.device == address)
            .collect();
        if packets.is_empty() {
            return Err(ReplayError::Malformed {
                file: "capture.pcapng".into(),
                line: 0,
                reason: format!("no packet of device {address} on bus {bus}"),
            });
        }
        Ok(PcapReplay {
            packets,
            position: 0,
            waiting: Vec::new(),
            cancelled: VecDeque::new(),
            next_id: 1,
        })
    }

    /// Packets not yet read by the replay.
    pub fn remaining(&self) -> &[UsbPacket] {
        self.packets.get(self.position..).unwrap_or_default()
    }

    fn matches(request: &TransferRequest, packet: &UsbPacket) -> bool {
        if packet.transfer_type != request.kind.usbfs_type() || packet.length as usize != request.length {
            return false;
        }
        if request.kind == TransferKind::Control {
            // The kernel shows a control transfer's direction in the endpoint; the setup decides.
            if packet.setup.is_some() && packet.setup != request.setup_packet() {
                return false;
            }
        } else if packet.endpoint != request.endpoint {
            return false;
        }
        request.is_in() || packet.data.is_empty() || packet.data == request.data
    }

    fn describe_waiting(&self) -> String {
        if self.waiting.is_empty() {
            return "nothing in flight".into();
        }
        self.waiting
            .iter()
            .map(|w| {
                format!(
                    "{} ({})",
                    w.request.describe(),
                    if w.urb_id.is_some() {
                        "in flight"
                    } else {
                        "submitted, not in the recording here"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn complete(&mut self, index: usize, packet: &UsbPacket) -> Result<Completion, TransportError> {
        let done = self.waiting.remove(index);
        let is_in = done.request.is_in();
        let length = packet.length as usize;
        if is_in && packet.status == 0 && packet.data.len() < length {
            return Err(TransportError::Replay(format!(
                "{} completes {length} bytes but only {} were captured",
                packet.describe(),
                packet.data.len()
            )));
        }
        if is_in && length > done.request.length {
            return Err(TransportError::Overflow);
        }
        let data = if is_in {
            packet.data.get(..length).unwrap_or(&packet.data).to_vec()
        } else {
            Vec::new()
        };
        Ok(Completion {
            id: done.id,
            result: status_from_errno(packet.status),
            actual_length: if is_in { data.len() } else { length },
            data,
        })
    }
}

impl Transport for PcapReplay {
    fn submit(&mut self, request: TransferRequest) -> Result<TransferId, TransportError> {
        request.check()?;
        let id = TransferId(self.next_id);
        self.next_id += 1;
        self.waiting.push(Waiting {
            id,
            request,
            urb_id: None,
        });
        Ok(id)
    }

    fn reap(&mut self, _wait: Option<Duration>) -> Result<Option<Completion>, TransportError> {
        if let Some(done) = self.cancelled.pop_front() {
            return Ok(Some(done));
        }
        if self.waiting.is_empty() {
            return Err(TransportError::Other(
                "waited for a transfer with none in flight".into(),
            ));
        }
        loop {
            let Some(packet) = self.packets.get(self.position).cloned() else {
                return Err(TransportError::Replay(format!(
                    "the recording ends, but the driver waits for: {}",
                    self.describe_waiting()
                )));
            };
            if packet.event == b'S' {
                if let Some(w) = self
                    .waiting
                    .iter_mut()
                    .find(|w| w.urb_id.is_none() && Self::matches(&w.request, &packet))
                {
                    w.urb_id = Some(packet.urb_id);
                    self.position += 1;
                    continue;
                }
                if packet.is_standard_control_submission() {
                    self.position += 1;
                    continue;
                }
                return Err(TransportError::Replay(format!(
                    "the recording continues with {}, but the driver has {}",
                    packet.describe(),
                    self.describe_waiting()
                )));
            }
            self.position += 1;
            if let Some(index) = self.waiting.iter().position(|w| w.urb_id == Some(packet.urb_id)) {
                return self.complete(index, &packet).map(Some);
            }
            // A completion of a transfer the driver did not make (or cancelled): skip it.
        }
    }

    fn cancel(&mut self, id: TransferId) -> Result<(), TransportError> {
        if let Some(index) = self.waiting.iter().position(|w| w.id == id) {
            self.waiting.remove(index);
            self.cancelled.push_back(Completion {
                id,
                result: Err(TransportError::Cancelled),
                data: Vec::new(),
                actual_length: 0,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::transport::ControlSetup;

    /// Builds a pcapng file from usbmon events, for tests.
    pub(crate) struct PcapBuilder {
        bytes: Vec<u8>,
    }

    fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
        let mut padded = body.to_vec();
        while padded.len() % 4 != 0 {
            padded.push(0);
        }
        let total = (padded.len() + 12) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(&block_type.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&padded);
        out.extend_from_slice(&total.to_le_bytes());
        out
    }

    impl PcapBuilder {
        pub(crate) fn new() -> Self {
            let mut shb = Vec::new();
            shb.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
            shb.extend_from_slice(&[1, 0, 0, 0]);
            shb.extend_from_slice(&u64::MAX.to_le_bytes());
            let mut idb = Vec::new();
            idb.extend_from_slice(&LINKTYPE_USB_LINUX_MMAPPED.to_le_bytes());
            idb.extend_from_slice(&[0, 0]);
            idb.extend_from_slice(&262144u32.to_le_bytes());
            let mut bytes = block(BLOCK_SECTION_HEADER, &shb);
            bytes.extend(block(BLOCK_INTERFACE_DESCRIPTION, &idb));
            PcapBuilder { bytes }
        }

        /// Adds one event.
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn event(
            mut self,
            urb_id: u64,
            event: u8,
            transfer_type: u8,
            endpoint: u8,
            setup: Option<[u8; 8]>,
            status: i32,
            length: u32,
            data: &[u8],
        ) -> Self {
            let mut p = vec![0u8; USBMON_HEADER_LEN];
            p[0..8].copy_from_slice(&urb_id.to_le_bytes());
            p[8] = event;
            p[9] = transfer_type;
            p[10] = endpoint;
            p[11] = 5; // device
            p[12..14].copy_from_slice(&1u16.to_le_bytes()); // bus
            p[14] = if setup.is_some() { 0 } else { b'-' };
            p[15] = if data.is_empty() { b'<' } else { 0 };
            p[28..32].copy_from_slice(&status.to_le_bytes());
            p[32..36].copy_from_slice(&length.to_le_bytes());
            p[36..40].copy_from_slice(&(data.len() as u32).to_le_bytes());
            if let Some(s) = setup {
                p[40..48].copy_from_slice(&s);
            }
            p.extend_from_slice(data);
            let mut epb = Vec::new();
            epb.extend_from_slice(&0u32.to_le_bytes());
            epb.extend_from_slice(&[0; 8]);
            epb.extend_from_slice(&(p.len() as u32).to_le_bytes());
            epb.extend_from_slice(&(p.len() as u32).to_le_bytes());
            epb.extend_from_slice(&p);
            self.bytes.extend(block(BLOCK_ENHANCED_PACKET, &epb));
            self
        }

        pub(crate) fn bytes(self) -> Vec<u8> {
            self.bytes
        }
    }

    const WRITE_MODE: ControlSetup = ControlSetup {
        request_type: 0x40,
        request: 4,
        value: 0x4e,
        index: 0,
    };

    fn sample() -> Vec<u8> {
        PcapBuilder::new()
            // The kernel reads the device descriptor: skipped.
            .event(9, b'S', 2, 0x80, Some([0x80, 6, 0, 1, 0, 0, 18, 0]), -115, 18, &[])
            .event(9, b'C', 2, 0x80, None, 0, 18, &[0x12; 18])
            .event(1, b'S', 1, 0x81, None, -115, 4, &[])
            .event(2, b'S', 2, 0x00, Some(WRITE_MODE.packet(1)), -115, 1, &[0x10])
            .event(1, b'C', 1, 0x81, None, 0, 4, &[1, 2, 3, 4])
            .event(2, b'C', 2, 0x00, None, 0, 1, &[])
            .bytes()
    }

    #[test]
    fn transfers_in_flight_complete_in_recorded_order() {
        let recording = PcapRecording::parse(&sample()).unwrap();
        assert_eq!(recording.packets.len(), 6);
        let mut r = PcapReplay::new(recording, 1, 5).unwrap();
        let irq = r.submit(TransferRequest::interrupt_in(0x81, 4)).unwrap();
        let write = r.submit(TransferRequest::control_out(WRITE_MODE, &[0x10])).unwrap();
        let first = r.reap(None).unwrap().unwrap();
        assert_eq!((first.id, first.data.clone()), (irq, vec![1, 2, 3, 4]));
        let second = r.reap(None).unwrap().unwrap();
        assert_eq!((second.id, second.actual_length, second.result), (write, 1, Ok(())));
        assert!(r.remaining().is_empty());
    }

    #[test]
    fn leaving_the_recording_names_both_sides() {
        let mut r = PcapReplay::new(PcapRecording::parse(&sample()).unwrap(), 1, 5).unwrap();
        r.submit(TransferRequest::interrupt_in(0x81, 4)).unwrap();
        r.submit(TransferRequest::control_out(WRITE_MODE, &[0x20])).unwrap();
        let e = r.reap(None).unwrap_err().to_string();
        assert!(
            e.contains("packet 4: S control OUT setup 40 04 4e 00 00 00 01 00, 1 bytes: 10"),
            "{e}"
        );
        assert!(
            e.contains("control OUT setup 40 04 4e 00 00 00 01 00, 1 bytes: 20 (submitted, not in the recording here)"),
            "{e}"
        );
        assert!(e.contains("interrupt IN 0x81, 4 bytes (in flight)"), "{e}");
    }

    #[test]
    fn a_cancelled_transfer_comes_back_cancelled() {
        let mut r = PcapReplay::new(PcapRecording::parse(&sample()).unwrap(), 1, 5).unwrap();
        let irq = r.submit(TransferRequest::interrupt_in(0x81, 4)).unwrap();
        r.cancel(irq).unwrap();
        let done = r.reap(Some(Duration::ZERO)).unwrap().unwrap();
        assert_eq!((done.id, done.result), (irq, Err(TransportError::Cancelled)));
        assert!(r.reap(None).is_err(), "nothing left in flight");
    }

    #[test]
    fn the_end_of_the_recording_is_an_error() {
        let mut r = PcapReplay::new(PcapRecording::parse(&sample()).unwrap(), 1, 5).unwrap();
        r.submit(TransferRequest::bulk_in(0x82, 4)).unwrap();
        let e = r.reap(None).unwrap_err().to_string();
        assert!(e.contains("continues with packet 3: S interrupt IN 0x81"), "{e}");
        assert!(PcapReplay::new(PcapRecording::parse(&sample()).unwrap(), 2, 5).is_err());
    }

    #[test]
    fn malformed_captures_are_errors() {
        let good = sample();
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "no USB packet"),
            (
                [good.as_slice(), &[0; 5]].concat(),
                "5 trailing bytes, too few for a block",
            ),
            (good[..good.len() - 8].to_vec(), "at most the"),
            (
                vec![6, 0, 0, 0, 12, 0, 0, 0, 12, 0, 0, 0],
                "does not start with a pcapng section header",
            ),
        ];
        let mut big_endian = good.clone();
        big_endian[8..12].copy_from_slice(&BYTE_ORDER_MAGIC.to_be_bytes());
        cases.push((big_endian, "big-endian"));
        let mut other_link = good.clone();
        let idb = 28; // the section header block is 28 bytes long
        other_link[idb + 8..idb + 10].copy_from_slice(&1u16.to_le_bytes());
        cases.push((other_link, "link type 1"));
        let mut overrun = good.clone();
        let epb = idb + 20;
        overrun[epb + 20..epb + 24].copy_from_slice(&100_000u32.to_le_bytes());
        cases.push((overrun, "overrun the block"));
        let mut short_data = good.clone();
        // The second packet announces 18 captured bytes: claim 40.
        let second = epb + u32_at(&good, epb + 4).unwrap() as usize;
        short_data[second + 28 + 36..second + 28 + 40].copy_from_slice(&40u32.to_le_bytes());
        cases.push((short_data, "fewer captured"));
        let mut bad_event = good.clone();
        bad_event[epb + 28 + 8] = b'X';
        cases.push((bad_event, "not S, C or E"));
        for (bytes, needle) in cases {
            let e = PcapRecording::parse(&bytes).unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}
