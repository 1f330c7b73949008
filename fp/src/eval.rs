//! Evaluation of an engine on a folder of fingerprint images, by the protocol of
//! `shared/datasets/fingerprints/README.md`.
//!
//! Files are named `<finger>_<impression>.<ext>`. Genuine pairs are every two impressions of one
//! finger; impostor pairs are every two images of different fingers ("all pairs") and, by the FVC
//! rule, the first impressions of different fingers. Pairs are unordered: image `i` is the probe
//! and `j > i` the candidate. An image that cannot be read or extracted is a failure to extract:
//! it is reported with its reason, and every pair it is in scores `-inf` (a non-match at every
//! threshold), so failures count against the engine rather than being skipped.
//!
//! Each extraction and each comparison is timed on its own, the same way for both engines, and the
//! medians are reported. With a peer, the comparisons are timed in [`TIMING_PASSES`] passes, the
//! engines taking turns, and each pair's time is its median over the passes. Work is spread over
//! threads with rayon; the per-item times are then times under that load, for both engines alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::engines::{Engine, Nbis, Shimon};
use crate::load::{self, GreyImage, LoadError};
use crate::metrics::{median, ErrorRates, ScoreSets, ThresholdRow, THRESHOLD_TABLE_FMR_PERCENT};

/// File extensions taken as images in a dataset folder (compared without regard to case).
pub const IMAGE_EXTENSIONS: [&str; 7] = ["tif", "tiff", "png", "bmp", "pgm", "pnm", "ppm"];

/// One image of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The finger, as written in the file name.
    pub finger: String,
    /// The impression, as written in the file name.
    pub impression: String,
    /// The file.
    pub path: PathBuf,
}

/// Why an evaluation could not run at all (one bad image never stops it).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The folder cannot be listed.
    #[error("cannot list {}: {error}", path.display())]
    ListDir {
        /// The folder.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// No `<finger>_<impression>` images in the folder.
    #[error("no images named <finger>_<impression>.<ext> in {}", path.display())]
    NoImages {
        /// The folder.
        path: PathBuf,
    },
    /// Two files claim the same finger and impression.
    #[error("{} and {} are both finger {finger} impression {impression}", first.display(), second.display())]
    Duplicate {
        /// The finger.
        finger: String,
        /// The impression.
        impression: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// The resolution is unknown or `dataset.toml` is broken.
    #[error(transparent)]
    Dpi(#[from] LoadError),
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {reason}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// Why not.
        reason: String,
    },
}

/// Splits `101_3.tif` into finger `101` and impression `3`; `None` for other names.
pub fn parse_name(file_name: &str) -> Option<(String, String)> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    if !IMAGE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)) {
        return None;
    }
    let (finger, impression) = stem.rsplit_once('_')?;
    if finger.is_empty() || impression.is_empty() {
        return None;
    }
    Some((finger.to_owned(), impression.to_owned()))
}

/// Sorts numbers numerically and before other names.
fn natural_key(s: &str) -> (u64, &str) {
    (s.parse::<u64>().unwrap_or(u64::MAX), s)
}

/// Lists a dataset folder's images, sorted by finger then impression.
pub fn scan_dataset(dir: &Path) -> Result<Vec<Sample>, EvalError> {
    let entries = std::fs::read_dir(dir).map_err(|error| EvalError::ListDir {
        path: dir.to_owned(),
        error,
    })?;
    let mut samples = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| EvalError::ListDir {
            path: dir.to_owned(),
            error,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            tracing::warn!("skipping {}: name is not UTF-8", entry.path().display());
            continue;
        };
        match parse_name(name) {
            Some((finger, impression)) => samples.push(Sample {
                finger,
                impression,
                path: entry.path(),
            }),
            None => {
                let is_image = name
                    .rsplit_once('.')
                    .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)));
                if is_image {
                    tracing::warn!("skipping {name}: not named <finger>_<impression>.<ext>");
                }
            }
        }
    }
    if samples.is_empty() {
        return Err(EvalError::NoImages { path: dir.to_owned() });
    }
    samples.sort_by(|a, b| {
        (natural_key(&a.finger), natural_key(&a.impression)).cmp(&(natural_key(&b.finger), natural_key(&b.impression)))
    });
    for w in samples.windows(2) {
        if w[0].finger == w[1].finger && w[0].impression == w[1].impression {
            return Err(EvalError::Duplicate {
                finger: w[0].finger.clone(),
                impression: w[0].impression.clone(),
                first: w[0].path.clone(),
                second: w[1].path.clone(),
            });
        }
    }
    Ok(samples)
}

