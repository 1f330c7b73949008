//! The engine's behaviour on the inputs a real deployment will meet: blank and non-fingerprint
//! images, absurd sizes and resolutions, real fingerprints at other resolutions than 500 dpi, and
//! the same image twice. Real images come from the shared FVC databases (see `accuracy.rs` for how
//! they are found); without them the tests that need them skip, except under CI.

use std::path::{Path, PathBuf};

use shimon_fp::datasets::{fingerprints_dir, under_ci};
use shimon_fp::load::load_grey;
use shimon_matcher::{compare, extract, ExtractError, FingerprintImage, ImageError};

/// A small deterministic generator, so that "random" images are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
}

/// The FVC2002 DB1 folder, or `None` (with a message) where the shared data is absent.
fn db1() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = fingerprints_dir(&root).join("fvc2002-db1b");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        !under_ci(),
        "{} not found: under CI the engine tests must run",
        dir.display()
    );
    eprintln!("SKIPPED: {} not found", dir.display());
    None
}

fn real(dir: &Path, name: &str, dpi: u32) -> FingerprintImage {
    let grey = load_grey(&dir.join(name)).expect("shared image loads");
    FingerprintImage::new(grey.width, grey.height, dpi, grey.pixels).expect("valid image")
}

#[test]
fn blank_images_are_refused_as_no_finger() {
    for level in [0u8, 128, 255] {
        let image = FingerprintImage::new(300, 300, 500, vec![level; 300 * 300]).unwrap();
        assert_eq!(extract(&image), Err(ExtractError::NoFinger), "uniform grey {level}");
    }
}

#[test]
fn noise_is_refused_or_rated_unusable() {
    let mut rng = Lcg(7);
    let pixels: Vec<u8> = (0..300 * 300).map(|_| rng.next() as u8).collect();
    let image = FingerprintImage::new(300, 300, 500, pixels).unwrap();
    match extract(&image) {
        Err(ExtractError::NoFinger) => {}
        Ok(template) => assert!(template.quality <= 20, "noise rated quality {}", template.quality),
    }
}

#[test]
fn absurd_sizes_and_resolutions_get_clear_errors() {
    assert!(matches!(
        FingerprintImage::new(10, 10, 500, vec![0; 100]),
        Err(ImageError::TooSmall { .. })
    ));
    assert!(matches!(
        FingerprintImage::new(5000, 100, 500, vec![0; 500_000]),
        Err(ImageError::TooLarge { .. })
    ));
    assert!(matches!(
        FingerprintImage::new(300, 300, 100, vec![0; 90_000]),
        Err(ImageError::Resolution { .. })
    ));
    assert!(matches!(
        FingerprintImage::new(300, 300, 5000, vec![0; 90_000]),
        Err(ImageError::Resolution { .. })
    ));
    assert!(matches!(
        FingerprintImage::new(300, 300, 500, vec![0; 10]),
        Err(ImageError::BufferSize { .. })
    ));
    let message = FingerprintImage::new(10, 10, 500, vec![0; 100])
        .unwrap_err()
        .to_string();
    assert!(message.contains("too small"), "{message}");
}

#[test]
fn arbitrary_images_never_panic() {
    let mut rng = Lcg(42);
    for _ in 0..40 {
        let (w, h) = (40 + rng.next() % 400, 40 + rng.next() % 400);
        let pattern = rng.next() % 4;
        let pixels: Vec<u8> = (0..w * h)
            .map(|i| match pattern {
                0 => rng.next() as u8,
                1 => ((i % w) * 255 / w) as u8,
                2 => {
                    if (i / w / 5) % 2 == 0 {
                        30
                    } else {
                        220
                    }
                }
                _ => {
                    if rng.next() % 50 == 0 {
                        0
                    } else {
                        255
                    }
                }
            })
            .collect();
        let dpi = [250, 500, 569, 1000][(rng.next() % 4) as usize];
        if let Ok(image) = FingerprintImage::new(w, h, dpi, pixels) {
            if let Ok(template) = extract(&image) {
                assert!(template.quality <= 100);
                assert!(template
                    .minutiae
                    .iter()
                    .all(|m| m.x < template.width && m.y < template.height));
                let _ = compare(&template, &template);
            }
        }
    }
}

#[test]
fn the_same_image_always_gives_the_same_template() {
    let Some(dir) = db1() else { return };
    let a = extract(&real(&dir, "101_1.tif", 500)).unwrap();
    let b = extract(&real(&dir, "101_1.tif", 500)).unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert!(!a.minutiae.is_empty());
}

/// The image scaled by an integer factor up (pixel repetition) or down (block mean).
fn rescale(image: &FingerprintImage, up: u32, down: u32) -> Vec<u8> {
    let (w, h) = (image.width(), image.height());
    let (nw, nh) = (w * up / down, h * up / down);
    let mut out = Vec::with_capacity((nw * nh) as usize);
    for y in 0..nh {
        for x in 0..nw {
            let (mut sum, mut n) = (0u32, 0u32);
            for dy in 0..down {
                for dx in 0..down {
                    let (sx, sy) = ((x * down + dx) / up, (y * down + dy) / up);
                    if sx < w && sy < h {
                        sum += image.pixels()[(sy * w + sx) as usize] as u32;
                        n += 1;
                    }
                }
            }
            out.push((sum / n.max(1)) as u8);
        }
    }
    out
}

#[test]
fn images_at_250_and_1000_dpi_are_brought_to_the_engine_resolution() {
    let Some(dir) = db1() else { return };
    let original = real(&dir, "101_1.tif", 500);
    let same_finger = extract(&real(&dir, "101_2.tif", 500)).unwrap();
    let other_finger = extract(&real(&dir, "102_1.tif", 500)).unwrap();
    let (w, h) = (original.width(), original.height());
    for (dpi, up, down) in [(1000, 2, 1), (250, 1, 2)] {
        let image = FingerprintImage::new(w * up / down, h * up / down, dpi, rescale(&original, up, down)).unwrap();
        let template = extract(&image).unwrap();
        // Coordinates are at 500 dpi whatever the input resolution.
        assert!(
            (template.width as i32 - w as i32).abs() <= 1,
            "{dpi} dpi: width {}",
            template.width
        );
        let genuine = compare(&template, &same_finger);
        let impostor = compare(&template, &other_finger);
        assert!(
            genuine > impostor,
            "{dpi} dpi: genuine {genuine} not above impostor {impostor}"
        );
    }
}
