//! ISO/IEC 19794-2:2005 finger minutiae records: export and import of templates.
//!
//! [`to_iso`] writes a [`Template`] as a standard record that other systems can read, and
//! [`from_iso`] reads one written elsewhere, bringing it to the engine's conventions. The record
//! loses precision: angles are kept to 1.40625° (360/256), and a record at another resolution is
//! resampled to ours. It also has no place for the template's ridge flow map, so a template read
//! from a record has none and compares by its minutiae alone (lower genuine scores than with the
//! flow, so at the crate's thresholds it matches less often, never more).
//!
//! # Record layout
//!
//! All integers are unsigned and big-endian; offsets and sizes are in bytes.
//!
//! | offset | size | field                                                                  |
//! |-------:|-----:|------------------------------------------------------------------------|
//! |      0 |    4 | format identifier `"FMR\0"`                                            |
//! |      4 |    4 | version of the standard `" 20\0"`                                      |
//! |      8 |    4 | length of the whole record                                             |
//! |     12 |    2 | capture equipment: 4 bits certification, 12 bits device id (we write 0)|
//! |     14 |    2 | image width, pixels                                                    |
//! |     16 |    2 | image height, pixels                                                   |
//! |     18 |    2 | horizontal resolution, pixels per centimetre (500 dpi is 197)          |
//! |     20 |    2 | vertical resolution, pixels per centimetre                             |
//! |     22 |    1 | number of finger views (we write 1)                                    |
//! |     23 |    1 | reserved, 0                                                            |
//!
//! Then each finger view in turn:
//!
//! | offset | size | field                                                                  |
//! |-------:|-----:|------------------------------------------------------------------------|
//! |     +0 |    1 | finger position (we write 0, unknown finger)                           |
//! |     +1 |    1 | view number (high 4 bits), impression type (low 4 bits; we write 0, 0: |
//! |        |      | first view, live-scan plain)                                           |
//! |     +2 |    1 | finger quality, 0..=100                                                |
//! |     +3 |    1 | number of minutiae `n`                                                 |
//! |     +4 |  6·n | the minutiae, as below                                                 |
//! | +4+6·n |    2 | length `e` of the extended data block (we write 0), then `e` bytes     |
//!
//! Each minutia:
//!
//! | offset | size | field                                                                  |
//! |-------:|-----:|------------------------------------------------------------------------|
//! |     +0 |    2 | type (high 2 bits: `01` ending, `10` bifurcation, `00` other),         |
//! |        |      | then x, pixels (low 14 bits)                                           |
//! |     +2 |    2 | reserved (high 2 bits), then y, pixels (low 14 bits)                   |
//! |     +4 |    1 | direction, in units of 1.40625°, counter-clockwise from +x (see below) |
//! |     +5 |    1 | minutia quality, 0..=100                                               |
//!
//! Coordinates have their origin at the top-left corner with y downwards, as ours do. Angles
//! differ twice over:
//!
//! - they turn the other way: ours is measured from +x towards +y (clockwise on screen), the
//!   standard's counter-clockwise;
//! - they point the other way: the standard's direction bisects the narrowest of the three angles
//!   at the minutia, between the two valleys that flank an ending ridge or the two branches of a
//!   bifurcation, so it points into the ridge from an ending's tip and from a bifurcation's fork
//!   towards its branches. Ours points out past an ending's tip and from the branches towards the
//!   stem (see [`Minutia::angle`]): half a turn from the standard's for both kinds.
//!
//! So `iso = (3π − ours) mod 2π`, and the same formula takes an ISO angle back to ours. Mirroring
//! alone (`2π − ours`) would hand other systems every minutia pointing backwards.
//!
//! # Import
//!
//! [`from_iso`] reads the first finger view and walks the others only to check that the record
//! holds together. It takes a resolution of 197 px/cm as our own 500 dpi and scales coordinates
//! and image size from any other by `197 / resolution`, axis by axis (exact for the usual 1000 dpi,
//! 394 px/cm); resolutions outside 98..=394 px/cm (250 to 1000 dpi, what the engine takes from an
//! image) are refused. A minutia of type "other" becomes an ending: the type carries no ridge kind,
//! and an ending and a bifurcation at the same place point the same way in our convention (see
//! [`Minutia::angle`]), so the direction stays right whichever it really was. The reserved byte of
//! the header, the reserved bits beside y, the capture equipment, finger position, view number,
//! impression type and the contents of extended data blocks are not interpreted.

use std::f64::consts::TAU;

use crate::params::{INTERNAL_DPI, MAX_DPI, MAX_IMAGE_SIDE_PX, MAX_MINUTIAE, MIN_DPI};
use crate::{Minutia, MinutiaKind, Template};

