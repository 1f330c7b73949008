//! Contextual enhancement: an oriented Gabor filter tuned at every pixel to the local ridge direction
//! and period. It is applied as two one-dimensional passes in the ridge's own frame (a Gaussian
//! along the ridge, which bridges creases and pores, then a Gabor band-pass across it, which restores
//! the ridge-valley wave), which equals the 2-D Gabor filter where the orientation is steady and
//! costs a fraction of it.

use crate::frequency::ridge_periods_at_pixel;
use crate::orientation::OrientationField;
use crate::params::{
    BLOCK_SIZE_PX, ENHANCEMENT_ACROSS_SIGMA_PERIODS, ENHANCEMENT_ALONG_SIGMA_PX, ENHANCEMENT_ORIENTATION_BINS,
    ENHANCEMENT_PERIOD_STEP_PX, MAX_RIDGE_PERIOD_PX, MIN_RIDGE_PERIOD_PX,
};
use crate::plane::Plane;
use std::f32::consts::PI;

/// One tap of a 1-D filter laid along a line: a flat offset into the padded image and a weight.
#[derive(Clone, Copy)]
struct Tap {
    offset: isize,
    weight: f32,
}

/// Enhanced image: positive in valleys, negative on ridges, zero outside the foreground.
pub(crate) fn enhance(
    image: &Plane<f32>,
    orientation: &OrientationField,
    periods: &Plane<f32>,
    foreground: &Plane<bool>,
) -> Plane<f32> {
    let (w, h) = (image.width, image.height);
    let bins = ENHANCEMENT_ORIENTATION_BINS;
    let period_bins = ((MAX_RIDGE_PERIOD_PX - MIN_RIDGE_PERIOD_PX) / ENHANCEMENT_PERIOD_STEP_PX).round() as usize + 1;
    let along_reach = (2.5 * ENHANCEMENT_ALONG_SIGMA_PX).ceil() as isize;
    let across_reach = (1.5 * MAX_RIDGE_PERIOD_PX).ceil() as isize;
    let pad = along_reach.max(across_reach) as usize + 1;
    let stride = (w + 2 * pad) as isize;

    // Per-pixel filter choice, from the block maps.
    let mut orientation_bin = vec![0u16; w * h];
    let mut period_bin = vec![0u16; w * h];
    let inside = |x: usize, y: usize| foreground.at(x / BLOCK_SIZE_PX, y / BLOCK_SIZE_PX);
    for y in 0..h {
        for x in 0..w {
            if !inside(x, y) {
                continue;
            }
            let theta = orientation.at_pixel(x as f32, y as f32);
            orientation_bin[y * w + x] = (nearest_step(theta / PI * bins as f32) % bins) as u16;
            let p = ridge_periods_at_pixel(periods, x as f32, y as f32);
            period_bin[y * w + x] =
                nearest_step((p - MIN_RIDGE_PERIOD_PX) / ENHANCEMENT_PERIOD_STEP_PX).min(period_bins - 1) as u16;
        }
    }

    // Filter taps for every orientation (and period), as offsets into the padded image.
    let along: Vec<Vec<Tap>> = (0..bins)
        .map(|o| {
            let theta = o as f32 * PI / bins as f32;
            line_taps(
                theta,
                along_reach,
                stride,
                |t| (-t * t / (2.0 * ENHANCEMENT_ALONG_SIGMA_PX.powi(2))).exp(),
                false,
            )
        })
        .collect();
    let across: Vec<Vec<Vec<Tap>>> = (0..bins)
        .map(|o| {
            let normal = o as f32 * PI / bins as f32 + PI / 2.0;
            (0..period_bins)
                .map(|pb| {
                    let period = MIN_RIDGE_PERIOD_PX + pb as f32 * ENHANCEMENT_PERIOD_STEP_PX;
                    let sigma = ENHANCEMENT_ACROSS_SIGMA_PERIODS * period;
                    let reach = (1.5 * period).ceil() as isize;
                    line_taps(
                        normal,
                        reach,
                        stride,
                        |t| (-t * t / (2.0 * sigma * sigma)).exp() * (2.0 * PI * t / period).cos(),
                        true,
                    )
                })
                .collect()
        })
        .collect();

    let padded = pad_plane(image, pad);
    let index = |x: usize, y: usize| ((y + pad) as isize * stride + (x + pad) as isize) as usize;
    // Pass 1: Gaussian along the ridge. It must cover everything pass 2 reaches, so run it on every
    // pixel within reach of the foreground (outside the image the padding is used directly).
    let mut smoothed = padded.clone();
    let near = dilate_pixels(foreground, w, h, across_reach as usize + 1);
    for y in 0..h {
        for x in 0..w {
            if !near[y * w + x] {
                continue;
            }
            let i = index(x, y);
            let o = if inside(x, y) {
                orientation_bin[y * w + x] as usize
            } else {
                nearest_step(orientation.at_pixel(x as f32, y as f32) / PI * bins as f32) % bins
            };
            let mut sum = 0.0;
            for tap in &along[o] {
                sum += tap.weight * padded[(i as isize + tap.offset) as usize];
            }
            smoothed[i] = sum;
        }
    }
    // Pass 2: zero-mean Gabor across the ridge.
    let mut out = Plane::filled(w, h, 0.0f32);
    for y in 0..h {
        for x in 0..w {
            if !inside(x, y) {
                continue;
            }
            let i = index(x, y);
            let taps = &across[orientation_bin[y * w + x] as usize][period_bin[y * w + x] as usize];
            let mut sum = 0.0;
            for tap in taps {
                sum += tap.weight * smoothed[(i as isize + tap.offset) as usize];
            }
            *out.at_mut(x, y) = sum;
        }
    }
    out
}

