//! Image loading: reads PNG, TIFF (uncompressed, LZW, PackBits or Deflate; grey, colour or palette;
//! 8 or 16 bits; palette images uncompressed, LZW or PackBits), BMP and PGM files into 8-bit grey,
//! and works out the resolution they were scanned at.
//!
//! Resolution never comes from a file header (the FVC TIFFs claim 1 dpi): it is the `--dpi` flag,
//! else the `dpi` of a `dataset.toml` in the image's folder, else unknown.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::ImageFormat;
use serde::Deserialize;

/// Largest image accepted, pixels (a 4096 x 4096 slap scan), so a hostile header cannot make us
/// allocate gigabytes.
pub const MAX_IMAGE_PIXELS: u64 = 4096 * 4096;

/// Resolution assumed by single-image commands when nothing says otherwise, dots per inch.
pub const DEFAULT_DPI: u32 = 500;

/// Name of the file that describes a folder of images.
pub const DATASET_FILE: &str = "dataset.toml";

/// An 8-bit grey image: row-major, one byte a pixel, 0 black to 255 white.
#[derive(Clone, PartialEq, Eq)]
pub struct GreyImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` bytes.
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for GreyImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GreyImage({}x{})", self.width, self.height)
    }
}

/// Why an image or its resolution could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read at all.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The file was read but is not an image we can decode.
    #[error("cannot decode {} as an image: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A `dataset.toml` exists but does not say a usable resolution.
    #[error("cannot use {}: {reason}", path.display())]
    DatasetFile {
        /// The `dataset.toml`.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Nothing says what resolution the image was scanned at.
    #[error(
        "resolution of {} is unknown: pass --dpi N, or put `dpi = N` in {} (file headers are not trusted)",
        path.display(),
        dataset_file.display()
    )]
    UnknownDpi {
        /// The image or folder.
        path: PathBuf,
        /// Where a `dataset.toml` was looked for.
        dataset_file: PathBuf,
    },
}

/// Reads an image file and converts it to 8-bit grey.
pub fn load_grey(path: &Path) -> Result<GreyImage, LoadError> {
    let bytes = std::fs::read(path).map_err(|error| LoadError::Io {
        path: path.to_owned(),
        error,
    })?;
    decode_grey(&bytes).map_err(|reason| LoadError::Decode {
        path: path.to_owned(),
        reason,
    })
}

/// True when the bytes start like one of the image formats [`decode_grey`] reads.
pub fn looks_like_image(bytes: &[u8]) -> bool {
    matches!(
        image::guess_format(bytes),
        Ok(ImageFormat::Png | ImageFormat::Tiff | ImageFormat::Bmp | ImageFormat::Pnm)
    )
}

/// Decodes an image held in memory and converts it to 8-bit grey; the error says why not.
pub fn decode_grey(bytes: &[u8]) -> Result<GreyImage, String> {
    let format = image::guess_format(bytes)
        .map_err(|_| "not a PNG, TIFF, BMP or PGM file (unrecognised first bytes)".to_owned())?;
    match format {
        ImageFormat::Png | ImageFormat::Bmp | ImageFormat::Pnm => decode_with_image_crate(bytes, format),
        ImageFormat::Tiff => {
            // The `image` crate refuses palette TIFFs; those go through our own small reader.
            if crate::tiff_palette::is_palette_tiff(bytes) {
                crate::tiff_palette::decode(bytes)
            } else {
                decode_with_image_crate(bytes, format)
            }
        }
        other => Err(format!(
            "{other:?} images are not supported (use PNG, TIFF, BMP or PGM)"
        )),
    }
}

fn decode_with_image_crate(bytes: &[u8], format: ImageFormat) -> Result<GreyImage, String> {
    let (width, height) = reader_dimensions(bytes, format)?;
    check_size(width, height)?;
    let decoded = image::ImageReader::with_format(Cursor::new(bytes), format)
        .decode()
        .map_err(|e| e.to_string())?;
    let grey = decoded.into_luma8();
    let (width, height) = grey.dimensions();
    Ok(GreyImage {
        width,
        height,
        pixels: grey.into_raw(),
    })
}

fn reader_dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), String> {
    image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| e.to_string())
}

/// Refuses empty images and images larger than [`MAX_IMAGE_PIXELS`].
pub(crate) fn check_size(width: u32, height: u32) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("image is empty ({width}x{height} pixels)"));
    }
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(format!(
            "image is {width}x{height} pixels, more than the {MAX_IMAGE_PIXELS} pixels accepted"
        ));
    }
    Ok(())
}

/// What a folder's `dataset.toml` says (only `dpi` is required; other keys are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct DatasetInfo {
    /// Scan resolution, dots per inch.
    pub dpi: u32,
    /// Human name of the database.
    pub name: Option<String>,
    /// The sensor that captured it.
    pub sensor: Option<String>,
}

/// Reads `dataset.toml` in `dir`: `Ok(None)` when there is none.
pub fn read_dataset_info(dir: &Path) -> Result<Option<DatasetInfo>, LoadError> {
    let path = dir.join(DATASET_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(LoadError::Io { path, error }),
    };
    let info: DatasetInfo = toml::from_str(&text).map_err(|e| LoadError::DatasetFile {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if info.dpi == 0 {
        return Err(LoadError::DatasetFile {
            path,
            reason: "dpi must be positive".to_owned(),
        });
    }
    Ok(Some(info))
}

/// Where a resolution came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpiSource {
    /// The `--dpi` flag.
    Flag,
    /// A `dataset.toml`.
    DatasetFile(PathBuf),
    /// Nothing said: [`DEFAULT_DPI`] was assumed.
    Default,
}

/// The folder an image lives in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Resolution for the images in `dir`: the flag, else `dir/dataset.toml`, else `default` if given,
/// else [`LoadError::UnknownDpi`].
pub fn resolve_dpi(flag: Option<u32>, dir: &Path, default: Option<u32>) -> Result<(u32, DpiSource), LoadError> {
    if let Some(dpi) = flag {
        return Ok((dpi, DpiSource::Flag));
    }
    if let Some(info) = read_dataset_info(dir)? {
        return Ok((info.dpi, DpiSource::DatasetFile(dir.join(DATASET_FILE))));
    }
    match default {
        Some(dpi) => Ok((dpi, DpiSource::Default)),
        None => Err(LoadError::UnknownDpi {
            path: dir.to_owned(),
            dataset_file: dir.join(DATASET_FILE),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage};
    use tiff::encoder::{colortype, Compression, TiffEncoder};

    /// A small gradient with a known grey value at each pixel.
    fn gradient(width: u32, height: u32) -> Vec<u8> {
        (0..width * height).map(|i| ((i * 7) % 256) as u8).collect()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn encode_tiff_gray8(width: u32, height: u32, pixels: &[u8], compression: Compression) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut enc = TiffEncoder::new(&mut out).unwrap().with_compression(compression);
        enc.write_image::<colortype::Gray8>(width, height, pixels).unwrap();
        out.into_inner()
    }

    #[test]
    fn reads_plain_lzw_packbits_and_deflate_grey_tiff() {
        let dir = tempfile::tempdir().unwrap();
        let pixels = gradient(37, 23);
        for (name, compression) in [
            ("plain.tif", Compression::Uncompressed),
            ("lzw.tif", Compression::Lzw),
            ("packbits.tif", Compression::Packbits),
            (
                "deflate.tif",
                Compression::Deflate(tiff::encoder::DeflateLevel::Balanced),
            ),
        ] {
            let path = write(dir.path(), name, &encode_tiff_gray8(37, 23, &pixels, compression));
            let img = load_grey(&path).unwrap();
            assert_eq!((img.width, img.height), (37, 23), "{name}");
            assert_eq!(img.pixels, pixels, "{name}");
        }
    }

    #[test]
    fn reads_16_bit_tiff_and_png_scaled_to_8_bits() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (19, 11);
        let wide: Vec<u16> = gradient(w, h).iter().map(|&v| u16::from(v) * 257).collect();
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .with_compression(Compression::Lzw)
            .write_image::<colortype::Gray16>(w, h, &wide)
            .unwrap();
        let tif = write(dir.path(), "wide.tif", &out.into_inner());
        assert_eq!(load_grey(&tif).unwrap().pixels, gradient(w, h));

        let png16: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_raw(w, h, wide).unwrap();
        let png = dir.path().join("wide.png");
        png16.save(&png).unwrap();
        assert_eq!(load_grey(&png).unwrap().pixels, gradient(w, h));
    }

    /// An 8-bit palette colour type for the TIFF encoder, which has none of its own.
    struct Palette8;
    impl colortype::ColorType for Palette8 {
        type Inner = u8;
        const TIFF_VALUE: tiff::tags::PhotometricInterpretation = tiff::tags::PhotometricInterpretation::RGBPalette;
        const BITS_PER_SAMPLE: &'static [u16] = &[8];
        const SAMPLE_FORMAT: &'static [tiff::tags::SampleFormat] = &[tiff::tags::SampleFormat::Uint];
        fn horizontal_predict(row: &[u8], result: &mut Vec<u8>) {
            result.extend_from_slice(row);
        }
    }

    /// A palette TIFF whose map sends index `i` to grey `255 - i` (so a plain index read is wrong).
    fn palette_tiff(width: u32, height: u32, indices: &[u8], compression: Compression) -> Vec<u8> {
        let mut colormap = Vec::with_capacity(3 * 256);
        for _channel in 0..3 {
            colormap.extend((0..256u16).map(|i| (255 - i) * 257));
        }
        let mut out = Cursor::new(Vec::new());
        let mut enc = TiffEncoder::new(&mut out).unwrap().with_compression(compression);
        let mut image = enc.new_image::<Palette8>(width, height).unwrap();
        image
            .encoder()
            .write_tag(tiff::tags::Tag::ColorMap, &colormap[..])
            .unwrap();
        image.write_data(indices).unwrap();
        out.into_inner()
    }

    #[test]
    fn reads_palette_tiff_through_its_colour_map() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (41, 29);
        let indices = gradient(w, h);
        let expected: Vec<u8> = indices.iter().map(|&i| 255 - i).collect();
        for (name, compression) in [
            ("pal.tif", Compression::Uncompressed),
            ("pal-lzw.tif", Compression::Lzw),
            ("pal-packbits.tif", Compression::Packbits),
        ] {
            let path = write(dir.path(), name, &palette_tiff(w, h, &indices, compression));
            let img = load_grey(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((img.width, img.height), (w, h), "{name}");
            assert_eq!(img.pixels, expected, "{name}");
        }
    }

    #[test]
    fn reads_bmp_pgm_and_colour_png() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (13, 9);
        let pixels = gradient(w, h);
        let grey = GrayImage::from_raw(w, h, pixels.clone()).unwrap();
        for name in ["g.bmp", "g.pgm", "g.png"] {
            let path = dir.path().join(name);
            grey.save(&path).unwrap();
            assert_eq!(load_grey(&path).unwrap().pixels, pixels, "{name}");
        }
        // A hand-written ASCII PGM.
        let path = write(dir.path(), "ascii.pgm", b"P2\n# c\n3 2\n255\n0 128 255\n10 20 30\n");
        assert_eq!(load_grey(&path).unwrap().pixels, vec![0, 128, 255, 10, 20, 30]);
        // Colour is converted to luminance.
        let rgb = RgbImage::from_pixel(4, 4, Rgb([255, 255, 255]));
        let path = dir.path().join("white.png");
        rgb.save(&path).unwrap();
        assert!(load_grey(&path).unwrap().pixels.iter().all(|&v| v == 255));
    }

    #[test]
    fn errors_name_the_file_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.tif");
        let e = load_grey(&missing).unwrap_err().to_string();
        assert!(e.contains("nope.tif") && e.contains("cannot read"), "{e}");

        let junk = write(dir.path(), "junk.png", b"hello, not an image");
        let e = load_grey(&junk).unwrap_err().to_string();
        assert!(e.contains("junk.png") && e.contains("not a PNG"), "{e}");

        let mut truncated = encode_tiff_gray8(50, 50, &gradient(50, 50), Compression::Uncompressed);
        truncated.truncate(200);
        let cut = write(dir.path(), "cut.tif", &truncated);
        let e = load_grey(&cut).unwrap_err().to_string();
        assert!(e.contains("cut.tif"), "{e}");

        let mut pal = palette_tiff(30, 30, &gradient(30, 30), Compression::Lzw);
        pal.truncate(pal.len() / 2);
        let cut = write(dir.path(), "cutpal.tif", &pal);
        assert!(load_grey(&cut).is_err());
    }

    #[test]
    fn damaged_files_give_errors_not_panics() {
        let (w, h) = (24, 20);
        let grey = GrayImage::from_raw(w, h, gradient(w, h)).unwrap();
        let mut png = Cursor::new(Vec::new());
        grey.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let files = [
            palette_tiff(w, h, &gradient(w, h), Compression::Lzw),
            palette_tiff(w, h, &gradient(w, h), Compression::Packbits),
            encode_tiff_gray8(w, h, &gradient(w, h), Compression::Lzw),
            png.into_inner(),
        ];
        for file in files {
            for cut in 0..file.len() {
                let _ = decode_grey(&file[..cut]);
                // Flip one byte too: headers, tags and compressed data all get hit.
                let mut flipped = file.clone();
                flipped[cut] ^= 0xA5;
                let _ = decode_grey(&flipped);
            }
        }
    }

    #[test]
    fn resolution_comes_from_flag_then_dataset_file_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let e = resolve_dpi(None, dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("resolution") && e.contains("unknown"), "{e}");
        assert_eq!(
            resolve_dpi(None, dir.path(), Some(500)).unwrap(),
            (500, DpiSource::Default)
        );
        write(dir.path(), DATASET_FILE, b"name = \"x\"\ndpi = 569\nfingers = 10\n");
        assert_eq!(resolve_dpi(None, dir.path(), None).unwrap().0, 569);
        assert_eq!(
            resolve_dpi(Some(700), dir.path(), None).unwrap(),
            (700, DpiSource::Flag)
        );
        write(dir.path(), DATASET_FILE, b"dpi = \"lots\"\n");
        let e = resolve_dpi(None, dir.path(), None).unwrap_err().to_string();
        assert!(e.contains(DATASET_FILE), "{e}");
    }
}
