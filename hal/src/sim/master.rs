//! The master print: everything about one virtual finger that does not change between captures.
//!
//! A master print is drawn from a seed in five steps, after SFinGe (Cappelli, Maio, Maltoni):
//! 1. the pad: the outline of the fingertip, an ellipse a little flattened at the top;
//! 2. the pattern class (arch, tented arch, left or right loop, whorl, with their natural
//!    frequencies) and its singular points, cores and deltas, placed where they sit on real fingers;
//! 3. the orientation field: the zero-pole model of Sherlock and Monro (each core turns the ridge
//!    direction by half the angle under which it is seen, each delta by minus half), with a
//!    per-point correction of that angle so that no two fingers bend alike, a smooth term that
//!    makes the outer ridges follow the fingertip, and smooth random bends of the whole field; and a
//!    ridge period field that varies around 9 pixels at 500 dpi;
//! 4. the ridges, grown by filtering random seeds over and over with Gabor filters tuned to the
//!    local orientation and period. Ridges that meet at different phases end or fork where they
//!    meet. Those minutiae follow from the flow, so two fingers with alike flows share them; short
//!    ridges inserted at random places (a twist of the ridge phase between two points) add the
//!    minutiae that skin has for no reason of flow;
//! 5. the ridges' texture: pores along their crests and the units round them (see [`super::texture`]).
//!
//! Everything here is at [`MASTER_DPI`]; impressions resample it to the sensor's resolution.

use std::f32::consts::{PI, TAU};

use super::field::{smoothstep, Field, FractalNoise};
use super::rng::Rng;
use super::texture::RidgeTexture;

/// Resolution of a master print, dots per inch.
pub const MASTER_DPI: f32 = 500.0;
/// Width of the master canvas, pixels at [`MASTER_DPI`] (22.8 mm).
pub const MASTER_WIDTH_PX: usize = 448;
/// Height of the master canvas, pixels at [`MASTER_DPI`] (29.3 mm).
pub const MASTER_HEIGHT_PX: usize = 576;
/// Mean ridge period, pixels at [`MASTER_DPI`] (one ridge and one valley).
pub const MEAN_RIDGE_PERIOD_PX: f32 = 9.0;
/// Smallest and largest ridge period anywhere on a finger, pixels at [`MASTER_DPI`].
pub const RIDGE_PERIOD_RANGE_PX: (f32, f32) = (6.5, 12.5);
/// Seed spots per 10,000 square pixels (at [`MASTER_DPI`]) from which ridges grow: where the
/// patterns of two seeds meet, ridges end or fork, so fewer seeds make fewer minutiae.
pub const SEED_SPOTS_PER_10K_PX2: f32 = 0.6;
/// Size of the smooth bends of the orientation field that make fingers of one class differ,
/// pixels at [`MASTER_DPI`].
const WANDER_SCALE_PX: f32 = 90.0;
/// Range of the strength of those bends, radians: strong enough that fingers of one class
/// share few minutiae where their flows force ridges to end or fork.
const WANDER_RAD: (f64, f64) = (0.3, 0.6);
/// Range of how far the ridge period strays from the finger's mean over the finger (in patches
/// about 150 px across), pixels at [`MASTER_DPI`]: where ridges must end or fork depends on it
/// too, so it also keeps fingers of one class apart.
const PERIOD_WANDER_PX: (f64, f64) = (0.7, 1.4);
/// Ridges inserted at random per 10,000 square pixels, each adding two minutiae that the flow did
/// not force.
const INSERTED_RIDGES_PER_10K_PX2: f32 = 0.5;
/// Range of the length of an inserted ridge, pixels at [`MASTER_DPI`].
const INSERTED_RIDGE_LENGTH_PX: (f64, f64) = (12.0, 45.0);
/// Most passes of coarse growth (the pad is normally covered well before).
const MAX_GROWTH_PASSES: usize = 80;
/// Coarse passes after the pad is covered.
const SETTLING_PASSES: usize = 2;
/// Gain on the normalised coarse response before saturation: high, so that any response grows.
const COARSE_GAIN: f32 = 8.0;
/// Radius of the coarse grid's kernels, coarse pixels.
const COARSE_GABOR_RADIUS_PX: usize = 3;
/// Passes at full resolution after the coarse growth.
const FINE_PASSES: usize = 2;
/// Gain on the normalised fine response before saturation.
const FINE_GAIN: f32 = 2.0;
/// How far beyond the pad's outline ridges are grown, in units of the pad's size.
const GROWN_PAD_DISTANCE: f32 = 1.18;
/// Radius of the Gabor kernels, pixels (the kernel is `(2r+1)²`).
pub const GABOR_RADIUS_PX: usize = 6;
/// Orientations in the Gabor kernel bank (steps of 180°/n).
const KERNEL_ORIENTATIONS: usize = 36;
/// Ridge period step between kernels of the bank, pixels.
const KERNEL_PERIOD_STEP_PX: f32 = 0.25;