/// Format identifier at the start of every record.
const FORMAT_ID: [u8; 4] = *b"FMR\0";
/// Version field of ISO/IEC 19794-2:2005.
const VERSION_2005: [u8; 4] = *b" 20\0";
/// Length of the record header, bytes.
const RECORD_HEADER_LEN: usize = 24;
/// Length of a finger view header, bytes.
const VIEW_HEADER_LEN: usize = 4;
/// Length of one minutia, bytes.
const MINUTIA_LEN: usize = 6;
/// Length of the extended data block length field, bytes.
const EXTENDED_LENGTH_LEN: usize = 2;
/// Most minutiae a finger view can hold: its count is one byte.
const MAX_VIEW_MINUTIAE: usize = u8::MAX as usize;
/// Largest coordinate the 14-bit fields hold, pixels.
const MAX_COORDINATE_PX: u16 = 0x3FFF;
/// Our resolution in pixels per centimetre, rounded to the nearest: 500 dpi is 196.85 px/cm.
const INTERNAL_PX_PER_CM: u16 = px_per_cm(INTERNAL_DPI);
/// Lowest resolution accepted on import, pixels per centimetre: 250 dpi is 98.4 px/cm.
const MIN_PX_PER_CM: u16 = px_per_cm(MIN_DPI);
/// Highest resolution accepted on import, pixels per centimetre: 1000 dpi is 393.7 px/cm.
const MAX_PX_PER_CM: u16 = px_per_cm(MAX_DPI);
/// Angle units in a whole turn (one unit is 360/256 = 1.40625°).
const ANGLE_UNITS_PER_TURN: u16 = 256;
/// Half a turn in angle units: between our direction and the standard's (see the module docs).
const HALF_TURN_UNITS: u16 = ANGLE_UNITS_PER_TURN / 2;
/// Highest finger or minutia quality.
const MAX_QUALITY: u8 = 100;
/// Minutia type code of an ending, "other" and a bifurcation (the high two bits of x).
const TYPE_OTHER: u16 = 0b00;
const TYPE_ENDING: u16 = 0b01;
const TYPE_BIFURCATION: u16 = 0b10;

/// Dots per inch as pixels per centimetre, rounded to the nearest.
const fn px_per_cm(dpi: u32) -> u16 {
    ((dpi * 100 + 127) / 254) as u16
}

/// Why bytes could not be read as an ISO/IEC 19794-2:2005 record for the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsoError {
    /// The input ends before the record's contents do.
    #[error("ISO record is truncated: {actual} bytes given, at least {needed} needed")]
    Truncated {
        /// Bytes the record needs, as far as could be read.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The input does not start with `"FMR\0"`.
    #[error("not an ISO/IEC 19794-2 finger minutiae record: it starts with {found:02x?} instead of \"FMR\\0\"")]
    NotFingerMinutiae {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// The version field is not `" 20\0"` (the 2011 edition, for one, writes `"030\0"` and is
    /// laid out differently).
    #[error("unsupported ISO/IEC 19794-2 version {found:02x?}: only \" 20\\0\" (the 2005 edition) is read")]
    UnsupportedVersion {
        /// The version field found.
        found: [u8; 4],
    },
    /// An ANSI INCITS 378-2004 record: it starts with the same identifier and version, but its
    /// header is laid out differently, and it is not read.
    #[error("this is an ANSI INCITS 378-2004 finger minutiae record, not an ISO/IEC 19794-2:2005 one")]
    Ansi378,
    /// The length field disagrees with the number of bytes given, or is shorter than a header.
    #[error("ISO record length field says {declared} bytes, but {actual} bytes were given")]
    RecordLength {
        /// The length field.
        declared: u32,
        /// Bytes given.
        actual: usize,
    },
    /// The finger views end before the record does.
    #[error("ISO record is {declared} bytes long, but its finger views end after {used} bytes")]
    LengthMismatch {
        /// The record length.
        declared: usize,
        /// Where the last finger view ends.
        used: usize,
    },
    /// The image has no area.
    #[error("ISO record has an empty image ({width}x{height} px)")]
    EmptyImage {
        /// Width, pixels.
        width: u16,
        /// Height, pixels.
        height: u16,
    },
    /// A resolution outside what the engine takes.
    #[error(
        "ISO record resolution {x_px_per_cm}x{y_px_per_cm} px/cm is outside {}..={} px/cm ({}..={} dpi)",
        MIN_PX_PER_CM,
        MAX_PX_PER_CM,
        MIN_DPI,
        MAX_DPI
    )]
    Resolution {
        /// Horizontal resolution, pixels per centimetre.
        x_px_per_cm: u16,
        /// Vertical resolution, pixels per centimetre.
        y_px_per_cm: u16,
    },
    /// The image, brought to 500 dpi, is larger than the engine takes.
    #[error(
        "ISO record image is {width}x{height} px at {} dpi, more than {} px a side",
        INTERNAL_DPI,
        MAX_IMAGE_SIDE_PX
    )]
    ImageTooLarge {
        /// Width at the internal resolution, pixels.
        width: u32,
        /// Height at the internal resolution, pixels.
        height: u32,
    },
    /// The record holds no finger view.
    #[error("ISO record holds no finger view")]
    NoFingerView,
    /// The finger quality is above 100.
    #[error("ISO record finger quality {quality} is above {}", MAX_QUALITY)]
    FingerQuality {
        /// The quality found.
        quality: u8,
    },
    /// More minutiae than [`MAX_MINUTIAE`].
    #[error("ISO record has {count} minutiae, more than the {max} allowed")]
    TooManyMinutiae {
        /// Number of minutiae in the finger view.
        count: usize,
        /// [`MAX_MINUTIAE`].
        max: usize,
    },
    /// A minutia type code the standard reserves (`11`).
    #[error("ISO record minutia {index} has reserved type code {code:#04b}")]
    MinutiaType {
        /// Position of the minutia in the finger view, from 0.
        index: usize,
        /// The two-bit code.
        code: u8,
    },
    /// A minutia outside the image, in the record's own pixels.
    #[error("ISO record minutia {index} at ({x}, {y}) px lies outside the {width}x{height} px image")]
    MinutiaOutOfBounds {
        /// Position of the minutia in the finger view, from 0.
        index: usize,
        /// Its column in the record, pixels.
        x: u16,
        /// Its row in the record, pixels.
        y: u16,
        /// Image width in the record, pixels.
        width: u16,
        /// Image height in the record, pixels.
        height: u16,
    },
    /// A minutia quality above 100.
    #[error("ISO record minutia {index} has quality {quality}, above {}", MAX_QUALITY)]
    MinutiaQuality {
        /// Position of the minutia in the finger view, from 0.
        index: usize,
        /// The quality found.
        quality: u8,
    },
}

