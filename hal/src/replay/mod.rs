//! Replaying recorded USB traffic: the proof that a driver does what the real device expects,
//! without the device.
//!
//! A recording is a folder (see `../shared/datasets/usb-recordings/README.md`) with a `device`
//! file (umockdev's description of the device: ids, bus position, descriptors; [`device`]) and
//! the traffic of one capture, either umockdev's usbdevfs text `capture.ioctl` ([`ioctl`]) or a
//! usbmon capture `capture.pcapng` ([`pcapng`]). Both become a [`Transport`] on which the driver
//! that `usb::SUPPORTED` names for the device's vendor and product id runs unchanged, so
//! [`open_reader`] gives a [`Reader`] whose capture is the recorded one. Whenever the driver does
//! something the recording does not hold, the transfer fails with
//! [`TransportError::Replay`](crate::transport::TransportError::Replay), naming what the driver
//! sent and what the recording expected.
//!
//! Files from outside are input: anything malformed is a [`ReplayError`], never a panic.

pub mod device;
pub mod ioctl;
pub mod pcapng;

use std::path::{Path, PathBuf};

pub use device::DeviceDescription;
pub use ioctl::{IoctlRecording, IoctlReplay};
pub use pcapng::{PcapRecording, PcapReplay};

use crate::error::ReaderError;
use crate::reader::{Reader, ReaderInfo};
use crate::transport::Transport;
use crate::usb::{self, UsbModel};

/// Prefix of a replayed reader's id (`replay:DIR`).
pub const REPLAY_PREFIX: &str = "replay:";
/// The device description in a recording folder.
pub const DEVICE_FILE: &str = "device";
/// umockdev's usbdevfs text recording.
pub const IOCTL_FILE: &str = "capture.ioctl";
/// usbmon capture.
pub const PCAPNG_FILE: &str = "capture.pcapng";

/// Why a recording cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// A file is missing or unreadable.
    #[error("cannot read {}: {reason}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// A file is not what its format says it should be.
    #[error("{file}{}: {reason}", line_suffix(*.line))]
    Malformed {
        /// Which file (`device`, `capture.ioctl`, `capture.pcapng`).
        file: String,
        /// 1-based line, or 0 when the problem is not on one line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The recorded device is not one shimon has a driver for.
    #[error("{0}")]
    Unsupported(String),
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" line {line}")
    }
}

impl From<ReplayError> for ReaderError {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::Io { .. } | ReplayError::Unsupported(_) => ReaderError::NoReader(e.to_string()),
            ReplayError::Malformed { .. } => ReaderError::Device(format!("bad recording: {e}")),
        }
    }
}

/// The traffic of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Traffic {
    /// A `capture.ioctl`.
    Ioctl(IoctlRecording),
    /// A `capture.pcapng`.
    Pcap(PcapRecording),
}

/// A recording folder, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The folder.
    pub dir: PathBuf,
    /// The recorded device.
    pub device: DeviceDescription,
    /// What went over the bus.
    pub traffic: Traffic,
}

fn read_file(path: &Path, limit: usize) -> Result<Vec<u8>, ReplayError> {
    let io = |e: std::io::Error| ReplayError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > limit as u64 {
        return Err(ReplayError::Malformed {
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            line: 0,
            reason: format!("{size} bytes, more than the {limit} accepted"),
        });
    }
    std::fs::read(path).map_err(io)
}

fn read_text(path: &Path, limit: usize) -> Result<String, ReplayError> {
    String::from_utf8(read_file(path, limit)?).map_err(|e| ReplayError::Malformed {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        line: 0,
        reason: format!("not UTF-8 text ({e})"),
    })
}

impl Recording {
    /// Reads and parses the recording in `dir`: `device`, and `capture.ioctl` or, failing that,
    /// `capture.pcapng`.
    pub fn load(dir: &Path) -> Result<Self, ReplayError> {
        let device = DeviceDescription::parse(&read_text(&dir.join(DEVICE_FILE), device::MAX_DEVICE_FILE_BYTES)?)?;
        let ioctl = dir.join(IOCTL_FILE);
        let pcapng = dir.join(PCAPNG_FILE);
        let traffic = if ioctl.exists() {
            Traffic::Ioctl(IoctlRecording::parse(&read_text(&ioctl, ioctl::MAX_IOCTL_FILE_BYTES)?)?)
        } else if pcapng.exists() {
            Traffic::Pcap(PcapRecording::parse(&read_file(
                &pcapng,
                pcapng::MAX_PCAPNG_FILE_BYTES,
            )?)?)
        } else {
            return Err(ReplayError::Io {
                path: dir.to_path_buf(),
                reason: format!("holds neither {IOCTL_FILE} nor {PCAPNG_FILE}"),
            });
        };
        Ok(Recording {
            dir: dir.to_path_buf(),
            device,
            traffic,
        })
    }

    /// The supported model the recorded device is, by vendor and product id.
    pub fn model(&self) -> Result<&'static UsbModel, ReplayError> {
        let d = &self.device.descriptors;
        usb::find_model(usb::SUPPORTED, d.vendor_id, d.product_id).ok_or_else(|| {
            ReplayError::Unsupported(format!(
                "the recorded device {:04x}:{:04x} is not a supported reader",
                d.vendor_id, d.product_id
            ))
        })
    }

    /// A fresh transport replaying this recording from its start.
    pub fn transport(&self) -> Result<Box<dyn Transport>, ReplayError> {
        Ok(match &self.traffic {
            Traffic::Ioctl(recording) => {
                Box::new(IoctlReplay::new(recording.clone()).with_endpoints(self.device.descriptors.endpoints.clone()))
            }
            Traffic::Pcap(recording) => Box::new(PcapReplay::new(
                recording.clone(),
                self.device.bus,
                self.device.address,
            )?),
        })
    }

    /// How the replayed reader describes itself: the model's description, id `replay:DIR`.
    pub fn reader_info(&self) -> Result<ReaderInfo, ReplayError> {
        let id = format!("{REPLAY_PREFIX}{}", self.dir.display());
        Ok(usb::describe(self.model()?, id, String::new()))
    }

    /// The model's driver on a fresh replay of this recording.
    pub fn open_reader(&self) -> Result<Box<dyn Reader>, ReaderError> {
        let model = self.model()?;
        let info = self.reader_info()?;
        (model.driver)(self.transport()?, info)
    }
}

/// A reader that replays the recording in `dir` with the driver of the recorded device.
pub fn open_reader(dir: &Path) -> Result<Box<dyn Reader>, ReaderError> {
    Recording::load(dir)?.open_reader()
}
