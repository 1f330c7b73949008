//! The fine texture of a finger's ridges, a property of the skin that every impression shows the
//! same way: sweat pores and the ridge units they sit in.
//!
//! A friction ridge is not a smooth band: it is a chain of small units, each about as long as the
//! ridge is wide and each round one sweat pore. Units differ in width, so a ridge's edge swells and
//! narrows from one unit to the next; on dry skin or under a light touch the units part where they
//! meet, and a ridge prints as dashes and dots; the pores print as small white dots on the ridge's
//! crest. Here the pores are scattered along the crests of the master print's ridges, no two closer
//! than a spacing drawn for each, and every point of the skin belongs to the unit of its nearest
//! pore along the ridge. Everything is at the master print's resolution.
//!
//! Which pores print, and how, is drawn apart from the units: real pores are not a dotted line
//! down the crest. Some stretches of ridge show none (pores closed or filled, in patches), the
//! ones that print differ in size and sit off the unit's centre, along and across, and some units
//! carry a second pore close to the first, so that the pores that show lie in clumps and gaps.

use super::field::{smoothstep, Field, FractalNoise};
use super::rng::Rng;

/// Closest two pores may lie, pixels at the master's 500 dpi; the spacing of each pore is drawn
/// from this range, so pores lie one to two spacings apart along a ridge (0.3 to 0.6 mm).
pub const PORE_SPACING_PX: (f64, f64) = (5.5, 8.5);
/// Range and share of an earlier draw per pore (a radius, pixels, and whether it was open), kept
/// only so that the draws after it stay where they were; [`printed_pores`] decides which print.
const RETIRED_PORE_DRAWS: ((f64, f64), f64) = ((1.0, 1.7), 0.75);
/// Farthest a pore strays from the crest towards a ridge edge, pixels at 500 dpi.
pub const PORE_OFF_CREST_PX: f64 = 1.2;
/// Range of the radius of a printed pore, pixels at 500 dpi (drawn log-uniform, so that most are
/// small and a few large).
pub const PRINTED_PORE_RADIUS_PX: (f64, f64) = (0.9, 2.4);
/// Size of the patches in which pores show or stay shut, pixels at 500 dpi.
const PORE_PATCH_PX: f32 = 28.0;
/// Share of pores that print, on average over the finger; the patches move it between about 0
/// and twice this.
pub const PRINTED_PORE_SHARE: f64 = 0.65;
/// Farthest a printed pore lies from its unit's centre along the ridge, pixels at 500 dpi.
pub const PORE_ALONG_JITTER_PX: f64 = 2.2;
/// Farthest a printed pore lies from the crest across the ridge, pixels at 500 dpi.
pub const PORE_ACROSS_JITTER_PX: f64 = 1.2;
/// Chance that a unit with a printed pore carries a second one next to it.
pub const PORE_PAIR_CHANCE: f64 = 0.18;
/// Range of the distance from a pore to its companion, pixels at 500 dpi.
const PORE_PAIR_GAP_PX: (f64, f64) = (2.5, 4.0);
/// Lowest value of the master's ridge pattern (in `[-1, 1]`) on a crest that carries pores.
const CREST_MIN: f32 = 0.3;
/// How much more a step across the ridge counts than one along it when a point of the skin looks
/// for the pore whose unit it belongs to: units follow the ridge.
const ACROSS_WEIGHT: f32 = 2.5;
/// Length over which a unit's core gives way to the boundary with the next, pixels at 500 dpi
/// (difference of the distances to the two nearest pores).
pub const UNIT_BOUNDARY_PX: f32 = 2.0;
/// Largest width offset of a unit, in standard deviations (the offsets are normal, clamped).
const UNIT_WIDTH_LIMIT: f64 = 2.5;
/// Side of the bins that pores are sorted into for the nearest-pore search, pixels.
const BIN_PX: f32 = 10.0;

/// One pore: its position (the centre of its unit), the width offset of its unit and how readily
/// the unit lets go of its neighbours.
#[derive(Debug, Clone, Copy)]
struct Pore {
    x: f32,
    y: f32,
    width: f32,
    fragility: f32,
}

/// The ridge texture of one finger, as fields over the master canvas.
#[derive(Debug, Clone)]
pub struct RidgeTexture {
    /// How white the pore makes the skin at a point, 0 to 1 (1 in the middle of an open pore).
    pub pores: Field,
    /// Width offset of the unit a point belongs to, a standard normal draw per unit clamped to
    /// `±2.5`: positive units print wider (the impression sets how much).
    pub unit_width: Field,
    /// 0 on the boundary between two units of a ridge, 1 from [`UNIT_BOUNDARY_PX`] into a unit.
    pub unit_core: Field,
    /// How readily the unit lets go of its neighbours and of the glass, 0 (never) to 1 (first).
    pub fragility: Field,
    /// Where the units' pores are, pixels on the master canvas (printed or not).
    pub pore_sites: Vec<(f32, f32)>,
    /// The pores that print: position, pixels on the master canvas, and radius, pixels.
    pub printed_pores: Vec<(f32, f32, f32)>,
}

