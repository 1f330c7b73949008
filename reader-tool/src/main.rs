//! shimon-reader: the command-line face of shimon-hal.
//!
//! - `list`: the readers present (USB readers first, then the simulated one);
//! - `capture`: one image from a reader (by id, the simulated finger of a seed, a recording of
//!   a real reader's USB traffic replayed through its driver, or the first reader found) into a
//!   PNG file;
//! - `simulate`: a synthetic dataset, `<finger>_<impression>.png` and a `dataset.toml`, laid out
//!   like the real databases in `../shared/datasets/fingerprints` so `shimon-fp eval` measures it.
//!
//! It is a crate of its own (`reader-tool/`) rather than a binary of shimon-hal so that the
//! library, which the station and the login agent link, does not pull in the argument parser and
//! the thread pool that only this tool needs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use rayon::prelude::*;
use shimon_hal::sim::{check_geometry, finger_seed, Condition, SensorGeometry, SyntheticFinger, DEFAULT_GEOMETRY};
use shimon_hal::{CancelHandle, Reader, SimulatedReader};

#[derive(Parser)]
#[command(
    name = "shimon-reader",
    version,
    about = "Fingerprint readers: list, capture, simulate"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the readers present (USB readers, then the simulated reader).
    List,
    /// Capture one image into a PNG file.
    Capture {
        /// Reader id from `list` (usb:BUS:ADDRESS, sim:SEED or replay:DIR).
        #[arg(long, conflicts_with_all = ["simulated", "replay"])]
        device: Option<String>,
        /// Use the simulated reader with the finger of this seed.
        #[arg(long, conflicts_with = "replay")]
        simulated: Option<u64>,
        /// Replay a recording of a USB reader (a folder with `device` and `capture.ioctl` or
        /// `capture.pcapng`) through the driver of the recorded device.
        #[arg(long, value_name = "DIR")]
        replay: Option<PathBuf>,
        /// Impression number to render (simulated reader only).
        #[arg(long, default_value_t = 1, requires = "simulated")]
        impression: u32,
        /// How long to wait for a finger, seconds.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
        /// The PNG file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a synthetic dataset: <finger>_<impression>.png and dataset.toml.
    Simulate {
        /// Number of fingers.
        #[arg(long)]
        fingers: u32,
        /// Impressions of each finger.
        #[arg(long)]
        impressions: u32,
        /// Seed of the set (fingers of different sets differ).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Resolution, dots per inch (the sensor keeps its size in millimetres).
        #[arg(long, default_value_t = 500)]
        dpi: u32,
        /// Number of the first finger (files are <finger>_<impression>.png).
        #[arg(long, default_value_t = 1)]
        first_finger: u32,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::List => list(),
        Command::Capture {
            device,
            simulated,
            replay,
            impression,
            timeout,
            out,
        } => {
            let source = match (device, simulated, replay) {
                (Some(id), _, _) => Source::Id(id),
                (None, Some(seed), _) => Source::Simulated(seed, impression),
                (None, None, Some(dir)) => Source::Replay(dir),
                (None, None, None) => Source::First,
            };
            capture(source, timeout, &out)
        }
        Command::Simulate {
            fingers,
            impressions,
            seed,
            dpi,
            first_finger,
            out,
        } => simulate(fingers, impressions, seed, dpi, first_finger, &out),
    }
}

fn list() -> Result<()> {
    let readers = shimon_hal::list_readers(true);
    println!(
        "{:<14} {:<10} {:<28} {:<20} {:>5} {:>9} kind",
        "id", "vendor", "model", "serial", "dpi", "size"
    );
    for r in readers {
        println!(
            "{:<14} {:<10} {:<28} {:<20} {:>5} {:>9} {}",
            r.id,
            r.vendor,
            r.model,
            r.serial,
            r.dpi,
            format!("{}x{}", r.width_px, r.height_px),
            r.kind
        );
    }
    Ok(())
}

/// Where `capture` takes its image from.
enum Source {
    /// A reader id (`usb:BUS:ADDRESS`, `sim:SEED`, `replay:DIR`).
    Id(String),
    /// The simulated finger of a seed, at an impression number.
    Simulated(u64, u32),
    /// A recording folder, replayed through its device's driver.
    Replay(PathBuf),
    /// The first reader found (USB first, then the simulated one).
    First,
}

