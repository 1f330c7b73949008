//! The engine's input: an 8-bit grey image with its size and resolution, checked on construction so
//! that every later stage can rely on sane dimensions.

use crate::params::{MAX_DPI, MAX_IMAGE_SIDE_PX, MIN_DPI, MIN_IMAGE_SIDE_MM};

/// Why an image cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The pixel buffer does not hold `width * height` bytes.
    #[error("image buffer holds {actual} bytes but {width}x{height} needs {expected}")]
    BufferSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The resolution is outside what the engine handles.
    #[error("resolution {dpi} dpi is outside the supported range {MIN_DPI}..={MAX_DPI} dpi")]
    Resolution {
        /// The resolution given.
        dpi: u32,
    },
    /// The image is too small to hold a usable part of a finger.
    #[error(
        "image {width}x{height} px at {dpi} dpi is too small: each side must cover at least {MIN_IMAGE_SIDE_MM} mm"
    )]
    TooSmall {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Resolution in dpi.
        dpi: u32,
    },
    /// The image is larger than any fingerprint sensor produces.
    #[error("image {width}x{height} px is too large: each side may be at most {MAX_IMAGE_SIDE_PX} px")]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

/// An 8-bit grey fingerprint image: row-major, one byte a pixel, 0 black (ridge) to 255 white.
#[derive(Clone)]
pub struct FingerprintImage {
    width: u32,
    height: u32,
    dpi: u32,
    pixels: Vec<u8>,
}

impl std::fmt::Debug for FingerprintImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FingerprintImage({}x{} @ {} dpi)", self.width, self.height, self.dpi)
    }
}

impl FingerprintImage {
    /// Wraps a pixel buffer, checking its size and resolution.
    pub fn new(width: u32, height: u32, dpi: u32, pixels: Vec<u8>) -> Result<Self, ImageError> {
        if !(MIN_DPI..=MAX_DPI).contains(&dpi) {
            return Err(ImageError::Resolution { dpi });
        }
        if width > MAX_IMAGE_SIDE_PX || height > MAX_IMAGE_SIDE_PX {
            return Err(ImageError::TooLarge { width, height });
        }
        let expected = width as usize * height as usize;
        if pixels.len() != expected {
            return Err(ImageError::BufferSize {
                width,
                height,
                expected,
                actual: pixels.len(),
            });
        }
        let min_side_px = (MIN_IMAGE_SIDE_MM * dpi as f32 / 25.4).ceil() as u32;
        if width < min_side_px || height < min_side_px {
            return Err(ImageError::TooSmall { width, height, dpi });
        }
        Ok(Self {
            width,
            height,
            dpi,
            pixels,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Resolution in dots per inch.
    pub fn dpi(&self) -> u32 {
        self.dpi
    }

    /// The pixels, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_buffer_and_absurd_sizes() {
        assert!(matches!(
            FingerprintImage::new(100, 100, 500, vec![0; 10]),
            Err(ImageError::BufferSize { .. })
        ));
        assert!(matches!(
            FingerprintImage::new(10, 10, 500, vec![0; 100]),
            Err(ImageError::TooSmall { .. })
        ));
        assert!(matches!(
            FingerprintImage::new(100, 100, 50, vec![0; 10_000]),
            Err(ImageError::Resolution { .. })
        ));
        assert!(matches!(
            FingerprintImage::new(100_000, 1, 500, vec![]),
            Err(ImageError::TooLarge { .. })
        ));
        assert!(FingerprintImage::new(200, 200, 500, vec![128; 40_000]).is_ok());
    }
}
