//! Thinning: reduces the ridges to one-pixel-wide lines (Zhang-Suen), so that minutiae can be read
//! off the lines' ends and forks.

use crate::plane::Plane;

/// The skeleton of the ridge image, `true` on the one-pixel-wide centre lines, and the indices of
/// those pixels in row order (which the tracer walks instead of scanning the whole grid again).
pub(crate) fn thin(ridges: &Plane<bool>) -> (Plane<bool>, Vec<u32>) {
    let (w, h) = (ridges.width, ridges.height);
    let mut img: Vec<u8> = ridges.data.iter().map(|&b| b as u8).collect();
    // Clear the outer frame so every neighbourhood below is inside the image.
    for x in 0..w {
        img[x] = 0;
        img[(h - 1) * w + x] = 0;
    }
    for y in 0..h {
        img[y * w] = 0;
        img[y * w + w - 1] = 0;
    }
    let table = [deletion_table(0), deletion_table(1)];
    // The ridge pixels, less the cleared frame.
    let mut candidates = ridges.set_indices();
    candidates.retain(|&i| img[i as usize] == 1);
    let mut to_delete = vec![0u32; candidates.len()];
    loop {
        let mut changed = false;
        for t in &table {
            // Whether a pixel goes is anyone's guess, so it is decided without a branch: every
            // candidate is written down and the count advances only for those that go.
            let mut deleted = 0;
            for &i in &candidates {
                let i = i as usize;
                to_delete[deleted] = i as u32;
                deleted += (img[i] & t[neighbourhood(&img, i, w) as usize]) as usize;
            }
            for &i in &to_delete[..deleted] {
                img[i as usize] = 0;
            }
            changed |= deleted > 0;
        }
        // Keep the pixels still set, again without a branch.
        let mut kept = 0;
        for k in 0..candidates.len() {
            let i = candidates[k];
            candidates[kept] = i;
            kept += img[i as usize] as usize;
        }
        candidates.truncate(kept);
        if !changed {
            break;
        }
    }
    let skeleton = Plane {
        width: w,
        height: h,
        data: img.iter().map(|&v| v == 1).collect(),
    };
    (skeleton, candidates)
}

/// The 8 neighbours as bits, clockwise from north: N, NE, E, SE, S, SW, W, NW.
#[inline]
fn neighbourhood(img: &[u8], i: usize, w: usize) -> u8 {
    // Three row slices, so that the eight reads need three bounds checks rather than eight.
    let above = &img[i - w - 1..i - w + 2];
    let row = &img[i - 1..i + 2];
    let below = &img[i + w - 1..i + w + 2];
    above[1] | above[2] << 1 | row[2] << 2 | below[2] << 3 | below[1] << 4 | below[0] << 5 | row[0] << 6 | above[0] << 7
}

/// For each neighbourhood, 1 if Zhang-Suen's sub-iteration `pass` deletes the centre pixel, else 0.
fn deletion_table(pass: usize) -> [u8; 256] {
    let mut table = [0; 256];
    for (code, entry) in table.iter_mut().enumerate() {
        let p: Vec<u8> = (0..8).map(|b| ((code >> b) & 1) as u8).collect();
        let count: u8 = p.iter().sum();
        let transitions = (0..8).filter(|&k| p[k] == 0 && p[(k + 1) % 8] == 1).count();
        let (n, e, s, wst) = (p[0], p[2], p[4], p[6]);
        let cond = if pass == 0 {
            n * e * s == 0 && e * s * wst == 0
        } else {
            n * e * wst == 0 && n * s * wst == 0
        };
        *entry = ((2..=6).contains(&count) && transitions == 1 && cond) as u8;
    }
    table
}
