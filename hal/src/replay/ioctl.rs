//! umockdev `.ioctl` recordings (usbdevfs text) and a [`Transport`] that replays them the way
//! umockdev itself does.
//!
//! The file is a tree written in pre-order, one node a line, its depth given by the number of
//! leading spaces: OUT URBs at depth 0, each IN URB a child of the URB recorded just before it.
//! The recorder writes an OUT URB that equals an earlier one only once and hangs what followed it
//! under the earlier node, so the file is not in time order. Because it is pre-order, "the next
//! node of the tree" is simply the next line, and umockdev's replay rule becomes: keep a cursor on
//! the last node used; for each transfer the driver submits, look at the nodes after the cursor in
//! file order, wrapping round to the first line, for the first URB with the same type, endpoint,
//! flags and buffer length (and, for OUT, the same bytes); complete the transfer as that node says
//! and move the cursor there. No match is an error naming what the driver sent and what the
//! recording holds next. Timeouts are not recorded, so every transfer completes at once.

use std::collections::VecDeque;
use std::time::Duration;

use super::device::{decode_hex, Endpoint, EndpointKind};
use super::ReplayError;
use crate::transport::{
    hex_bytes, status_from_errno, Completion, TransferId, TransferKind, TransferRequest, Transport, TransportError,
    SETUP_PACKET_LEN,
};

/// Largest `.ioctl` file read, bytes (the largest shared recording is about 3 MiB).
pub const MAX_IOCTL_FILE_BYTES: usize = 64 << 20;

/// One recorded URB (a `USBDEVFS_REAPURB` or `USBDEVFS_REAPURBNDELAY` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedUrb {
    /// usbfs transfer type (0 isochronous, 1 interrupt, 2 control, 3 bulk).
    pub urb_type: u8,
    /// Endpoint address (0x80 = IN); 0 for control transfers.
    pub endpoint: u8,
    /// Completion status: 0, or a negative errno (-2 cancelled, -19 no device, ...).
    pub status: i32,
    /// usbfs URB flags.
    pub flags: u32,
    /// Bytes the host asked for (a control URB's include its 8-byte setup packet).
    pub buffer_length: usize,
    /// Bytes moved.
    pub actual_length: usize,
    /// OUT (and control): the `buffer_length` bytes sent; IN: the `actual_length` bytes received.
    pub data: Vec<u8>,
}

impl RecordedUrb {
    /// True for an IN endpoint (control URBs, on endpoint 0, count as OUT here, as in usbfs).
    fn is_in(&self) -> bool {
        self.endpoint & 0x80 != 0
    }

    fn describe(&self) -> String {
        let kind = match TransferKind::from_usbfs_type(self.urb_type) {
            Some(TransferKind::Control) => "control",
            Some(TransferKind::Bulk) => "bulk",
            Some(TransferKind::Interrupt) => "interrupt",
            None => "isochronous",
        };
        let mut text = if self.is_in() {
            format!(
                "{kind} IN {:#04x}, {} bytes ({} returned",
                self.endpoint, self.buffer_length, self.actual_length
            )
        } else {
            format!(
                "{kind} OUT {:#04x}, {} bytes: {}",
                self.endpoint,
                self.buffer_length,
                hex_bytes(&self.data, 40)
            )
        };
        if self.is_in() {
            if self.status != 0 {
                text.push_str(&format!(", status {}", self.status));
            }
            text.push(')');
        } else if self.status != 0 {
            text.push_str(&format!(" (status {})", self.status));
        }
        text
    }
}

/// One line of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NodeKind {
    Urb(RecordedUrb),
    /// Any other ioctl (GET_CAPABILITIES, CONNECTINFO, ...): part of the tree, never a transfer.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    /// 1-based line in the file.
    line: usize,
    kind: NodeKind,
}

/// A parsed `.ioctl` recording: its nodes in file order (which is the tree's pre-order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlRecording {
    /// The device node named by the `@DEV` line, if any.
    pub dev_node: Option<String>,
    nodes: Vec<Node>,
}

