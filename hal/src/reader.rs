//! The reader interface that the enrollment station and the login agent use without knowing what
//! is behind it: a description of the device, "is a finger on?", and "wait for a finger and give me
//! its image", with a timeout and a handle to cancel from another thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::ReaderError;
use crate::image::FingerImage;

/// How the finger meets the sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorKind {
    /// The finger rests on an area sensor.
    Press,
    /// The finger is swiped across a strip sensor and the image is stitched.
    Swipe,
}

impl std::fmt::Display for SensorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SensorKind::Press => "press",
            SensorKind::Swipe => "swipe",
        })
    }
}

/// What a reader is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// Identifier to open the reader again with [`crate::open`] (`usb:BUS:ADDRESS`, `sim:SEED`).
    pub id: String,
    /// Maker.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// Serial number, or empty when the device does not say.
    pub serial: String,
    /// Resolution, dots per inch.
    pub dpi: u32,
    /// Image width, pixels.
    pub width_px: u32,
    /// Image height, pixels.
    pub height_px: u32,
    /// Press or swipe.
    pub kind: SensorKind,
}

/// A handle that cancels a capture in progress from another thread. Clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    /// A fresh, uncancelled handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every capture watching this handle to stop with [`ReaderError::Cancelled`].
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`CancelHandle::cancel`] was called (and until [`CancelHandle::reset`]).
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Clears the flag so the handle can serve another capture.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// A fingerprint reader. Object safe: callers hold a `Box<dyn Reader>`.
pub trait Reader: Send {
    /// What this reader is.
    fn info(&self) -> &ReaderInfo;

    /// True when a finger is on the sensor now.
    fn finger_present(&mut self) -> Result<bool, ReaderError>;

    /// Waits for a finger (at most `timeout`, or until `cancel` fires) and captures one image.
    fn capture(&mut self, timeout: Duration, cancel: &CancelHandle) -> Result<FingerImage, ReaderError>;
}