/// The pairs of the protocol, as `(probe, candidate)` indices with `probe < candidate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairs {
    /// Two impressions of one finger.
    pub genuine: Vec<(usize, usize)>,
    /// Two images of different fingers.
    pub impostor_all: Vec<(usize, usize)>,
    /// First impressions of different fingers (a subset of `impostor_all`).
    pub impostor_fvc: Vec<(usize, usize)>,
}

/// Builds the pairs for images whose fingers are `fingers[i]`, given in sorted order (the first
/// image of each finger is its first impression).
pub fn make_pairs<F: PartialEq>(fingers: &[F]) -> Pairs {
    let mut pairs = Pairs {
        genuine: Vec::new(),
        impostor_all: Vec::new(),
        impostor_fvc: Vec::new(),
    };
    let first_of_finger: Vec<bool> = (0..fingers.len())
        .map(|i| !fingers[..i].contains(&fingers[i]))
        .collect();
    for i in 0..fingers.len() {
        for j in i + 1..fingers.len() {
            if fingers[i] == fingers[j] {
                pairs.genuine.push((i, j));
            } else {
                pairs.impostor_all.push((i, j));
                if first_of_finger[i] && first_of_finger[j] {
                    pairs.impostor_fvc.push((i, j));
                }
            }
        }
    }
    pairs
}

/// An image that yielded no template, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The file.
    pub file: String,
    /// Why.
    pub reason: String,
}

/// What one engine did on one dataset. Rates are percent; times are medians.
#[derive(Debug, Clone, Serialize)]
pub struct EngineReport {
    /// Which engine.
    pub engine: String,
    /// The dataset folder.
    pub dataset: String,
    /// The resolution used, dpi.
    pub dpi: u32,
    /// Images in the folder.
    pub images: usize,
    /// Genuine pairs.
    pub genuine: usize,
    /// Impostor pairs, all cross-finger.
    pub impostor_all: usize,
    /// Impostor pairs, FVC rule.
    pub impostor_fvc: usize,
    /// Images that could not be read or extracted.
    pub failures_to_extract: usize,
    /// Error rates against all cross-finger impostors.
    pub all_pairs: ErrorRates,
    /// Error rates against the FVC rule's impostors.
    pub fvc_rule: ErrorRates,
    /// Median extraction time of the images extracted, milliseconds.
    pub extract_ms_median: f64,
    /// Median comparison time of the pairs compared, microseconds (with a peer, of each pair's
    /// median over [`TIMING_PASSES`] passes).
    pub compare_us_median: f64,
    /// Lowest thresholds reaching each FMR target over all cross-finger impostors.
    pub thresholds: Vec<ThresholdRow>,
    /// Each failure to extract, with its reason.
    pub failures: Vec<Failure>,
    /// Every genuine score, in the order of [`Pairs::genuine`] (not written to JSON).
    #[serde(skip)]
    pub genuine_scores: Vec<f64>,
    /// Every cross-finger impostor score, in the order of [`Pairs::impostor_all`] (not in JSON).
    #[serde(skip)]
    pub impostor_scores: Vec<f64>,
}

/// How much slower NBIS is than shimon: NBIS's median time over ours.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SpeedRatios {
    /// Extraction, NBIS / shimon.
    pub extract: f64,
    /// Comparison, NBIS / shimon.
    pub compare: f64,
}

