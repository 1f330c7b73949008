//! Binarisation: ridge pixels are where the enhanced image is negative (dark) inside the finger.
//! Tiny islands and holes, which would become false minutiae, are removed. It works on the skeleton
//! grid, [`SKELETON_UPSAMPLING`] times finer than the block maps.

use crate::params::{BINARY_MIN_REGION_PX, BLOCK_SIZE_PX, SKELETON_UPSAMPLING};
use crate::plane::Plane;
use crate::resample::Interpolation;

/// `true` on ridge pixels, on the skeleton grid: the enhanced image (at the internal resolution) is
/// interpolated bilinearly onto the finer grid, inside the finger only, and its sign read there.
pub(crate) fn binarise(enhanced: &Plane<f32>, foreground: &Plane<bool>) -> Plane<bool> {
    let w = ((enhanced.width as f32 * SKELETON_UPSAMPLING).round() as usize).max(1);
    let h = ((enhanced.height as f32 * SKELETON_UPSAMPLING).round() as usize).max(1);
    let columns = Interpolation::along(w, enhanced.width, w as f32 / enhanced.width as f32);
    let rows = Interpolation::along(h, enhanced.height, h as f32 / enhanced.height as f32);
    let block_px = BLOCK_SIZE_PX as f32 * SKELETON_UPSAMPLING;
    let block_of = |i: usize, blocks: usize| ((i as f32 / block_px) as usize).min(blocks - 1);
    let column_blocks: Vec<usize> = (0..w).map(|x| block_of(x, foreground.width)).collect();
    let mut ridges = Plane::filled(w, h, false);
    for (y, row) in rows.iter().enumerate() {
        let by = block_of(y, foreground.height);
        for (x, column) in columns.iter().enumerate() {
            if foreground.at(column_blocks[x], by) {
                *ridges.at_mut(x, y) = row.blend(column, enhanced) < 0.0;
            }
        }
    }
    remove_small_regions(&mut ridges, true);
    remove_small_regions(&mut ridges, false);
    ridges
}

/// Flips 8-connected regions of `value` smaller than [`BINARY_MIN_REGION_PX`].
fn remove_small_regions(plane: &mut Plane<bool>, value: bool) {
    const OTHER: u8 = 0;
    const SAME: u8 = 1;
    const SEEN: u8 = 2;
    const OUTSIDE: u8 = 3;
    // A copy with a one-pixel frame, so that neighbours need no bounds checks.
    let (w, h) = (plane.width, plane.height);
    let pw = w + 2;
    let mut cells = vec![OUTSIDE; pw * (h + 2)];
    for y in 0..h {
        for x in 0..w {
            cells[(y + 1) * pw + x + 1] = if plane.at(x, y) == value { SAME } else { OTHER };
        }
    }
    let pw = pw as isize;
    let neighbours = [-pw - 1, -pw, -pw + 1, -1, 1, pw - 1, pw, pw + 1];
    let mut region = Vec::new();
    let mut stack = Vec::new();
    for start in 0..cells.len() {
        if cells[start] != SAME {
            continue;
        }
        region.clear();
        cells[start] = SEEN;
        stack.push(start);
        let mut touches_border = false;
        while let Some(i) = stack.pop() {
            // Only small regions are flipped, so a large one need not be remembered.
            if region.len() < BINARY_MIN_REGION_PX {
                region.push(i);
            }
            for d in neighbours {
                let j = (i as isize + d) as usize;
                match cells[j] {
                    SAME => {
                        cells[j] = SEEN;
                        stack.push(j);
                    }
                    OUTSIDE => touches_border = true,
                    _ => {}
                }
            }
        }
        // Background touching the image border is outside the finger, whatever its size.
        if region.len() < BINARY_MIN_REGION_PX && (value || !touches_border) {
            let pw = pw as usize;
            for &i in &region {
                *plane.at_mut(i % pw - 1, i / pw - 1) = !value;
            }
        }
    }
}