impl IoctlRecording {
    /// Parses the text of a `.ioctl` file. Every malformed line is an error that names it.
    pub fn parse(text: &str) -> Result<Self, ReplayError> {
        let bad = |line: usize, reason: String| ReplayError::Malformed {
            file: "capture.ioctl".into(),
            line,
            reason,
        };
        if text.len() > MAX_IOCTL_FILE_BYTES {
            return Err(bad(0, format!("larger than {MAX_IOCTL_FILE_BYTES} bytes")));
        }
        let mut dev_node = None;
        let mut nodes = Vec::new();
        let mut previous_depth: Option<usize> = None;
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            if let Some(rest) = raw.strip_prefix('@') {
                if let Some(path) = rest.strip_prefix("DEV ") {
                    dev_node = Some(path.trim().to_string());
                }
                continue;
            }
            let depth = raw.len() - raw.trim_start_matches(' ').len();
            let line = &raw[depth..];
            if line.starts_with(char::is_whitespace) {
                return Err(bad(number, "indentation must be spaces only".into()));
            }
            match previous_depth {
                None if depth != 0 => return Err(bad(number, format!("the first node is indented by {depth}"))),
                Some(previous) if depth > previous + 1 => {
                    return Err(bad(
                        number,
                        format!("indented by {depth} under a node of depth {previous}: a level skipped"),
                    ))
                }
                _ => {}
            }
            previous_depth = Some(depth);
            let mut fields = line.split_ascii_whitespace();
            let name = fields.next().unwrap_or_default();
            let base_name = name.split_once('(').map_or(name, |(base, _)| base);
            if base_name.is_empty()
                || !base_name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(bad(number, format!("{name:?} is not an ioctl name")));
            }
            let kind = match base_name {
                "USBDEVFS_REAPURB" | "USBDEVFS_REAPURBNDELAY" => {
                    NodeKind::Urb(parse_urb(fields).map_err(|why| bad(number, format!("{name}: {why}")))?)
                }
                _ => NodeKind::Other(name.to_string()),
            };
            nodes.push(Node { line: number, kind });
        }
        if !nodes.iter().any(|n| matches!(n.kind, NodeKind::Urb(_))) {
            return Err(bad(0, "the recording holds no USB transfer".into()));
        }
        Ok(IoctlRecording { dev_node, nodes })
    }

    /// The recorded URBs in file order, with their line numbers.
    pub fn urbs(&self) -> impl Iterator<Item = (usize, &RecordedUrb)> {
        self.nodes.iter().filter_map(|n| match &n.kind {
            NodeKind::Urb(urb) => Some((n.line, urb)),
            NodeKind::Other(_) => None,
        })
    }
}

/// The fields after a URB line's name: `ret type endpoint status flags buffer_length
/// actual_length error_count [data]`.
fn parse_urb<'a>(mut fields: impl Iterator<Item = &'a str>) -> Result<RecordedUrb, String> {
    let mut number = |what: &str| -> Result<i64, String> {
        let text = fields.next().ok_or_else(|| format!("missing {what}"))?;
        text.parse::<i64>()
            .map_err(|_| format!("{what} is {text:?}, not a number"))
    };
    let _ret = number("return value")?;
    let urb_type = number("type")?;
    let endpoint = number("endpoint")?;
    let status = number("status")?;
    let flags = number("flags")?;
    let buffer_length = number("buffer length")?;
    let actual_length = number("actual length")?;
    let _error_count = number("error count")?;
    let urb_type = u8::try_from(urb_type)
        .ok()
        .filter(|t| *t <= 3)
        .ok_or(format!("type {urb_type} is not 0-3"))?;
    let endpoint = u8::try_from(endpoint).map_err(|_| format!("endpoint {endpoint} is not 0-255"))?;
    let status = i32::try_from(status).map_err(|_| format!("status {status} out of range"))?;
    let flags = u32::try_from(flags).map_err(|_| format!("flags {flags} out of range"))?;
    let buffer_length = usize::try_from(buffer_length)
        .ok()
        .filter(|n| *n <= crate::transport::MAX_TRANSFER_LEN + SETUP_PACKET_LEN)
        .ok_or(format!("buffer length {buffer_length} out of range"))?;
    let actual_length = usize::try_from(actual_length)
        .ok()
        .filter(|n| *n <= buffer_length)
        .ok_or(format!("actual length {actual_length} is not 0..={buffer_length}"))?;
    let data = match fields.next() {
        Some(hex) => decode_hex(hex)?,
        None => Vec::new(),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the data"));
    }
    let urb = RecordedUrb {
        urb_type,
        endpoint,
        status,
        flags,
        buffer_length,
        actual_length,
        data,
    };
    let expected = if urb.is_in() { actual_length } else { buffer_length };
    if urb.data.len() != expected {
        return Err(format!(
            "{} data bytes where the {} needs {expected} (truncated or padded)",
            urb.data.len(),
            if urb.is_in() { "actual length" } else { "buffer length" }
        ));
    }
    if urb_type == TransferKind::Control.usbfs_type() && buffer_length < SETUP_PACKET_LEN {
        return Err(format!("a control URB of {buffer_length} bytes has no setup packet"));
    }
    Ok(urb)
}