/// Writes the template as an ISO/IEC 19794-2:2005 record with one finger view, laid out as in the
/// [module documentation](self): resolution 197 px/cm, unknown finger, live-scan plain impression,
/// no extended data.
///
/// The template should be valid ([`Template::validate`]). The record stays well-formed whatever it
/// is: qualities above 100 are written as 100, coordinates beyond 14 bits are cut to 16,383, and
/// only the first 255 minutiae are written (none of which a valid template needs).
pub fn to_iso(t: &Template) -> Vec<u8> {
    let count = t.minutiae.len().min(MAX_VIEW_MINUTIAE);
    let total = RECORD_HEADER_LEN + VIEW_HEADER_LEN + count * MINUTIA_LEN + EXTENDED_LENGTH_LEN;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&FORMAT_ID);
    out.extend_from_slice(&VERSION_2005);
    // At most 24 + 4 + 255·6 + 2 bytes: always fits.
    out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // capture equipment: no certification, no id
    out.extend_from_slice(&t.width.to_be_bytes());
    out.extend_from_slice(&t.height.to_be_bytes());
    out.extend_from_slice(&INTERNAL_PX_PER_CM.to_be_bytes());
    out.extend_from_slice(&INTERNAL_PX_PER_CM.to_be_bytes());
    out.push(1); // finger views
    out.push(0); // reserved
    out.push(0); // finger position: unknown
    out.push(0); // view 0, impression type 0: live-scan plain
    out.push(t.quality.min(MAX_QUALITY));
    out.push(u8::try_from(count).unwrap_or(u8::MAX));
    for m in &t.minutiae[..count] {
        let code = match m.kind {
            MinutiaKind::Ending => TYPE_ENDING,
            MinutiaKind::Bifurcation => TYPE_BIFURCATION,
        };
        out.extend_from_slice(&(code << 14 | m.x.min(MAX_COORDINATE_PX)).to_be_bytes());
        out.extend_from_slice(&m.y.min(MAX_COORDINATE_PX).to_be_bytes());
        out.push(iso_angle_units(m.angle));
        out.push(m.quality.min(MAX_QUALITY));
    }
    out.extend_from_slice(&0u16.to_be_bytes()); // no extended data
    out
}

/// Reads an ISO/IEC 19794-2:2005 record into a template at the engine's resolution, from its
/// first finger view (see the [module documentation](self) for what is checked and converted).
pub fn from_iso(bytes: &[u8]) -> Result<Template, IsoError> {
    let mut r = Reader { bytes, pos: 0 };
    let found = r.array::<4>()?;
    if found != FORMAT_ID {
        return Err(IsoError::NotFingerMinutiae { found });
    }
    let found = r.array::<4>()?;
    if found != VERSION_2005 {
        return Err(IsoError::UnsupportedVersion { found });
    }
    let declared = r.u32()?;
    if usize::try_from(declared) != Ok(bytes.len()) && is_ansi_378(bytes) {
        return Err(IsoError::Ansi378);
    }
    match usize::try_from(declared) {
        Ok(len) if len > bytes.len() => {
            return Err(IsoError::Truncated {
                needed: len,
                actual: bytes.len(),
            })
        }
        Ok(len) if len == bytes.len() && len >= RECORD_HEADER_LEN => {}
        _ => {
            return Err(IsoError::RecordLength {
                declared,
                actual: bytes.len(),
            })
        }
    }
    let _capture_equipment = r.u16()?;
    let width = r.u16()?;
    let height = r.u16()?;
    let x_px_per_cm = r.u16()?;
    let y_px_per_cm = r.u16()?;
    let views = r.u8()?;
    let _reserved = r.u8()?;
    if width == 0 || height == 0 {
        return Err(IsoError::EmptyImage { width, height });
    }
    let accepted = MIN_PX_PER_CM..=MAX_PX_PER_CM;
    if !accepted.contains(&x_px_per_cm) || !accepted.contains(&y_px_per_cm) {
        return Err(IsoError::Resolution {
            x_px_per_cm,
            y_px_per_cm,
        });
    }
    let x_scale = Scale::new(x_px_per_cm, width);
    let y_scale = Scale::new(y_px_per_cm, height);
    if x_scale.side_px > MAX_IMAGE_SIDE_PX || y_scale.side_px > MAX_IMAGE_SIDE_PX {
        return Err(IsoError::ImageTooLarge {
            width: x_scale.side_px,
            height: y_scale.side_px,
        });
    }
    if views == 0 {
        return Err(IsoError::NoFingerView);
    }

    let _finger_position = r.u8()?;
    let _view_and_impression = r.u8()?;
    let quality = r.u8()?;
    if quality > MAX_QUALITY {
        return Err(IsoError::FingerQuality { quality });
    }
    let count = usize::from(r.u8()?);
    if count > MAX_MINUTIAE {
        return Err(IsoError::TooManyMinutiae {
            count,
            max: MAX_MINUTIAE,
        });
    }
    let mut minutiae = Vec::with_capacity(count);
    for index in 0..count {
        let type_and_x = r.u16()?;
        let y = r.u16()? & MAX_COORDINATE_PX; // the two high bits are reserved
        let angle = r.u8()?;
        let minutia_quality = r.u8()?;
        let x = type_and_x & MAX_COORDINATE_PX;
        let kind = match type_and_x >> 14 {
            TYPE_ENDING | TYPE_OTHER => MinutiaKind::Ending,
            TYPE_BIFURCATION => MinutiaKind::Bifurcation,
            code => {
                return Err(IsoError::MinutiaType {
                    index,
                    code: code as u8,
                })
            }
        };
        if x >= width || y >= height {
            return Err(IsoError::MinutiaOutOfBounds {
                index,
                x,
                y,
                width,
                height,
            });
        }
        if minutia_quality > MAX_QUALITY {
            return Err(IsoError::MinutiaQuality {
                index,
                quality: minutia_quality,
            });
        }
        minutiae.push(Minutia {
            x: x_scale.coordinate(x),
            y: y_scale.coordinate(y),
            angle: angle_from_iso_units(angle),
            kind,
            quality: minutia_quality,
        });
    }
    r.skip_extended_data()?;

    // The other finger views are not used, but must hold together with the record length.
    for _ in 1..views {
        let header = r.array::<VIEW_HEADER_LEN>()?;
        r.skip(usize::from(header[3]) * MINUTIA_LEN)?;
        r.skip_extended_data()?;
    }
    if r.pos != bytes.len() {
        return Err(IsoError::LengthMismatch {
            declared: bytes.len(),
            used: r.pos,
        });
    }

    Ok(Template {
        // Both at most MAX_IMAGE_SIDE_PX, checked above.
        width: u16::try_from(x_scale.side_px).unwrap_or(u16::MAX),
        height: u16::try_from(y_scale.side_px).unwrap_or(u16::MAX),
        quality,
        minutiae,
        flow: None,
    })
}

