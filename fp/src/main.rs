//! shimon-fp: the command-line face of the fingerprint engine: `extract`, `compare`, `show` and
//! `eval`. The work is done in the `shimon_fp` library; this file parses arguments and reports.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use shimon_fp::engines::{fingerprint_image, nbis_to_internal, Engine, Nbis};
use shimon_fp::eval::{self, EvalOptions, Peer};
use shimon_fp::input::{load_input, Input};
use shimon_fp::load::{self, DpiSource, GreyImage, DEFAULT_DPI};
use shimon_fp::{report, show};
use shimon_matcher::Template;

#[derive(Parser)]
#[command(
    name = "shimon-fp",
    version,
    about = "Extract, compare, show and evaluate fingerprints with the shimon engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Extract a template from an image.
    Extract {
        /// The image (PNG, TIFF, BMP or PGM).
        image: PathBuf,
        /// Scan resolution; default: `dpi` in the image folder's dataset.toml, else 500 with a warning.
        #[arg(long)]
        dpi: Option<u32>,
        /// Where to write the template.
        #[arg(short, long)]
        output: PathBuf,
        /// Write an ISO/IEC 19794-2 record instead of a shimon template.
        #[arg(long)]
        iso: bool,
    },
    /// Compare two fingerprints and print the score (each an image, a shimon template or an ISO record).
    Compare {
        /// The probe.
        a: PathBuf,
        /// The candidate.
        b: PathBuf,
        /// Scan resolution of image arguments; default as for `extract`.
        #[arg(long)]
        dpi: Option<u32>,
    },
    /// Draw an image with its foreground mask and minutiae (endings red, bifurcations blue).
    Show {
        /// The image.
        image: PathBuf,
        /// Scan resolution; default as for `extract`.
        #[arg(long)]
        dpi: Option<u32>,
        /// The PNG to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Output pixels per pixel at 500 dpi.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=8))]
        scale: u32,
        /// Also draw the ridge skeleton (green).
        #[arg(long)]
        skeleton: bool,
        /// Also draw the minutiae NBIS (MINDTCT) finds (orange squares).
        #[arg(long)]
        nbis: bool,
    },
    /// Measure accuracy and speed on a folder of <finger>_<impression>.<ext> images.
    Eval {
        /// The folder.
        #[arg(long)]
        dataset: PathBuf,
        /// Scan resolution; default: `dpi` in the folder's dataset.toml (required then).
        #[arg(long)]
        dpi: Option<u32>,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write every pair's score as CSV (engine,kind,probe,candidate,score) to this file.
        #[arg(long)]
        scores: Option<PathBuf>,
        /// Run a peer engine beside shimon on the same images.
        #[arg(long, value_enum)]
        peer: Option<PeerArg>,
        /// Worker threads (default: one per core); 1 gives the least disturbed timings.
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PeerArg {
    /// NIST NBIS: MINDTCT + BOZORTH3.
    Nbis,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain on one line, without a backtrace: these are input errors, not bugs.
            eprintln!("shimon-fp: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    match Cli::parse().command {
        Command::Extract {
            image,
            dpi,
            output,
            iso,
        } => extract(&image, dpi, &output, iso),
        Command::Compare { a, b, dpi } => compare(&a, &b, dpi),
        Command::Show {
            image,
            dpi,
            output,
            scale,
            skeleton,
            nbis,
        } => show_image(&image, dpi, &output, show::ShowOptions { scale, skeleton }, nbis),
        Command::Eval {
            dataset,
            dpi,
            json,
            scores,
            peer,
            threads,
        } => {
            let options = EvalOptions {
                dpi,
                peer: peer.map(|PeerArg::Nbis| Peer::Nbis),
                threads,
            };
            evaluate(&dataset, &options, json.as_deref(), scores.as_deref())
        }
    }
}

/// Resolution for a single image: flag, else dataset.toml beside it, else 500 dpi with a warning.
fn image_dpi(path: &Path, flag: Option<u32>) -> Result<u32> {
    let (dpi, source) = load::resolve_dpi(flag, load::folder_of(path), Some(DEFAULT_DPI))?;
    if source == DpiSource::Default {
        tracing::warn!(
            "{}: resolution unknown (no --dpi, no dataset.toml beside it): assuming {DEFAULT_DPI} dpi",
            path.display()
        );
    }
    Ok(dpi)
}

fn load_image(path: &Path, flag: Option<u32>) -> Result<(GreyImage, u32)> {
    let image = load::load_grey(path)?;
    Ok((image, image_dpi(path, flag)?))
}

fn extract_template(image: &GreyImage, dpi: u32, path: &Path) -> Result<Template> {
    let image = fingerprint_image(image, dpi).map_err(|e| anyhow::anyhow!("{} cannot be used: {e}", path.display()))?;
    shimon_matcher::extract(&image).with_context(|| format!("cannot extract a template from {}", path.display()))
}

fn extract(path: &Path, dpi: Option<u32>, output: &Path, iso: bool) -> Result<()> {
    let (image, dpi) = load_image(path, dpi)?;
    let template = extract_template(&image, dpi, path)?;
    let bytes = if iso {
        shimon_matcher::iso::to_iso(&template)
    } else {
        template.to_bytes()
    };
    std::fs::write(output, bytes).with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!(
        "{}: {} minutiae, quality {}, written to {}{}",
        path.display(),
        template.minutiae.len(),
        template.quality,
        output.display(),
        if iso { " (ISO/IEC 19794-2)" } else { "" }
    );
    Ok(())
}

fn template_of(path: &Path, dpi: Option<u32>) -> Result<Template> {
    match load_input(path)? {
        Input::Template(t) => Ok(t),
        Input::Image(image) => {
            let dpi = image_dpi(path, dpi)?;
            extract_template(&image, dpi, path)
        }
    }
}

fn compare(a: &Path, b: &Path, dpi: Option<u32>) -> Result<()> {
    let ta = template_of(a, dpi)?;
    let tb = template_of(b, dpi)?;
    println!("{}", shimon_matcher::compare(&ta, &tb));
    Ok(())
}

fn show_image(path: &Path, dpi: Option<u32>, output: &Path, options: show::ShowOptions, nbis: bool) -> Result<()> {
    let (image, dpi) = load_image(path, dpi)?;
    let extraction = fingerprint_image(&image, dpi)
        .and_then(|img| shimon_matcher::extract_with_details(&img).map_err(|e| e.to_string()));
    let extraction = match extraction {
        Ok(e) => Some(e),
        Err(reason) if nbis => {
            tracing::warn!(
                "{}: shimon extracted nothing ({reason}); drawing NBIS minutiae only",
                path.display()
            );
            None
        }
        Err(reason) => bail!("cannot extract a template from {}: {reason}", path.display()),
    };
    let peer = if nbis {
        let t = Nbis
            .extract(&image, dpi)
            .map_err(anyhow::Error::msg)
            .context("NBIS (MINDTCT) failed")?;
        nbis_to_internal(&t, dpi)
    } else {
        Vec::new()
    };
    let canvas = show::render(&image, dpi, extraction.as_ref(), &peer, options);
    canvas
        .save_with_format(output, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", output.display()))?;
    if let Some(e) = &extraction {
        eprintln!(
            "{}: {} minutiae drawn to {}",
            path.display(),
            e.template.minutiae.len(),
            output.display()
        );
    }
    if nbis {
        eprintln!(
            "{}: {} NBIS minutiae drawn to {}",
            path.display(),
            peer.len(),
            output.display()
        );
    }
    Ok(())
}

fn evaluate(dataset: &Path, options: &EvalOptions, json: Option<&Path>, scores: Option<&Path>) -> Result<()> {
    let report = eval::evaluate(dataset, options)?;
    print!("{}", report::render(&report));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = scores {
        std::fs::write(path, report.scores_csv()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