/// The five pattern classes of the Henry system that SFinGe draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternClass {
    /// Ridges enter on one side and leave on the other, rising in the middle; no singular point.
    Arch,
    /// An arch with a core right above a delta.
    TentedArch,
    /// A loop opening to the left as seen on the image (its delta to the right of its core).
    LeftLoop,
    /// A loop opening to the right (delta to the left of the core).
    RightLoop,
    /// Circular ridges: two cores (or one spiral) and two deltas.
    Whorl,
}

impl PatternClass {
    /// Natural frequencies of the classes (arch, tented arch, left loop, right loop, whorl), in
    /// percent, as usually quoted from the FBI's files.
    pub const NATURAL_PERCENT: [f64; 5] = [3.7, 2.9, 33.8, 31.7, 27.9];
    const ALL: [PatternClass; 5] = [
        PatternClass::Arch,
        PatternClass::TentedArch,
        PatternClass::LeftLoop,
        PatternClass::RightLoop,
        PatternClass::Whorl,
    ];
}

/// A core or a delta with its own correction of the zero-pole angle.
#[derive(Debug, Clone)]
pub struct Singularity {
    /// Position, pixels on the master canvas.
    pub x: f32,
    /// Position, pixels on the master canvas.
    pub y: f32,
    /// True for a core, false for a delta.
    pub is_core: bool,
    /// Correction added to the angle under which the point is seen, at `CORRECTION_KNOTS` evenly
    /// spaced angles (radians), linearly interpolated and periodic.
    correction_rad: [f32; CORRECTION_KNOTS],
}

const CORRECTION_KNOTS: usize = 8;

impl Singularity {
    fn new(rng: &mut Rng, x: f32, y: f32, is_core: bool, strength_rad: f32) -> Self {
        let mut correction_rad = [0.0f32; CORRECTION_KNOTS];
        for c in &mut correction_rad {
            *c = rng.signed() as f32 * strength_rad;
        }
        Singularity {
            x,
            y,
            is_core,
            correction_rad,
        }
    }

    /// The corrected angle `g(α)` for the direction `α` (radians, in `(-π, π]`): monotone, and
    /// `g(α + 2π) = g(α) + 2π`, so the field stays continuous.
    fn corrected(&self, alpha: f32) -> f32 {
        let step = TAU / CORRECTION_KNOTS as f32;
        let t = (alpha + PI) / step;
        let i = (t.floor() as isize).rem_euclid(CORRECTION_KNOTS as isize) as usize;
        let f = t - t.floor();
        let a = self.correction_rad[i];
        let b = self.correction_rad[(i + 1) % CORRECTION_KNOTS];
        alpha + a + (b - a) * f
    }
}

/// The outline of the fingertip pad on the master canvas.
#[derive(Debug, Clone, Copy)]
pub struct Pad {
    /// Centre, pixels.
    pub cx: f32,
    /// Centre, pixels.
    pub cy: f32,
    /// Half width, pixels.
    pub half_width_px: f32,
    /// Half height, pixels.
    pub half_height_px: f32,
}

impl Pad {
    /// Normalised elliptic distance of a point from the centre: 1 on the outline.
    pub fn distance(&self, x: f32, y: f32) -> f32 {
        let u = (x - self.cx) / self.half_width_px;
        let v = (y - self.cy) / self.half_height_px;
        (u * u + v * v).sqrt()
    }
}

