//! Orientation field: the local direction of the ridges, per block, from the structure tensor of
//! the grey-level gradients, smoothed as doubled-angle vectors so that opposite gradients agree.
//! Also yields the per-block gradient energy and coherence that segmentation and quality use.

use crate::params::{BLOCK_SIZE_PX, ORIENTATION_SMOOTHING_SIGMA_BLOCKS};
use crate::plane::Plane;
use std::f32::consts::PI;

/// Sums of the gradient structure tensor over each block.
pub(crate) struct BlockTensors {
    /// Σ gx² - Σ gy² per block.
    pub cos2: Plane<f32>,
    /// 2 Σ gx gy per block.
    pub sin2: Plane<f32>,
    /// Σ gx² + Σ gy² per block (gradient energy).
    pub energy: Plane<f32>,
}

/// Number of blocks needed to cover `pixels`.
pub(crate) fn blocks_for(pixels: usize) -> usize {
    pixels.div_ceil(BLOCK_SIZE_PX)
}

/// Computes the block sums of the structure tensor (Sobel gradients).
pub(crate) fn block_tensors(image: &Plane<f32>) -> BlockTensors {
    let (w, h) = (image.width, image.height);
    let (bw, bh) = (blocks_for(w), blocks_for(h));
    let mut cos2 = Plane::filled(bw, bh, 0.0f32);
    let mut sin2 = Plane::filled(bw, bh, 0.0f32);
    let mut energy = Plane::filled(bw, bh, 0.0f32);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let p = |dx: isize, dy: isize| image.at((x as isize + dx) as usize, (y as isize + dy) as usize);
            let gx = (p(1, -1) + 2.0 * p(1, 0) + p(1, 1)) - (p(-1, -1) + 2.0 * p(-1, 0) + p(-1, 1));
            let gy = (p(-1, 1) + 2.0 * p(0, 1) + p(1, 1)) - (p(-1, -1) + 2.0 * p(0, -1) + p(1, -1));
            let (bx, by) = (x / BLOCK_SIZE_PX, y / BLOCK_SIZE_PX);
            *cos2.at_mut(bx, by) += gx * gx - gy * gy;
            *sin2.at_mut(bx, by) += 2.0 * gx * gy;
            *energy.at_mut(bx, by) += gx * gx + gy * gy;
        }
    }
    BlockTensors { cos2, sin2, energy }
}

/// The smoothed orientation field.
pub(crate) struct OrientationField {
    /// Ridge direction per block, radians in `[0, π)`.
    pub angle: Plane<f32>,
    /// How consistent the gradients around the block are, 0 (no direction) to 1 (parallel ridges).
    pub coherence: Plane<f32>,
    /// Per block, the ridge direction as the unit vector of its doubled angle, for interpolation.
    doubled: Plane<(f32, f32)>,
}

/// Gaussian weights for offsets `-r..=r` with the given sigma.
pub(crate) fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let r = (2.5 * sigma).ceil() as isize;
    (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect()
}

/// Separable Gaussian smoothing of a block map, counting only blocks where `mask` is set and
/// normalising by the weight that fell inside the mask.
pub(crate) fn masked_smooth(values: &Plane<f32>, mask: &Plane<bool>, sigma_blocks: f32) -> Plane<f32> {
    let kernel = gaussian_kernel(sigma_blocks);
    let r = (kernel.len() / 2) as isize;
    let (w, h) = (values.width, values.height);
    let mut num = Plane::filled(w, h, 0.0f32);
    let mut den = Plane::filled(w, h, 0.0f32);
    for y in 0..h {
        for x in 0..w {
            let (mut n, mut d) = (0.0, 0.0);
            for (k, &g) in kernel.iter().enumerate() {
                let xx = x as isize + k as isize - r;
                if let Some(true) = mask.get(xx, y as isize) {
                    n += g * values.at(xx as usize, y);
                    d += g;
                }
            }
            *num.at_mut(x, y) = n;
            *den.at_mut(x, y) = d;
        }
    }
    let mut out = Plane::filled(w, h, 0.0f32);
    for y in 0..h {
        for x in 0..w {
            let (mut n, mut d) = (0.0, 0.0);
            for (k, &g) in kernel.iter().enumerate() {
                let yy = y as isize + k as isize - r;
                if yy >= 0 && (yy as usize) < h {
                    n += g * num.at(x, yy as usize);
                    d += g * den.at(x, yy as usize);
                }
            }
            *out.at_mut(x, y) = if d > 1e-6 { n / d } else { 0.0 };
        }
    }
    out
}

/// Smooths the tensors over the foreground and turns them into ridge directions and coherence.
pub(crate) fn orientation_field(tensors: &BlockTensors, foreground: &Plane<bool>) -> OrientationField {
    let c = masked_smooth(&tensors.cos2, foreground, ORIENTATION_SMOOTHING_SIGMA_BLOCKS);
    let s = masked_smooth(&tensors.sin2, foreground, ORIENTATION_SMOOTHING_SIGMA_BLOCKS);
    let e = masked_smooth(&tensors.energy, foreground, ORIENTATION_SMOOTHING_SIGMA_BLOCKS);
    let (w, h) = (c.width, c.height);
    let mut angle = Plane::filled(w, h, 0.0f32);
    let mut coherence = Plane::filled(w, h, 0.0f32);
    for i in 0..w * h {
        // The gradient's doubled angle is atan2(s, c); ridges run perpendicular to the gradient.
        let gradient = 0.5 * s.data[i].atan2(c.data[i]);
        let mut ridge = gradient + PI / 2.0;
        if ridge >= PI {
            ridge -= PI;
        }
        if ridge < 0.0 {
            ridge += PI;
        }
        angle.data[i] = ridge;
        coherence.data[i] = if e.data[i] > 1e-6 {
            (c.data[i].hypot(s.data[i]) / e.data[i]).min(1.0)
        } else {
            0.0
        };
    }
    let doubled = Plane {
        width: w,
        height: h,
        data: angle.data.iter().map(|a| ((2.0 * a).cos(), (2.0 * a).sin())).collect(),
    };
    OrientationField {
        angle,
        coherence,
        doubled,
    }
}

impl OrientationField {
    /// Ridge direction at a pixel, interpolated between block centres as doubled-angle vectors.
    pub fn at_pixel(&self, x: f32, y: f32) -> f32 {
        let bx = (x / BLOCK_SIZE_PX as f32 - 0.5).clamp(0.0, (self.angle.width - 1) as f32);
        let by = (y / BLOCK_SIZE_PX as f32 - 0.5).clamp(0.0, (self.angle.height - 1) as f32);
        let (x0, y0) = (bx as usize, by as usize); // non-negative: truncation is the floor
        let (x1, y1) = ((x0 + 1).min(self.angle.width - 1), (y0 + 1).min(self.angle.height - 1));
        let (fx, fy) = (bx - x0 as f32, by - y0 as f32);
        let mut vx = 0.0;
        let mut vy = 0.0;
        for (xx, yy, wgt) in [
            (x0, y0, (1.0 - fx) * (1.0 - fy)),
            (x1, y0, fx * (1.0 - fy)),
            (x0, y1, (1.0 - fx) * fy),
            (x1, y1, fx * fy),
        ] {
            let (c, s) = self.doubled.at(xx, yy);
            vx += wgt * c;
            vy += wgt * s;
        }
        let mut a = 0.5 * crate::angles::fast_atan2(vy, vx);
        if a < 0.0 {
            a += PI;
        }
        a
    }
}
