//! shimon-matcher: the fingerprint engine.
//!
//! It turns a grey image into a [`Template`] (a list of minutiae and a coarse map of the ridge flow,
//! with a quality) and compares two templates into a score. Extraction is a pipeline of named stages, one module each, whose tuning
//! parameters all live in [`params`]; comparison pairs minutiae, consolidates the pairing and scores
//! it. The crate is pure: no I/O, no async, no `unsafe`, and no global state that changes a
//! result (the one process-wide effect is a hint to the memory allocator before the first
//! extraction, which only saves time; see `extraction.rs`).
//!
//! Conventions used throughout: pixel coordinates have their origin at the top-left corner, `x` to
//! the right and `y` downwards; a template's coordinates are at the engine's internal resolution
//! ([`params::INTERNAL_DPI`]); angles are radians measured from the `+x` axis towards `+y`
//! (clockwise as seen on screen), in `[0, 2π)`.
//!
//! # Choosing a threshold
//!
//! Scores are not probabilities; a deployment picks the threshold for the false match rate (FMR)
//! it can accept. Measured with `shimon-fp eval` on the six FVC2002/FVC2004 B databases in
//! `../shared/datasets/fingerprints`, pooled (1,680 genuine pairs, 17,280 cross-finger impostor
//! pairs), a pair matching when its score is at least the threshold (`fp/examples/score_templates.rs`
//! prints this table from templates extracted by `fp/examples/dump_templates.rs`):
//!
//! | threshold | FMR measured | FNMR measured |
//! |---|---|---|
//! | 2.71 | 10.0% | 3.1% |
//! | 5.53 | 0.995% | 6.6% |
//! | 7.97 | 0.098% | 9.8% |
//! | 9.80 | 0.006% (1 in 17,280) | 12.6% |
//!
//! Above 10.57 no impostor pair of that set scored (FNMR 13.9% there). The table holds for
//! templates that carry their ridge flow (format 2, as extraction makes them); templates without
//! one (imported from ISO records, or stored in format 1) score by their minutiae alone, lower for
//! genuine pairs, so at these thresholds they match less often, never more. With 17,280 impostor pairs an FMR below about
//! 0.01% cannot be measured, so a threshold for a lower FMR is an extrapolation; FVC2004 (made
//! with deliberate distortion, dry and wet fingers) drives the FNMR. Each database's own table is
//! printed by `shimon-fp eval`.
#![forbid(unsafe_code)]

pub mod image;
pub mod iso;
pub mod params;
pub mod template;

pub use flow::{FlowCell, RidgeFlow};
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
mod flow;
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