/// One virtual finger.
#[derive(Debug, Clone)]
pub struct MasterPrint {
    /// The pattern class drawn.
    pub class: PatternClass,
    /// Cores and deltas.
    pub singularities: Vec<Singularity>,
    /// The fingertip pad.
    pub pad: Pad,
    /// Ridge pattern in `[-1, 1]`, positive on ridges, at [`MASTER_DPI`]; zero far outside the pad.
    pub ridges: Field,
    /// Mean ridge period of this finger, pixels at [`MASTER_DPI`].
    pub mean_period_px: f32,
    /// Pores and ridge units along the ridges.
    pub texture: RidgeTexture,
}

/// The geometry from which the ridges are grown: orientation and period at every point.
struct FlowModel {
    theta0: f32,
    singularities: Vec<Singularity>,
    pad: Pad,
    /// Strength of the term that bends outer ridges along the fingertip (slope per unit of x).
    contour_gain: f32,
    /// Above this row the contour term is fully on.
    contour_top_y: f32,
    /// Below this row it is off.
    contour_bottom_y: f32,
    /// Height of the bump of a plain arch, pixels (zero for other classes).
    arch_bump_px: f32,
    arch_bump_y: f32,
    arch_width_px: f32,
    mean_period_px: f32,
    period_noise: FractalNoise,
    period_noise_px: f32,
    /// A smooth bend of the whole field, different on every finger, so that two fingers of one
    /// class and with alike singular points still run their ridges differently between them.
    wander: FractalNoise,
    wander_rad: f32,
}

impl FlowModel {
    /// Ridge direction at `(x, y)`, radians (any multiple of π is the same direction).
    fn orientation(&self, x: f32, y: f32) -> f32 {
        let mut theta = self.theta0;
        for s in &self.singularities {
            let alpha = (y - s.y).atan2(x - s.x);
            let g = s.corrected(alpha);
            if s.is_core {
                theta += 0.5 * g;
            } else {
                theta -= 0.5 * g;
            }
        }
        let u = (x - self.pad.cx) / self.pad.half_width_px;
        // Outer ridges follow the rounded fingertip: the slope grows with the distance from the
        // middle, and only in the upper part of the finger.
        let on = 1.0 - smoothstep((y - self.contour_top_y) / (self.contour_bottom_y - self.contour_top_y).max(1.0));
        let mut slope = self.contour_gain * on * u * u.abs().sqrt();
        if self.arch_bump_px > 0.0 {
            let w = self.arch_width_px;
            let du = (x - self.pad.cx) / w;
            let vertical = (-((y - self.arch_bump_y) / (0.9 * self.pad.half_height_px)).powi(2)).exp();
            slope += self.arch_bump_px * vertical * du / w * (-0.5 * du * du).exp();
        }
        theta + slope.atan() + self.wander_rad * self.wander.at(x, y)
    }

    /// Ridge period at `(x, y)`, pixels.
    fn period(&self, x: f32, y: f32) -> f32 {
        let v = (y - self.pad.cy) / self.pad.half_height_px;
        let p = self.mean_period_px + self.period_noise_px * self.period_noise.at(x, y) + 0.35 * v;
        p.clamp(RIDGE_PERIOD_RANGE_PX.0, RIDGE_PERIOD_RANGE_PX.1)
    }
}

