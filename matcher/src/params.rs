//! Every tuning parameter of the engine, in one place, each with its unit.
//!
//! Distances are in pixels at [`INTERNAL_DPI`] unless the name says otherwise; the engine resamples
//! every image to that resolution first, so no parameter depends on the sensor.

/// Lowest input resolution accepted, dots per inch.
pub const MIN_DPI: u32 = 250;
/// Highest input resolution accepted, dots per inch.
pub const MAX_DPI: u32 = 1000;
/// The resolution every stage works at, dots per inch.
pub const INTERNAL_DPI: u32 = 500;
/// Smallest side an input image may have, millimetres (about 5 ridges).
pub const MIN_IMAGE_SIDE_MM: f32 = 4.0;
/// Largest side an input image may have, pixels (a 2.5 inch slap at 1000 dpi is 2,500 px).
pub const MAX_IMAGE_SIDE_PX: u32 = 4096;
/// Most minutiae a template may hold.
pub const MAX_MINUTIAE: usize = 255;