/// [`Transport`] that replays an [`IoctlRecording`] with umockdev's matching rule.
#[derive(Debug)]
pub struct IoctlReplay {
    recording: IoctlRecording,
    /// Index into `recording.nodes` of the last node used; `None` before the first transfer.
    cursor: Option<usize>,
    /// Completed transfers not yet reaped.
    completed: VecDeque<Completion>,
    /// The device's endpoints, to refuse a transfer to one it does not have.
    endpoints: Option<Vec<Endpoint>>,
    next_id: u64,
}

impl IoctlReplay {
    /// A replay of `recording` from its start.
    pub fn new(recording: IoctlRecording) -> Self {
        IoctlReplay {
            recording,
            cursor: None,
            completed: VecDeque::new(),
            endpoints: None,
            next_id: 1,
        }
    }

    /// Also refuses transfers to endpoints that the device (its descriptors) does not declare.
    pub fn with_endpoints(mut self, endpoints: Vec<Endpoint>) -> Self {
        self.endpoints = Some(endpoints);
        self
    }

    /// Node indices in the order the rule visits them: after the cursor, wrapping round, the
    /// cursor's own node last.
    fn search_order(&self) -> impl Iterator<Item = usize> {
        let count = self.recording.nodes.len();
        let start = self.cursor.map_or(0, |c| c + 1);
        (0..count).map(move |k| (start + k) % count)
    }

    fn matches(urb: &RecordedUrb, request: &TransferRequest, sent: &[u8]) -> bool {
        if urb.urb_type != request.kind.usbfs_type() || urb.endpoint != request.endpoint || urb.flags != 0 {
            return false;
        }
        if urb.buffer_length != sent.len() {
            return false;
        }
        match request.kind {
            // The setup packet must agree, and an OUT control transfer's data too.
            TransferKind::Control => {
                let compare = if request.is_in() { SETUP_PACKET_LEN } else { sent.len() };
                urb.data.get(..compare) == sent.get(..compare)
            }
            _ if urb.is_in() => true,
            _ => urb.data == sent,
        }
    }

    fn check_endpoint(&self, request: &TransferRequest) -> Result<(), TransportError> {
        let Some(endpoints) = &self.endpoints else {
            return Ok(());
        };
        if request.kind == TransferKind::Control {
            return Ok(());
        }
        let wanted = match request.kind {
            TransferKind::Bulk => EndpointKind::Bulk,
            _ => EndpointKind::Interrupt,
        };
        if endpoints
            .iter()
            .any(|e| e.address == request.endpoint && e.kind == wanted)
        {
            Ok(())
        } else {
            Err(TransportError::Replay(format!(
                "the driver sent {}, but the recorded device has no {wanted:?} endpoint {:#04x}",
                request.describe(),
                request.endpoint
            )))
        }
    }
}

