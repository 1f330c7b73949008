//! shimon-hal: fingerprint readers.
//!
//! The enrollment station and the login agent see a reader only through the [`Reader`] trait
//! (describe the device, "is a finger on?", capture one image with a timeout and a cancel handle)
//! and its typed [`ReaderError`]. [`list_readers`] and [`open`] find and open readers by id.
//!
//! Behind the trait:
//! - USB readers ([`usb`]): a table of supported models by vendor and product id, found and opened
//!   through rusb; the drivers (one file per device family) speak to the device through the small
//!   [`transport::Transport`] trait, implemented on libusb by [`transport::RusbTransport`] (which
//!   also runs under umockdev) and on recorded traffic by [`replay`], so the same driver code is
//!   proven on recordings of real readers.
//! - The simulated reader ([`sim`]): synthetic fingers in the manner of SFinGe, one master print
//!   per seed and a new realistic impression per capture, with misbehaviour on demand for tests.
//!
//! The command-line tool `shimon-reader` (crate `reader-tool/`) is a thin layer over this crate,
//! kept apart so that the station and the agent do not build its argument parser.

pub mod discovery;
pub mod error;
pub mod image;
pub mod reader;
pub mod replay;
pub mod sim;
pub mod transport;
pub mod usb;

pub use discovery::{list_readers, open, open_first};
pub use error::ReaderError;
pub use image::FingerImage;
pub use reader::{CancelHandle, Reader, ReaderInfo, SensorKind};
pub use sim::{Behaviour, SimulatedReader, SyntheticFinger};