/// The result of `shimon-fp eval`: shimon's figures at the top level, NBIS's in `peer`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// shimon's figures.
    #[serde(flatten)]
    pub ours: EngineReport,
    /// NBIS's figures, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<EngineReport>,
    /// NBIS time over shimon time, when NBIS ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_ratios: Option<SpeedRatios>,
    /// The image files, in the order the pairs index them (not written to JSON).
    #[serde(skip)]
    pub files: Vec<String>,
    /// The pairs scored (not written to JSON).
    #[serde(skip)]
    pub pairs: Pairs,
}

impl EvalReport {
    /// Every score as CSV (`engine,kind,probe,candidate,score`; kind is `genuine` or `impostor`,
    /// an unscored pair has score `-inf`), for calibrating thresholds or plotting.
    pub fn scores_csv(&self) -> String {
        let mut out = String::from("engine,kind,probe,candidate,score\n");
        for engine in std::iter::once(&self.ours).chain(self.peer.as_ref()) {
            let lists = [
                ("genuine", &self.pairs.genuine, &engine.genuine_scores),
                ("impostor", &self.pairs.impostor_all, &engine.impostor_scores),
            ];
            for (kind, pairs, scores) in lists {
                for (&(i, j), score) in pairs.iter().zip(scores.iter()) {
                    let name = |k: usize| self.files.get(k).map(String::as_str).unwrap_or("?");
                    out.push_str(&format!("{},{kind},{},{},{score}\n", engine.engine, name(i), name(j)));
                }
            }
        }
        out
    }
}

/// A peer engine to run beside shimon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// NIST NBIS (MINDTCT + BOZORTH3).
    Nbis,
}

/// How to evaluate.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Resolution of the images; `None` reads the folder's `dataset.toml`.
    pub dpi: Option<u32>,
    /// A peer to run beside shimon.
    pub peer: Option<Peer>,
    /// Worker threads; `None` for rayon's default (one per core).
    pub threads: Option<usize>,
}

/// Evaluates shimon (and the peer, if asked) on the images in `dir`.
pub fn evaluate(dir: &Path, options: &EvalOptions) -> Result<EvalReport, EvalError> {
    let (dpi, _) = load::resolve_dpi(options.dpi, dir, None)?;
    let samples = scan_dataset(dir)?;
    let run = || {
        let images: Vec<Result<GreyImage, String>> = samples
            .par_iter()
            .map(|s| load::load_grey(&s.path).map_err(|e| e.to_string()))
            .collect();
        let fingers: Vec<&str> = samples.iter().map(|s| s.finger.as_str()).collect();
        let pairs = make_pairs(&fingers);
        let (ours, peer) = match options.peer {
            None => (run_engine(&Shimon, dir, dpi, &samples, &images, &pairs), None),
            Some(Peer::Nbis) => {
                let mut ours = Run::new(&Shimon, dpi, &images, &pairs);
                let mut peer = Run::new(&Nbis, dpi, &images, &pairs);
                for _ in 1..TIMING_PASSES {
                    ours.time_again(&pairs);
                    peer.time_again(&pairs);
                }
                (
                    ours.report(dir, dpi, &samples, &pairs),
                    Some(peer.report(dir, dpi, &samples, &pairs)),
                )
            }
        };
        let speed_ratios = peer.as_ref().map(|p| SpeedRatios {
            extract: p.extract_ms_median / ours.extract_ms_median,
            compare: p.compare_us_median / ours.compare_us_median,
        });
        let files = samples
            .iter()
            .map(|s| {
                s.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        EvalReport {
            ours,
            peer,
            speed_ratios,
            files,
            pairs,
        }
    };
    match options.threads {
        None => Ok(run()),
        Some(threads) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| EvalError::Threads {
                    threads,
                    reason: e.to_string(),
                })?;
            Ok(pool.install(run))
        }
    }
}

/// A template (or why not) and how long extraction took, milliseconds (for successes only).
type Extracted<T> = (Result<T, String>, Option<f64>);

