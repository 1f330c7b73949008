//! Ridge frequency: the distance between neighbouring ridges, per block. Grey levels are summed
//! along the ridges into a profile across them, whose autocorrelation peaks at the ridge period;
//! blocks without a clear peak take the period of their neighbours.

use crate::orientation::{masked_smooth, OrientationField};
use crate::params::{
    BLOCK_SIZE_PX, FREQUENCY_MIN_PEAK_CORRELATION, FREQUENCY_PROFILE_LENGTH_PX, FREQUENCY_PROFILE_WIDTH_PX,
    FREQUENCY_SMOOTHING_SIGMA_BLOCKS, MAX_RIDGE_PERIOD_PX, MIN_RIDGE_PERIOD_PX, TYPICAL_RIDGE_PERIOD_PX,
};
use crate::plane::Plane;

/// Ridge period per block, pixels; every foreground block has a value in the allowed range.
pub(crate) fn ridge_periods(
    image: &Plane<f32>,
    orientation: &OrientationField,
    foreground: &Plane<bool>,
) -> Plane<f32> {
    let (bw, bh) = (foreground.width, foreground.height);
    let mut period = Plane::filled(bw, bh, 0.0f32);
    let mut valid = Plane::filled(bw, bh, false);
    let mut profile = vec![0.0f32; FREQUENCY_PROFILE_LENGTH_PX];
    for by in 0..bh {
        for bx in 0..bw {
            if !foreground.at(bx, by) {
                continue;
            }
            let cx = (bx * BLOCK_SIZE_PX) as f32 + BLOCK_SIZE_PX as f32 / 2.0;
            let cy = (by * BLOCK_SIZE_PX) as f32 + BLOCK_SIZE_PX as f32 / 2.0;
            let theta = orientation.angle.at(bx, by);
            let (rx, ry) = (theta.cos(), theta.sin());
            let (nx, ny) = (-ry, rx);
            let half_len = FREQUENCY_PROFILE_LENGTH_PX as f32 / 2.0;
            let half_width = FREQUENCY_PROFILE_WIDTH_PX as isize / 2;
            for (t, p) in profile.iter_mut().enumerate() {
                let along_normal = t as f32 - half_len;
                let mut sum = 0.0;
                for s in -half_width..=half_width {
                    let s = s as f32;
                    sum += image.sample(cx + along_normal * nx + s * rx, cy + along_normal * ny + s * ry);
                }
                *p = sum;
            }
            if let Some(p) = period_of(&mut profile) {
                *period.at_mut(bx, by) = p;
                *valid.at_mut(bx, by) = true;
            }
        }
    }
    // Fill blocks without an estimate from their neighbours, then smooth over the whole finger.
    let any_valid = valid.data.iter().any(|&v| v);
    let filled = if any_valid {
        let mut fill = masked_smooth(&period, &valid, 2.0 * FREQUENCY_SMOOTHING_SIGMA_BLOCKS);
        for i in 0..fill.data.len() {
            if valid.data[i] {
                fill.data[i] = period.data[i];
            } else if fill.data[i] <= 0.0 {
                fill.data[i] = TYPICAL_RIDGE_PERIOD_PX;
            }
        }
        fill
    } else {
        Plane::filled(bw, bh, TYPICAL_RIDGE_PERIOD_PX)
    };
    let mut smooth = masked_smooth(&filled, foreground, FREQUENCY_SMOOTHING_SIGMA_BLOCKS);
    for v in &mut smooth.data {
        *v = if *v <= 0.0 {
            TYPICAL_RIDGE_PERIOD_PX
        } else {
            v.clamp(MIN_RIDGE_PERIOD_PX, MAX_RIDGE_PERIOD_PX)
        };
    }
    smooth
}

/// The period of a profile from its autocorrelation, or `None` without a clear peak.
fn period_of(profile: &mut [f32]) -> Option<f32> {
    let n = profile.len();
    let mean = profile.iter().sum::<f32>() / n as f32;
    profile.iter_mut().for_each(|p| *p -= mean);
    let ac =
        |lag: usize| -> f32 { (0..n - lag).map(|i| profile[i] * profile[i + lag]).sum::<f32>() / (n - lag) as f32 };
    let zero = ac(0);
    if zero <= 1e-3 {
        return None;
    }
    let min_lag = MIN_RIDGE_PERIOD_PX.floor() as usize;
    let max_lag = (MAX_RIDGE_PERIOD_PX.ceil() as usize + 1).min(n / 2);
    let values: Vec<f32> = (0..=max_lag + 1).map(ac).collect();
    let mut best: Option<(usize, f32)> = None;
    for lag in min_lag.max(1)..=max_lag {
        let v = values[lag];
        if v > values[lag - 1] && v >= values[lag + 1] && best.is_none_or(|(_, b)| v > b) {
            best = Some((lag, v));
        }
    }
    let (lag, v) = best?;
    if v / zero < FREQUENCY_MIN_PEAK_CORRELATION {
        return None;
    }
    // Parabolic refinement of the peak position.
    let (a, b, c) = (values[lag - 1], values[lag], values[lag + 1]);
    let denom = a - 2.0 * b + c;
    let offset = if denom.abs() > 1e-6 {
        (0.5 * (a - c) / denom).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    let p = lag as f32 + offset;
    (MIN_RIDGE_PERIOD_PX..=MAX_RIDGE_PERIOD_PX).contains(&p).then_some(p)
}

/// Ridge period at a pixel, interpolated between block centres.
pub(crate) fn ridge_periods_at_pixel(periods: &Plane<f32>, x: f32, y: f32) -> f32 {
    periods.sample(x / BLOCK_SIZE_PX as f32 - 0.5, y / BLOCK_SIZE_PX as f32 - 0.5)
}