fn capture(source: Source, timeout_s: f64, out: &Path) -> Result<()> {
    if !(timeout_s.is_finite() && timeout_s > 0.0) {
        bail!("--timeout must be a positive number of seconds, not {timeout_s}");
    }
    let mut reader: Box<dyn Reader> = match source {
        Source::Id(id) => shimon_hal::open(&id).with_context(|| format!("opening reader {id}"))?,
        Source::Simulated(seed, impression) => {
            let mut r = SimulatedReader::new(seed);
            r.set_next_impression(impression);
            Box::new(r)
        }
        Source::Replay(dir) => shimon_hal::replay::open_reader(&dir)
            .with_context(|| format!("opening the recording in {}", dir.display()))?,
        Source::First => shimon_hal::open_first(true).context("opening the first reader")?,
    };
    let info = reader.info().clone();
    eprintln!("reader {} ({} {}), touch the sensor", info.id, info.vendor, info.model);
    let image = reader
        .capture(
            // Longer than the clock can count: wait for ever.
            Duration::try_from_secs_f64(timeout_s).unwrap_or(Duration::MAX),
            &CancelHandle::new(),
        )
        .with_context(|| format!("capturing from {}", info.id))?;
    image.write_png(out)?;
    println!(
        "{}: {}x{} at {} dpi",
        out.display(),
        image.width,
        image.height,
        image.dpi
    );
    Ok(())
}

fn simulate(fingers: u32, impressions: u32, seed: u64, dpi: u32, first: u32, out: &Path) -> Result<()> {
    if fingers == 0 || impressions == 0 {
        bail!("--fingers and --impressions must be at least 1");
    }
    let scale = |px: u32| (f64::from(px) * f64::from(dpi) / f64::from(DEFAULT_GEOMETRY.dpi)).round() as u32;
    let geometry = SensorGeometry {
        width_px: scale(DEFAULT_GEOMETRY.width_px),
        height_px: scale(DEFAULT_GEOMETRY.height_px),
        dpi,
    };
    check_geometry(geometry)?;
    let last = first.checked_add(fingers - 1).context("finger numbers overflow")?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let started = Instant::now();
    // Per finger: the time to draw its master print, and the time of each impression.
    let timings: Vec<(Duration, Vec<Duration>)> = (first..=last)
        .into_par_iter()
        .map(|finger| -> Result<(Duration, Vec<Duration>)> {
            let t0 = Instant::now();
            let f = SyntheticFinger::new(finger_seed(seed, finger));
            let master = t0.elapsed();
            let mut times = Vec::new();
            for k in 1..=impressions {
                let t = Instant::now();
                let image = f.impression(k, geometry, Condition::Normal);
                times.push(t.elapsed());
                image.write_png(&out.join(format!("{finger}_{k}.png")))?;
            }
            Ok((master, times))
        })
        .collect::<Result<Vec<_>>>()?;
    let toml = format!(
        "# Synthetic fingerprints from the shimon simulated reader; no real finger.\n\
         name = \"shimon synthetic, seed {seed}\"\n\
         sensor = \"simulated optical reader (shimon-hal), {w}x{h}\"\n\
         dpi = {dpi}\n\
         fingers = {fingers}\n\
         impressions = {impressions}\n\
         source = \"shimon-reader simulate --fingers {fingers} --impressions {impressions} --seed {seed} --dpi {dpi} --first-finger {first}\"\n\
         note = \"synthetic: the finger seeds derive from the set seed and the finger number\"\n",
        w = geometry.width_px,
        h = geometry.height_px,
    );
    std::fs::write(out.join("dataset.toml"), toml).context("writing dataset.toml")?;
    let median_ms = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    let masters = median_ms(timings.iter().map(|t| t.0).collect());
    let each = median_ms(timings.iter().flat_map(|t| t.1.iter().copied()).collect());
    println!(
        "wrote {} images ({}x{} at {dpi} dpi) to {} in {:.1} s; median {masters:.0} ms to draw a finger, \
         {each:.0} ms to render an impression",
        u64::from(fingers) * u64::from(impressions),
        geometry.width_px,
        geometry.height_px,
        out.display(),
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}
