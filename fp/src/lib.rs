//! shimon-fp: the command-line face of the fingerprint engine, as a library so that its tests
//! and benchmarks reuse what the `shimon-fp` binary does.
//!
//! - [`load`] reads images (PNG, TIFF including palette and 16-bit, BMP, PGM) into 8-bit grey and
//!   finds their resolution; [`input`] tells images from templates by content.
//! - [`engines`] puts shimon and the NIST NBIS peer behind one trait.
//! - [`eval`] runs the evaluation protocol of the shared fingerprint databases, [`metrics`]
//!   computes the error rates and [`report`] prints them.
//! - [`show`] draws an image with its minutiae.
//! - [`datasets`] finds the shared databases.

pub mod datasets;
pub mod engines;
pub mod eval;
pub mod input;
pub mod load;
pub mod metrics;
pub mod report;
pub mod show;
mod tiff_palette;