impl MasterPrint {
    /// Draws the finger of `seed`.
    pub fn generate(seed: u64) -> Self {
        let mut rng = Rng::stream(seed, "master");
        let w = MASTER_WIDTH_PX as f32;
        let h = MASTER_HEIGHT_PX as f32;
        let pad = Pad {
            cx: w * 0.5 + rng.normal_clamped(0.0, 4.0, -10.0, 10.0) as f32,
            cy: h * 0.47 + rng.normal_clamped(0.0, 6.0, -15.0, 15.0) as f32,
            half_width_px: rng.normal_clamped(168.0, 12.0, 140.0, 195.0) as f32,
            half_height_px: rng.normal_clamped(232.0, 14.0, 200.0, 262.0) as f32,
        };
        let class = PatternClass::ALL[rng.weighted(&PatternClass::NATURAL_PERCENT)];
        let singularities = place_singularities(&mut rng, class, &pad);
        let mean_period_px = rng.normal_clamped(MEAN_RIDGE_PERIOD_PX as f64, 0.45, 8.0, 10.2) as f32;
        let core_y = singularities
            .iter()
            .filter(|s| s.is_core)
            .map(|s| s.y)
            .fold(f32::INFINITY, f32::min);
        let reference_y = if core_y.is_finite() { core_y } else { pad.cy };
        // Its own stream, so that adding it left the finger's other draws as they were.
        let mut wander_rng = Rng::stream(seed, "orientation-wander");
        let flow = FlowModel {
            theta0: rng.normal_clamped(0.0, 0.05, -0.12, 0.12) as f32,
            singularities: singularities.clone(),
            pad,
            contour_gain: rng.range(1.2, 2.4) as f32,
            contour_top_y: reference_y - 0.55 * pad.half_height_px,
            contour_bottom_y: reference_y + 0.05 * pad.half_height_px,
            arch_bump_px: if class == PatternClass::Arch {
                rng.range(45.0, 90.0) as f32
            } else {
                0.0
            },
            arch_bump_y: pad.cy + rng.range(-0.1, 0.25) as f32 * pad.half_height_px,
            arch_width_px: rng.range(55.0, 85.0) as f32,
            mean_period_px,
            period_noise: FractalNoise::new(&mut rng, w, h, 150.0, 2),
            period_noise_px: rng.range(PERIOD_WANDER_PX.0, PERIOD_WANDER_PX.1) as f32,
            wander: FractalNoise::new(&mut wander_rng, w, h, WANDER_SCALE_PX, 2),
            wander_rad: wander_rng.range(WANDER_RAD.0, WANDER_RAD.1) as f32,
        };
        let ridges = grow_ridges(&mut rng, &mut Rng::stream(seed, "ridge-defects"), &flow);
        let texture = RidgeTexture::new(
            &mut Rng::stream(seed, "ridge-texture"),
            &mut Rng::stream(seed, "pore-look"),
            &ridges,
            |x, y| flow.orientation(x, y),
        );
        MasterPrint {
            class,
            singularities,
            pad,
            ridges,
            mean_period_px,
            texture,
        }
    }
}

fn place_singularities(rng: &mut Rng, class: PatternClass, pad: &Pad) -> Vec<Singularity> {
    let n = |rng: &mut Rng, sd: f64, lim: f64| rng.normal_clamped(0.0, sd, -lim, lim) as f32;
    let corr_core = 0.22;
    let corr_delta = 0.18;
    let mut out = Vec::new();
    match class {
        PatternClass::Arch => {}
        PatternClass::TentedArch => {
            let cx = pad.cx + n(rng, 15.0, 35.0);
            let cy = pad.cy - 25.0 + n(rng, 20.0, 45.0);
            let dy = rng.range(45.0, 90.0) as f32;
            out.push(Singularity::new(rng, cx, cy, true, corr_core));
            let dx = n(rng, 8.0, 18.0);
            out.push(Singularity::new(rng, cx + dx, cy + dy, false, corr_delta));
        }
        PatternClass::LeftLoop | PatternClass::RightLoop => {
            let side = if class == PatternClass::LeftLoop { 1.0 } else { -1.0 };
            let cx = pad.cx - side * rng.range(0.0, 35.0) as f32 + n(rng, 10.0, 25.0);
            let cy = pad.cy - 30.0 + n(rng, 25.0, 60.0);
            out.push(Singularity::new(rng, cx, cy, true, corr_core));
            let dx = side * rng.range(75.0, 145.0) as f32;
            let dy = rng.range(85.0, 150.0) as f32;
            out.push(Singularity::new(rng, cx + dx, cy + dy, false, corr_delta));
        }
        PatternClass::Whorl => {
            let cx = pad.cx + n(rng, 12.0, 30.0);
            let cy = pad.cy - 35.0 + n(rng, 20.0, 45.0);
            out.push(Singularity::new(rng, cx, cy, true, corr_core));
            // The second core below the first; a sideways offset makes a spiral or double loop.
            let c2x = cx + n(rng, 14.0, 30.0);
            let c2y = cy + rng.range(18.0, 55.0) as f32;
            out.push(Singularity::new(rng, c2x, c2y, true, corr_core));
            let base_y = (cy + c2y) * 0.5;
            for side in [-1.0f32, 1.0] {
                let dx = side * rng.range(105.0, 160.0) as f32;
                let dy = rng.range(90.0, 150.0) as f32;
                out.push(Singularity::new(rng, cx + dx, base_y + dy, false, corr_delta));
            }
        }
    }
    // A finger is seldom perfectly upright: turn the whole arrangement a little about the pad's
    // centre.
    let turn = rng.normal_clamped(0.0, 0.08, -0.2, 0.2) as f32;
    let (s, c) = turn.sin_cos();
    for p in &mut out {
        let (dx, dy) = (p.x - pad.cx, p.y - pad.cy);
        p.x = pad.cx + c * dx - s * dy;
        p.y = pad.cy + s * dx + c * dy;
    }
    out
}