impl RidgeTexture {
    /// Scatters pores along the crests of `ridges`, whose ridge direction at a point (radians) is
    /// `orientation`, and lays out the units round them; `look_rng` draws which pores print and
    /// how.
    pub fn new(rng: &mut Rng, look_rng: &mut Rng, ridges: &Field, orientation: impl Fn(f32, f32) -> f32) -> Self {
        let (w, h) = (ridges.width, ridges.height);
        // Crest pixels: high on the ridge pattern and no lower than either neighbour across.
        let mut crests = Vec::new();
        let mut normals = vec![(0.0f32, 0.0f32); w * h];
        for y in 2..h.saturating_sub(2) {
            for x in 2..w.saturating_sub(2) {
                let i = y * w + x;
                let r = ridges.data[i];
                if r < CREST_MIN {
                    continue;
                }
                let theta = orientation(x as f32, y as f32);
                let (nx, ny) = (-theta.sin(), theta.cos());
                normals[i] = (nx, ny);
                let (fx, fy) = (x as f32, y as f32);
                if r >= ridges.sample(fx + nx, fy + ny, 0.0) && r >= ridges.sample(fx - nx, fy - ny, 0.0) {
                    crests.push(i);
                }
            }
        }
        // Visit them in random order; keep a pore where none lies within its spacing.
        for k in (1..crests.len()).rev() {
            let j = (rng.unit() * (k + 1) as f64) as usize % (k + 1);
            crests.swap(k, j);
        }
        let (bw, bh) = ((w as f32 / BIN_PX).ceil() as usize, (h as f32 / BIN_PX).ceil() as usize);
        let mut bins: Vec<Vec<u32>> = vec![Vec::new(); bw * bh];
        let mut pores: Vec<Pore> = Vec::new();
        let bin_of = |x: f32, y: f32| (((x / BIN_PX) as usize).min(bw - 1), ((y / BIN_PX) as usize).min(bh - 1));
        for &i in &crests {
            let spacing = rng.range(PORE_SPACING_PX.0, PORE_SPACING_PX.1) as f32;
            let (cx, cy) = ((i % w) as f32, (i / w) as f32);
            let (bx, by) = bin_of(cx, cy);
            let crowded = (by.saturating_sub(1)..=(by + 1).min(bh - 1)).any(|yy| {
                (bx.saturating_sub(1)..=(bx + 1).min(bw - 1)).any(|xx| {
                    bins[yy * bw + xx].iter().any(|&p| {
                        let p = &pores[p as usize];
                        (p.x - cx).hypot(p.y - cy) < spacing
                    })
                })
            });
            if crowded {
                continue;
            }
            let (nx, ny) = normals[i];
            let off = rng.signed() as f32 * PORE_OFF_CREST_PX as f32;
            bins[by * bw + bx].push(pores.len() as u32);
            let _ = rng.range(RETIRED_PORE_DRAWS.0 .0, RETIRED_PORE_DRAWS.0 .1);
            let _ = rng.chance(RETIRED_PORE_DRAWS.1);
            pores.push(Pore {
                x: cx + off * nx,
                y: cy + off * ny,
                width: rng.normal_clamped(0.0, 1.0, -UNIT_WIDTH_LIMIT, UNIT_WIDTH_LIMIT) as f32,
                fragility: rng.unit() as f32,
            });
        }
        // Every point near a ridge joins the unit of its nearest pore along the ridge.
        let mut texture = RidgeTexture {
            pores: Field::filled(w, h, 0.0),
            unit_width: Field::filled(w, h, 0.0),
            unit_core: Field::filled(w, h, 1.0),
            fragility: Field::filled(w, h, 0.0),
            pore_sites: pores.iter().map(|p| (p.x, p.y)).collect(),
            printed_pores: Vec::new(),
        };
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                if ridges.data[i] < -0.5 {
                    continue;
                }
                let (fx, fy) = (x as f32, y as f32);
                let (mut nx, mut ny) = normals[i];
                if nx == 0.0 && ny == 0.0 {
                    let theta = orientation(fx, fy);
                    (nx, ny) = (-theta.sin(), theta.cos());
                }
                let (bx, by) = bin_of(fx, fy);
                let (mut first, mut d1, mut d2) = (usize::MAX, f32::INFINITY, f32::INFINITY);
                for yy in by.saturating_sub(1)..=(by + 1).min(bh - 1) {
                    for xx in bx.saturating_sub(1)..=(bx + 1).min(bw - 1) {
                        for &p in &bins[yy * bw + xx] {
                            let q = &pores[p as usize];
                            let (dx, dy) = (q.x - fx, q.y - fy);
                            let across = dx * nx + dy * ny;
                            let along = -dx * ny + dy * nx;
                            let d = along.hypot(ACROSS_WEIGHT * across);
                            if d < d1 {
                                d2 = d1;
                                d1 = d;
                                first = p as usize;
                            } else if d < d2 {
                                d2 = d;
                            }
                        }
                    }
                }
                if first == usize::MAX {
                    continue;
                }
                let p = &pores[first];
                texture.unit_width.data[i] = p.width;
                texture.fragility.data[i] = p.fragility;
                if d2.is_finite() {
                    texture.unit_core.data[i] = smoothstep((d2 - d1) / UNIT_BOUNDARY_PX);
                }
            }
        }
        texture.printed_pores = printed_pores(look_rng, &pores, ridges, &orientation);
        for &(px, py, r) in &texture.printed_pores {
            let reach = 3.0 * r;
            let (x0, x1) = ((px - reach).max(0.0) as usize, ((px + reach) as usize + 1).min(w));
            let (y0, y1) = ((py - reach).max(0.0) as usize, ((py + reach) as usize + 1).min(h));
            for y in y0..y1 {
                for x in x0..x1 {
                    let r2 = (x as f32 - px).powi(2) + (y as f32 - py).powi(2);
                    let v = &mut texture.pores.data[y * w + x];
                    *v = v.max((-r2 / (r * r)).exp());
                }
            }
        }
        texture
    }
}

