//! The template: what the engine keeps of a fingerprint (its minutiae, a coarse map of its ridge
//! flow and a quality), and its compact, versioned binary encoding.
//!
//! # Encoding, format version 2
//!
//! [`Template::to_bytes`] writes and [`Template::from_bytes`] reads the layout below. Integers are
//! unsigned and little-endian; offsets and sizes are in bytes.
//!
//! | offset | size | field                                                                   |
//! |-------:|-----:|-------------------------------------------------------------------------|
//! |      0 |    4 | magic, `53 48 4D 54` (`b"SHMT"`, [`Template::MAGIC`])                   |
//! |      4 |    1 | format version, `2` ([`Template::FORMAT_VERSION`])                      |
//! |      5 |    2 | width, pixels at the internal resolution (500 dpi), `1..=4096`          |
//! |      7 |    2 | height, pixels, `1..=4096` ([`MAX_IMAGE_SIDE_PX`])                      |
//! |      9 |    1 | template quality, `0..=100`                                             |
//! |     10 |    2 | number of minutiae `n`, `0..=255` ([`MAX_MINUTIAE`])                    |
//! |     12 |  8·n | the minutiae, 8 bytes each, in the template's order                     |
//! | 12+8·n |    1 | ridge flow: `0` none, `1` present                                       |
//! | 13+8·n |  2·k | if present, its `k = c·r` cells, row-major, 2 bytes each                |
//!
//! The ridge flow map ([`RidgeFlow`]) has `c = ⌈width / 16⌉` columns and `r = ⌈height / 16⌉` rows
//! of [`FLOW_CELL_PX`](crate::params::FLOW_CELL_PX) = 16 px cells, so its size follows from the
//! image size. Each cell is two bytes: the ridge orientation in units of π/256 rad (same direction
//! convention as a minutia's angle, over half a turn), then the coherence, `0` where the cell is
//! not finger (its orientation byte must then be `0`), else `1..=255`.
//!
//! Minutia `i` starts at offset `12 + 8·i`:
//!
//! | offset | size | field                                                                   |
//! |-------:|-----:|-------------------------------------------------------------------------|
//! |     +0 |    2 | x, pixels, `< width`                                                    |
//! |     +2 |    2 | y, pixels, `< height`                                                   |
//! |     +4 |    2 | angle in units of 2π/65536 rad, same convention as [`Minutia::angle`]   |
//! |     +6 |    1 | kind: `0` ending, `1` bifurcation                                       |
//! |     +7 |    1 | minutia quality, `0..=100`                                              |
//!
//! A record is exactly `13 + 8·n` bytes, plus `2·k` with a ridge flow: no padding and no checksum
//! (stored templates are sealed with an AEAD, which already detects any change). Encoding is
//! deterministic and canonical: decoding a format 2 record and encoding the result gives back the
//! same bytes. An angle is rounded to the nearest unit, so it comes back within π/65536 rad (half a
//! unit), always in `[0, 2π)`; an angle just below 2π that rounds up to a whole turn is written
//! as 0.
//!
//! Decoding checks every rule above and reports the first one broken as a [`TemplateError`]. It
//! reads the version before anything after it, so a record from a later format is reported as
//! such rather than as garbage, and it rejects an impossible minutia count before looking at the
//! length, so a hostile count costs nothing.
//!
//! Version 1 records, written before templates kept their ridge flow, are laid out the same up to
//! the minutiae and end there (`12 + 8·n` bytes). They still decode, as templates without a ridge
//! flow, which compare by their minutiae alone; re-enrolling a finger stores a version 2 record.

use std::f64::consts::TAU;

use crate::flow::{cells_for, FlowCell, RidgeFlow};
use crate::params::{MAX_IMAGE_SIDE_PX, MAX_MINUTIAE};

/// Highest quality a template or a minutia may have.
const MAX_QUALITY: u8 = 100;
/// Length of the encoded header, bytes.
const HEADER_LEN: usize = 12;
/// The first format version, without a ridge flow section; still read.
const FORMAT_VERSION_WITHOUT_FLOW: u8 = 1;
/// Flow section flag: no ridge flow.
const FLOW_ABSENT: u8 = 0;
/// Flow section flag: a ridge flow follows.
const FLOW_PRESENT: u8 = 1;
/// Length of one encoded ridge flow cell, bytes.
const FLOW_CELL_LEN: usize = 2;
/// Length of one encoded minutia, bytes.
const MINUTIA_LEN: usize = 8;
/// Encoded angle units in a whole turn (one unit is 2π/65536 rad).
const ANGLE_UNITS_PER_TURN: u32 = 1 << 16;
/// Encoded kind byte of a ridge ending.
const KIND_ENDING: u8 = 0;
/// Encoded kind byte of a bifurcation.
const KIND_BIFURCATION: u8 = 1;

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
    /// The ridge orientation on a coarse grid, if known (templates imported from ISO records or
    /// decoded from format version 1 have none, and compare by their minutiae alone).
    pub flow: Option<RidgeFlow>,
}

