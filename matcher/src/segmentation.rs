//! Segmentation: decides which blocks of the image hold finger, from the local strength of the
//! grey-level gradients relative to the image's strongest ridges, then cleans the block mask into one
//! solid region (no specks, no holes).

use crate::orientation::{masked_smooth, BlockTensors};
use crate::params::{
    BLOCK_SIZE_PX, SEGMENTATION_MIN_ENERGY, SEGMENTATION_MIN_FOREGROUND_BLOCKS, SEGMENTATION_REFERENCE_PERCENTILE,
    SEGMENTATION_RELATIVE_THRESHOLD, SEGMENTATION_SMOOTHING_SIGMA_BLOCKS,
};
use crate::plane::Plane;

/// The foreground block mask, or `None` when no part of the image looks like a finger.
pub(crate) fn foreground_blocks(tensors: &BlockTensors) -> Option<Plane<bool>> {
    let (w, h) = (tensors.energy.width, tensors.energy.height);
    let all = Plane::filled(w, h, true);
    let pixels_per_block = (BLOCK_SIZE_PX * BLOCK_SIZE_PX) as f32;
    let mean_energy = Plane {
        width: w,
        height: h,
        data: tensors
            .energy
            .data
            .iter()
            .map(|e| (e / pixels_per_block).sqrt())
            .collect(),
    };
    let smooth = masked_smooth(&mean_energy, &all, SEGMENTATION_SMOOTHING_SIGMA_BLOCKS);
    let mut sorted = smooth.data.clone();
    sorted.sort_by(f32::total_cmp);
    let reference = sorted[((sorted.len() - 1) as f32 * SEGMENTATION_REFERENCE_PERCENTILE) as usize];
    if reference < SEGMENTATION_MIN_ENERGY {
        return None;
    }
    let threshold = (reference * SEGMENTATION_RELATIVE_THRESHOLD).max(SEGMENTATION_MIN_ENERGY);
    let mut mask = Plane {
        width: w,
        height: h,
        data: smooth.data.iter().map(|&e| e >= threshold).collect(),
    };
    for _ in 0..2 {
        mask = majority_vote(&mask);
    }
    keep_largest_component(&mut mask);
    fill_holes(&mut mask);
    let count = mask.data.iter().filter(|&&m| m).count();
    (count >= SEGMENTATION_MIN_FOREGROUND_BLOCKS).then_some(mask)
}

/// Each block takes the value most of its 3x3 neighbourhood has.
fn majority_vote(mask: &Plane<bool>) -> Plane<bool> {
    let mut out = mask.clone();
    for y in 0..mask.height {
        for x in 0..mask.width {
            let mut on = 0;
            let mut total = 0;
            for dy in -1..=1 {
                for dx in -1..=1 {
                    if let Some(v) = mask.get(x as isize + dx, y as isize + dy) {
                        total += 1;
                        on += v as i32;
                    }
                }
            }
            *out.at_mut(x, y) = 2 * on > total;
        }
    }
    out
}

/// Labels the 4-connected components where `mask == value`; returns labels (0 = other) and sizes.
fn components(mask: &Plane<bool>, value: bool) -> (Plane<u32>, Vec<usize>) {
    let mut labels = Plane::filled(mask.width, mask.height, 0u32);
    let mut sizes = vec![0usize];
    let mut stack = Vec::new();
    for start in 0..mask.data.len() {
        if mask.data[start] != value || labels.data[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32;
        sizes.push(0);
        labels.data[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            sizes[label as usize] += 1;
            let (x, y) = ((i % mask.width) as isize, (i / mask.width) as isize);
            for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                if let Some(v) = mask.get(x + dx, y + dy) {
                    let j = (y + dy) as usize * mask.width + (x + dx) as usize;
                    if v == value && labels.data[j] == 0 {
                        labels.data[j] = label;
                        stack.push(j);
                    }
                }
            }
        }
    }
    (labels, sizes)
}

/// Keeps only the largest foreground region.
fn keep_largest_component(mask: &mut Plane<bool>) {
    let (labels, sizes) = components(mask, true);
    if let Some((largest, _)) = sizes.iter().enumerate().skip(1).max_by_key(|(_, &s)| s) {
        for (m, &l) in mask.data.iter_mut().zip(&labels.data) {
            *m = l as usize == largest;
        }
    }
}

/// Background regions that do not touch the image border are holes in the finger: fill them.
fn fill_holes(mask: &mut Plane<bool>) {
    let (labels, sizes) = components(mask, false);
    let mut touches_border = vec![false; sizes.len()];
    for y in 0..mask.height {
        for x in 0..mask.width {
            if x == 0 || y == 0 || x + 1 == mask.width || y + 1 == mask.height {
                touches_border[labels.at(x, y) as usize] = true;
            }
        }
    }
    for (m, &l) in mask.data.iter_mut().zip(&labels.data) {
        if !*m && !touches_border[l as usize] {
            *m = true;
        }
    }
}