/// A score, and how long the comparison took, microseconds (`None` where a template is missing).
type Scored = (f64, Option<f64>);

/// Times the comparisons of one engine are measured in when a peer runs beside it: the two
/// engines take turns, a whole pass over every pair each, and each pair's time is the median of
/// its passes. A burst of load on a shared machine then slows one pass, not the reported figure,
/// and whichever engine it falls on; a whole pass at a time keeps each engine's caches and branch
/// history its own, as they are when one engine compares many pairs (alternating pair by pair
/// slowed shimon's comparisons by about 10% and BOZORTH3's hardly at all).
pub const TIMING_PASSES: usize = 3;

/// Extracts every loaded image (or passes on its load error), timing each extraction.
fn extract_all<E: Engine>(engine: &E, dpi: u32, images: &[Result<GreyImage, String>]) -> Vec<Extracted<E::Template>> {
    images
        .par_iter()
        .map(|image| match image {
            Err(reason) => (Err(reason.clone()), None),
            Ok(image) => {
                let start = Instant::now();
                let result = engine.extract(image, dpi);
                let ms = start.elapsed().as_secs_f64() * 1e3;
                let ok = result.is_ok();
                (result, ok.then_some(ms))
            }
        })
        .collect()
}

/// Scores the pairs of `list` (indices into `templates`), timing each comparison.
fn score_pairs<E: Engine>(engine: &E, templates: &[Option<&E::Template>], list: &[(usize, usize)]) -> Vec<Scored> {
    list.par_iter()
        .map(|&(i, j)| match (templates[i], templates[j]) {
            (Some(a), Some(b)) => {
                let start = Instant::now();
                let score = engine.compare(a, b);
                let us = start.elapsed().as_secs_f64() * 1e6;
                (score, Some(us))
            }
            _ => (f64::NEG_INFINITY, None),
        })
        .collect()
}

/// One engine's templates, the scores of the genuine and the impostor pairs, and each pair's
/// comparison times, one per pass (genuine pairs first).
struct Run<'a, E: Engine> {
    engine: &'a E,
    extracted: Vec<Extracted<E::Template>>,
    genuine: Vec<Scored>,
    impostor: Vec<Scored>,
    times: Vec<Vec<Option<f64>>>,
}

impl<'a, E: Engine> Run<'a, E> {
    /// Extracts and scores, timing one pass.
    fn new(engine: &'a E, dpi: u32, images: &[Result<GreyImage, String>], pairs: &Pairs) -> Self {
        let extracted = extract_all(engine, dpi, images);
        let mut run = Self {
            engine,
            extracted,
            genuine: Vec::new(),
            impostor: Vec::new(),
            times: Vec::new(),
        };
        run.genuine = score_pairs(engine, &run.templates(), &pairs.genuine);
        run.impostor = score_pairs(engine, &run.templates(), &pairs.impostor_all);
        let times = run.genuine.iter().chain(&run.impostor).map(|(_, us)| *us).collect();
        run.times.push(times);
        run
    }

    fn templates(&self) -> Vec<Option<&E::Template>> {
        self.extracted.iter().map(|(r, _)| r.as_ref().ok()).collect()
    }

    /// Times every pair once more (the scores are the same each time and are not kept).
    fn time_again(&mut self, pairs: &Pairs) {
        let templates = self.templates();
        let times = score_pairs(self.engine, &templates, &pairs.genuine)
            .into_iter()
            .chain(score_pairs(self.engine, &templates, &pairs.impostor_all))
            .map(|(_, us)| us)
            .collect();
        self.times.push(times);
    }

    /// Each compared pair's median time over the passes, microseconds.
    fn pair_times(&self) -> Vec<f64> {
        (0..self.times[0].len())
            .filter_map(|k| {
                let passes: Vec<f64> = self.times.iter().filter_map(|pass| pass[k]).collect();
                (!passes.is_empty()).then(|| median(&passes))
            })
            .collect()
    }