/// Why bytes could not be decoded into a template, or why a template breaks its own rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The input ends before the record does.
    #[error("template is truncated: {actual} bytes given, at least {needed} needed")]
    Truncated {
        /// Bytes the record needs, as far as could be read.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The input does not start with [`Template::MAGIC`].
    #[error("not a shimon template: it starts with {found:02x?} instead of \"SHMT\"")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// The format version is not one this build reads.
    #[error(
        "unsupported template format version {version} (this build reads versions {} and {})",
        FORMAT_VERSION_WITHOUT_FLOW,
        Template::FORMAT_VERSION
    )]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The input goes on after the end of the record.
    #[error("template goes on after its end: {actual} bytes given, {expected} expected")]
    TrailingBytes {
        /// Length the header implies, bytes.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// More minutiae than [`MAX_MINUTIAE`].
    #[error("template has {count} minutiae, more than the {max} allowed")]
    TooManyMinutiae {
        /// Number of minutiae claimed or held.
        count: usize,
        /// [`MAX_MINUTIAE`].
        max: usize,
    },
    /// Width or height is 0 or larger than [`MAX_IMAGE_SIDE_PX`].
    #[error("image size {width}x{height} px is outside 1..={} px a side", MAX_IMAGE_SIDE_PX)]
    BadImageSize {
        /// Width, pixels.
        width: u16,
        /// Height, pixels.
        height: u16,
    },
    /// The template's quality is above 100.
    #[error("template quality {quality} is above {}", MAX_QUALITY)]
    BadQuality {
        /// The quality found.
        quality: u8,
    },
    /// A minutia lies outside the image.
    #[error("minutia {index} at ({x}, {y}) px lies outside the {width}x{height} px image")]
    MinutiaOutOfBounds {
        /// Position of the minutia in the template, from 0.
        index: usize,
        /// Its column, pixels.
        x: u16,
        /// Its row, pixels.
        y: u16,
        /// Image width, pixels.
        width: u16,
        /// Image height, pixels.
        height: u16,
    },
    /// A minutia's kind byte is neither ending (0) nor bifurcation (1).
    #[error("minutia {index} has unknown kind byte {byte} (0 is an ending, 1 a bifurcation)")]
    UnknownKind {
        /// Position of the minutia in the template, from 0.
        index: usize,
        /// The byte found.
        byte: u8,
    },
    /// A minutia's quality is above 100.
    #[error("minutia {index} has quality {quality}, above {}", MAX_QUALITY)]
    BadMinutiaQuality {
        /// Position of the minutia in the template, from 0.
        index: usize,
        /// The quality found.
        quality: u8,
    },
    /// A minutia's angle is not a number in `[0, 2π)` (only [`Template::validate`] reports this:
    /// decoded angles are always in range).
    #[error("minutia {index} has an angle that is not a number in [0, 2π) radians")]
    BadAngle {
        /// Position of the minutia in the template, from 0.
        index: usize,
    },
    /// The byte that says whether a ridge flow follows is neither 0 nor 1.
    #[error("template has ridge flow flag {byte} (0 is none, 1 present)")]
    BadFlowFlag {
        /// The byte found.
        byte: u8,
    },
    /// A ridge flow cell that is not finger has an orientation (the encoding would not be canonical).
    #[error("ridge flow cell {index} is not finger but has orientation {orientation}")]
    BadFlowCell {
        /// Row-major index of the cell.
        index: usize,
        /// The orientation byte found.
        orientation: u8,
    },
    /// The ridge flow map does not cover the image in [`FLOW_CELL_PX`](crate::params::FLOW_CELL_PX) cells.
    #[error(
        "ridge flow map is {columns}x{rows} cells, but a {width}x{height} px image needs {}x{}",
        cells_for(*width),
        cells_for(*height)
    )]
    FlowSizeMismatch {
        /// Cells across.
        columns: u16,
        /// Cells down.
        rows: u16,
        /// Image width, pixels.
        width: u16,
        /// Image height, pixels.
        height: u16,
    },
}