/// Whether a record whose length does not read right as ISO has the length where ANSI INCITS
/// 378-2004 puts it: two bytes after the version, or, when those are 0, the four after them.
fn is_ansi_378(bytes: &[u8]) -> bool {
    let be = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .map(|b| b.iter().fold(0usize, |acc, &x| acc << 8 | usize::from(x)))
    };
    match be(8..10) {
        Some(0) => be(10..14) == Some(bytes.len()),
        Some(len) => len == bytes.len(),
        None => false,
    }
}

/// Conversion of one axis from the record's resolution to ours.
struct Scale {
    /// Our pixels per pixel of the record.
    factor: f64,
    /// Length of the image side at our resolution, pixels, at least 1.
    side_px: u32,
}

impl Scale {
    fn new(px_per_cm: u16, side: u16) -> Self {
        let factor = f64::from(INTERNAL_PX_PER_CM) / f64::from(px_per_cm);
        // At most 65535 · 197/98 ≈ 131,737: no saturation.
        let side_px = ((f64::from(side) * factor).round() as u32).max(1);
        Scale { factor, side_px }
    }

    /// A coordinate already known to be inside the record's image, at our resolution, kept inside
    /// our image.
    fn coordinate(&self, v: u16) -> u16 {
        let scaled = (f64::from(v) * self.factor).round() as u32;
        u16::try_from(scaled.min(self.side_px - 1)).unwrap_or(u16::MAX)
    }
}

/// Our angle (radians) as the nearest ISO angle unit (see the module docs for the conversion).
fn iso_angle_units(angle_rad: f32) -> u8 {
    // Rounded to a unit in our convention first, then converted in whole units, so that export
    // and import are exact inverses on the 256 directions a record can hold. `as` saturates and
    // sends NaN to 0; a rounding up to a whole turn wraps to 0.
    let turns = f64::from(angle_rad).rem_euclid(TAU) / TAU;
    let ours = (turns * f64::from(ANGLE_UNITS_PER_TURN)).round() as u16 % ANGLE_UNITS_PER_TURN;
    u8::try_from(flip_units(ours)).unwrap_or(0)
}

/// An ISO angle unit as our angle, radians in `[0, 2π)` (at most 255/256 of a turn).
fn angle_from_iso_units(iso: u8) -> f32 {
    let ours = flip_units(u16::from(iso));
    (f64::from(ours) * TAU / f64::from(ANGLE_UNITS_PER_TURN)) as f32
}

/// Mirrors a direction in whole units (`0..256`) and turns it half a turn: takes our angle to the
/// standard's and back, `(3π − a) mod 2π`.
fn flip_units(units: u16) -> u16 {
    (ANGLE_UNITS_PER_TURN + HALF_TURN_UNITS - units % ANGLE_UNITS_PER_TURN) % ANGLE_UNITS_PER_TURN
}

