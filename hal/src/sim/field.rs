//! Raster fields for the simulator: a float image with bilinear sampling, and smooth random
//! fields (value noise) that give skin, pressure and sensor properties their slow variation.

use super::rng::Rng;

/// A row-major float image.
#[derive(Debug, Clone)]
pub struct Field {
    /// Width, pixels.
    pub width: usize,
    /// Height, pixels.
    pub height: usize,
    /// `width * height` values.
    pub data: Vec<f32>,
}

impl Field {
    /// A field of one value.
    pub fn filled(width: usize, height: usize, value: f32) -> Self {
        Field {
            width,
            height,
            data: vec![value; width * height],
        }
    }

    /// The value at integer coordinates (caller keeps them in range).
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Bilinear sample at real coordinates; outside the field, `outside`.
    #[inline]
    pub fn sample(&self, x: f32, y: f32, outside: f32) -> f32 {
        if !(x >= 0.0 && y >= 0.0) {
            return outside;
        }
        let x0 = x as usize;
        let y0 = y as usize;
        if x0 + 1 >= self.width || y0 + 1 >= self.height {
            return outside;
        }
        let fx = x - x0 as f32;
        let fy = y - y0 as f32;
        let i = y0 * self.width + x0;
        let top = self.data[i] + (self.data[i + 1] - self.data[i]) * fx;
        let bottom = self.data[i + self.width] + (self.data[i + self.width + 1] - self.data[i + self.width]) * fx;
        top + (bottom - top) * fy
    }
}

/// Smooth random field in `[-1, 1]`: random values on a coarse lattice, interpolated with a
/// smoothstep so the field has no visible grid. Sampled anywhere (outside its lattice it wraps).
#[derive(Debug, Clone)]
pub struct SmoothNoise {
    cell_px: f32,
    cols: usize,
    rows: usize,
    lattice: Vec<f32>,
}

impl SmoothNoise {
    /// A field over `width_px` x `height_px` whose features are about `cell_px` across.
    pub fn new(rng: &mut Rng, width_px: f32, height_px: f32, cell_px: f32) -> Self {
        let cell_px = cell_px.max(1.0);
        let cols = (width_px / cell_px).ceil().max(1.0) as usize + 2;
        let rows = (height_px / cell_px).ceil().max(1.0) as usize + 2;
        let lattice = (0..cols * rows).map(|_| rng.signed() as f32).collect();
        SmoothNoise {
            cell_px,
            cols,
            rows,
            lattice,
        }
    }

    /// The value at `(x, y)` pixels.
    #[inline]
    pub fn at(&self, x: f32, y: f32) -> f32 {
        let gx = x / self.cell_px;
        let gy = y / self.cell_px;
        let fx0 = gx.floor();
        let fy0 = gy.floor();
        let tx = smoothstep(gx - fx0);
        let ty = smoothstep(gy - fy0);
        let ix = (fx0 as i64).rem_euclid(self.cols as i64) as usize;
        let iy = (fy0 as i64).rem_euclid(self.rows as i64) as usize;
        let ix1 = (ix + 1) % self.cols;
        let iy1 = (iy + 1) % self.rows;
        let v = |c: usize, r: usize| self.lattice[r * self.cols + c];
        let top = v(ix, iy) + (v(ix1, iy) - v(ix, iy)) * tx;
        let bottom = v(ix, iy1) + (v(ix1, iy1) - v(ix, iy1)) * tx;
        top + (bottom - top) * ty
    }
}

/// Several octaves of [`SmoothNoise`], each half the size and half the weight of the one before,
/// normalised back to about `[-1, 1]`.
#[derive(Debug, Clone)]
pub struct FractalNoise {
    octaves: Vec<(SmoothNoise, f32)>,
    norm: f32,
}

impl FractalNoise {
    /// `octaves` layers starting at features `cell_px` across.
    pub fn new(rng: &mut Rng, width_px: f32, height_px: f32, cell_px: f32, octaves: usize) -> Self {
        let mut layers = Vec::with_capacity(octaves);
        let mut cell = cell_px;
        let mut weight = 1.0;
        let mut norm = 0.0;
        for _ in 0..octaves.max(1) {
            layers.push((SmoothNoise::new(rng, width_px, height_px, cell), weight));
            norm += weight;
            cell *= 0.5;
            weight *= 0.5;
        }
        FractalNoise {
            octaves: layers,
            norm: 1.0 / norm,
        }
    }

    /// The value at `(x, y)` pixels.
    #[inline]
    pub fn at(&self, x: f32, y: f32) -> f32 {
        self.octaves.iter().map(|(n, w)| n.at(x, y) * w).sum::<f32>() * self.norm
    }
}

/// `3t² - 2t³`, the smooth ramp from 0 to 1 on `[0, 1]`.
#[inline]
pub fn smoothstep(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Separable box blur of radius `r` (a `(2r+1)²` mean), edges clamped; three passes approximate a
/// Gaussian.
pub fn box_blur(field: &mut Field, r: usize) {
    if r == 0 || field.width == 0 || field.height == 0 {
        return;
    }
    let (w, h) = (field.width, field.height);
    let mut tmp = vec![0.0f32; w * h];
    let norm = 1.0 / (2 * r + 1) as f32;
    for y in 0..h {
        let row = &field.data[y * w..(y + 1) * w];
        let mut acc: f32 = (0..=2 * r).map(|k| row[k.saturating_sub(r).min(w - 1)]).sum();
        for x in 0..w {
            tmp[y * w + x] = acc * norm;
            let add = row[(x + r + 1).min(w - 1)];
            let sub = row[x.saturating_sub(r)];
            acc += add - sub;
        }
    }
    for x in 0..w {
        let col = |y: usize| tmp[y * w + x];
        let mut acc: f32 = (0..=2 * r).map(|k| col(k.saturating_sub(r).min(h - 1))).sum();
        for y in 0..h {
            field.data[y * w + x] = acc * norm;
            let add = col((y + r + 1).min(h - 1));
            let sub = col(y.saturating_sub(r));
            acc += add - sub;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_sampling_interpolates_and_guards_edges() {
        let f = Field {
            width: 2,
            height: 2,
            data: vec![0.0, 1.0, 2.0, 3.0],
        };
        assert!((f.sample(0.5, 0.5, -1.0) - 1.5).abs() < 1e-6);
        assert_eq!(f.sample(-0.1, 0.0, -1.0), -1.0);
        assert_eq!(f.sample(1.0, 0.0, -1.0), -1.0);
        assert_eq!(f.sample(f32::NAN, 0.0, -1.0), -1.0);
    }

    #[test]
    fn noise_is_bounded_and_smooth() {
        let mut rng = Rng::new(3);
        let n = FractalNoise::new(&mut rng, 200.0, 200.0, 40.0, 3);
        let mut prev = n.at(0.0, 10.0);
        for i in 1..400 {
            let v = n.at(i as f32 * 0.5, 10.0);
            assert!((-1.0..=1.0).contains(&v));
            assert!((v - prev).abs() < 0.2);
            prev = v;
        }
    }

    #[test]
    fn box_blur_keeps_a_constant() {
        let mut f = Field::filled(7, 5, 2.0);
        box_blur(&mut f, 2);
        assert!(f.data.iter().all(|v| (v - 2.0).abs() < 1e-5));
    }
}