/// Which of the units' pores print, where exactly and how large, with the companions of some:
/// open in patches, off the unit's centre, of log-uniform size.
fn printed_pores(
    rng: &mut Rng,
    pores: &[Pore],
    ridges: &Field,
    orientation: impl Fn(f32, f32) -> f32,
) -> Vec<(f32, f32, f32)> {
    let patches = FractalNoise::new(rng, ridges.width as f32, ridges.height as f32, PORE_PATCH_PX, 2);
    let (r_lo, r_hi) = (PRINTED_PORE_RADIUS_PX.0.ln(), PRINTED_PORE_RADIUS_PX.1.ln());
    let mut printed = Vec::new();
    for p in pores {
        // Every pore takes the same draws, so that one pore's fate does not move the next.
        let open_draw = rng.unit();
        let along = rng.signed() * PORE_ALONG_JITTER_PX;
        let across = rng.signed() * PORE_ACROSS_JITTER_PX;
        let radius = rng.range(r_lo, r_hi).exp() as f32;
        let pair = rng.chance(PORE_PAIR_CHANCE);
        let pair_gap = rng.range(PORE_PAIR_GAP_PX.0, PORE_PAIR_GAP_PX.1) * if rng.chance(0.5) { 1.0 } else { -1.0 };
        let pair_radius = rng.range(r_lo, r_hi).exp() as f32;
        let share = (PRINTED_PORE_SHARE * (1.0 + 1.4 * patches.at(p.x, p.y) as f64)).clamp(0.0, 1.0);
        if open_draw >= share {
            continue;
        }
        let theta = orientation(p.x, p.y);
        let (ux, uy) = (theta.cos(), theta.sin());
        let (x, y) = (
            p.x + (along as f32) * ux - (across as f32) * uy,
            p.y + (along as f32) * uy + (across as f32) * ux,
        );
        // Only where it still lies on the ridge.
        if ridges.sample(x, y, -1.0) > 0.0 {
            printed.push((x, y, radius));
        }
        if pair {
            let (qx, qy) = (x + pair_gap as f32 * ux, y + pair_gap as f32 * uy);
            if ridges.sample(qx, qy, -1.0) > 0.0 {
                printed.push((qx, qy, pair_radius));
            }
        }
    }
    printed
}

#[cfg(test)]
mod tests {
    use super::super::master::MasterPrint;