    /// The report of this run.
    fn report(self, dir: &Path, dpi: u32, samples: &[Sample], pairs: &Pairs) -> EngineReport {
        let compare_us = self.pair_times();
        engine_report(
            self.engine,
            dir,
            dpi,
            samples,
            pairs,
            &self.extracted,
            self.genuine,
            self.impostor,
            &compare_us,
        )
    }
}

/// Runs one engine over loaded images (or their load errors) and scores the pairs, timing each
/// comparison once.
pub fn run_engine<E: Engine>(
    engine: &E,
    dir: &Path,
    dpi: u32,
    samples: &[Sample],
    images: &[Result<GreyImage, String>],
    pairs: &Pairs,
) -> EngineReport {
    Run::new(engine, dpi, images, pairs).report(dir, dpi, samples, pairs)
}

/// The figures of one engine from its extractions, scores and per-pair comparison times.
#[allow(clippy::too_many_arguments)]
fn engine_report<E: Engine>(
    engine: &E,
    dir: &Path,
    dpi: u32,
    samples: &[Sample],
    pairs: &Pairs,
    extracted: &[Extracted<E::Template>],
    genuine: Vec<Scored>,
    impostor: Vec<Scored>,
    compare_us: &[f64],
) -> EngineReport {
    let failures: Vec<Failure> = extracted
        .iter()
        .zip(samples)
        .filter_map(|((result, _), sample)| {
            result.as_ref().err().map(|reason| Failure {
                file: sample.path.display().to_string(),
                reason: reason.clone(),
            })
        })
        .collect();
    for f in &failures {
        tracing::warn!("{}: failed to extract {}: {}", engine.name(), f.file, f.reason);
    }
    let extract_ms: Vec<f64> = extracted.iter().filter_map(|(_, ms)| *ms).collect();
    let genuine_scores: Vec<f64> = genuine.iter().map(|(s, _)| *s).collect();
    let impostor_scores: Vec<f64> = impostor.iter().map(|(s, _)| *s).collect();
    let by_pair: HashMap<(usize, usize), f64> = pairs
        .impostor_all
        .iter()
        .copied()
        .zip(impostor_scores.iter().copied())
        .collect();
    let fvc_scores: Vec<f64> = pairs
        .impostor_fvc
        .iter()
        .map(|p| by_pair.get(p).copied().unwrap_or(f64::NEG_INFINITY))
        .collect();

    let all = ScoreSets::new(&genuine_scores, &impostor_scores);
    let fvc = ScoreSets::new(&genuine_scores, &fvc_scores);
    EngineReport {
        engine: engine.name().to_owned(),
        dataset: dir.display().to_string(),
        dpi,
        images: samples.len(),
        genuine: pairs.genuine.len(),
        impostor_all: pairs.impostor_all.len(),
        impostor_fvc: pairs.impostor_fvc.len(),
        failures_to_extract: failures.len(),
        all_pairs: all.error_rates(),
        fvc_rule: fvc.error_rates(),
        extract_ms_median: median(&extract_ms),
        compare_us_median: median(compare_us),
        thresholds: all.threshold_table(&THRESHOLD_TABLE_FMR_PERCENT),
        failures,
        genuine_scores,
        impostor_scores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_takes_its_median_time_over_the_passes_and_an_uncompared_pair_none() {
        let run = Run {
            engine: &Shimon,
            extracted: Vec::new(),
            genuine: Vec::new(),
            impostor: Vec::new(),
            // Three passes over three pairs; the second pair was never compared (a failure to
            // extract), and the third met a burst of load in its last pass.
            times: vec![
                vec![Some(5.0), None, Some(1.0)],
                vec![Some(7.0), None, Some(3.0)],
                vec![Some(6.0), None, Some(100.0)],
            ],
        };
        assert_eq!(run.pair_times(), vec![6.0, 3.0]);
    }

    #[test]
    fn names_parse_into_finger_and_impression() {
        assert_eq!(parse_name("101_3.tif"), Some(("101".into(), "3".into())));
        assert_eq!(
            parse_name("left_index_12.PNG"),
            Some(("left_index".into(), "12".into()))
        );
        assert_eq!(parse_name("dataset.toml"), None);
        assert_eq!(parse_name("101.tif"), None);
        assert_eq!(parse_name("_3.tif"), None);
    }

    #[test]
    fn ten_fingers_of_eight_give_the_protocol_counts() {
        let fingers: Vec<u32> = (0..10).flat_map(|f| std::iter::repeat_n(f, 8)).collect();
        let p = make_pairs(&fingers);
        assert_eq!(p.genuine.len(), 280);
        assert_eq!(p.impostor_all.len(), 2880);
        assert_eq!(p.impostor_fvc.len(), 45);
        assert!(p.impostor_fvc.iter().all(|&(i, j)| i % 8 == 0 && j % 8 == 0 && i < j));
        assert!(p.genuine.iter().chain(&p.impostor_all).all(|&(i, j)| i < j));
    }

    #[test]
    fn scanning_sorts_numerically_and_evaluation_survives_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        // Two fingers of three impressions, one file unreadable.
        for f in [2, 10] {
            for i in 1..=3 {
                let path = dir.path().join(format!("{f}_{i}.png"));
                if (f, i) == (10, 2) {
                    std::fs::write(&path, b"broken").unwrap();
                } else {
                    image::GrayImage::from_pixel(120, 120, image::Luma([200]))
                        .save(&path)
                        .unwrap();
                }
            }
        }
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let samples = scan_dataset(dir.path()).unwrap();
        let names: Vec<String> = samples
            .iter()
            .map(|s| format!("{}_{}", s.finger, s.impression))
            .collect();
        assert_eq!(names, ["2_1", "2_2", "2_3", "10_1", "10_2", "10_3"]);

        // No dataset.toml and no flag: the resolution is unknown.
        let e = evaluate(dir.path(), &EvalOptions::default()).unwrap_err().to_string();
        assert!(e.contains("resolution"), "{e}");

        std::fs::write(dir.path().join("dataset.toml"), "dpi = 500\n").unwrap();
        let options = EvalOptions {
            peer: Some(Peer::Nbis),
            threads: Some(1),
            ..EvalOptions::default()
        };
        let report = evaluate(dir.path(), &options).unwrap();
        let peer = report.peer.as_ref().unwrap();
        assert_eq!(
            (peer.images, peer.genuine, peer.impostor_all, peer.impostor_fvc),
            (6, 6, 9, 1)
        );
        assert_eq!(peer.failures_to_extract, 1);
        assert!(peer.failures[0].file.ends_with("10_2.png"), "{:?}", peer.failures);
        assert!(peer.failures[0].reason.contains("10_2.png"), "{:?}", peer.failures);
        // Pairs with the broken image score as non-matches.
        assert_eq!(
            peer.genuine_scores.iter().filter(|s| **s == f64::NEG_INFINITY).count(),
            2
        );
        let csv = report.scores_csv();
        assert_eq!(csv.lines().count(), 1 + 2 * (6 + 9));
        assert!(csv.contains("nbis,genuine,2_1.png,2_2.png,"), "{csv}");
        assert!(csv.contains("nbis,genuine,10_1.png,10_2.png,-inf"), "{csv}");
        let json = serde_json::to_value(&report).unwrap();
        for key in [
            "dataset",
            "images",
            "genuine",
            "impostor_all",
            "impostor_fvc",
            "failures_to_extract",
            "all_pairs",
            "fvc_rule",
            "extract_ms_median",
            "compare_us_median",
            "peer",
        ] {
            assert!(json.get(key).is_some(), "JSON lacks {key}: {json}");
        }
        for key in ["eer", "fmr100", "fmr1000", "zero_fmr"] {
            assert!(json["all_pairs"].get(key).is_some() && json["peer"]["fvc_rule"].get(key).is_some());
        }
    }
}
