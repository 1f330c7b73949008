//! A blind test of the simulator's realism: draws real and synthetic fingerprints at random, crops
//! each to the same window round its centre of darkness (so that image size gives nothing away),
//! shuffles them into one grid and writes the answer key to a separate file. Whoever looks at the
//! grid picks out the synthetic ones before reading the key.
//!
//! `cargo run --release -p shimon-hal --example blind_test -- OUT_DIR SYNTHETIC_DIR REAL_DIR... [--each N] [--seed S]`
//!
//! Each folder is laid out as `shimon-reader simulate` writes and as the real datasets are:
//! `<finger>_<impression>.<ext>` images and, where present, a `dataset.toml` whose `dpi` is used
//! to bring every image to 500 dpi first. `N` images (default 6) are drawn from the synthetic
//! folder and `N` from all the real folders together.

use std::path::{Path, PathBuf};

use image::{imageops, GrayImage, Luma};
use shimon_hal::sim::rng::Rng;

/// The window each image is cropped to, pixels at 500 dpi.
const TILE: (u32, u32) = (240, 280);
/// The grey line between tiles, pixels.
const GAP: u32 = 10;
/// Tiles a row.
const COLUMNS: u32 = 6;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut folders = Vec::new();
    let (mut each, mut seed) = (6usize, 1u64);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--each" => each = args.next().ok_or("--each needs a number")?.parse()?,
            "--seed" => seed = args.next().ok_or("--seed needs a number")?.parse()?,
            _ => folders.push(PathBuf::from(arg)),
        }
    }
    if each == 0 {
        return Err("--each must be at least 1".into());
    }
    if folders.len() < 3 {
        return Err("usage: blind_test OUT_DIR SYNTHETIC_DIR REAL_DIR... [--each N] [--seed S]".into());
    }
    let out = folders.remove(0);
    let synthetic = images_in(&folders[0])?;
    let mut real = Vec::new();
    for folder in &folders[1..] {
        real.extend(images_in(folder)?);
    }
    let mut rng = Rng::new(seed);
    let mut tiles: Vec<(&str, PathBuf, u32)> = Vec::new();
    for (kind, pool) in [("synthetic", synthetic), ("real", real)] {
        for (path, dpi) in draw(&mut rng, pool, each) {
            tiles.push((kind, path, dpi));
        }
    }
    shuffle(&mut rng, &mut tiles);

    let rows = (tiles.len() as u32).div_ceil(COLUMNS);
    let mut grid = GrayImage::from_pixel(COLUMNS * (TILE.0 + GAP), rows * (TILE.1 + GAP), Luma([128]));
    let mut key = String::new();
    for (n, (kind, path, dpi)) in tiles.iter().enumerate() {
        let tile = crop_round_darkness(&at_500_dpi(image::open(path)?.to_luma8(), *dpi));
        let n = n as u32;
        imageops::replace(
            &mut grid,
            &tile,
            i64::from(n % COLUMNS * (TILE.0 + GAP)),
            i64::from(n / COLUMNS * (TILE.1 + GAP)),
        );
        key.push_str(&format!("{:2} {kind:9} {}\n", n + 1, path.display()));
    }
    std::fs::create_dir_all(&out)?;
    grid.save(out.join("grid.png"))?;
    std::fs::write(out.join("key.txt"), key)?;
    println!(
        "{} tiles, numbered row by row from the top left, in {}; the answers are in {}",
        tiles.len(),
        out.join("grid.png").display(),
        out.join("key.txt").display()
    );
    Ok(())
}

/// The images of a dataset folder, each with the folder's resolution (500 dpi without a
/// `dataset.toml`).
fn images_in(folder: &Path) -> Result<Vec<(PathBuf, u32)>, Box<dyn std::error::Error>> {
    let dpi = match std::fs::read_to_string(folder.join("dataset.toml")) {
        Ok(text) => text
            .parse::<toml::Table>()?
            .get("dpi")
            .and_then(|v| v.as_integer())
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&dpi| dpi > 0)
            .ok_or_else(|| format!("{}: dataset.toml has no positive dpi", folder.display()))?,
        Err(_) => 500,
    };
    let mut images: Vec<(PathBuf, u32)> = std::fs::read_dir(folder)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            ["png", "tif", "tiff", "bmp", "pgm"].contains(&ext.as_str())
        })
        .map(|path| (path, dpi))
        .collect();
    images.sort();
    if images.is_empty() {
        return Err(format!("no images in {}", folder.display()).into());
    }
    Ok(images)
}

/// `count` items drawn without replacement.
fn draw<T>(rng: &mut Rng, mut pool: Vec<T>, count: usize) -> Vec<T> {
    shuffle(rng, &mut pool);
    pool.truncate(count);
    pool
}

/// Fisher-Yates.
fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn at_500_dpi(image: GrayImage, dpi: u32) -> GrayImage {
    if dpi == 500 {
        return image;
    }
    let scale = 500.0 / dpi as f32;
    let (w, h) = image.dimensions();
    let size = |side: u32| ((side as f32 * scale).round() as u32).max(1);
    imageops::resize(&image, size(w), size(h), imageops::FilterType::Triangle)
}

/// The [`TILE`] window centred on the image's centre of darkness, kept inside the image; an image
/// smaller than the window is padded with its own median grey.
fn crop_round_darkness(image: &GrayImage) -> GrayImage {
    let (w, h) = image.dimensions();
    let (mut sum, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y, p) in image.enumerate_pixels() {
        let dark = f64::from(255 - p.0[0]);
        sum += dark;
        sx += dark * f64::from(x);
        sy += dark * f64::from(y);
    }
    let (cx, cy) = if sum > 0.0 {
        ((sx / sum) as u32, (sy / sum) as u32)
    } else {
        (w / 2, h / 2)
    };
    let start =
        |centre: u32, side: u32, window: u32| centre.saturating_sub(window / 2).min(side.saturating_sub(window));
    let (x0, y0) = (start(cx, w, TILE.0), start(cy, h, TILE.1));
    let mut greys: Vec<u8> = image.pixels().map(|p| p.0[0]).collect();
    greys.sort_unstable();
    let median = greys.get(greys.len() / 2).copied().unwrap_or(128);
    let mut tile = GrayImage::from_pixel(TILE.0, TILE.1, Luma([median]));
    let window = imageops::crop_imm(image, x0, y0, TILE.0.min(w), TILE.1.min(h)).to_image();
    imageops::replace(&mut tile, &window, 0, 0);
    tile
}