/// Bank of zero-mean Gabor kernels, indexed by orientation and period, for one grid scale.
struct GaborBank {
    radius: usize,
    side: usize,
    periods: usize,
    /// Grid pixels per master pixel (1 for the master grid, 1/2 for the coarse one).
    scale: f32,
    kernels: Vec<f32>,
}

impl GaborBank {
    fn new(radius: usize, scale: f32) -> Self {
        let r = radius as isize;
        let side = 2 * radius + 1;
        let periods =
            ((RIDGE_PERIOD_RANGE_PX.1 - RIDGE_PERIOD_RANGE_PX.0) / KERNEL_PERIOD_STEP_PX).round() as usize + 1;
        let mut kernels = Vec::with_capacity(KERNEL_ORIENTATIONS * periods * side * side);
        for o in 0..KERNEL_ORIENTATIONS {
            let theta = o as f32 * PI / KERNEL_ORIENTATIONS as f32;
            let (s, c) = theta.sin_cos();
            for p in 0..periods {
                let period = (RIDGE_PERIOD_RANGE_PX.0 + p as f32 * KERNEL_PERIOD_STEP_PX) * scale;
                let sigma_along = 0.55 * period;
                let sigma_across = 0.42 * period;
                let mut k = Vec::with_capacity(side * side);
                let mut env = Vec::with_capacity(side * side);
                for dy in -r..=r {
                    for dx in -r..=r {
                        let (fx, fy) = (dx as f32, dy as f32);
                        let along = fx * c + fy * s;
                        let across = -fx * s + fy * c;
                        let e = (-0.5
                            * (along * along / (sigma_along * sigma_along)
                                + across * across / (sigma_across * sigma_across)))
                            .exp();
                        env.push(e);
                        k.push(e * (TAU * across / period).cos());
                    }
                }
                // Remove the kernel's response to a flat image, so only ridges survive.
                let dc = k.iter().sum::<f32>() / env.iter().sum::<f32>();
                let mut norm = 0.0;
                for (kv, ev) in k.iter_mut().zip(&env) {
                    *kv -= dc * ev;
                    norm += kv.abs();
                }
                kernels.extend(k.iter().map(|v| v / norm));
            }
        }
        GaborBank {
            radius,
            side,
            periods,
            scale,
            kernels,
        }
    }

    /// Offset of the kernel for ridge direction `theta` (radians) and period `period_px`
    /// (master pixels).
    fn index(&self, theta: f32, period_px: f32) -> usize {
        let o = (theta.rem_euclid(PI) / PI * KERNEL_ORIENTATIONS as f32).round() as usize % KERNEL_ORIENTATIONS;
        let p = ((period_px - RIDGE_PERIOD_RANGE_PX.0) / KERNEL_PERIOD_STEP_PX)
            .round()
            .max(0.0) as usize;
        (o * self.periods + p.min(self.periods - 1)) * self.side * self.side
    }
}

/// One grid on which ridges are filtered: its size, the pixels that take part and the kernel of
/// each.
struct Grid {
    width: usize,
    height: usize,
    bank: GaborBank,
    active: Vec<usize>,
    kernel_of: Vec<usize>,
}

impl Grid {
    fn new(flow: &FlowModel, bank: GaborBank) -> Self {
        let width = (MASTER_WIDTH_PX as f32 * bank.scale).round() as usize;
        let height = (MASTER_HEIGHT_PX as f32 * bank.scale).round() as usize;
        let r = bank.radius;
        let mut kernel_of = vec![0; width * height];
        let mut active = Vec::new();
        for y in r..height - r {
            for x in r..width - r {
                let (mx, my) = ((x as f32 + 0.5) / bank.scale - 0.5, (y as f32 + 0.5) / bank.scale - 0.5);
                if flow.pad.distance(mx, my) <= GROWN_PAD_DISTANCE {
                    kernel_of[y * width + x] = bank.index(flow.orientation(mx, my), flow.period(mx, my));
                    active.push(y * width + x);
                }
            }
        }
        Grid {
            width,
            height,
            bank,
            active,
            kernel_of,
        }
    }

