//! Extraction: runs the pipeline of stages that turns an image into a template, and rates the
//! quality of each minutia and of the whole impression.

use crate::filtering::drop_border_and_clusters;
use crate::flow::RidgeFlow;
use crate::minutiae::{angle_gap, normalise, SkeletonGraph};
use crate::orientation::{block_tensors, orientation_field, OrientationField};
use crate::params::{
    BLOCK_SIZE_PX, DIRECTION_SNAP_MAX_RAD, MAX_MINUTIAE, QUALITY_FULL_AREA_BLOCKS, QUALITY_GOOD_COHERENCE,
    QUALITY_POOR_COHERENCE, SKELETON_UPSAMPLING,
};
use crate::plane::Plane;
use crate::{binarisation, enhancement, frequency, resample, segmentation, thinning};
use crate::{FingerprintImage, Minutia, Template};
use std::f32::consts::PI;

/// Why no template could be made from an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// No part of the image looks like a fingerprint.
    #[error("no fingerprint found in the image (blank, or no ridge pattern)")]
    NoFinger,
}

/// A template with what the stages saw on the way, for drawing (`shimon-fp show`).
#[derive(Debug, Clone)]
pub struct Extraction {
    /// The template.
    pub template: Template,
    /// Side of a segmentation block, pixels at the internal resolution.
    pub block_size_px: u32,
    /// Blocks across.
    pub blocks_wide: u32,
    /// Blocks down.
    pub blocks_high: u32,
    /// Row-major, `true` where a block holds finger.
    pub foreground: Vec<bool>,
    /// The binarised, thinned ridge skeleton on its finer grid ([`SKELETON_UPSAMPLING`] times the
    /// internal resolution), row-major, `true` on a ridge line.
    pub skeleton: Vec<bool>,
    /// Width of the skeleton grid, pixels.
    pub skeleton_width: u32,
    /// Height of the skeleton grid, pixels.
    pub skeleton_height: u32,
}

/// Extracts a template from an image.
pub fn extract(image: &FingerprintImage) -> Result<Template, ExtractError> {
    extract_with_details(image).map(|e| e.template)
}

/// Extracts a template and keeps the intermediate maps.
pub fn extract_with_details(image: &FingerprintImage) -> Result<Extraction, ExtractError> {
    raise_allocator_thresholds();
    let grey = resample::to_internal_resolution(image);
    let tensors = block_tensors(&grey);
    let foreground = segmentation::foreground_blocks(&tensors).ok_or(ExtractError::NoFinger)?;
    let orientation = orientation_field(&tensors, &foreground);
    let periods = frequency::ridge_periods(&grey, &orientation, &foreground);
    let enhanced = enhancement::enhance(&grey, &orientation, &periods, &foreground);
    let ridges = binarisation::binarise(&enhanced, &foreground);
    let (skeleton, skeleton_pixels) = thinning::thin(&ridges);

    let mut graph = SkeletonGraph::trace(&skeleton, &skeleton_pixels);
    let to_internal = |v: f32| v / SKELETON_UPSAMPLING;
    graph.remove_false_structures(&|x, y| orientation.at_pixel(to_internal(x), to_internal(y)));
    let inside = |x: f32, y: f32| -> bool {
        x >= 0.0
            && y >= 0.0
            && foreground
                .get((x / BLOCK_SIZE_PX as f32) as isize, (y / BLOCK_SIZE_PX as f32) as isize)
                .unwrap_or(false)
    };
    let on_internal_grid = graph
        .minutiae()
        .into_iter()
        .map(|(x, y, direction, kind)| (to_internal(x), to_internal(y), direction, kind))
        .collect();
    let found = drop_border_and_clusters(on_internal_grid, &inside);

    let mut minutiae: Vec<Minutia> = found
        .into_iter()
        .map(|(x, y, traced, kind)| Minutia {
            x: x.round() as u16,
            y: y.round() as u16,
            angle: refine_direction(traced, orientation.at_pixel(x, y)),
            kind,
            quality: minutia_quality(&orientation, x, y),
        })
        .collect();
    // Keep the most reliable ones when there are too many; order is then by position, so that the
    // same image always gives the same template.
    minutiae.sort_by(|a, b| b.quality.cmp(&a.quality).then(a.y.cmp(&b.y)).then(a.x.cmp(&b.x)));
    minutiae.truncate(MAX_MINUTIAE);
    minutiae.sort_by(|a, b| a.y.cmp(&b.y).then(a.x.cmp(&b.x)));

    let template = Template {
        width: grey.width as u16,
        height: grey.height as u16,
        quality: image_quality(&orientation, &foreground),
        minutiae,
        flow: Some(RidgeFlow::from_field(
            &orientation,
            &foreground,
            grey.width as u16,
            grey.height as u16,
        )),
    };
    Ok(Extraction {
        template,
        block_size_px: BLOCK_SIZE_PX as u32,
        blocks_wide: foreground.width as u32,
        blocks_high: foreground.height as u32,
        foreground: foreground.data,
        skeleton_width: skeleton.width as u32,
        skeleton_height: skeleton.height as u32,
        skeleton: skeleton.data,
    })
}

/// Extraction allocates and frees several buffers of a few megabytes. glibc's `malloc` hands
/// blocks above its mmap threshold to the system on free and gives memory at the top of the heap
/// back above its trim threshold; both start low and only rise when a large block is freed. Left
/// alone, whether they end up above extraction's buffers depends on image size and on which buffer
/// happens to be the largest, and when they do not, every extraction faults its buffers in again:
/// 50,000 page faults and 15-20% more time on some FVC databases, none on others. Freeing one
/// 16 MiB block first raises both thresholds once for the whole process. (Other allocators ignore
/// this; the block is never touched, so it costs no memory.)
fn raise_allocator_thresholds() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(16 << 20))));
}

/// 0..100 from a coherence, linear between the poor and good levels.
fn coherence_score(c: f32) -> f32 {
    ((c - QUALITY_POOR_COHERENCE) / (QUALITY_GOOD_COHERENCE - QUALITY_POOR_COHERENCE)).clamp(0.0, 1.0) * 100.0
}

fn minutia_quality(orientation: &OrientationField, x: f32, y: f32) -> u8 {
    let c = orientation
        .coherence
        .clamped((x / BLOCK_SIZE_PX as f32) as isize, (y / BLOCK_SIZE_PX as f32) as isize);
    coherence_score(c).round() as u8
}

/// Quality of the impression: how clear its ridge flow is, scaled down when little finger shows.
fn image_quality(orientation: &OrientationField, foreground: &Plane<bool>) -> u8 {
    let (mut sum, mut count) = (0.0f32, 0usize);
    for (c, &fg) in orientation.coherence.data.iter().zip(&foreground.data) {
        if fg {
            sum += coherence_score(*c);
            count += 1;
        }
    }
    if count == 0 {
        return 0;
    }
    let area = (count as f32 / QUALITY_FULL_AREA_BLOCKS as f32).min(1.0);
    (sum / count as f32 * area).round() as u8
}

/// The traced direction of a minutia, snapped to the smoothed ridge orientation where the two agree:
/// the orientation field averages many pixels and is steadier than a few traced skeleton steps.
fn refine_direction(traced: f32, ridge_orientation: f32) -> f32 {
    let forward = ridge_orientation;
    let backward = normalise(ridge_orientation + PI);
    let nearest = if angle_gap(traced, forward) <= angle_gap(traced, backward) {
        forward
    } else {
        backward
    };
    if angle_gap(traced, nearest) <= DIRECTION_SNAP_MAX_RAD {
        nearest
    } else {
        traced
    }
}
