//! Counts the minutiae that NBIS (MINDTCT, through `fprint-mindtct`) finds on every image of one
//! or more dataset folders, and prints their spread per folder: the realism check that puts the
//! simulated reader's images beside real ones.
//!
//! `cargo run --release -p shimon-hal --example nbis_minutiae -- DIR...` (each DIR holds images and
//! a `dataset.toml` with `dpi = N`).

use std::path::Path;

use shimon_hal::FingerImage;

fn dpi_of(dir: &Path) -> u32 {
    let text = std::fs::read_to_string(dir.join("dataset.toml")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("dpi"))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .find_map(|v| v.trim().parse().ok())
        .unwrap_or(500)
}

fn main() {
    for arg in std::env::args().skip(1) {
        let dir = Path::new(&arg);
        let dpi = dpi_of(dir);
        let mut entries: Vec<_> = match std::fs::read_dir(dir) {
            Ok(e) => e.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                continue;
            }
        };
        entries.sort();
        let mut counts = Vec::new();
        for path in entries {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !["png", "tif", "tiff", "bmp", "pgm"].contains(&ext) {
                continue;
            }
            let image = match FingerImage::read(&path, dpi) {
                Ok(i) => i,
                Err(e) => {
                    eprintln!("{e}");
                    continue;
                }
            };
            let grey = match fprint_mindtct::GrayImage::new(
                &image.pixels,
                image.width as usize,
                image.height as usize,
                dpi as u16,
            ) {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    continue;
                }
            };
            counts.push(fprint_mindtct::detect_minutiae(grey).len());
        }
        if counts.is_empty() {
            println!("{}: no images", dir.display());
            continue;
        }
        counts.sort_unstable();
        let n = counts.len();
        let mean = counts.iter().sum::<usize>() as f64 / n as f64;
        println!(
            "{:<40} n={n:>4} min={:>3} p10={:>3} median={:>3} mean={mean:>5.1} p90={:>3} max={:>3}",
            dir.display(),
            counts[0],
            counts[n / 10],
            counts[n / 2],
            counts[n * 9 / 10],
            counts[n - 1]
        );
    }
}
