//! A small reader for palette ("RGB palette") TIFF files, which the `tiff` decoder behind the
//! `image` crate refuses. It reads the tags with the `tiff` crate, fetches the strips itself,
//! undoes LZW or PackBits compression, and maps each index through the colour map to grey.
//!
//! Supported: one sample of 1, 2, 4 or 8 bits a pixel, stored in strips, uncompressed, LZW or
//! PackBits. Anything else is refused with a reason.

use std::io::Cursor;

use tiff::decoder::Decoder;
use tiff::tags::Tag;

use crate::load::{check_size, GreyImage};

/// TIFF `PhotometricInterpretation` value for a palette image.
const PHOTOMETRIC_PALETTE: u16 = 3;
/// TIFF `Compression` values handled here.
const COMPRESSION_NONE: u16 = 1;
const COMPRESSION_LZW: u16 = 5;
const COMPRESSION_PACKBITS: u16 = 32773;

/// True when the bytes are a TIFF whose first image is a palette image.
pub(crate) fn is_palette_tiff(bytes: &[u8]) -> bool {
    let Ok(mut decoder) = Decoder::new(Cursor::new(bytes)) else {
        return false;
    };
    matches!(
        decoder.find_tag_unsigned::<u16>(Tag::PhotometricInterpretation),
        Ok(Some(PHOTOMETRIC_PALETTE))
    )
}

/// Decodes the first image of a palette TIFF to grey (luminance of each palette colour).
pub(crate) fn decode(bytes: &[u8]) -> Result<GreyImage, String> {
    let mut d = Decoder::new(Cursor::new(bytes)).map_err(|e| format!("bad TIFF: {e}"))?;
    let tag_err = |e: tiff::TiffError| format!("bad TIFF tag: {e}");
    let width: u32 = d.get_tag_unsigned(Tag::ImageWidth).map_err(tag_err)?;
    let height: u32 = d.get_tag_unsigned(Tag::ImageLength).map_err(tag_err)?;
    check_size(width, height)?;
    let bits: u16 = d.find_tag_unsigned(Tag::BitsPerSample).map_err(tag_err)?.unwrap_or(1);
    if !matches!(bits, 1 | 2 | 4 | 8) {
        return Err(format!(
            "palette TIFF with {bits} bits a pixel is not supported (only 1, 2, 4, 8)"
        ));
    }
    let samples: u16 = d.find_tag_unsigned(Tag::SamplesPerPixel).map_err(tag_err)?.unwrap_or(1);
    if samples != 1 {
        return Err(format!("palette TIFF with {samples} samples a pixel is not supported"));
    }
    if d.find_tag(Tag::TileWidth).map_err(tag_err)?.is_some() {
        return Err("tiled palette TIFF is not supported (only strips)".to_owned());
    }
    let compression: u16 = d
        .find_tag_unsigned(Tag::Compression)
        .map_err(tag_err)?
        .unwrap_or(COMPRESSION_NONE);
    let predictor: u16 = d.find_tag_unsigned(Tag::Predictor).map_err(tag_err)?.unwrap_or(1);
    if predictor != 1 {
        return Err(format!("palette TIFF with predictor {predictor} is not supported"));
    }
    let colormap: Vec<u16> = d
        .find_tag_unsigned_vec(Tag::ColorMap)
        .map_err(tag_err)?
        .ok_or("palette TIFF has no colour map")?;
    let entries = 1usize << bits;
    if colormap.len() < 3 * entries {
        return Err(format!(
            "colour map holds {} values but {bits}-bit indices need {}",
            colormap.len(),
            3 * entries
        ));
    }
    let grey_of: Vec<u8> = (0..entries)
        .map(|i| {
            let (r, g, b) = (
                colormap[i] as u32,
                colormap[entries + i] as u32,
                colormap[2 * entries + i] as u32,
            );
            // ITU-R BT.601 luma weights, in thousandths, on 16-bit channels; then to 8 bits.
            ((299 * r + 587 * g + 114 * b) / 1000 / 257).min(255) as u8
        })
        .collect();

    let offsets: Vec<u64> = d
        .get_tag(Tag::StripOffsets)
        .and_then(|v| v.into_u64_vec())
        .map_err(tag_err)?;
    let counts: Vec<u64> = d
        .get_tag(Tag::StripByteCounts)
        .and_then(|v| v.into_u64_vec())
        .map_err(tag_err)?;
    if offsets.len() != counts.len() || offsets.is_empty() {
        return Err(format!(
            "{} strip offsets but {} strip byte counts",
            offsets.len(),
            counts.len()
        ));
    }
    let rows_per_strip: u32 = d
        .find_tag_unsigned(Tag::RowsPerStrip)
        .map_err(tag_err)?
        .unwrap_or(height)
        .clamp(1, height);
    let row_bytes = (width as usize * bits as usize).div_ceil(8);
    let mut packed = Vec::with_capacity(row_bytes * height as usize);
    for (strip, (&offset, &count)) in offsets.iter().zip(&counts).enumerate() {
        let first_row = strip as u64 * u64::from(rows_per_strip);
        if first_row >= u64::from(height) {
            break;
        }
        let rows = (u64::from(height) - first_row).min(u64::from(rows_per_strip)) as usize;
        let want = rows * row_bytes;
        let start = usize::try_from(offset).map_err(|_| "strip offset out of range".to_owned())?;
        let end = usize::try_from(offset.saturating_add(count)).unwrap_or(usize::MAX);
        let raw = bytes
            .get(start..end.min(bytes.len()))
            .filter(|r| r.len() as u64 == count)
            .ok_or_else(|| format!("strip {strip} lies beyond the end of the file (truncated?)"))?;
        let data = match compression {
            COMPRESSION_NONE => raw.to_vec(),
            COMPRESSION_LZW => unlzw(raw, want)?,
            COMPRESSION_PACKBITS => unpackbits(raw, want)?,
            other => {
                return Err(format!(
                    "palette TIFF compression {other} is not supported (only none, LZW, PackBits)"
                ))
            }
        };
        if data.len() < want {
            return Err(format!(
                "strip {strip} holds {} bytes but its rows need {want} (truncated?)",
                data.len()
            ));
        }
        packed.extend_from_slice(&data[..want]);
    }
    if packed.len() < row_bytes * height as usize {
        return Err("the strips do not cover the whole image".to_owned());
    }

    let mut pixels = Vec::with_capacity(width as usize * height as usize);
    let per_byte = 8 / bits as usize;
    let mask = ((1u16 << bits) - 1) as u8;
    for row in packed.chunks_exact(row_bytes).take(height as usize) {
        for x in 0..width as usize {
            let byte = row[x / per_byte];
            let shift = 8 - bits as usize * (x % per_byte + 1);
            pixels.push(grey_of[((byte >> shift) & mask) as usize]);
        }
    }
    Ok(GreyImage { width, height, pixels })
}

