//! The simulated reader: virtual fingers for tests, demos and measurements.
//!
//! A virtual finger is a seed. Its [`master`] print (pattern class, singular points, orientation
//! and ridge period fields, grown ridges) is drawn once; every capture renders a new
//! [`impression`] of it (position, rotation, pressure, skin, distortion, sensor noise). The same
//! seed and impression number always give the same image, on every machine.
//!
//! [`SimulatedReader`] wraps a finger in the [`Reader`] interface and can be told to misbehave the
//! way real readers and users do (see [`Behaviour`]).

pub mod field;
pub mod impression;
pub mod master;
pub mod rng;
pub mod texture;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::ReaderError;
use crate::image::FingerImage;
use crate::reader::{CancelHandle, Reader, ReaderInfo, SensorKind};
pub use impression::{Condition, SensorGeometry};
pub use master::{MasterPrint, PatternClass};

/// The simulated sensor's window: 19.5 x 22.6 mm, like a desktop optical reader.
pub const DEFAULT_GEOMETRY: SensorGeometry = SensorGeometry {
    width_px: 384,
    height_px: 448,
    dpi: 500,
};
/// Lowest and highest resolution the simulator renders, dots per inch.
pub const DPI_RANGE: (u32, u32) = (250, 1000);
/// How often a waiting capture looks at its cancel handle and its deadline, milliseconds.
const POLL_INTERVAL_MS: u64 = 5;

/// One virtual finger: its seed and master print.
#[derive(Debug, Clone)]
pub struct SyntheticFinger {
    seed: u64,
    master: Arc<MasterPrint>,
}

impl SyntheticFinger {
    /// Draws the finger of `seed` (the costly part, done once per finger).
    pub fn new(seed: u64) -> Self {
        SyntheticFinger {
            seed,
            master: Arc::new(MasterPrint::generate(seed)),
        }
    }

    /// The finger's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The finger's master print.
    pub fn master(&self) -> &MasterPrint {
        &self.master
    }

    /// Impression number `impression` of this finger, as `geometry` captures it.
    pub fn impression(&self, impression: u32, geometry: SensorGeometry, condition: Condition) -> FingerImage {
        impression::render(&self.master, self.seed, impression, geometry, condition)
    }
}

/// Seed of finger number `finger` of a synthetic set drawn with `set_seed`.
pub fn finger_seed(set_seed: u64, finger: u32) -> u64 {
    rng::derive(set_seed, &[rng::label("finger"), u64::from(finger)])
}

/// Checks a sensor geometry the simulator can render.
pub fn check_geometry(geometry: SensorGeometry) -> Result<(), ReaderError> {
    if !(DPI_RANGE.0..=DPI_RANGE.1).contains(&geometry.dpi) {
        return Err(ReaderError::Device(format!(
            "the simulator renders {}..={} dpi, not {}",
            DPI_RANGE.0, DPI_RANGE.1, geometry.dpi
        )));
    }
    let max = crate::image::MAX_IMAGE_SIDE_PX;
    if geometry.width_px < 64 || geometry.height_px < 64 || geometry.width_px > max || geometry.height_px > max {
        return Err(ReaderError::Device(format!(
            "the simulator renders 64..={max} px a side, not {}x{}",
            geometry.width_px, geometry.height_px
        )));
    }
    Ok(())
}

/// The description of the simulated reader of `seed` (cheap: draws no finger).
pub fn simulated_info(seed: u64, geometry: SensorGeometry) -> ReaderInfo {
    ReaderInfo {
        id: format!("sim:{seed}"),
        vendor: "shimon".into(),
        model: "simulated optical reader".into(),
        serial: format!("SIM-{seed:016X}"),
        dpi: geometry.dpi,
        width_px: geometry.width_px,
        height_px: geometry.height_px,
        kind: SensorKind::Press,
    }
}

/// How the simulated reader behaves on the next captures.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// A cooperative user: the finger arrives after the reader's finger delay and a good
    /// impression is captured.
    Normal,
    /// No finger ever arrives: captures end with [`ReaderError::TimedOut`] (or `Cancelled`).
    NoFinger,
    /// The reader is unplugged while the finger is on it: this capture and every later call fail
    /// with [`ReaderError::Disconnected`].
    DisconnectMidCapture,
    /// The impressions are of poor quality (small contact, very dry or wet skin, smear, noise).
    PoorQuality,
    /// Somebody else puts their finger on: impressions of the finger with this seed.
    OtherFinger(u64),
    /// The reader delivers this image (for example one read from a file).
    Present(FingerImage),
}

