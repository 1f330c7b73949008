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

/// One layer of [`GrainNoise`]: the noise, its rotation (sine, cosine) and its shift, pixels.
type GrainLayer = (SmoothNoise, (f32, f32), (f32, f32));

/// Fine random grain without a visible lattice: [`SmoothNoise`] on a square lattice a pixel or two
/// across shows its grid as a regular pattern of dots, so this sums three such layers of unrelated
/// sizes, each turned by its own angle and shifted, normalised back to about `[-1, 1]`.
#[derive(Debug, Clone)]
pub struct GrainNoise {
    layers: Vec<GrainLayer>,
}

impl GrainNoise {
    /// Grain about `cell_px` across over `width_px` x `height_px`.
    pub fn new(rng: &mut Rng, width_px: f32, height_px: f32, cell_px: f32) -> Self {
        // A layer wraps round beyond its lattice, so one over the longer side serves at any turn.
        let side = width_px.max(height_px);
        let layers = [1.0f32, 1.37, 0.79]
            .iter()
            .map(|&size| {
                let turn = rng.range(0.0, std::f64::consts::PI) as f32;
                let shift = (rng.range(0.0, 64.0) as f32, rng.range(0.0, 64.0) as f32);
                (SmoothNoise::new(rng, side, side, cell_px * size), turn.sin_cos(), shift)
            })
            .collect();
        GrainNoise { layers }
    }

    /// The value at `(x, y)` pixels.
    #[inline]
    pub fn at(&self, x: f32, y: f32) -> f32 {
        // Three independent layers: their sum has sqrt(3) times one layer's spread, and one layer's
        // values lie in [-1, 1] with a spread of about 0.4; the result is scaled back to about that.
        let sum: f32 = self
            .layers
            .iter()
            .map(|(n, (s, c), (ox, oy))| n.at(c * x - s * y + ox, s * x + c * y + oy))
            .sum();
        (sum * 0.577).clamp(-1.0, 1.0)
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

/// Separable [1 2 1] / 4 blur (a Gaussian of about 0.7 pixels), edges clamped: the slight blur of
/// a sharp sensor's optics.
pub fn binomial_blur(field: &mut Field) {
    let (w, h) = (field.width, field.height);
    if w == 0 || h == 0 {
        return;
    }
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        let row = &field.data[y * w..(y + 1) * w];
        for x in 0..w {
            tmp[y * w + x] = 0.25 * row[x.saturating_sub(1)] + 0.5 * row[x] + 0.25 * row[(x + 1).min(w - 1)];
        }
    }
    for y in 0..h {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            field.data[y * w + x] = 0.25 * tmp[up * w + x] + 0.5 * tmp[y * w + x] + 0.25 * tmp[down * w + x];
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
        binomial_blur(&mut f);
        assert!(f.data.iter().all(|v| (v - 2.0).abs() < 1e-5));
    }

    /// Variance of a noise over points on the corners of 1.6-pixel cells and over points in the
    /// middles of those cells: value noise on a lattice of that size is four times as variable on
    /// its nodes as between them, which the eye sees as a regular pattern of dots.
    fn node_to_middle_variance(at: impl Fn(f32, f32) -> f32) -> f32 {
        let variance = |offset: f32| {
            let values: Vec<f32> = (0..40_000)
                .map(|i| at((i % 200) as f32 * 1.6 + offset, (i / 200) as f32 * 1.6 + offset))
                .collect();
            let mean = values.iter().sum::<f32>() / values.len() as f32;
            values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32
        };
        variance(0.0) / variance(0.8)
    }

    #[test]
    fn grain_has_no_lattice() {
        let lattice = FractalNoise::new(&mut Rng::new(4), 400.0, 400.0, 1.6, 2);
        let ratio = node_to_middle_variance(|x, y| lattice.at(x, y));
        assert!(ratio > 2.0, "value noise shows its lattice: {ratio}");
        let grain = GrainNoise::new(&mut Rng::new(4), 400.0, 400.0, 1.6);
        let ratio = node_to_middle_variance(|x, y| grain.at(x, y));
        assert!((0.75..1.33).contains(&ratio), "grain variance ratio {ratio}");
        assert!((0..1000).all(|i| (-1.0..=1.0).contains(&grain.at(i as f32 * 0.37, i as f32 * 0.11))));
    }
}
