//! The two engines the tool runs, behind one small trait so that evaluation and benchmarks treat
//! them alike: shimon's own (`shimon-matcher`) and the NIST NBIS peer (MINDTCT for extraction,
//! BOZORTH3 for comparison, through the pure-Rust `fprint-mindtct` and `fprint-bozorth3`).

use fprint_bozorth3::DEFAULT_BOZORTH_MINUTIAE;
use shimon_matcher::{params::INTERNAL_DPI, FingerprintImage, Template};

use crate::load::GreyImage;

/// An engine: extraction of a template from an image at its native resolution, and comparison
/// of two templates into a score where higher means more alike.
pub trait Engine: Sync {
    /// What extraction produces.
    type Template: Send + Sync;
    /// Short name used in reports.
    fn name(&self) -> &'static str;
    /// Extracts a template; the error says why not.
    fn extract(&self, image: &GreyImage, dpi: u32) -> Result<Self::Template, String>;
    /// Scores a probe against a candidate.
    fn compare(&self, probe: &Self::Template, candidate: &Self::Template) -> f64;
}

/// The shimon engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shimon;

/// Wraps a grey image for the shimon engine.
pub fn fingerprint_image(image: &GreyImage, dpi: u32) -> Result<FingerprintImage, String> {
    FingerprintImage::new(image.width, image.height, dpi, image.pixels.clone()).map_err(|e| e.to_string())
}

impl Engine for Shimon {
    type Template = Template;

    fn name(&self) -> &'static str {
        "shimon"
    }

    fn extract(&self, image: &GreyImage, dpi: u32) -> Result<Template, String> {
        let image = fingerprint_image(image, dpi)?;
        shimon_matcher::extract(&image).map_err(|e| e.to_string())
    }

    fn compare(&self, probe: &Template, candidate: &Template) -> f64 {
        f64::from(shimon_matcher::compare(probe, candidate))
    }
}

/// The NIST NBIS peer: MINDTCT and BOZORTH3.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nbis;

/// Minutiae as NBIS keeps them: MINDTCT's output, best quality first, at most as many as BOZORTH3
/// reads, in BOZORTH3's form; plus the image size (pixels at the native resolution) for drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct NbisTemplate {
    /// The minutiae, NIST `xyt` convention: origin bottom-left, angle in degrees counter-clockwise.
    pub minutiae: Vec<fprint_bozorth3::Minutia>,
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
}

impl Engine for Nbis {
    type Template = NbisTemplate;

    fn name(&self) -> &'static str {
        "nbis"
    }

    fn extract(&self, image: &GreyImage, dpi: u32) -> Result<NbisTemplate, String> {
        let ppi = u16::try_from(dpi).map_err(|_| format!("{dpi} dpi is out of range for MINDTCT"))?;
        let grey = fprint_mindtct::GrayImage::new(&image.pixels, image.width as usize, image.height as usize, ppi)
            .map_err(|e| e.to_string())?;
        let mut found = fprint_mindtct::detect_minutiae(grey);
        // The stock BOZORTH3 loader keeps the best-quality minutiae when a print has more than it
        // reads; the crate keeps the first ones, so order them by quality first (stable, so
        // equal qualities keep MINDTCT's order).
        if found.len() > DEFAULT_BOZORTH_MINUTIAE {
            found.sort_by_key(|m| std::cmp::Reverse(m.quality));
            found.truncate(DEFAULT_BOZORTH_MINUTIAE);
        }
        let minutiae = found
            .iter()
            .map(|m| fprint_bozorth3::Minutia::from_xyt(m.x, m.y, m.theta))
            .collect();
        Ok(NbisTemplate {
            minutiae,
            width: image.width,
            height: image.height,
        })
    }

    fn compare(&self, probe: &NbisTemplate, candidate: &NbisTemplate) -> f64 {
        // fprint-bozorth3 0.1.0 indexes out of bounds on a few rare pairs (seen on synthetic
        // prints). One bad pair must not end a whole measurement: it scores as a non-match and
        // is reported.
        let score = std::panic::catch_unwind(|| fprint_bozorth3::match_score(&probe.minutiae, &candidate.minutiae));
        match score {
            Ok(score) => f64::from(score),
            Err(_) => {
                tracing::warn!(
                    "BOZORTH3 panicked comparing prints of {} and {} minutiae; scored as a non-match",
                    probe.minutiae.len(),
                    candidate.minutiae.len()
                );
                0.0
            }
        }
    }
}

/// A minutia of the NBIS peer brought into shimon's frame for drawing: pixels at
/// [`INTERNAL_DPI`] from the top-left corner, angle in radians from +x towards +y.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerMinutia {
    /// Column, pixels at the internal resolution.
    pub x: f32,
    /// Row, pixels at the internal resolution.
    pub y: f32,
    /// Direction, radians clockwise on screen from +x.
    pub angle: f32,
}

