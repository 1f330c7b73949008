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
    // Runs of columns in the same block, so that a row skips a background block at once.
    let mut column_spans: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    for x in 0..w {
        let bx = block_of(x, foreground.width);
        match column_spans.last_mut() {
            Some((block, span)) if *block == bx => span.end = x + 1,
            _ => column_spans.push((bx, x..x + 1)),
        }
    }
    let mut ridges = Plane::filled(w, h, false);
    for (y, row) in rows.iter().enumerate() {
        let by = block_of(y, foreground.height);
        for (bx, span) in &column_spans {
            if foreground.at(*bx, by) {
                for x in span.clone() {
                    *ridges.at_mut(x, y) = row.blend(&columns[x], enhanced) < 0.0;
                }
            }
        }
    }
    remove_small_regions(&mut ridges, true);
    remove_small_regions(&mut ridges, false);
    ridges
}

/// Flips 8-connected regions of `value` smaller than [`BINARY_MIN_REGION_PX`]; background regions
/// touching the image border are outside the finger and stay, whatever their size.
///
/// Regions are labelled run by run (a run: consecutive pixels of `value` in one row) with a
/// union-find over the runs, instead of a flood fill that visits every pixel's 8 neighbours: a row
/// crosses only a few dozen ridges, so this does a fraction of the work.
fn remove_small_regions(plane: &mut Plane<bool>, value: bool) {
    let (w, h) = (plane.width, plane.height);
    let mut runs: Vec<Run> = Vec::new();
    let mut parent: Vec<u32> = Vec::new();
    let mut previous_row = 0..0;
    let mut boundaries = Vec::new();
    for y in 0..h {
        let row = &plane.data[y * w..(y + 1) * w];
        let row_start = runs.len();
        let mut above = previous_row.start;
        changes(row, &mut boundaries);
        for segment in boundaries.windows(2) {
            let (start, end) = (segment[0] as usize, segment[1] as usize);
            if row[start] != value {
                continue;
            }
            let id = runs.len() as u32;
            runs.push(Run {
                y: y as u32,
                start: start as u32,
                end: end as u32,
            });
            parent.push(id);
            // Runs of the row above touch this one (8-connected) when they overlap `start - 1..=end`.
            // Those ending left of it touch no later run of this row either.
            while above < previous_row.end && (runs[above].end as usize) < start {
                above += 1;
            }
            let mut k = above;
            while k < previous_row.end && runs[k].start as usize <= end {
                union(&mut parent, k as u32, id);
                k += 1;
            }
        }
        previous_row = row_start..runs.len();
    }
    let mut size = vec![0u32; runs.len()];
    let mut touches_border = vec![false; runs.len()];
    for (i, run) in runs.iter().enumerate() {
        let root = find(&mut parent, i as u32) as usize;
        size[root] += run.end - run.start;
        touches_border[root] |= run.y == 0 || run.y as usize == h - 1 || run.start == 0 || run.end as usize == w;
    }
    for (i, run) in runs.iter().enumerate() {
        let root = find(&mut parent, i as u32) as usize;
        if (size[root] as usize) < BINARY_MIN_REGION_PX && (value || !touches_border[root]) {
            let row = run.y as usize * w;
            plane.data[row + run.start as usize..row + run.end as usize].fill(!value);
        }
    }
}

/// Where a row changes value: 0, every `x` whose value differs from that at `x - 1`, and the
/// row's length; so the row's runs lie between consecutive entries. Changes come every few pixels
/// at random, so they are gathered without a branch per pixel, and stretches without one (the
/// background, the inside of large regions) are passed over at once.
fn changes(row: &[bool], out: &mut Vec<u32>) {
    const STRETCH: usize = 32;
    out.clear();
    out.push(0);
    let mut buffer = [0u32; STRETCH];
    let mut x = 1;
    while x < row.len() {
        let end = (x + STRETCH).min(row.len());
        let (here, before) = (&row[x..end], &row[x - 1..end - 1]);
        if here.iter().zip(before).fold(false, |any, (a, b)| any | (a != b)) {
            let mut n = 0;
            for (k, (a, b)) in here.iter().zip(before).enumerate() {
                buffer[n] = (x + k) as u32;
                n += (a != b) as usize;
            }
            out.extend_from_slice(&buffer[..n]);
        }
        x = end;
    }
    out.push(row.len() as u32);
}

/// Pixels `start..end` of row `y`.
struct Run {
    y: u32,
    start: u32,
    end: u32,
}

/// The representative of `i`'s set, halving the path on the way.
fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let grandparent = parent[parent[i as usize] as usize];
        parent[i as usize] = grandparent;
        i = grandparent;
    }
    i
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    // The smaller index becomes the root, which keeps trees shallow enough here.
    if ra < rb {
        parent[rb as usize] = ra;
    } else {
        parent[ra as usize] = rb;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain definition: flood fill each 8-connected region of `value` and flip the small ones.
    fn flood_fill_reference(plane: &mut Plane<bool>, value: bool) {
        let w = plane.width as isize;
        let original = plane.clone();
        let mut seen = vec![false; plane.data.len()];
        for start in 0..plane.data.len() {
            if seen[start] || original.data[start] != value {
                continue;
            }
            seen[start] = true;
            let (mut region, mut stack, mut border) = (Vec::new(), vec![start], false);
            while let Some(i) = stack.pop() {
                region.push(i);
                let (x, y) = ((i as isize) % w, (i as isize) / w);
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        match original.get(x + dx, y + dy) {
                            None => border = true,
                            Some(v) if v == value => {
                                let j = ((y + dy) * w + x + dx) as usize;
                                if !seen[j] {
                                    seen[j] = true;
                                    stack.push(j);
                                }
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
            if region.len() < BINARY_MIN_REGION_PX && (value || !border) {
                region.iter().for_each(|&i| plane.data[i] = !value);
            }
        }
    }

    #[test]
    fn run_labelling_flips_the_same_regions_as_a_flood_fill() {
        // A small xorshift generator: blobs of every size, shape and connectivity.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for density in [20u64, 45, 55, 80] {
            for (w, h) in [(1, 1), (1, 37), (41, 1), (64, 48), (97, 61)] {
                let data = (0..w * h).map(|_| random() % 100 < density).collect();
                let plane = Plane {
                    width: w,
                    height: h,
                    data,
                };
                for value in [true, false] {
                    let (mut fast, mut slow) = (plane.clone(), plane.clone());
                    remove_small_regions(&mut fast, value);
                    flood_fill_reference(&mut slow, value);
                    assert_eq!(fast, slow, "{w}x{h}, density {density}%, value {value}");
                }
            }
        }
    }

    #[test]
    fn regions_one_short_of_the_limit_go_and_those_at_it_stay() {
        // Two diagonal staircases (8-connected only), one pixel short of the limit and at it.
        let n = BINARY_MIN_REGION_PX;
        let mut plane = Plane::filled(2 * n + 4, n + 2, false);
        for i in 0..n - 1 {
            *plane.at_mut(1 + i / 2 + i % 2, 1 + i) = true;
        }
        for i in 0..n {
            *plane.at_mut(n + 2 + i / 2 + i % 2, 1 + i) = true;
        }
        let mut expected = Plane::filled(plane.width, plane.height, false);
        for i in 0..n {
            *expected.at_mut(n + 2 + i / 2 + i % 2, 1 + i) = true;
        }
        remove_small_regions(&mut plane, true);
        assert_eq!(plane, expected);
    }
}
