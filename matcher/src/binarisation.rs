//! Binarisation: ridge pixels are where the enhanced image is negative (dark) inside the finger.
//! Tiny islands and holes, which would become false minutiae, are removed.

use crate::params::{BINARY_MIN_REGION_PX, BLOCK_SIZE_PX};
use crate::plane::Plane;

/// `true` on ridge pixels.
pub(crate) fn binarise(enhanced: &Plane<f32>, foreground: &Plane<bool>) -> Plane<bool> {
    let (w, h) = (enhanced.width, enhanced.height);
    let mut ridges = Plane::filled(w, h, false);
    for y in 0..h {
        for x in 0..w {
            *ridges.at_mut(x, y) = foreground.at(x / BLOCK_SIZE_PX, y / BLOCK_SIZE_PX) && enhanced.at(x, y) < 0.0;
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