/// Undoes TIFF's LZW (most significant bit first, code width growing one code early), writing at
/// most `want` bytes so that a hostile strip cannot expand without bound.
fn unlzw(raw: &[u8], want: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; want];
    let mut decoder = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
    let (mut read, mut written) = (0, 0);
    while written < want {
        let r = decoder.decode_bytes(&raw[read..], &mut out[written..]);
        read += r.consumed_in;
        written += r.consumed_out;
        match r.status {
            Ok(weezl::LzwStatus::Ok) => {}
            // The end code, or the end of the strip's bytes (a strip may lack its end code).
            Ok(weezl::LzwStatus::Done | weezl::LzwStatus::NoProgress) => break,
            Err(e) => return Err(format!("corrupt LZW data: {e}")),
        }
    }
    out.truncate(written);
    Ok(out)
}

/// Undoes PackBits run-length coding, stopping once `want` bytes are out.
fn unpackbits(raw: &[u8], want: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(want);
    let mut i = 0;
    while i < raw.len() && out.len() < want {
        let n = raw[i] as i8;
        i += 1;
        if n >= 0 {
            let len = n as usize + 1;
            let literal = raw.get(i..i + len).ok_or("PackBits literal runs past the strip")?;
            out.extend_from_slice(literal);
            i += len;
        } else if n != -128 {
            let value = *raw.get(i).ok_or("PackBits run runs past the strip")?;
            out.extend(std::iter::repeat_n(value, 1 + (-(n as i16)) as usize));
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_literals_and_runs() {
        // The example from the TIFF 6.0 specification, section 9.
        let packed = [
            0xFE, 0xAA, 0x02, 0x80, 0x00, 0x2A, 0xFD, 0xAA, 0x03, 0x80, 0x00, 0x2A, 0x22, 0xF7, 0xAA,
        ];
        let expected = [
            0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0xAA, 0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0x22, 0xAA, 0xAA, 0xAA, 0xAA,
            0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA,
        ];
        assert_eq!(unpackbits(&packed, 100).unwrap(), expected);
        assert!(unpackbits(&[0x05, 1, 2], 100).is_err());
    }
}