    #[test]
    fn pores_sit_on_the_crests_a_ridge_width_apart() {
        let master = MasterPrint::generate(3);
        let t = &master.texture;
        assert!(t.pore_sites.len() > 1000, "{} pores", t.pore_sites.len());
        // On the ridges, not in the valleys.
        let on_ridge = t
            .pore_sites
            .iter()
            .filter(|&&(x, y)| master.ridges.sample(x, y, 0.0) > 0.2)
            .count();
        assert!(
            on_ridge * 100 >= t.pore_sites.len() * 95,
            "{on_ridge} of {}",
            t.pore_sites.len()
        );
        // Each pore's nearest neighbour lies along its ridge, a unit's length away (real pores lie
        // 0.2 to 0.7 mm apart, 4 to 14 pixels at 500 dpi).
        let mut nearest: Vec<f32> = t
            .pore_sites
            .iter()
            .map(|&(x, y)| {
                t.pore_sites
                    .iter()
                    .map(|&(u, v)| (u - x).hypot(v - y))
                    .filter(|&d| d > 0.0)
                    .fold(f32::INFINITY, f32::min)
            })
            .collect();
        nearest.sort_by(f32::total_cmp);
        let median = nearest[nearest.len() / 2];
        assert!((5.0..=10.0).contains(&median), "median spacing {median} px");
    }

    /// Coefficient of variation of each point's distance to its nearest neighbour.
    fn nearest_neighbour_cv(points: &[(f32, f32)]) -> f32 {
        let nearest: Vec<f32> = points
            .iter()
            .map(|&(x, y)| {
                points
                    .iter()
                    .map(|&(u, v)| (u - x).hypot(v - y))
                    .filter(|&d| d > 0.0)
                    .fold(f32::INFINITY, f32::min)
            })
            .collect();
        let n = nearest.len() as f32;
        let mean = nearest.iter().sum::<f32>() / n;
        let sd = (nearest.iter().map(|d| (d - mean).powi(2)).sum::<f32>() / n).sqrt();
        sd / mean
    }

    #[test]
    fn printed_pores_lie_in_clumps_and_gaps_not_a_dotted_line() {
        // A real ridge's pores are no dotted line: spacing, size and place on the ridge vary, and
        // many do not show. Measured as the spread of each printed pore's distance to its nearest
        // printed neighbour, against three quarters of the unit sites taken at random (how pores
        // printed before: about 0.2).
        let master = MasterPrint::generate(5);
        let t = &master.texture;
        let mut rng = super::Rng::new(11);
        let old_style: Vec<(f32, f32)> = t.pore_sites.iter().copied().filter(|_| rng.chance(0.75)).collect();
        let printed: Vec<(f32, f32)> = t.printed_pores.iter().map(|&(x, y, _)| (x, y)).collect();
        let (before, now) = (nearest_neighbour_cv(&old_style), nearest_neighbour_cv(&printed));
        assert!(
            now >= 0.4 && now >= before + 0.15,
            "spacing spread {now} (a dotted line: {before})"
        );
        // About two units in three print a pore, and sizes differ by a factor of two or more.
        let share = printed.len() as f32 / t.pore_sites.len() as f32;
        assert!((0.3..=0.9).contains(&share), "printed share {share}");
        let mut radii: Vec<f32> = t.printed_pores.iter().map(|p| p.2).collect();
        radii.sort_by(f32::total_cmp);
        let (p10, p90) = (radii[radii.len() / 10], radii[radii.len() * 9 / 10]);
        assert!(p90 >= 2.0 * p10, "pore radii p10 {p10} p90 {p90}");
    }

    #[test]
    fn ridge_units_differ_in_width_and_part_along_the_ridge() {
        let master = MasterPrint::generate(8);
        let t = &master.texture;
        let on_ridges: Vec<usize> = (0..master.ridges.data.len())
            .filter(|&i| master.ridges.data[i] > 0.3)
            .collect();
        let n = on_ridges.len() as f32;
        let mean = on_ridges.iter().map(|&i| t.unit_width.data[i]).sum::<f32>() / n;
        let sd = (on_ridges
            .iter()
            .map(|&i| (t.unit_width.data[i] - mean).powi(2))
            .sum::<f32>()
            / n)
            .sqrt();
        assert!((0.6..=1.3).contains(&sd), "unit width spread {sd}");
        // Boundaries between units cross the ridges every unit or so: a share of the ridge lies
        // within a pixel of one.
        let boundary = on_ridges.iter().filter(|&&i| t.unit_core.data[i] < 0.5).count() as f32 / n;
        assert!(
            (0.05..=0.4).contains(&boundary),
            "share near a unit boundary {boundary}"
        );
        // Pores are white in their middle and take little of the ridge.
        let pore = on_ridges.iter().filter(|&&i| t.pores.data[i] > 0.5).count() as f32 / n;
        assert!((0.02..=0.25).contains(&pore), "share of ridge in open pores {pore}");
    }
}