/// The nearest whole step to a non-negative position (negative ones give 0); cheaper than `round`
/// in the per-pixel loops.
#[inline]
fn nearest_step(position: f32) -> usize {
    (position + 0.5) as usize
}

/// Taps along the line through the origin at `angle`, for integer steps `-reach..=reach`, each
/// placed on the nearest pixel and weighted by `weight(t)` of its exact projection `t` on the line.
/// Weights are normalised to sum to one, or with `zero_mean`, to sum to zero and unit energy.
fn line_taps(angle: f32, reach: isize, stride: isize, weight: impl Fn(f32) -> f32, zero_mean: bool) -> Vec<Tap> {
    let (c, s) = (angle.cos(), angle.sin());
    let mut taps: Vec<(isize, isize, f32)> = Vec::new();
    for step in -reach..=reach {
        let (dx, dy) = ((step as f32 * c).round() as isize, (step as f32 * s).round() as isize);
        if taps.iter().any(|&(x, y, _)| x == dx && y == dy) {
            continue;
        }
        let t = dx as f32 * c + dy as f32 * s;
        taps.push((dx, dy, weight(t)));
    }
    let mut weights: Vec<f32> = taps.iter().map(|t| t.2).collect();
    if zero_mean {
        let mean = weights.iter().sum::<f32>() / weights.len() as f32;
        weights.iter_mut().for_each(|w| *w -= mean);
        let norm = weights.iter().map(|w| w * w).sum::<f32>().sqrt().max(1e-6);
        weights.iter_mut().for_each(|w| *w /= norm);
    } else {
        let sum = weights.iter().sum::<f32>().max(1e-6);
        weights.iter_mut().for_each(|w| *w /= sum);
    }
    taps.iter()
        .zip(weights)
        .map(|(&(dx, dy, _), weight)| Tap {
            offset: dy * stride + dx,
            weight,
        })
        .collect()
}

/// The image with `pad` pixels of replicated edge on every side, row-major.
fn pad_plane(image: &Plane<f32>, pad: usize) -> Vec<f32> {
    let (pw, ph) = (image.width + 2 * pad, image.height + 2 * pad);
    let mut out = vec![0.0f32; pw * ph];
    for y in 0..ph {
        for x in 0..pw {
            out[y * pw + x] = image.clamped(x as isize - pad as isize, y as isize - pad as isize);
        }
    }
    out
}

/// Pixels within `reach` pixels (square) of a foreground block.
fn dilate_pixels(foreground: &Plane<bool>, w: usize, h: usize, reach: usize) -> Vec<bool> {
    let r = reach.div_ceil(BLOCK_SIZE_PX) as isize;
    let mut near_block = Plane::filled(foreground.width, foreground.height, false);
    for by in 0..foreground.height {
        for bx in 0..foreground.width {
            if foreground.at(bx, by) {
                for dy in -r..=r {
                    for dx in -r..=r {
                        let (xx, yy) = (bx as isize + dx, by as isize + dy);
                        if near_block.get(xx, yy).is_some() {
                            *near_block.at_mut(xx as usize, yy as usize) = true;
                        }
                    }
                }
            }
        }
    }
    let mut out = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = near_block.at(x / BLOCK_SIZE_PX, y / BLOCK_SIZE_PX);
        }
    }
    out
}
