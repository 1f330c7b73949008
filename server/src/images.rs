//! Turning an image received over the network into a template, with clear refusals: the bytes
//! must be a PNG, TIFF, BMP or PGM file of sane size and resolution, and hold a fingerprint.

use shimon_matcher::{extract, FingerprintImage, Template};

/// Largest encoded image accepted, bytes.
pub const MAX_IMAGE_BYTES: usize = 4 << 20;
/// Largest image side accepted, pixels.
pub const MAX_SIDE_PX: u32 = 2000;
/// Smallest image side accepted, pixels.
pub const MIN_SIDE_PX: u32 = 100;
/// Resolutions accepted, dots per inch.
pub const DPI_RANGE: std::ops::RangeInclusive<u32> = 250..=1000;

/// Why an image was refused; the message is meant for the caller.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageRejection {
    #[error("the image is empty")]
    Empty,
    #[error("the image is {0} bytes; at most {MAX_IMAGE_BYTES} are accepted")]
    TooLarge(usize),
    #[error("the resolution {0} dpi is outside 250 to 1000 dpi")]
    Resolution(u32),
    #[error("the image cannot be decoded as PNG, TIFF, BMP or PGM: {0}")]
    Undecodable(String),
    #[error("the image is {0}x{1} pixels; each side must be {MIN_SIDE_PX} to {MAX_SIDE_PX} pixels")]
    Dimensions(u32, u32),
    #[error("no fingerprint could be read from the image: {0}")]
    NoFingerprint(String),
}

/// The checks that need no decoding: size and resolution.
pub fn check_envelope(data: &[u8], dpi: u32) -> Result<(), ImageRejection> {
    if data.is_empty() {
        return Err(ImageRejection::Empty);
    }
    if data.len() > MAX_IMAGE_BYTES {
        return Err(ImageRejection::TooLarge(data.len()));
    }
    if !DPI_RANGE.contains(&dpi) {
        return Err(ImageRejection::Resolution(dpi));
    }
    Ok(())
}

/// Decodes `data` (scanned at `dpi`) and extracts its template.
pub fn template_of(data: &[u8], dpi: u32) -> Result<Template, ImageRejection> {
    check_envelope(data, dpi)?;
    let format = image::guess_format(data).map_err(|e| ImageRejection::Undecodable(e.to_string()))?;
    if !matches!(
        format,
        image::ImageFormat::Png | image::ImageFormat::Tiff | image::ImageFormat::Bmp | image::ImageFormat::Pnm
    ) {
        return Err(ImageRejection::Undecodable(format!("{format:?} is not accepted")));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(data), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    limits.max_alloc = Some(64 << 20);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => {
            ImageRejection::Undecodable(format!("the image is larger than {MAX_SIDE_PX}x{MAX_SIDE_PX} pixels"))
        }
        e => ImageRejection::Undecodable(e.to_string()),
    })?;
    let grey = decoded.to_luma8();
    let (width, height) = grey.dimensions();
    if !(MIN_SIDE_PX..=MAX_SIDE_PX).contains(&width) || !(MIN_SIDE_PX..=MAX_SIDE_PX).contains(&height) {
        return Err(ImageRejection::Dimensions(width, height));
    }
    let image = FingerprintImage::new(width, height, dpi, grey.into_raw())
        .map_err(|e| ImageRejection::NoFingerprint(e.to_string()))?;
    extract(&image).map_err(|e| ImageRejection::NoFingerprint(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> u8) -> Vec<u8> {
        let image = image::GrayImage::from_fn(width, height, |x, y| image::Luma([pixel(x, y)]));
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn bad_images_get_a_reason() {
        assert_eq!(template_of(&[], 500), Err(ImageRejection::Empty));
        assert!(matches!(
            template_of(b"not an image at all", 500),
            Err(ImageRejection::Undecodable(_))
        ));
        let tiny = png(20, 20, |_, _| 128);
        assert_eq!(template_of(&tiny, 500), Err(ImageRejection::Dimensions(20, 20)));
        let blank = png(300, 300, |_, _| 255);
        assert!(matches!(
            template_of(&blank, 500),
            Err(ImageRejection::NoFingerprint(_))
        ));
        assert_eq!(template_of(&blank, 90_000), Err(ImageRejection::Resolution(90_000)));
        let mut truncated = png(300, 300, |x, y| ((x * 7 + y * 3) % 256) as u8);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            template_of(&truncated, 500),
            Err(ImageRejection::Undecodable(_))
        ));
        assert!(matches!(
            template_of(&vec![0u8; MAX_IMAGE_BYTES + 1], 500),
            Err(ImageRejection::TooLarge(_))
        ));
    }

    #[test]
    fn a_huge_declared_size_is_refused_before_decoding() {
        // A valid PNG header claiming 60000 x 60000 pixels.
        let mut header = png(200, 200, |_, _| 0);
        header[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        header[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        assert!(matches!(template_of(&header, 500), Err(ImageRejection::Undecodable(_))));
    }
}
