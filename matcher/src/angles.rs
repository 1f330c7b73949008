//! Angle arithmetic shared by the stages: wrapping to one turn, the gap between two directions, and
//! a fast `atan2` for the hot loops.

use std::f32::consts::{PI, TAU};

/// An angle in `[0, 2π)`.
pub(crate) fn normalise(a: f32) -> f32 {
    let r = a.rem_euclid(TAU);
    if r >= TAU {
        0.0
    } else {
        r
    }
}

/// The absolute difference of two directions, in `[0, π]`.
pub(crate) fn angle_gap(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(TAU);
    if d > PI {
        TAU - d
    } else {
        d
    }
}

/// `atan2` to within about 0.1 degree (a tenth of what edge matching tolerates), several times
/// faster than the exact one, which matters because every comparison computes hundreds.
pub(crate) fn fast_atan2(y: f32, x: f32) -> f32 {
    use std::f32::consts::{FRAC_PI_2, PI};
    let (ax, ay) = (x.abs(), y.abs());
    if ax == 0.0 && ay == 0.0 {
        return 0.0;
    }
    // atan on [0, 1] by a minimax polynomial, then unfolded to the full circle.
    let t = ax.min(ay) / ax.max(ay);
    let t2 = t * t;
    let a = t * (0.999_866 + t2 * (-0.330_299_5 + t2 * (0.180_141 + t2 * (-0.085_133 + t2 * 0.020_835_1))));
    // Selections rather than branches: the octant of an edge is anyone's guess.
    let a = if ay > ax { FRAC_PI_2 - a } else { a };
    let a = if x < 0.0 { PI - a } else { a };
    // Negated by flipping the sign bit: written as a selection, this one became a branch, and a
    // mispredicted one for about every other edge.
    f32::from_bits(a.to_bits() ^ u32::from(y < 0.0) << 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_atan2_is_close_to_the_exact_one_all_round() {
        for k in 0..3600 {
            let a = k as f32 / 3600.0 * TAU - std::f32::consts::PI;
            for r in [0.5f32, 1.0, 250.0] {
                let (y, x) = (r * a.sin(), r * a.cos());
                let gap = (fast_atan2(y, x) - y.atan2(x)).abs();
                assert!(
                    gap.min(TAU - gap) < 0.002,
                    "angle {a}: {} vs {}",
                    fast_atan2(y, x),
                    y.atan2(x)
                );
            }
        }
    }
}