/// Converts NBIS minutiae of an image scanned at `dpi` to shimon's frame.
pub fn nbis_to_internal(t: &NbisTemplate, dpi: u32) -> Vec<PeerMinutia> {
    let scale = INTERNAL_DPI as f32 / dpi as f32;
    t.minutiae
        .iter()
        .map(|m| PeerMinutia {
            x: m.x as f32 * scale,
            // NIST rows count up from the bottom edge.
            y: (t.height as f32 - m.y as f32) * scale,
            // NIST angles turn counter-clockwise with y up; ours clockwise with y down.
            angle: ((360 - m.theta.rem_euclid(360)) % 360) as f32 * std::f32::consts::PI / 180.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dark stripes with gaps: ridge endings that MINDTCT finds.
    fn striped(width: u32, height: u32) -> GreyImage {
        let pixels = (0..width * height)
            .map(|i| {
                let (x, y) = (i % width, i / width);
                let on_ridge = (y % 8) < 4;
                let gap = (48..80).contains(&x) && (y / 8) % 2 == 0;
                if on_ridge && !gap {
                    32
                } else {
                    224
                }
            })
            .collect();
        GreyImage { width, height, pixels }
    }

    #[test]
    fn nbis_extracts_and_matches_itself() {
        let img = striped(160, 160);
        let t = Nbis.extract(&img, 500).unwrap();
        assert!(!t.minutiae.is_empty());
        assert!(t.minutiae.len() <= DEFAULT_BOZORTH_MINUTIAE);
        // Self-match is positive whenever there are enough minutiae to score.
        if t.minutiae.len() >= fprint_bozorth3::MIN_COMPUTABLE_BOZORTH_MINUTIAE {
            assert!(Nbis.compare(&t, &t) > 0.0);
        }
        let tiny = GreyImage {
            width: 8,
            height: 8,
            pixels: vec![0; 64],
        };
        assert!(Nbis.extract(&tiny, 500).is_err());
    }

    #[test]
    fn nbis_minutiae_convert_to_our_frame() {
        let t = NbisTemplate {
            minutiae: vec![fprint_bozorth3::Minutia::from_xyt(100, 50, 90)],
            width: 200,
            height: 300,
        };
        let m = nbis_to_internal(&t, 1000)[0];
        assert_eq!((m.x, m.y), (50.0, 125.0));
        // 90° counter-clockwise (up on screen) is 270° clockwise.
        assert!((m.angle - 1.5 * std::f32::consts::PI).abs() < 1e-5);
    }

    #[test]
    fn shimon_rejects_bad_images_with_a_reason() {
        let tiny = GreyImage {
            width: 8,
            height: 8,
            pixels: vec![0; 64],
        };
        let e = Shimon.extract(&tiny, 500).unwrap_err();
        assert!(e.contains("small"), "{e}");
    }

    /// Two synthetic prints (seed 1, fingers 69 and 81 of `shimon-reader simulate`) on which
    /// fprint-bozorth3 0.1.0 panics, as MINDTCT found them: (x, y, theta).
    const BOZORTH3_PANIC_PROBE: &[(i32, i32, i32)] = &[
        (45, 161, 191),
        (46, 136, 191),
        (47, 153, 191),
        (60, 203, 202),
        (62, 195, 202),
        (82, 208, 202),
        (99, 202, 202),
        (102, 110, 22),
        (102, 84, 22),
        (102, 43, 22),
        (117, 126, 22),
        (120, 206, 191),
        (125, 241, 202),
        (136, 144, 11),
        (136, 129, 22),
        (146, 215, 180),
        (149, 287, 191),
        (151, 100, 45),
        (154, 139, 22),
        (155, 124, 45),
        (156, 183, 0),
        (162, 238, 180),
        (164, 194, 169),
        (167, 119, 67),
        (172, 104, 67),
        (176, 296, 169),
        (177, 253, 169),
        (181, 134, 101),
        (194, 100, 79),
        (197, 74, 67),
        (200, 153, 135),
        (203, 13, 214),
        (205, 181, 146),
        (216, 18, 202),
        (219, 116, 112),
        (222, 61, 79),
        (225, 142, 124),
        (229, 41, 90),
        (235, 56, 101),
        (238, 81, 101),
        (241, 28, 337),
        (248, 216, 326),
        (253, 68, 124),
        (265, 211, 315),
        (266, 15, 326),
        (270, 26, 326),
        (282, 226, 315),
        (290, 56, 304),
        (294, 201, 304),
        (299, 90, 304),
        (306, 145, 304),
        (309, 168, 304),
    ];
    const BOZORTH3_PANIC_CANDIDATE: &[(i32, i32, i32)] = &[
        (45, 123, 214),
        (47, 218, 225),
        (49, 167, 214),
        (50, 156, 214),
        (55, 247, 225),
        (69, 239, 214),
        (74, 213, 214),
        (94, 202, 214),
        (116, 307, 22),
        (123, 178, 22),
        (138, 168, 34),
        (148, 140, 45),
        (153, 314, 169),
        (153, 170, 34),
        (158, 96, 56),
        (159, 118, 56),
        (166, 181, 22),
        (166, 146, 56),
        (167, 193, 349),
        (170, 168, 67),
        (170, 132, 67),
        (175, 176, 56),
        (179, 169, 90),
        (180, 144, 79),
        (183, 189, 157),
        (196, 154, 101),
        (203, 183, 135),
        (215, 148, 112),
        (218, 204, 146),
        (218, 125, 101),
        (226, 172, 124),
        (239, 139, 112),
        (243, 111, 101),
        (246, 50, 225),
        (249, 279, 337),
        (249, 167, 135),
        (249, 69, 225),
        (255, 142, 124),
        (260, 266, 337),
        (265, 101, 124),
        (266, 193, 146),
        (267, 255, 326),
        (272, 222, 326),
        (287, 222, 326),
        (287, 70, 11),
        (302, 175, 326),
        (304, 190, 146),
        (305, 166, 326),
        (306, 137, 326),
    ];

    #[test]
    fn a_bozorth3_panic_scores_as_a_non_match_instead_of_ending_the_run() {
        let template = |xyt: &[(i32, i32, i32)]| NbisTemplate {
            minutiae: xyt
                .iter()
                .map(|&(x, y, t)| fprint_bozorth3::Minutia::from_xyt(x, y, t))
                .collect(),
            width: 300,
            height: 400,
        };
        let (probe, candidate) = (template(BOZORTH3_PANIC_PROBE), template(BOZORTH3_PANIC_CANDIDATE));
        assert_eq!(Nbis.compare(&probe, &candidate), 0.0);
    }
}