impl Template {
    /// First four bytes of every encoded template.
    pub const MAGIC: [u8; 4] = *b"SHMT";
    /// Version of the encoding that [`Template::to_bytes`] writes and [`Template::from_bytes`] reads.
    pub const FORMAT_VERSION: u8 = 2;

    /// Encodes the template as laid out in the [module documentation](self).
    ///
    /// Encoding does not check the template. Angles are brought into `[0, 2π)` on the way (one
    /// that is not a number is written as 0); anything else that breaks the rules of
    /// [`Template::validate`] is written as it is, so that [`Template::from_bytes`] rejects it
    /// rather than returning a quietly different template. Beyond 65,535 minutiae, which no valid
    /// template has, only the first 65,535 are written (still too many to decode).
    pub fn to_bytes(&self) -> Vec<u8> {
        let count = self.minutiae.len().min(usize::from(u16::MAX));
        let mut out = Vec::with_capacity(HEADER_LEN + count * MINUTIA_LEN);
        out.extend_from_slice(&Self::MAGIC);
        out.push(Self::FORMAT_VERSION);
        out.extend_from_slice(&self.width.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.push(self.quality);
        out.extend_from_slice(&u16::try_from(count).unwrap_or(u16::MAX).to_le_bytes());
        for m in &self.minutiae[..count] {
            out.extend_from_slice(&m.x.to_le_bytes());
            out.extend_from_slice(&m.y.to_le_bytes());
            out.extend_from_slice(&angle_to_units(m.angle).to_le_bytes());
            out.push(match m.kind {
                MinutiaKind::Ending => KIND_ENDING,
                MinutiaKind::Bifurcation => KIND_BIFURCATION,
            });
            out.push(m.quality);
        }
        match &self.flow {
            None => out.push(FLOW_ABSENT),
            Some(flow) => {
                out.push(FLOW_PRESENT);
                out.reserve(flow.cells().len() * FLOW_CELL_LEN);
                for cell in flow.cells() {
                    out.extend_from_slice(&[cell.orientation, cell.coherence]);
                }
            }
        }
        out
    }

    /// Decodes a template written by [`Template::to_bytes`], checking every rule of the format.
    pub fn from_bytes(bytes: &[u8]) -> Result<Template, TemplateError> {
        let mut r = Reader { bytes, pos: 0 };
        let found = r.array::<4>()?;
        if found != Self::MAGIC {
            return Err(TemplateError::BadMagic { found });
        }
        let version = r.u8()?;
        if version != Self::FORMAT_VERSION && version != FORMAT_VERSION_WITHOUT_FLOW {
            return Err(TemplateError::UnsupportedVersion { version });
        }
        let width = r.u16()?;
        let height = r.u16()?;
        let quality = r.u8()?;
        let count = usize::from(r.u16()?);
        check_header(width, height, quality, count)?;
        let minutiae_end = HEADER_LEN + count * MINUTIA_LEN;
        let (columns, rows) = (cells_for(width), cells_for(height));
        let cells = usize::from(columns) * usize::from(rows);
        let (flow_flag, expected) = if version == FORMAT_VERSION_WITHOUT_FLOW {
            (FLOW_ABSENT, minutiae_end)
        } else {
            let flag = *bytes.get(minutiae_end).ok_or(TemplateError::Truncated {
                needed: minutiae_end + 1,
                actual: bytes.len(),
            })?;
            match flag {
                FLOW_ABSENT => (flag, minutiae_end + 1),
                FLOW_PRESENT => (flag, minutiae_end + 1 + cells * FLOW_CELL_LEN),
                byte => return Err(TemplateError::BadFlowFlag { byte }),
            }
        };
        if bytes.len() < expected {
            return Err(TemplateError::Truncated {
                needed: expected,
                actual: bytes.len(),
            });
        }
        if bytes.len() > expected {
            return Err(TemplateError::TrailingBytes {
                expected,
                actual: bytes.len(),
            });
        }
        let mut minutiae = Vec::with_capacity(count);
        for index in 0..count {
            let x = r.u16()?;
            let y = r.u16()?;
            let angle = angle_from_units(r.u16()?);
            let kind = match r.u8()? {
                KIND_ENDING => MinutiaKind::Ending,
                KIND_BIFURCATION => MinutiaKind::Bifurcation,
                byte => return Err(TemplateError::UnknownKind { index, byte }),
            };
            let m = Minutia {
                x,
                y,
                angle,
                kind,
                quality: r.u8()?,
            };
            check_minutia(index, &m, width, height)?;
            minutiae.push(m);
        }
        let flow = if flow_flag == FLOW_PRESENT {
            r.u8()?; // the flag, read above
            let mut flow_cells = Vec::with_capacity(cells);
            for index in 0..cells {
                let [orientation, coherence] = r.array()?;
                let cell = FlowCell { orientation, coherence };
                check_flow_cell(index, &cell)?;
                flow_cells.push(cell);
            }
            RidgeFlow::new(columns, rows, flow_cells)
        } else {
            None
        };
        Ok(Template {
            width,
            height,
            quality,
            minutiae,
            flow,
        })
    }

    /// Checks that the template keeps its rules: image sides in `1..=`[`MAX_IMAGE_SIDE_PX`], at
    /// most [`MAX_MINUTIAE`] minutiae, each inside the image with an angle in `[0, 2π)`, and
    /// qualities at most 100. Every template that passes encodes to bytes that decode.
    pub fn validate(&self) -> Result<(), TemplateError> {
        check_header(self.width, self.height, self.quality, self.minutiae.len())?;
        for (index, m) in self.minutiae.iter().enumerate() {
            check_minutia(index, m, self.width, self.height)?;
            if !(0.0..std::f32::consts::TAU).contains(&m.angle) {
                return Err(TemplateError::BadAngle { index });
            }
        }
        if let Some(flow) = &self.flow {
            if (flow.columns(), flow.rows()) != (cells_for(self.width), cells_for(self.height)) {
                return Err(TemplateError::FlowSizeMismatch {
                    columns: flow.columns(),
                    rows: flow.rows(),
                    width: self.width,
                    height: self.height,
                });
            }
            for (index, cell) in flow.cells().iter().enumerate() {
                check_flow_cell(index, cell)?;
            }
        }
        Ok(())
    }
}

/// The rules on a template's header fields, shared by decoding and [`Template::validate`].
fn check_header(width: u16, height: u16, quality: u8, count: usize) -> Result<(), TemplateError> {
    let side_ok = |side: u16| side > 0 && u32::from(side) <= MAX_IMAGE_SIDE_PX;
    if !side_ok(width) || !side_ok(height) {
        return Err(TemplateError::BadImageSize { width, height });
    }
    if quality > MAX_QUALITY {
        return Err(TemplateError::BadQuality { quality });
    }
    if count > MAX_MINUTIAE {
        return Err(TemplateError::TooManyMinutiae {
            count,
            max: MAX_MINUTIAE,
        });
    }
    Ok(())
}

/// The rules on one minutia's integer fields, shared by decoding and [`Template::validate`].
fn check_minutia(index: usize, m: &Minutia, width: u16, height: u16) -> Result<(), TemplateError> {
    if m.x >= width || m.y >= height {
        return Err(TemplateError::MinutiaOutOfBounds {
            index,
            x: m.x,
            y: m.y,
            width,
            height,
        });
    }
    if m.quality > MAX_QUALITY {
        return Err(TemplateError::BadMinutiaQuality {
            index,
            quality: m.quality,
        });
    }
    Ok(())
}

/// The rule on a ridge flow cell, shared by decoding and [`Template::validate`].
fn check_flow_cell(index: usize, cell: &FlowCell) -> Result<(), TemplateError> {
    if cell.coherence == 0 && cell.orientation != 0 {
        return Err(TemplateError::BadFlowCell {
            index,
            orientation: cell.orientation,
        });
    }
    Ok(())
}

/// An angle in radians as the nearest encoded unit (2π/65536 rad), taken modulo a whole turn.
fn angle_to_units(angle_rad: f32) -> u16 {
    // In f64 so that rounding to a unit is not disturbed by f32's own rounding. `rem_euclid` may
    // return exactly TAU for a tiny negative angle; that, and an angle that rounds up to a whole
    // turn, both come out as 65536 units and wrap to 0 below.
    let turns = f64::from(angle_rad).rem_euclid(TAU) / TAU;
    let units = (turns * f64::from(ANGLE_UNITS_PER_TURN)).round();
    // `as` saturates and sends NaN to 0; the value is in 0..=65536 here.
    let units = units as u32 % ANGLE_UNITS_PER_TURN;
    u16::try_from(units).unwrap_or(0)
}

/// An encoded angle as radians in `[0, 2π)`: the largest, 65535 units, is 2π less 96 µrad, far
/// above f32's rounding step there, so the result never reaches 2π.
fn angle_from_units(units: u16) -> f32 {
    (f64::from(units) * (TAU / f64::from(ANGLE_UNITS_PER_TURN))) as f32
}

/// A cursor over the input that turns running off its end into [`TemplateError::Truncated`].
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], TemplateError> {
        let end = self.pos + N;
        let mut out = [0; N];
        match self.bytes.get(self.pos..end) {
            Some(s) => out.copy_from_slice(s),
            None => {
                return Err(TemplateError::Truncated {
                    needed: end,
                    actual: self.bytes.len(),
                })
            }
        }
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, TemplateError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, TemplateError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::{PI, TAU};

    /// Largest distance between an angle and its decoded self, radians: half an encoding unit,
    /// plus f32 rounding.
    const ANGLE_ROUND_TRIP_RAD: f32 = PI / 65_536.0 + 1e-6;

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

        fn unit_f32(&mut self) -> f32 {
            (self.next() >> 40) as f32 / (1u64 << 24) as f32
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
                angle: (rng.unit_f32() * TAU).min(below_tau()),
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

    /// The largest f32 below 2π (`f32::next_down` is newer than the crate's minimum Rust).
    fn below_tau() -> f32 {
        f32::from_bits(TAU.to_bits() - 1)
    }

    /// Distance between two angles around the circle, radians.
    fn angle_gap(a: f32, b: f32) -> f32 {
        let d = (a - b).rem_euclid(TAU);
        d.min(TAU - d)
    }

    fn assert_close(original: &Template, decoded: &Template) {
        assert_eq!(decoded.width, original.width);
        assert_eq!(decoded.height, original.height);
        assert_eq!(decoded.quality, original.quality);
        assert_eq!(decoded.minutiae.len(), original.minutiae.len());
        for (o, d) in original.minutiae.iter().zip(&decoded.minutiae) {
            assert_eq!((d.x, d.y, d.kind, d.quality), (o.x, o.y, o.kind, o.quality));
            assert!((0.0..TAU).contains(&d.angle), "decoded angle {} out of range", d.angle);
            assert!(
                angle_gap(o.angle, d.angle) <= ANGLE_ROUND_TRIP_RAD,
                "{} -> {}",
                o.angle,
                d.angle
            );
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
                    angle: PI,
                    kind: MinutiaKind::Bifurcation,
                    quality: 100,
                },
            ],
            flow: None,
        }
    }

    #[test]
    fn layout_is_as_documented() {
        let bytes = sample().to_bytes();
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            b'S', b'H', b'M', b'T', 2,
            0x2C, 0x01, 0x90, 0x01, // 300 x 400
            77,
            2, 0,
            1, 0, 2, 0, 0x00, 0x00, 0, 50,
            0x2B, 0x01, 0x8F, 0x01, 0x00, 0x80, 1, 100, // π is half a turn: 32768 units
            0, // no ridge flow
        ];
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len(), HEADER_LEN + 2 * MINUTIA_LEN + 1);

        // With a ridge flow: 300 x 400 px is 19 x 25 cells of 16 px, two bytes each.
        let mut t = sample();
        t.flow = Some(flow_for(300, 400, 5));
        let bytes = t.to_bytes();
        let flow_start = HEADER_LEN + 2 * MINUTIA_LEN;
        assert_eq!(bytes[..flow_start], expected[..flow_start]);
        assert_eq!(bytes[flow_start], 1, "ridge flow present");
        assert_eq!(bytes.len(), flow_start + 1 + 19 * 25 * 2);
        let cells = t.flow.as_ref().unwrap().cells();
        assert_eq!(
            bytes[flow_start + 1..flow_start + 3],
            [cells[0].orientation, cells[0].coherence]
        );
        assert_eq!(Template::from_bytes(&bytes).unwrap(), t);
    }

    /// A ridge flow map for a `width` x `height` px image, every `hole`-th cell not finger.
    fn flow_for(width: u16, height: u16, hole: usize) -> RidgeFlow {
        let (columns, rows) = (cells_for(width), cells_for(height));
        let cells = (0..usize::from(columns) * usize::from(rows))
            .map(|k| {
                if k % hole == 0 {
                    FlowCell::default()
                } else {
                    FlowCell {
                        orientation: (k * 37 % 256) as u8,
                        coherence: (1 + k * 11 % 255) as u8,
                    }
                }
            })
            .collect();
        RidgeFlow::new(columns, rows, cells).unwrap()
    }

    #[test]
    fn ridge_flows_round_trip_exactly() {
        let mut rng = Rng(5);
        for _ in 0..50 {
            let mut t = random_template(&mut rng);
            t.flow = Some(flow_for(t.width, t.height, 1 + rng.below(7) as usize));
            t.validate().unwrap();
            let bytes = t.to_bytes();
            let back = Template::from_bytes(&bytes).unwrap();
            assert_eq!(back.flow, t.flow);
            assert_eq!(back.to_bytes(), bytes, "canonical");
        }
    }

    #[test]
    fn version_1_records_still_decode_without_a_flow() {
        let mut bytes = sample().to_bytes();
        bytes.pop(); // the flow flag, which version 1 does not have
        bytes[4] = 1;
        let back = Template::from_bytes(&bytes).unwrap();
        assert_close(&sample(), &back);
        assert_eq!(back.flow, None);
        // Re-encoded, it is a version 2 record.
        assert_eq!(back.to_bytes(), sample().to_bytes());
        // A version 1 record has nothing after its minutiae.
        bytes.push(0);
        assert!(matches!(
            Template::from_bytes(&bytes),
            Err(TemplateError::TrailingBytes { .. })
        ));
    }

    #[test]
    fn hostile_ridge_flows_are_refused() {
        let mut t = sample();
        t.flow = Some(flow_for(300, 400, 3));
        let bytes = t.to_bytes();
        let flag = HEADER_LEN + 2 * MINUTIA_LEN;
        // An unknown flag.
        let mut bad = bytes.clone();
        bad[flag] = 2;
        assert_eq!(Template::from_bytes(&bad), Err(TemplateError::BadFlowFlag { byte: 2 }));
        // Cut anywhere in the map.
        for len in [flag, flag + 1, flag + 2, bytes.len() - 1] {
            assert!(
                matches!(
                    Template::from_bytes(&bytes[..len]),
                    Err(TemplateError::Truncated { .. })
                ),
                "cut at {len}"
            );
        }
        // Flag says none, but a map follows; flag says present, and nothing follows.
        let mut bad = bytes.clone();
        bad[flag] = 0;
        assert!(matches!(
            Template::from_bytes(&bad),
            Err(TemplateError::TrailingBytes { .. })
        ));
        let mut bad = sample().to_bytes();
        bad[flag] = 1;
        assert_eq!(
            Template::from_bytes(&bad),
            Err(TemplateError::Truncated {
                needed: flag + 1 + 19 * 25 * 2,
                actual: flag + 1
            })
        );
        // A cell off the finger with an orientation: not canonical.
        let mut bad = bytes.clone();
        bad[flag + 1] = 9; // cell 0 is not finger (coherence 0)
        assert_eq!(
            Template::from_bytes(&bad),
            Err(TemplateError::BadFlowCell {
                index: 0,
                orientation: 9
            })
        );
    }

    #[test]
    fn validate_refuses_a_flow_that_does_not_cover_the_image() {
        let mut t = sample();
        t.flow = Some(flow_for(320, 400, 3));
        assert_eq!(
            t.validate(),
            Err(TemplateError::FlowSizeMismatch {
                columns: 20,
                rows: 25,
                width: 300,
                height: 400
            })
        );
        assert_eq!(
            t.validate().unwrap_err().to_string(),
            "ridge flow map is 20x25 cells, but a 300x400 px image needs 19x25"
        );
        // Encoded anyway, it does not decode back into the same template.
        assert_ne!(Template::from_bytes(&t.to_bytes()).ok(), Some(t));
    }

    #[test]
    fn random_templates_round_trip() {
        let mut rng = Rng(1);
        for _ in 0..300 {
            let t = random_template(&mut rng);
            t.validate().unwrap();
            let bytes = t.to_bytes();
            assert_eq!(bytes, t.to_bytes(), "encoding is deterministic");
            let back = Template::from_bytes(&bytes).unwrap();
            assert_close(&t, &back);
            assert_eq!(back.to_bytes(), bytes, "encoding is canonical");
        }
    }

    #[test]
    fn extremes_round_trip() {
        let side = MAX_IMAGE_SIDE_PX as u16;
        let full = Template {
            width: side,
            height: side,
            quality: 100,
            minutiae: (0..MAX_MINUTIAE)
                .map(|i| Minutia {
                    x: side - 1,
                    y: i as u16,
                    angle: below_tau(),
                    kind: MinutiaKind::Bifurcation,
                    quality: 100,
                })
                .collect(),
            flow: None,
        };
        assert_close(&full, &Template::from_bytes(&full.to_bytes()).unwrap());
        let empty = Template {
            width: 1,
            height: 1,
            quality: 0,
            minutiae: vec![],
            flow: None,
        };
        assert_eq!(Template::from_bytes(&empty.to_bytes()).unwrap(), empty);
    }

    #[test]
    fn every_angle_unit_decodes_in_range_and_re_encodes_to_itself() {
        for units in 0..=u16::MAX {
            let angle = angle_from_units(units);
            assert!((0.0..TAU).contains(&angle), "{units} -> {angle}");
            assert_eq!(angle_to_units(angle), units);
        }
    }

    #[test]
    fn angles_near_a_whole_turn_wrap_to_zero_not_to_two_pi() {
        for angle in [below_tau(), TAU, -0.0, -1e-9, TAU - 1e-5] {
            assert_eq!(angle_to_units(angle), 0, "{angle}");
        }
        assert_eq!(angle_to_units(-PI / 2.0), 49_152);
        assert_eq!(angle_to_units(TAU + PI / 2.0), 16_384);
        assert_eq!(angle_to_units(f32::NAN), 0);
        assert_eq!(angle_to_units(f32::INFINITY), 0);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = random_template(&mut Rng(7)).to_bytes();
        for len in 0..bytes.len() {
            match Template::from_bytes(&bytes[..len]) {
                Err(TemplateError::Truncated { actual, .. }) => assert_eq!(actual, len),
                other => panic!("length {len}: {other:?}"),
            }
        }
    }

    #[test]
    fn corrupting_any_byte_never_panics_and_never_slips_through_unchecked() {
        let mut rng = Rng(3);
        let mut t = random_template(&mut rng);
        t.minutiae.truncate(20);
        let bytes = t.to_bytes();
        for i in 0..bytes.len() {
            for mask in [0x01, 0x02, 0x10, 0x80, 0xFF] {
                let mut bad = bytes.clone();
                bad[i] ^= mask;
                if let Ok(decoded) = Template::from_bytes(&bad) {
                    decoded.validate().unwrap();
                    assert_eq!(decoded.to_bytes(), bad);
                }
            }
        }
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut rng = Rng(11);
        for round in 0..20_000 {
            let len = rng.below(64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if round % 2 == 0 && bytes.len() >= 5 {
                bytes[..4].copy_from_slice(&Template::MAGIC);
                bytes[4] = Template::FORMAT_VERSION;
            }
            if let Ok(t) = Template::from_bytes(&bytes) {
                t.validate().unwrap();
            }
        }
    }

    #[test]
    fn wrong_magic_and_version_are_named() {
        let mut bytes = sample().to_bytes();
        bytes[0] = b'X';
        assert_eq!(
            Template::from_bytes(&bytes),
            Err(TemplateError::BadMagic { found: *b"XHMT" })
        );
        for version in [0, 3, 255] {
            let mut bytes = sample().to_bytes();
            bytes[4] = version;
            assert_eq!(
                Template::from_bytes(&bytes),
                Err(TemplateError::UnsupportedVersion { version })
            );
        }
        // An ISO record is not one of ours.
        assert!(matches!(
            Template::from_bytes(b"FMR\0 20\0"),
            Err(TemplateError::BadMagic { .. })
        ));
    }

    /// A header with the given count and `extra` bytes after it.
    fn header_with_count(count: u16, extra: usize) -> Vec<u8> {
        let mut bytes = Template {
            width: 10,
            height: 10,
            quality: 1,
            minutiae: vec![],
            flow: None,
        }
        .to_bytes();
        bytes[10..12].copy_from_slice(&count.to_le_bytes());
        bytes.resize(bytes.len() + extra, 0);
        bytes
    }

    #[test]
    fn hostile_counts_are_refused_before_reading_on() {
        for count in [u16::MAX, 256] {
            assert_eq!(
                Template::from_bytes(&header_with_count(count, 3)),
                Err(TemplateError::TooManyMinutiae {
                    count: usize::from(count),
                    max: MAX_MINUTIAE
                })
            );
        }
        assert_eq!(
            Template::from_bytes(&header_with_count(255, 8)),
            Err(TemplateError::Truncated {
                // Up to the ridge flow flag after the minutiae.
                needed: HEADER_LEN + 255 * MINUTIA_LEN + 1,
                actual: HEADER_LEN + 1 + 8
            })
        );
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = sample().to_bytes();
        let expected = bytes.len();
        bytes.push(0);
        assert_eq!(
            Template::from_bytes(&bytes),
            Err(TemplateError::TrailingBytes {
                expected,
                actual: expected + 1
            })
        );
        assert_eq!(
            Template::from_bytes(&header_with_count(0, 1)),
            Err(TemplateError::TrailingBytes {
                expected: HEADER_LEN + 1,
                actual: HEADER_LEN + 2
            })
        );
    }

    #[test]
    fn image_sizes_outside_the_limits_are_refused() {
        let side = MAX_IMAGE_SIDE_PX as u16;
        for (width, height) in [(0, 10), (10, 0), (0, 0), (side + 1, 10), (10, u16::MAX)] {
            let t = Template {
                width,
                height,
                quality: 0,
                minutiae: vec![],
                flow: None,
            };
            assert_eq!(
                Template::from_bytes(&t.to_bytes()),
                Err(TemplateError::BadImageSize { width, height })
            );
        }
        let t = Template {
            width: side,
            height: side,
            quality: 0,
            minutiae: vec![],
            flow: None,
        };
        assert!(Template::from_bytes(&t.to_bytes()).is_ok());
    }

    #[test]
    fn minutiae_outside_the_image_are_refused() {
        for (x, y) in [(300, 0), (0, 400), (u16::MAX, u16::MAX)] {
            let mut t = sample();
            t.minutiae[1].x = x;
            t.minutiae[1].y = y;
            assert_eq!(
                Template::from_bytes(&t.to_bytes()),
                Err(TemplateError::MinutiaOutOfBounds {
                    index: 1,
                    x,
                    y,
                    width: 300,
                    height: 400
                })
            );
            assert_eq!(t.validate(), Template::from_bytes(&t.to_bytes()).map(|_| ()));
        }
    }

    #[test]
    fn unknown_kind_bytes_are_refused() {
        for byte in [2, 0x80, 0xFF] {
            let mut bytes = sample().to_bytes();
            bytes[HEADER_LEN + MINUTIA_LEN + 6] = byte;
            assert_eq!(
                Template::from_bytes(&bytes),
                Err(TemplateError::UnknownKind { index: 1, byte })
            );
        }
    }

    #[test]
    fn qualities_above_100_are_refused() {
        let mut t = sample();
        t.quality = 101;
        assert_eq!(
            Template::from_bytes(&t.to_bytes()),
            Err(TemplateError::BadQuality { quality: 101 })
        );
        let mut t = sample();
        t.minutiae[0].quality = 255;
        assert_eq!(
            Template::from_bytes(&t.to_bytes()),
            Err(TemplateError::BadMinutiaQuality { index: 0, quality: 255 })
        );
        assert_eq!(
            t.validate(),
            Err(TemplateError::BadMinutiaQuality { index: 0, quality: 255 })
        );
    }

    #[test]
    fn too_many_minutiae_encode_to_a_record_that_is_refused() {
        let mut t = sample();
        let m = t.minutiae[0];
        t.minutiae = vec![m; MAX_MINUTIAE + 1];
        assert_eq!(
            t.validate(),
            Err(TemplateError::TooManyMinutiae {
                count: MAX_MINUTIAE + 1,
                max: MAX_MINUTIAE
            })
        );
        assert_eq!(Template::from_bytes(&t.to_bytes()).map(|_| ()), t.validate());
    }

    #[test]
    fn validate_refuses_angles_out_of_range() {
        for angle in [TAU, -0.5, f32::NAN, f32::INFINITY] {
            let mut t = sample();
            t.minutiae[1].angle = angle;
            assert_eq!(t.validate(), Err(TemplateError::BadAngle { index: 1 }));
            // The encoding still holds the direction, brought into range.
            let back = Template::from_bytes(&t.to_bytes()).unwrap();
            assert!((0.0..TAU).contains(&back.minutiae[1].angle));
        }
    }

    #[test]
    fn errors_say_what_was_wrong() {
        let e = Template::from_bytes(&header_with_count(u16::MAX, 0)).unwrap_err();
        assert_eq!(e.to_string(), "template has 65535 minutiae, more than the 255 allowed");
        let e = TemplateError::UnsupportedVersion { version: 9 };
        assert_eq!(
            e.to_string(),
            "unsupported template format version 9 (this build reads versions 1 and 2)"
        );
    }
}
