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
    let (w, h) = (plane.width, plane.height);
    let mut seen = vec![false; w * h];
    let mut region = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if plane.data[start] != value || seen[start] {
            continue;
        }
        region.clear();
        seen[start] = true;
        stack.push(start);
        let mut touches_border = false;
        while let Some(i) = stack.pop() {
            region.push(i);
            let (x, y) = ((i % w) as isize, (i / w) as isize);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    match plane.get(x + dx, y + dy) {
                        Some(v) if v == value => {
                            let j = (y + dy) as usize * w + (x + dx) as usize;
                            if !seen[j] {
                                seen[j] = true;
                                stack.push(j);
                            }
                        }
                        None => touches_border = true,
                        _ => {}
                    }
                }
            }
        }
        // Background touching the image border is outside the finger, whatever its size.
        if region.len() < BINARY_MIN_REGION_PX && (value || !touches_border) {
            for &i in &region {
                plane.data[i] = !value;
            }
        }
    }
}