    /// Filters `src` into `dst` over the active pixels; returns the mean square response.
    fn filter(&self, src: &Field, dst: &mut Field) -> f32 {
        let (w, r, side) = (self.width, self.bank.radius, self.bank.side);
        let mut sum_sq = 0.0f64;
        for &i in &self.active {
            let k0 = self.kernel_of[i];
            let k = &self.bank.kernels[k0..k0 + side * side];
            let (x, y) = (i % w, i / w);
            let mut acc = 0.0f32;
            for ky in 0..side {
                let row = (y + ky - r) * w + x - r;
                let s = &src.data[row..row + side];
                let kr = &k[ky * side..(ky + 1) * side];
                acc += s.iter().zip(kr).map(|(a, b)| a * b).sum::<f32>();
            }
            dst.data[i] = acc;
            sum_sq += f64::from(acc * acc);
        }
        (sum_sq / self.active.len().max(1) as f64) as f32
    }
}

/// Grows the ridge pattern over the pad (and a margin around it).
///
/// Ridges first grow from sparse seed spots on a grid of half the resolution, where a pass costs a
/// sixteenth: each pass saturates every non-zero response, so the pattern spreads by a kernel
/// radius a pass and untouched pixels stay blank until a growing pattern reaches them. Where
/// patterns from two seeds meet out of phase, ridges end or fork. The grown pattern is then brought
/// to the master's resolution and filtered a few more times there to smooth the ridges.
fn grow_ridges(rng: &mut Rng, defects_rng: &mut Rng, flow: &FlowModel) -> Field {
    let coarse = Grid::new(flow, GaborBank::new(COARSE_GABOR_RADIUS_PX, 0.5));
    let (cw, ch) = (coarse.width, coarse.height);
    let mut img = Field::filled(cw, ch, 0.0);
    let area_master_px2 = coarse.active.len() as f32 * 4.0;
    let spots = ((area_master_px2 / 10_000.0 * SEED_SPOTS_PER_10K_PX2).round() as usize).max(1);
    for _ in 0..spots {
        let i = coarse.active[(rng.unit() * coarse.active.len() as f64) as usize % coarse.active.len()];
        img.data[i] = if rng.chance(0.5) { 1.0 } else { -1.0 };
    }
    let mut next = Field::filled(cw, ch, 0.0);
    let mut settling = 0;
    for _ in 0..MAX_GROWTH_PASSES {
        let mean_sq = coarse.filter(&img, &mut next);
        let gain = COARSE_GAIN / mean_sq.sqrt().max(1e-30);
        let mut blank = 0usize;
        for &i in &coarse.active {
            let v = (next.data[i] * gain).clamp(-1.0, 1.0);
            img.data[i] = v;
            if v.abs() < 0.5 {
                blank += 1;
            }
        }
        if blank * 1000 <= coarse.active.len() * 2 {
            settling += 1;
            if settling > SETTLING_PASSES {
                break;
            }
        }
    }
    // To the master grid.
    let fine = Grid::new(flow, GaborBank::new(GABOR_RADIUS_PX, 1.0));
    let (w, h) = (fine.width, fine.height);
    let mut full = Field::filled(w, h, 0.0);
    for &i in &fine.active {
        let (x, y) = ((i % w) as f32, (i / w) as f32);
        full.data[i] = img.sample((x + 0.5) * 0.5 - 0.5, (y + 0.5) * 0.5 - 0.5, 0.0);
    }
    // Minutiae that the flow does not force: pairs of them (a short inserted ridge, ending at one
    // end and forking at the other) at random places, made by twisting the ridge phase by the
    // angle seen from one end minus the angle seen from the other, which leaves the pattern
    // untouched far from the pair. The quadrature of the pattern comes from its slope across the
    // ridges. The fine passes below smooth the twisted ridges.
    let pairs = (fine.active.len() as f32 / 10_000.0 * INSERTED_RIDGES_PER_10K_PX2).round() as usize;
    let source = full.clone();
    for _ in 0..pairs {
        let i = fine.active[(defects_rng.unit() * fine.active.len() as f64) as usize % fine.active.len()];
        let (cx, cy) = ((i % w) as f32, (i / w) as f32);
        let along = flow.orientation(cx, cy);
        let half = 0.5 * defects_rng.range(INSERTED_RIDGE_LENGTH_PX.0, INSERTED_RIDGE_LENGTH_PX.1) as f32;
        let (ax, ay) = (cx - half * along.cos(), cy - half * along.sin());
        let (bx, by) = (cx + half * along.cos(), cy + half * along.sin());
        let reach = 4.0 * half;
        let (x0, x1) = ((cx - reach).max(1.0) as usize, ((cx + reach) as usize).min(w - 2));
        let (y0, y1) = ((cy - reach).max(1.0) as usize, ((cy + reach) as usize).min(h - 2));
        for y in y0..=y1 {
            for x in x0..=x1 {
                let j = y * w + x;
                let (fx, fy) = (x as f32, y as f32);
                let twist = (fy - ay).atan2(fx - ax) - (fy - by).atan2(fx - bx);
                // Wrapped to (-pi, pi]: zero far from the pair, a full turn around either end.
                let twist = (twist + PI).rem_euclid(TAU) - PI;
                let theta = flow.orientation(fx, fy);
                let (nx, ny) = (-theta.sin(), theta.cos());
                let slope = 0.5 * (source.sample(fx + nx, fy + ny, 0.0) - source.sample(fx - nx, fy - ny, 0.0));
                let quadrature = -slope * flow.period(fx, fy) / TAU;
                let fade = 1.0 - smoothstep(((fx - cx).hypot(fy - cy) - 0.6 * reach) / (0.4 * reach));
                let (s, c) = (twist * fade).sin_cos();
                full.data[j] = (source.data[j] * c - quadrature * s).clamp(-1.0, 1.0);
            }
        }
    }
    let mut next = Field::filled(w, h, 0.0);
    for pass in 0..=FINE_PASSES {
        let mean_sq = fine.filter(&full, &mut next);
        let rms = mean_sq.sqrt().max(1e-30);
        let last = pass == FINE_PASSES;
        for &i in &fine.active {
            // The last pass keeps a soft ridge profile so that impressions can thicken or thin
            // the ridges.
            full.data[i] = if last {
                (next.data[i] / rms).tanh()
            } else {
                (next.data[i] * FINE_GAIN / rms).clamp(-1.0, 1.0)
            };
        }
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrected_angle_is_periodic_and_monotone() {
        let mut rng = Rng::new(5);
        let s = Singularity::new(&mut rng, 0.0, 0.0, true, 0.22);
        let mut prev = s.corrected(-PI);
        for i in 1..=400 {
            let a = -PI + TAU * i as f32 / 400.0;
            let g = s.corrected(a);
            assert!(g > prev);
            prev = g;
        }
        assert!((s.corrected(PI) - s.corrected(-PI) - TAU).abs() < 1e-4);
    }

    #[test]
    fn classes_place_their_singular_points() {
        let pad = Pad {
            cx: 224.0,
            cy: 270.0,
            half_width_px: 168.0,
            half_height_px: 232.0,
        };
        let mut rng = Rng::new(9);
        let count = |c| {
            let s = place_singularities(&mut Rng::new(1), c, &pad);
            (
                s.iter().filter(|p| p.is_core).count(),
                s.iter().filter(|p| !p.is_core).count(),
            )
        };
        assert_eq!(count(PatternClass::Arch), (0, 0));
        assert_eq!(count(PatternClass::TentedArch), (1, 1));
        assert_eq!(count(PatternClass::LeftLoop), (1, 1));
        assert_eq!(count(PatternClass::Whorl), (2, 2));
        let left = place_singularities(&mut rng, PatternClass::LeftLoop, &pad);
        assert!(
            left[1].x > left[0].x,
            "a left loop has its delta to the right of its core"
        );
        let right = place_singularities(&mut rng, PatternClass::RightLoop, &pad);
        assert!(right[1].x < right[0].x);
    }
}
