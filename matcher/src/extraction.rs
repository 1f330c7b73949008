//! Extraction: runs the pipeline of stages that turns an image into a template.

use crate::{FingerprintImage, Template};

/// Why no template could be made from an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// No part of the image looks like a fingerprint.
    #[error("no fingerprint found in the image (blank, or no ridge pattern)")]
    NoFinger,
}

/// A template with what the stages saw on the way, for drawing (`shimon-fp show`).
#[derive(Debug, Clone)]
pub struct Extraction {
    /// The template.
    pub template: Template,
    /// Side of a segmentation block, pixels at the internal resolution.
    pub block_size_px: u32,
    /// Blocks across.
    pub blocks_wide: u32,
    /// Blocks down.
    pub blocks_high: u32,
    /// Row-major, `true` where a block holds finger.
    pub foreground: Vec<bool>,
    /// The binarised, thinned ridge skeleton at the internal resolution, row-major, `true` on a ridge
    /// line (width and height are the template's).
    pub skeleton: Vec<bool>,
}

/// Extracts a template from an image.
pub fn extract(image: &FingerprintImage) -> Result<Template, ExtractError> {
    extract_with_details(image).map(|e| e.template)
}

/// Extracts a template and keeps the intermediate maps.
pub fn extract_with_details(_image: &FingerprintImage) -> Result<Extraction, ExtractError> {
    Err(ExtractError::NoFinger) // PLACEHOLDER: the pipeline is being written
}
