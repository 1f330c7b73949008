//! The template: what the engine keeps of a fingerprint (its minutiae and a quality), and its compact,
//! versioned binary encoding.

/// The two kinds of minutia.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MinutiaKind {
    /// A ridge that ends.
    Ending,
    /// A ridge that splits in two.
    Bifurcation,
}

/// One minutia, at the engine's internal resolution ([`crate::params::INTERNAL_DPI`]).
///
/// `angle` is in radians in `[0, 2π)`, from `+x` towards `+y` (y grows downwards). For an ending it
/// points out of the ridge, past its tip; for a bifurcation it points from the two branches towards
/// the stem, so that an ending and the bifurcation
/// it becomes when ridges and valleys are swapped (dry or wet skin) point the same way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minutia {
    /// Column in pixels.
    pub x: u16,
    /// Row in pixels.
    pub y: u16,
    /// Direction in radians, `[0, 2π)`.
    pub angle: f32,
    /// Ending or bifurcation.
    pub kind: MinutiaKind,
    /// Reliability, 0 (worst) to 100 (best).
    pub quality: u8,
}

/// A fingerprint template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Width of the (resampled) image the template came from, in pixels at the internal resolution.
    pub width: u16,
    /// Height of that image, in pixels at the internal resolution.
    pub height: u16,
    /// Quality of the whole impression, 0 (unusable) to 100 (excellent).
    pub quality: u8,
    /// The minutiae, at most [`crate::params::MAX_MINUTIAE`].
    pub minutiae: Vec<Minutia>,
}

/// Why bytes could not be decoded into a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Placeholder until the codec lands.
    #[error("malformed template: {0}")]
    Malformed(String),
}