impl Transport for IoctlReplay {
    fn submit(&mut self, request: TransferRequest) -> Result<TransferId, TransportError> {
        request.check()?;
        self.check_endpoint(&request)?;
        // What usbfs would see: a control URB's buffer starts with the setup packet.
        let mut sent = request.setup_packet().map(|s| s.to_vec()).unwrap_or_default();
        if request.is_in() {
            sent.resize(sent.len() + request.length, 0);
        } else {
            sent.extend_from_slice(&request.data);
        }
        let found = self.search_order().find(|&i| match &self.recording.nodes[i].kind {
            NodeKind::Urb(urb) => Self::matches(urb, &request, &sent),
            NodeKind::Other(_) => false,
        });
        let Some(index) = found else {
            let next = self.search_order().find_map(|i| match &self.recording.nodes[i].kind {
                NodeKind::Urb(urb) => Some(format!("line {}: {}", self.recording.nodes[i].line, urb.describe())),
                NodeKind::Other(_) => None,
            });
            let after = match self.cursor {
                Some(c) => format!("after line {}", self.recording.nodes[c].line),
                None => "at its start".into(),
            };
            return Err(TransportError::Replay(format!(
                "the driver sent {}, which the recording does not hold anywhere; {after} the recording expects {}",
                request.describe(),
                next.unwrap_or_else(|| "nothing".into())
            )));
        };
        self.cursor = Some(index);
        let NodeKind::Urb(urb) = &self.recording.nodes[index].kind else {
            return Err(TransportError::Other("replay cursor on a non-URB node".into()));
        };
        let data = if request.is_in() {
            let start = if request.kind == TransferKind::Control {
                SETUP_PACKET_LEN
            } else {
                0
            };
            urb.data
                .get(start..start + urb.actual_length)
                .or_else(|| urb.data.get(start..))
                .unwrap_or_default()
                .to_vec()
        } else {
            Vec::new()
        };
        let id = TransferId(self.next_id);
        self.next_id += 1;
        self.completed.push_back(Completion {
            id,
            result: status_from_errno(urb.status),
            actual_length: if request.is_in() { data.len() } else { urb.actual_length },
            data,
        });
        Ok(id)
    }

    fn reap(&mut self, _wait: Option<Duration>) -> Result<Option<Completion>, TransportError> {
        match self.completed.pop_front() {
            Some(done) => Ok(Some(done)),
            None => Err(TransportError::Other(
                "waited for a transfer with none in flight".into(),
            )),
        }
    }