/// A cursor over the record that turns running off its end into [`IsoError::Truncated`].
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn skip(&mut self, n: usize) -> Result<&[u8], IsoError> {
        let end = self.pos.saturating_add(n);
        let taken = self.bytes.get(self.pos..end).ok_or(IsoError::Truncated {
            needed: end,
            actual: self.bytes.len(),
        })?;
        self.pos = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], IsoError> {
        let mut out = [0; N];
        out.copy_from_slice(self.skip(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, IsoError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, IsoError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, IsoError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Steps over a finger view's extended data block, length field and contents.
    fn skip_extended_data(&mut self) -> Result<(), IsoError> {
        let len = usize::from(self.u16()?);
        self.skip(len).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::{FRAC_PI_2, FRAC_PI_4, PI, TAU};

    /// Largest distance between an angle and the same angle through a record, radians: half an
    /// ISO unit (0.703125°), plus f32 rounding.
    const ISO_ANGLE_ROUND_TRIP_RAD: f32 = PI / 256.0 + 1e-6;
    /// One ISO angle unit, radians (1.40625°).
    const ISO_ANGLE_UNIT_RAD: f32 = TAU / 256.0;

    /// splitmix64: a small, deterministic generator so that failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// A number in `0..n` (n > 0).
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_template(rng: &mut Rng) -> Template {
        let width = 1 + rng.below(u64::from(MAX_IMAGE_SIDE_PX)) as u16;
        let height = 1 + rng.below(u64::from(MAX_IMAGE_SIDE_PX)) as u16;
        let count = rng.below(MAX_MINUTIAE as u64 + 1) as usize;
        let minutiae = (0..count)
            .map(|_| Minutia {
                x: rng.below(u64::from(width)) as u16,
                y: rng.below(u64::from(height)) as u16,
                angle: (rng.below(1 << 24) as f32 / (1 << 24) as f32 * TAU).min(f32::from_bits(TAU.to_bits() - 1)),
                kind: if rng.below(2) == 0 {
                    MinutiaKind::Ending
                } else {
                    MinutiaKind::Bifurcation
                },
                quality: rng.below(101) as u8,
            })
            .collect();
        Template {
            width,
            height,
            quality: rng.below(101) as u8,
            minutiae,
            flow: None,
        }
    }

    /// Distance between two angles around the circle, radians.
    fn angle_gap(a: f32, b: f32) -> f32 {
        let d = (a - b).rem_euclid(TAU);
        d.min(TAU - d)
    }

    /// One minutia as a record holds it.
    #[derive(Clone, Copy)]
    struct RawMinutia {
        code: u16,
        x: u16,
        y: u16,
        angle: u8,
        quality: u8,
    }

    /// One finger view as a record holds it.
    #[derive(Clone)]
    struct RawView {
        quality: u8,
        minutiae: Vec<RawMinutia>,
        extended: Vec<u8>,
    }

    /// A record built field by field, to write records this module would never write.
    #[derive(Clone)]
    struct RawRecord {
        width: u16,
        height: u16,
        x_px_per_cm: u16,
        y_px_per_cm: u16,
        views: Vec<RawView>,
    }

    impl RawRecord {
        fn new(width: u16, height: u16, px_per_cm: u16, minutiae: Vec<RawMinutia>) -> Self {
            RawRecord {
                width,
                height,
                x_px_per_cm: px_per_cm,
                y_px_per_cm: px_per_cm,
                views: vec![RawView {
                    quality: 60,
                    minutiae,
                    extended: vec![],
                }],
            }
        }

        fn bytes(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(b"FMR\0 20\0");
            out.extend_from_slice(&[0; 4]); // length, filled in below
            out.extend_from_slice(&0x1234u16.to_be_bytes()); // some certification and device id
            for v in [self.width, self.height, self.x_px_per_cm, self.y_px_per_cm] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            out.push(self.views.len() as u8);
            out.push(0);
            for (i, view) in self.views.iter().enumerate() {
                out.push(2); // right index finger
                out.push((i as u8) << 4);
                out.push(view.quality);
                out.push(view.minutiae.len() as u8);
                for m in &view.minutiae {
                    out.extend_from_slice(&(m.code << 14 | m.x).to_be_bytes());
                    out.extend_from_slice(&m.y.to_be_bytes());
                    out.push(m.angle);
                    out.push(m.quality);
                }
                out.extend_from_slice(&(view.extended.len() as u16).to_be_bytes());
                out.extend_from_slice(&view.extended);
            }
            let len = out.len() as u32;
            out[8..12].copy_from_slice(&len.to_be_bytes());
            out
        }
    }

    fn raw(code: u16, x: u16, y: u16, angle: u8) -> RawMinutia {
        RawMinutia {
            code,
            x,
            y,
            angle,
            quality: 40,
        }
    }

    fn sample() -> Template {
        Template {
            width: 300,
            height: 400,
            quality: 77,
            minutiae: vec![
                Minutia {
                    x: 1,
                    y: 2,
                    angle: 0.0,
                    kind: MinutiaKind::Ending,
                    quality: 50,
                },
                Minutia {
                    x: 299,
                    y: 399,
                    angle: FRAC_PI_2,
                    kind: MinutiaKind::Bifurcation,
                    quality: 100,
                },
                Minutia {
                    x: 150,
                    y: 200,
                    angle: FRAC_PI_4,
                    kind: MinutiaKind::Ending,
                    quality: 0,
                },
            ],
            flow: None,
        }
    }

    #[test]
    fn layout_is_as_documented() {
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            b'F', b'M', b'R', 0, b' ', b'2', b'0', 0,
            0, 0, 0, 48, // 24 + 4 + 3·6 + 2
            0, 0,
            0x01, 0x2C, 0x01, 0x90, // 300 x 400
            0, 197, 0, 197,
            1, 0,
            0, 0, 77, 3,
            // Pointing right (0): the standard has it pointing left, 180°.
            0x40, 0x01, 0x00, 0x02, 128, 50,
            // Pointing down the screen (π/2): up in the standard, 90° counter-clockwise.
            0x81, 0x2B, 0x01, 0x8F, 64, 100,
            // Down and right (π/4): up and left, 135°.
            0x40, 0x96, 0x00, 0xC8, 96, 0,
            0, 0,
        ];
        assert_eq!(to_iso(&sample()), expected);
        assert_eq!(from_iso(&expected).unwrap(), sample());
    }

    #[test]
    fn directions_match_the_standard_for_both_kinds() {
        // An ending whose ridge comes from the left and stops: ours points on to the right, past
        // the tip; the standard's bisects the valleys flanking the ridge, pointing back left.
        // A bifurcation whose stem comes from the left and splits to the right: ours points back
        // along the stem (left); the standard's points between the branches (right).
        let t = Template {
            width: 10,
            height: 10,
            quality: 50,
            minutiae: vec![
                Minutia {
                    x: 5,
                    y: 5,
                    angle: 0.0,
                    kind: MinutiaKind::Ending,
                    quality: 50,
                },
                Minutia {
                    x: 5,
                    y: 5,
                    angle: PI,
                    kind: MinutiaKind::Bifurcation,
                    quality: 50,
                },
            ],
            flow: None,
        };
        let bytes = to_iso(&t);
        let angle_at = |i: usize| bytes[RECORD_HEADER_LEN + VIEW_HEADER_LEN + i * MINUTIA_LEN + 4];
        assert_eq!(angle_at(0), 128, "180°: to the left");
        assert_eq!(angle_at(1), 0, "0°: to the right");
    }

    #[test]
    fn every_iso_angle_comes_back_exactly() {
        for iso in 0..=u8::MAX {
            let angle = angle_from_iso_units(iso);
            assert!((0.0..TAU).contains(&angle), "{iso} -> {angle}");
            assert_eq!(iso_angle_units(angle), iso);
        }
        assert_eq!(iso_angle_units(f32::from_bits(TAU.to_bits() - 1)), iso_angle_units(0.0));
        assert_eq!(iso_angle_units(f32::NAN), iso_angle_units(0.0));
    }

    #[test]
    fn random_templates_round_trip_within_an_iso_angle_unit() {
        let mut rng = Rng(5);
        for _ in 0..300 {
            let t = random_template(&mut rng);
            let bytes = to_iso(&t);
            assert_eq!(bytes.len(), 30 + 6 * t.minutiae.len());
            let back = from_iso(&bytes).unwrap();
            back.validate().unwrap();
            assert_eq!((back.width, back.height, back.quality), (t.width, t.height, t.quality));
            assert_eq!(back.minutiae.len(), t.minutiae.len());
            for (o, d) in t.minutiae.iter().zip(&back.minutiae) {
                assert_eq!((d.x, d.y, d.kind, d.quality), (o.x, o.y, o.kind, o.quality));
                let gap = angle_gap(o.angle, d.angle);
                assert!(gap <= ISO_ANGLE_ROUND_TRIP_RAD, "{} -> {}", o.angle, d.angle);
                assert!(gap < ISO_ANGLE_UNIT_RAD);
            }
            assert_eq!(to_iso(&back), bytes, "a second trip changes nothing");
        }
    }

    #[test]
    fn other_resolutions_are_brought_to_500_dpi() {
        // 1000 dpi: halved, exactly.
        let record = RawRecord::new(800, 1000, 394, vec![raw(1, 400, 600, 0), raw(2, 799, 999, 0)]);
        let t = from_iso(&record.bytes()).unwrap();
        assert_eq!((t.width, t.height), (400, 500));
        assert_eq!((t.minutiae[0].x, t.minutiae[0].y), (200, 300));
        assert_eq!((t.minutiae[1].x, t.minutiae[1].y), (399, 499), "kept inside the image");
        // 250 dpi (98 px/cm): about doubled.
        let record = RawRecord::new(200, 250, 98, vec![raw(1, 100, 125, 0)]);
        let t = from_iso(&record.bytes()).unwrap();
        assert_eq!((t.width, t.height), (402, 503));
        assert_eq!((t.minutiae[0].x, t.minutiae[0].y), (201, 251));
        // Axes scaled separately.
        let mut record = RawRecord::new(800, 500, 197, vec![raw(1, 600, 100, 0)]);
        record.x_px_per_cm = 394;
        let t = from_iso(&record.bytes()).unwrap();
        assert_eq!(
            (t.width, t.height, t.minutiae[0].x, t.minutiae[0].y),
            (400, 500, 300, 100)
        );
    }

    #[test]
    fn absurd_resolutions_are_refused() {
        for (x, y) in [(0, 0), (0, 197), (197, 0), (97, 197), (197, 395), (u16::MAX, u16::MAX)] {
            let mut record = RawRecord::new(100, 100, 197, vec![]);
            record.x_px_per_cm = x;
            record.y_px_per_cm = y;
            assert_eq!(
                from_iso(&record.bytes()),
                Err(IsoError::Resolution {
                    x_px_per_cm: x,
                    y_px_per_cm: y
                })
            );
        }
        for res in [98, 394] {
            assert!(from_iso(&RawRecord::new(100, 100, res, vec![]).bytes()).is_ok());
        }
    }

    #[test]
    fn images_too_large_at_500_dpi_are_refused() {
        let record = RawRecord::new(4097, 100, 197, vec![]);
        assert_eq!(
            from_iso(&record.bytes()),
            Err(IsoError::ImageTooLarge {
                width: 4097,
                height: 100
            })
        );
        let record = RawRecord::new(2100, 100, 98, vec![]);
        assert!(matches!(from_iso(&record.bytes()), Err(IsoError::ImageTooLarge { .. })));
        // 8192 px at 1000 dpi is 4096 px at ours.
        assert!(from_iso(&RawRecord::new(8192, 100, 394, vec![]).bytes()).is_ok());
    }

    #[test]
    fn empty_images_are_refused() {
        for (w, h) in [(0, 100), (100, 0), (0, 0)] {
            assert_eq!(
                from_iso(&RawRecord::new(w, h, 197, vec![]).bytes()),
                Err(IsoError::EmptyImage { width: w, height: h })
            );
        }
    }

    #[test]
    fn minutia_types() {
        let record = RawRecord::new(100, 100, 197, vec![raw(0, 1, 1, 0), raw(1, 2, 2, 0), raw(2, 3, 3, 0)]);
        let kinds: Vec<_> = from_iso(&record.bytes())
            .unwrap()
            .minutiae
            .iter()
            .map(|m| m.kind)
            .collect();
        assert_eq!(
            kinds,
            [MinutiaKind::Ending, MinutiaKind::Ending, MinutiaKind::Bifurcation]
        );
        let record = RawRecord::new(100, 100, 197, vec![raw(1, 1, 1, 0), raw(3, 2, 2, 0)]);
        assert_eq!(
            from_iso(&record.bytes()),
            Err(IsoError::MinutiaType { index: 1, code: 3 })
        );
    }

    #[test]
    fn reserved_bits_beside_y_are_ignored() {
        let record = RawRecord::new(100, 100, 197, vec![raw(1, 5, 0xC000 | 7, 0)]);
        assert_eq!(from_iso(&record.bytes()).unwrap().minutiae[0].y, 7);
    }

    #[test]
    fn minutiae_outside_the_image_are_refused() {
        for (x, y) in [(100, 0), (0, 80), (0x3FFF, 0x3FFF)] {
            let record = RawRecord::new(100, 80, 197, vec![raw(1, 1, 1, 0), raw(2, x, y, 0)]);
            assert_eq!(
                from_iso(&record.bytes()),
                Err(IsoError::MinutiaOutOfBounds {
                    index: 1,
                    x,
                    y,
                    width: 100,
                    height: 80
                })
            );
        }
    }

    #[test]
    fn qualities_above_100_are_refused() {
        let mut record = RawRecord::new(100, 100, 197, vec![raw(1, 1, 1, 0)]);
        record.views[0].quality = 101;
        assert_eq!(from_iso(&record.bytes()), Err(IsoError::FingerQuality { quality: 101 }));
        let mut record = RawRecord::new(100, 100, 197, vec![raw(1, 1, 1, 0), raw(1, 1, 1, 0)]);
        record.views[0].minutiae[1].quality = 255;
        assert_eq!(
            from_iso(&record.bytes()),
            Err(IsoError::MinutiaQuality { index: 1, quality: 255 })
        );
    }

    #[test]
    fn the_most_minutiae_a_view_can_hold_are_accepted() {
        // The count is one byte, so a record cannot claim more than MAX_MINUTIAE (255).
        let minutiae = (0..255).map(|i| raw(1 + (i % 2), i, i, i as u8)).collect();
        let t = from_iso(&RawRecord::new(300, 300, 197, minutiae).bytes()).unwrap();
        assert_eq!(t.minutiae.len(), MAX_MINUTIAE);
    }

    #[test]
    fn only_the_first_view_is_read_but_all_must_hold_together() {
        let mut record = RawRecord::new(100, 100, 197, vec![raw(1, 1, 1, 0)]);
        record.views[0].extended = vec![0, 1, 0, 5, 9]; // some extended data, skipped
        record.views.push(RawView {
            quality: 100,
            minutiae: vec![raw(2, 9, 9, 9); 3],
            extended: vec![1, 2],
        });
        let t = from_iso(&record.bytes()).unwrap();
        assert_eq!((t.quality, t.minutiae.len()), (60, 1));

        // A second view that runs past the end.
        let mut bytes = record.bytes();
        bytes.truncate(bytes.len() - 1);
        let len = bytes.len() as u32;
        bytes[8..12].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            from_iso(&bytes),
            Err(IsoError::Truncated {
                needed: bytes.len() + 1,
                actual: bytes.len()
            })
        );

        // Bytes after the last view that the length field counts.
        let mut bytes = record.bytes();
        bytes.push(0);
        let len = bytes.len() as u32;
        bytes[8..12].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            from_iso(&bytes),
            Err(IsoError::LengthMismatch {
                declared: bytes.len(),
                used: bytes.len() - 1
            })
        );
    }

    #[test]
    fn records_without_a_view_are_refused() {
        let mut record = RawRecord::new(100, 100, 197, vec![]);
        record.views.clear();
        assert_eq!(from_iso(&record.bytes()), Err(IsoError::NoFingerView));
    }

    #[test]
    fn length_field_must_match_the_input() {
        let bytes = to_iso(&sample());
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            from_iso(&longer),
            Err(IsoError::RecordLength {
                declared: 48,
                actual: 49
            })
        );
        for declared in [0, 23, 47] {
            let mut bad = bytes.clone();
            bad[8..12].copy_from_slice(&u32::to_be_bytes(declared));
            assert_eq!(from_iso(&bad), Err(IsoError::RecordLength { declared, actual: 48 }));
        }
        // A hostile length costs nothing.
        let mut bad = bytes.clone();
        bad[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            from_iso(&bad),
            Err(IsoError::Truncated {
                needed: u32::MAX as usize,
                actual: 48
            })
        );
    }

    #[test]
    fn hostile_counts_with_few_bytes_are_refused() {
        // 255 views, 255 minutiae and a long extended block claimed; the length field agrees with
        // the bytes given, which are far too few.
        let mut bytes = to_iso(&sample());
        bytes[22] = 255;
        assert!(matches!(from_iso(&bytes), Err(IsoError::Truncated { .. })));
        let mut bytes = to_iso(&sample());
        bytes[27] = 255;
        assert!(matches!(from_iso(&bytes), Err(IsoError::Truncated { .. })));
        let mut bytes = to_iso(&sample());
        let end = bytes.len();
        bytes[end - 2..].copy_from_slice(&u16::MAX.to_be_bytes());
        assert!(matches!(from_iso(&bytes), Err(IsoError::Truncated { .. })));
    }

    #[test]
    fn ansi_378_records_are_recognised() {
        // The 2004 edition of ANSI INCITS 378 begins like ours, then has a 2-byte length (or 0 and
        // a 4-byte one), a CBEFF product id, and so on.
        let mut short = b"FMR\0 20\0".to_vec();
        short.extend_from_slice(&[0, 32, 0x01, 0x02, 0x03, 0x04]);
        short.resize(32, 0);
        assert_eq!(from_iso(&short), Err(IsoError::Ansi378));
        let mut long = b"FMR\0 20\0".to_vec();
        long.extend_from_slice(&[0, 0, 0, 0, 0, 36]);
        long.resize(36, 0);
        assert_eq!(from_iso(&long), Err(IsoError::Ansi378));
    }

    #[test]
    fn wrong_identifier_and_version_are_named() {
        let mut bytes = to_iso(&sample());
        bytes[0] = b'X';
        assert_eq!(from_iso(&bytes), Err(IsoError::NotFingerMinutiae { found: *b"XMR\0" }));
        let mut bytes = to_iso(&sample());
        bytes[4..8].copy_from_slice(b"030\0");
        assert_eq!(from_iso(&bytes), Err(IsoError::UnsupportedVersion { found: *b"030\0" }));
        // Our own format is not an ISO record.
        assert!(matches!(
            from_iso(&sample().to_bytes()),
            Err(IsoError::NotFingerMinutiae { .. })
        ));
    }

    fn awkward_record() -> Vec<u8> {
        let mut record = RawRecord::new(
            500,
            600,
            394,
            vec![raw(1, 10, 20, 30), raw(0, 499, 599, 255), raw(2, 0, 0, 0)],
        );
        record.views[0].extended = vec![0, 1, 0, 5, 7];
        record.views.push(RawView {
            quality: 3,
            minutiae: vec![raw(2, 1, 2, 3)],
            extended: vec![],
        });
        record.bytes()
    }

    #[test]
    fn every_truncation_is_an_error() {
        for bytes in [to_iso(&sample()), awkward_record()] {
            assert!(from_iso(&bytes).is_ok());
            for len in 0..bytes.len() {
                assert!(from_iso(&bytes[..len]).is_err(), "length {len}");
            }
        }
    }

    #[test]
    fn corrupting_any_byte_never_panics() {
        for bytes in [to_iso(&sample()), awkward_record()] {
            for i in 0..bytes.len() {
                for mask in [0x01, 0x02, 0x10, 0x40, 0x80, 0xFF] {
                    let mut bad = bytes.clone();
                    bad[i] ^= mask;
                    if let Ok(t) = from_iso(&bad) {
                        t.validate().unwrap();
                    }
                }
            }
        }
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut rng = Rng(13);
        let valid = awkward_record();
        for round in 0..20_000 {
            let mut bytes: Vec<u8> = if round % 2 == 0 {
                // A valid header with random bytes after it, and a length field that agrees.
                let mut b = valid[..RECORD_HEADER_LEN].to_vec();
                b.extend((0..rng.below(80)).map(|_| rng.next() as u8));
                let len = b.len() as u32;
                b[8..12].copy_from_slice(&len.to_be_bytes());
                b
            } else {
                (0..rng.below(64)).map(|_| rng.next() as u8).collect()
            };
            if round % 3 == 0 && !bytes.is_empty() {
                let i = rng.below(bytes.len() as u64) as usize;
                bytes[i] = 0xFF;
            }
            if let Ok(t) = from_iso(&bytes) {
                t.validate().unwrap();
            }
        }
    }

    #[test]
    fn invalid_templates_still_give_well_formed_records() {
        let mut t = sample();
        t.quality = 200;
        t.minutiae[0].quality = 200;
        t.minutiae[1].angle = f32::NAN;
        let extra = t.minutiae[2];
        t.minutiae.extend_from_slice(&[extra; 300]);
        let bytes = to_iso(&t);
        let back = from_iso(&bytes).unwrap();
        assert_eq!(
            (back.quality, back.minutiae.len(), back.minutiae[0].quality),
            (100, 255, 100)
        );
    }

    #[test]
    fn errors_say_what_was_wrong() {
        let e = IsoError::Resolution {
            x_px_per_cm: 0,
            y_px_per_cm: 197,
        };
        assert_eq!(
            e.to_string(),
            "ISO record resolution 0x197 px/cm is outside 98..=394 px/cm (250..=1000 dpi)"
        );
        let e = IsoError::MinutiaType { index: 4, code: 3 };
        assert_eq!(e.to_string(), "ISO record minutia 4 has reserved type code 0b11");
    }
}