/// A reader whose finger is a [`SyntheticFinger`].
#[derive(Debug)]
pub struct SimulatedReader {
    info: ReaderInfo,
    finger: SyntheticFinger,
    geometry: SensorGeometry,
    behaviour: Behaviour,
    next_impression: u32,
    finger_delay: Duration,
    finger_resting: bool,
    disconnected: bool,
}

impl SimulatedReader {
    /// A reader presenting the finger of `seed`, with the default geometry.
    pub fn new(seed: u64) -> Self {
        Self::with_geometry(seed, DEFAULT_GEOMETRY).expect("the default geometry is valid")
    }

    /// A reader presenting the finger of `seed` through a sensor of the given geometry.
    pub fn with_geometry(seed: u64, geometry: SensorGeometry) -> Result<Self, ReaderError> {
        check_geometry(geometry)?;
        Ok(SimulatedReader {
            info: simulated_info(seed, geometry),
            finger: SyntheticFinger::new(seed),
            geometry,
            behaviour: Behaviour::Normal,
            next_impression: 1,
            finger_delay: Duration::ZERO,
            finger_resting: false,
            disconnected: false,
        })
    }

    /// Sets how the next captures behave.
    pub fn set_behaviour(&mut self, behaviour: Behaviour) {
        self.behaviour = behaviour;
    }

    /// The behaviour in force.
    pub fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }

    /// From now on, presents the image in the file at `path` (scanned at `dpi`).
    pub fn present_image_file(&mut self, path: &std::path::Path, dpi: u32) -> Result<(), ReaderError> {
        let image = FingerImage::read(path, dpi)?;
        self.behaviour = Behaviour::Present(image);
        Ok(())
    }

    /// How long after a capture starts the simulated user's finger lands (default: at once).
    pub fn set_finger_delay(&mut self, delay: Duration) {
        self.finger_delay = delay;
    }

    /// Leaves a finger resting on the sensor between captures (or lifts it).
    pub fn set_finger_resting(&mut self, resting: bool) {
        self.finger_resting = resting;
    }

    /// The impression number the next capture renders.
    pub fn next_impression(&self) -> u32 {
        self.next_impression
    }

    /// Makes the next capture render impression `impression`.
    pub fn set_next_impression(&mut self, impression: u32) {
        self.next_impression = impression;
    }

    /// The virtual finger.
    pub fn finger(&self) -> &SyntheticFinger {
        &self.finger
    }

    fn render(&self) -> FingerImage {
        let n = self.next_impression;
        match &self.behaviour {
            Behaviour::PoorQuality => self.finger.impression(n, self.geometry, Condition::Poor),
            Behaviour::OtherFinger(seed) => SyntheticFinger::new(*seed).impression(n, self.geometry, Condition::Normal),
            Behaviour::Present(image) => image.clone(),
            _ => self.finger.impression(n, self.geometry, Condition::Normal),
        }
    }
}

impl Reader for SimulatedReader {
    fn info(&self) -> &ReaderInfo {
        &self.info
    }

    fn finger_present(&mut self) -> Result<bool, ReaderError> {
        if self.disconnected {
            return Err(ReaderError::Disconnected);
        }
        Ok(self.finger_resting && self.behaviour != Behaviour::NoFinger)
    }

    fn capture(&mut self, timeout: Duration, cancel: &CancelHandle) -> Result<FingerImage, ReaderError> {
        if self.disconnected {
            return Err(ReaderError::Disconnected);
        }
        let start = Instant::now();
        let arrives = match self.behaviour {
            Behaviour::NoFinger => None,
            _ => Some(if self.finger_resting {
                Duration::ZERO
            } else {
                self.finger_delay
            }),
        };
        loop {
            if cancel.is_cancelled() {
                return Err(ReaderError::Cancelled);
            }
            let waited = start.elapsed();
            match arrives {
                Some(at) if waited >= at => break,
                _ => {}
            }
            if waited >= timeout {
                return Err(ReaderError::TimedOut(timeout));
            }
            let mut pause = Duration::from_millis(POLL_INTERVAL_MS).min(timeout - waited);
            if let Some(at) = arrives {
                pause = pause.min(at.saturating_sub(waited));
            }
            std::thread::sleep(pause);
        }
        if self.behaviour == Behaviour::DisconnectMidCapture {
            tracing::warn!(reader = %self.info.id, "simulated disconnect during capture");
            self.disconnected = true;
            return Err(ReaderError::Disconnected);
        }
        let image = self.render();
        tracing::debug!(reader = %self.info.id, impression = self.next_impression, "simulated capture");
        self.next_impression = self.next_impression.wrapping_add(1).max(1);
        Ok(image)
    }
}
