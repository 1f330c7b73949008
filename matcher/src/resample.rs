//! Resampling: brings an image of any supported resolution to the engine's internal resolution, so
//! every later stage and every parameter works in one unit of length.

use crate::params::INTERNAL_DPI;
use crate::plane::Plane;
use crate::FingerprintImage;

/// The image at [`INTERNAL_DPI`], as floating-point grey levels 0..255.
pub(crate) fn to_internal_resolution(image: &FingerprintImage) -> Plane<f32> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let source = Plane {
        width: w,
        height: h,
        data: image.pixels().iter().map(|&p| p as f32).collect(),
    };
    if image.dpi() == INTERNAL_DPI {
        return source;
    }
    let scale = INTERNAL_DPI as f32 / image.dpi() as f32;
    let out_w = ((w as f32 * scale).round() as usize).max(1);
    let out_h = ((h as f32 * scale).round() as usize).max(1);
    // When shrinking, average over the source footprint of each output pixel first, so that fine
    // detail does not alias; when enlarging, bilinear interpolation is enough.
    let smoothed = if scale < 1.0 {
        box_blur(&source, (0.5 / scale).floor() as usize)
    } else {
        source
    };
    interpolate(&smoothed, out_w, out_h, scale)
}

/// Bilinear samples of `source` on an `out_w` x `out_h` grid, `scale` output pixels to a source
/// pixel, pixel centres aligned.
fn interpolate(source: &Plane<f32>, out_w: usize, out_h: usize, scale: f32) -> Plane<f32> {
    let columns = Interpolation::along(out_w, source.width, scale);
    let rows = Interpolation::along(out_h, source.height, scale);
    let mut out = Plane::filled(out_w, out_h, 0.0f32);
    for (y, row) in rows.iter().enumerate() {
        for (x, column) in columns.iter().enumerate() {
            *out.at_mut(x, y) = row.blend(column, source);
        }
    }
    out
}

/// Where a row or column of an output grid falls between two of the source grid's: bilinear
/// interpolation split into its two axes, computed once per row and per column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interpolation {
    first: usize,
    second: usize,
    /// Weight of `second`.
    weight: f32,
}

impl Interpolation {
    /// For each of `len` output positions, `scale` of them to a source pixel, its two neighbours
    /// among `source_len` (at least one) source positions, pixel centres aligned and clamped at the
    /// edges.
    pub fn along(len: usize, source_len: usize, scale: f32) -> Vec<Interpolation> {
        (0..len)
            .map(|i| {
                let at = ((i as f32 + 0.5) / scale - 0.5).clamp(0.0, (source_len - 1) as f32);
                // Non-negative now, so truncation is the floor.
                let first = at as usize;
                Interpolation {
                    first,
                    second: (first + 1).min(source_len - 1),
                    weight: at - first as f32,
                }
            })
            .collect()
    }

    /// The source interpolated at this row (`self`) and `column`.
    #[inline]
    pub fn blend(&self, column: &Interpolation, source: &Plane<f32>) -> f32 {
        let at = |row: usize| {
            let r = row * source.width;
            source.data[r + column.first] * (1.0 - column.weight) + source.data[r + column.second] * column.weight
        };
        at(self.first) * (1.0 - self.weight) + at(self.second) * self.weight
    }
}

/// Mean over a `(2r+1)`-square window, clamped at the edges; `r == 0` returns the input.
pub(crate) fn box_blur(plane: &Plane<f32>, r: usize) -> Plane<f32> {
    if r == 0 {
        return plane.clone();
    }
    let (w, h) = (plane.width, plane.height);
    let r = r as isize;
    let norm = 1.0 / (2 * r + 1) as f32;
    let mut horizontal = Plane::filled(w, h, 0.0f32);
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0.0;
            for dx in -r..=r {
                sum += plane.clamped(x as isize + dx, y as isize);
            }
            *horizontal.at_mut(x, y) = sum * norm;
        }
    }
    let mut out = Plane::filled(w, h, 0.0f32);
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0.0;
            for dy in -r..=r {
                sum += horizontal.clamped(x as isize, y as isize + dy);
            }
            *out.at_mut(x, y) = sum * norm;
        }
    }
    out
}
