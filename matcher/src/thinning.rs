//! Thinning: reduces the ridges to one-pixel-wide lines (Zhang-Suen), so that minutiae can be read
//! off the lines' ends and forks.

use crate::plane::Plane;

/// The skeleton of the ridge image: `true` on the one-pixel-wide centre lines.
pub(crate) fn thin(ridges: &Plane<bool>) -> Plane<bool> {
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
    let mut candidates: Vec<usize> = (0..w * h).filter(|&i| img[i] == 1).collect();
    let mut to_delete = Vec::new();
    loop {
        let mut changed = false;
        for t in &table {
            to_delete.clear();
            for &i in &candidates {
                if img[i] == 1 && t[neighbourhood(&img, i, w) as usize] {
                    to_delete.push(i);
                }
            }
            for &i in &to_delete {
                img[i] = 0;
            }
            changed |= !to_delete.is_empty();
        }
        if !changed {
            break;
        }
        candidates.retain(|&i| img[i] == 1);
    }
    Plane {
        width: w,
        height: h,
        data: img.iter().map(|&v| v == 1).collect(),
    }
}

/// The 8 neighbours as bits, clockwise from north: N, NE, E, SE, S, SW, W, NW.
#[inline]
fn neighbourhood(img: &[u8], i: usize, w: usize) -> u8 {
    let n = [i - w, i - w + 1, i + 1, i + w + 1, i + w, i + w - 1, i - 1, i - w - 1];
    n.iter().enumerate().fold(0u8, |acc, (bit, &j)| acc | (img[j] << bit))
}

/// For each neighbourhood, whether Zhang-Suen's sub-iteration `pass` deletes the centre pixel.
fn deletion_table(pass: usize) -> [bool; 256] {
    let mut table = [false; 256];
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
        *entry = (2..=6).contains(&count) && transitions == 1 && cond;
    }
    table
}
