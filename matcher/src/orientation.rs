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
    // A row's tensor terms are worked out first, in a loop without dependencies that the compiler
    // vectorises, then added into their blocks pixel by pixel in the same order as always.
    let (mut c, mut s, mut e) = (vec![0.0f32; w], vec![0.0f32; w], vec![0.0f32; w]);
    for y in 1..h.saturating_sub(1) {
        let (up, row, down) = (
            &image.data[(y - 1) * w..y * w],
            &image.data[y * w..(y + 1) * w],
            &image.data[(y + 1) * w..(y + 2) * w],
        );
        for x in 1..w.saturating_sub(1) {
            let gx = (up[x + 1] + 2.0 * row[x + 1] + down[x + 1]) - (up[x - 1] + 2.0 * row[x - 1] + down[x - 1]);
            let gy = (down[x - 1] + 2.0 * down[x] + down[x + 1]) - (up[x - 1] + 2.0 * up[x] + up[x + 1]);
            c[x] = gx * gx - gy * gy;
            s[x] = 2.0 * gx * gy;
            e[x] = gx * gx + gy * gy;
        }
        let blocks = (y / BLOCK_SIZE_PX) * bw..(y / BLOCK_SIZE_PX + 1) * bw;
        let (cos2_row, sin2_row, energy_row) = (
            &mut cos2.data[blocks.clone()],
            &mut sin2.data[blocks.clone()],
            &mut energy.data[blocks],
        );
        for x in 1..w.saturating_sub(1) {
            let bx = x / BLOCK_SIZE_PX;
            cos2_row[bx] += c[x];
            sin2_row[bx] += s[x];
            energy_row[bx] += e[x];
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
    /// [`OrientationField::at_pixel`] at every whole pixel of the block grid. Enhancement asks for
    /// every pixel; one pass over the rows, with each row's and column's place between block
    /// centres worked out once, costs a fraction of as many separate calls.
    pixels: Plane<f32>,
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
    let r = kernel.len() / 2;
    let (w, h) = (values.width, values.height);
    // The taps `first..last` of the kernel centred at `i` that fall inside `0..n`; tap `k` reaches
    // `i + k - r`. Taps outside were skipped one by one before; the sums are the same.
    let inside = |i: usize, n: usize| (r.saturating_sub(i), kernel.len().min(n + r - i));
    let mut num = Plane::filled(w, h, 0.0f32);
    let mut den = Plane::filled(w, h, 0.0f32);
    for y in 0..h {
        let row_values = &values.data[y * w..(y + 1) * w];
        let row_mask = &mask.data[y * w..(y + 1) * w];
        for x in 0..w {
            let (first, last) = inside(x, w);
            let (mut n, mut d) = (0.0, 0.0);
            for (k, &g) in kernel.iter().enumerate().take(last).skip(first) {
                let xx = x + k - r;
                if row_mask[xx] {
                    n += g * row_values[xx];
                    d += g;
                }
            }
            *num.at_mut(x, y) = n;
            *den.at_mut(x, y) = d;
        }
    }
    // Down the columns, a whole row at a time: each sum still takes its taps in kernel order.
    let mut out = Plane::filled(w, h, 0.0f32);
    let (mut n_row, mut d_row) = (vec![0.0f32; w], vec![0.0f32; w]);
    for y in 0..h {
        n_row.fill(0.0);
        d_row.fill(0.0);
        let (first, last) = inside(y, h);
        for (k, &g) in kernel.iter().enumerate().take(last).skip(first) {
            let yy = y + k - r;
            let (num_row, den_row) = (&num.data[yy * w..(yy + 1) * w], &den.data[yy * w..(yy + 1) * w]);
            for x in 0..w {
                n_row[x] += g * num_row[x];
                d_row[x] += g * den_row[x];
            }
        }
        for (x, (&n, &d)) in n_row.iter().zip(&d_row).enumerate() {
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
    let pixels = ridge_direction_per_pixel(&doubled);
    OrientationField {
        angle,
        coherence,
        doubled,
        pixels,
    }
}

/// Where a pixel coordinate lies between the two nearest block centres along one axis.
#[derive(Clone, Copy)]
struct BetweenBlocks {
    first: usize,
    second: usize,
    /// Weight of `second`.
    weight: f32,
}

impl BetweenBlocks {
    #[inline]
    fn at(pixel: f32, blocks: usize) -> Self {
        let b = (pixel / BLOCK_SIZE_PX as f32 - 0.5).clamp(0.0, (blocks - 1) as f32);
        let first = b as usize; // non-negative: truncation is the floor
        BetweenBlocks {
            first,
            second: (first + 1).min(blocks - 1),
            weight: b - first as f32,
        }
    }
}

/// The four block vectors around a point (top left, top right, bottom left, bottom right).
type Corners = [(f32, f32); 4];

fn corners(doubled: &Plane<(f32, f32)>, column: BetweenBlocks, row: BetweenBlocks) -> Corners {
    [
        doubled.at(column.first, row.first),
        doubled.at(column.second, row.first),
        doubled.at(column.first, row.second),
        doubled.at(column.second, row.second),
    ]
}

/// The ridge direction between block centres: the doubled-angle vectors blended bilinearly (`fx`,
/// `fy` the weights of the right and bottom corners), then halved back into an angle in `[0, π)`.
#[inline]
fn blend(corners: Corners, fx: f32, fy: f32) -> f32 {
    let weights = [(1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy];
    let mut vx = 0.0;
    let mut vy = 0.0;
    for (wgt, (c, s)) in weights.into_iter().zip(corners) {
        vx += wgt * c;
        vy += wgt * s;
    }
    let mut a = 0.5 * crate::angles::fast_atan2(vy, vx);
    if a < 0.0 {
        a += PI;
    }
    a
}

/// The interpolated ridge direction at every whole pixel of the block grid. Along a row, the
/// pixels between the same two block centres share their four corners, so each such span is one
/// short loop of the same arithmetic, which the compiler runs on several pixels at once.
fn ridge_direction_per_pixel(doubled: &Plane<(f32, f32)>) -> Plane<f32> {
    let (w, h) = (doubled.width * BLOCK_SIZE_PX, doubled.height * BLOCK_SIZE_PX);
    let columns: Vec<BetweenBlocks> = (0..w).map(|x| BetweenBlocks::at(x as f32, doubled.width)).collect();
    let column_weights: Vec<f32> = columns.iter().map(|c| c.weight).collect();
    // Runs of columns between the same two block centres.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for x in 0..w {
        match spans.last_mut() {
            Some((start, end)) if columns[*start].first == columns[x].first => *end = x + 1,
            _ => spans.push((x, x + 1)),
        }
    }
    let mut out = Plane::filled(w, h, 0.0f32);
    for (y, row_out) in out.data.chunks_exact_mut(w).enumerate() {
        let row = BetweenBlocks::at(y as f32, doubled.height);
        for &(start, end) in &spans {
            let around = corners(doubled, columns[start], row);
            for (a, &fx) in row_out[start..end].iter_mut().zip(&column_weights[start..end]) {
                *a = blend(around, fx, row.weight);
            }
        }
    }
    out
}

impl OrientationField {
    /// Ridge direction at a pixel, interpolated between block centres as doubled-angle vectors.
    #[inline]
    pub fn at_pixel(&self, x: f32, y: f32) -> f32 {
        let (column, row) = (x as usize, y as usize);
        if column as f32 == x && row as f32 == y && column < self.pixels.width && row < self.pixels.height {
            return self.pixels.at(column, row);
        }
        self.between_pixels(x, y)
    }

    /// [`OrientationField::at_pixel`] computed on the spot, for points off the whole-pixel grid.
    fn between_pixels(&self, x: f32, y: f32) -> f32 {
        let (column, row) = (
            BetweenBlocks::at(x, self.doubled.width),
            BetweenBlocks::at(y, self.doubled.height),
        );
        blend(corners(&self.doubled, column, row), column.weight, row.weight)
    }
}
