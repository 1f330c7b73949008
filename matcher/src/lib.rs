//! shimon-matcher: the fingerprint engine.
//!
//! It turns a grey image into a [`Template`] (a list of minutiae with a quality) and compares two
//! templates into a score. Extraction is a pipeline of named stages, one module each, whose tuning
//! parameters all live in [`params`]; comparison pairs minutiae, consolidates the pairing and scores
//! it. The crate is pure: no I/O, no async, no global state, no `unsafe`.
//!
//! Conventions used throughout: pixel coordinates have their origin at the top-left corner, `x` to
//! the right and `y` downwards; a template's coordinates are at the engine's internal resolution
//! ([`params::INTERNAL_DPI`]); angles are radians measured from the `+x` axis towards `+y`
//! (clockwise as seen on screen), in `[0, 2π)`.
#![forbid(unsafe_code)]

pub mod image;
pub mod iso;
pub mod params;
pub mod template;

pub use image::{FingerprintImage, ImageError};
pub use iso::IsoError;
pub use template::{Minutia, MinutiaKind, Template, TemplateError};

mod angles;
mod binarisation;
mod comparison;
mod consolidation;
mod enhancement;
mod extraction;
mod filtering;
mod frequency;
mod minutiae;
mod orientation;
mod pairing;
mod plane;
mod resample;
mod scoring;
mod segmentation;
mod thinning;

pub use comparison::{compare, Probe};
pub use extraction::{extract, extract_with_details, ExtractError, Extraction};
