//! The image a reader delivers: 8-bit grey pixels with their size and resolution, and its PNG
//! encoding and decoding (the form in which images are saved and presented to the simulator).

use std::io::Cursor;
use std::path::Path;

use crate::error::ReaderError;

/// Largest image side accepted from a file, pixels (no fingerprint sensor comes near it).
pub const MAX_IMAGE_SIDE_PX: u32 = 4096;

/// A captured fingerprint image: row-major, one byte a pixel, 0 black (ridge) to 255 white.
#[derive(Clone, PartialEq, Eq)]
pub struct FingerImage {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Resolution, dots per inch.
    pub dpi: u32,
    /// `width * height` grey values.
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for FingerImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FingerImage({}x{} @ {} dpi)", self.width, self.height, self.dpi)
    }
}

impl FingerImage {
    /// Encodes the image as an 8-bit grey PNG.
    pub fn to_png(&self) -> Result<Vec<u8>, ReaderError> {
        let buffer = image::GrayImage::from_raw(self.width, self.height, self.pixels.clone()).ok_or_else(|| {
            ReaderError::Image(format!(
                "{}x{} image holds {} bytes, not {}",
                self.width,
                self.height,
                self.pixels.len(),
                self.width as usize * self.height as usize
            ))
        })?;
        let mut out = Cursor::new(Vec::new());
        buffer
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| ReaderError::Image(format!("cannot encode PNG: {e}")))?;
        Ok(out.into_inner())
    }

    /// Writes the image to a PNG file.
    pub fn write_png(&self, path: &Path) -> Result<(), ReaderError> {
        let bytes = self.to_png()?;
        std::fs::write(path, bytes).map_err(|e| ReaderError::Image(format!("cannot write {}: {e}", path.display())))
    }

    /// Decodes an image file's bytes (PNG, TIFF, BMP or PGM; colour is turned to grey) scanned
    /// at `dpi`.
    pub fn decode(bytes: &[u8], dpi: u32) -> Result<Self, ReaderError> {
        let decoded = image::load_from_memory(bytes).map_err(|e| ReaderError::Image(format!("cannot decode: {e}")))?;
        if decoded.width() > MAX_IMAGE_SIDE_PX || decoded.height() > MAX_IMAGE_SIDE_PX {
            return Err(ReaderError::Image(format!(
                "{}x{} is larger than {MAX_IMAGE_SIDE_PX} px on a side",
                decoded.width(),
                decoded.height()
            )));
        }
        if decoded.width() == 0 || decoded.height() == 0 {
            return Err(ReaderError::Image("the image is empty".into()));
        }
        let grey = decoded.into_luma8();
        Ok(FingerImage {
            width: grey.width(),
            height: grey.height(),
            dpi,
            pixels: grey.into_raw(),
        })
    }

    /// Reads an image file scanned at `dpi`.
    pub fn read(path: &Path, dpi: u32) -> Result<Self, ReaderError> {
        let bytes =
            std::fs::read(path).map_err(|e| ReaderError::Image(format!("cannot read {}: {e}", path.display())))?;
        FingerImage::decode(&bytes, dpi).map_err(|e| match e {
            ReaderError::Image(m) => ReaderError::Image(format!("{}: {m}", path.display())),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip() {
        let img = FingerImage {
            width: 3,
            height: 2,
            dpi: 500,
            pixels: vec![0, 50, 100, 150, 200, 255],
        };
        let back = FingerImage::decode(&img.to_png().unwrap(), 500).unwrap();
        assert_eq!(back, img);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            FingerImage::decode(b"not an image", 500),
            Err(ReaderError::Image(_))
        ));
        let short = FingerImage {
            width: 4,
            height: 4,
            dpi: 500,
            pixels: vec![0; 3],
        };
        assert!(short.to_png().is_err());
    }
}