    fn cancel(&mut self, _id: TransferId) -> Result<(), TransportError> {
        // Every replayed transfer has completed by the time it is submitted.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deduplicated tree like the AES3500's: `8000` is written once and the IN that
    /// followed its second use hangs under the first.
    const TREE: &str = "@DEV /dev/bus/usb/003/004
USBDEVFS_GET_CAPABILITIES 0 7D000000
USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 8001
USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 8000
 USBDEVFS_REAPURBNDELAY 0 3 129 0 0 4 4 0 AABBCCDD
USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 8104
";

    fn replay(text: &str) -> IoctlReplay {
        IoctlReplay::new(IoctlRecording::parse(text).unwrap())
    }

    fn send(r: &mut IoctlReplay, bytes: &[u8]) -> Result<(), TransportError> {
        r.bulk_out(0x02, bytes, Duration::from_secs(1)).map(|_| ())
    }

    fn read(r: &mut IoctlReplay, length: usize) -> Result<Vec<u8>, TransportError> {
        let mut buf = vec![0; length];
        let n = r.bulk_in(0x81, &mut buf, Duration::from_secs(1))?;
        buf.truncate(n);
        Ok(buf)
    }

    #[test]
    fn the_cursor_walks_on_and_wraps_round() {
        let mut r = replay(TREE);
        assert_eq!(r.recording.dev_node.as_deref(), Some("/dev/bus/usb/003/004"));
        send(&mut r, &[0x80, 0x01]).unwrap();
        send(&mut r, &[0x80, 0x00]).unwrap();
        send(&mut r, &[0x81, 0x04]).unwrap();
        // 8000 again: found by wrapping round; the IN under it comes next.
        send(&mut r, &[0x80, 0x00]).unwrap();
        assert_eq!(read(&mut r, 4).unwrap(), [0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn a_mismatch_names_what_was_sent_and_what_was_expected() {
        let mut r = replay(TREE);
        send(&mut r, &[0x80, 0x01]).unwrap();
        let e = send(&mut r, &[0x80, 0x07]).unwrap_err().to_string();
        assert!(e.contains("bulk OUT 0x02, 2 bytes: 80 07"), "{e}");
        assert!(
            e.contains("after line 3 the recording expects line 4: bulk OUT 0x02, 2 bytes: 80 00"),
            "{e}"
        );
        // A length the recording does not hold is a mismatch too.
        let e = read(&mut r, 8).unwrap_err().to_string();
        assert!(e.contains("bulk IN 0x81, 8 bytes"), "{e}");
    }

    #[test]
    fn statuses_and_short_reads_are_replayed() {
        let mut r = replay(
            "USBDEVFS_REAPURBNDELAY 0 3 2 0 0 1 1 0 01
 USBDEVFS_REAPURBNDELAY 0 3 129 -2 0 4 0 0
USBDEVFS_REAPURBNDELAY 0 3 2 0 0 1 1 0 02
 USBDEVFS_REAPURBNDELAY 0 3 129 0 0 4 2 0 0102
",
        );
        send(&mut r, &[1]).unwrap();
        assert_eq!(read(&mut r, 4), Err(TransportError::Cancelled));
        send(&mut r, &[2]).unwrap();
        assert_eq!(read(&mut r, 4).unwrap(), [1, 2]);
    }

    #[test]
    fn endpoints_missing_from_the_descriptor_are_refused() {
        let mut r = replay(TREE).with_endpoints(vec![Endpoint {
            address: 0x81,
            kind: EndpointKind::Bulk,
            max_packet_size: 64,
            interface: 0,
        }]);
        let e = send(&mut r, &[0x80, 0x01]).unwrap_err().to_string();
        assert!(e.contains("no Bulk endpoint 0x02"), "{e}");
    }

    #[test]
    fn malformed_recordings_are_errors_that_name_the_line() {
        for (text, needle) in [
            ("", "holds no USB transfer"),
            ("USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 80", "line 1"),
            (
                "USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 80",
                "1 data bytes where the buffer length needs 2",
            ),
            (
                "USBDEVFS_REAPURBNDELAY 0 3 129 0 0 4 4 0 0102",
                "2 data bytes where the actual length needs 4",
            ),
            ("USBDEVFS_REAPURBNDELAY 0 3 129 0 0 4 5 0", "actual length 5"),
            ("USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 80ZZ", "not a hex digit"),
            ("USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2", "missing error count"),
            ("USBDEVFS_REAPURBNDELAY 0 9 2 0 0 2 2 0 8000", "type 9"),
            ("USBDEVFS_REAPURBNDELAY 0 3 2 0 0 -1 2 0", "buffer length -1"),
            ("USBDEVFS_REAPURBNDELAY 0 3 2 0 0 99999999999 2 0", "buffer length"),
            ("USBDEVFS_REAPURBNDELAY 0 2 0 0 0 4 4 0 00000000", "no setup packet"),
            (
                "  USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 8000",
                "first node is indented",
            ),
            (
                "USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 8000\n  USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 8000",
                "level skipped",
            ),
            ("\tUSBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 8000", "spaces only"),
            ("hello world", "not an ioctl name"),
            (
                "USBDEVFS_REAPURBNDELAY 0 3 2 0 0 2 2 0 8000 extra",
                "unexpected \"extra\"",
            ),
        ] {
            let e = IoctlRecording::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn reaping_with_nothing_in_flight_is_an_error() {
        let mut r = replay(TREE);
        assert!(r.reap(None).is_err());
    }
}
