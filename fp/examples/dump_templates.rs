//! Extracts every image of a dataset folder into shimon templates (`<stem>.shmt`) in an output
//! folder, so that comparison can be measured on its own (for example under valgrind, with
//! `shimon-matcher`'s `compare_all` example), without extracting again each time.
//!
//! `cargo run --release -p shimon-fp --example dump_templates -- <dataset folder> <output folder>`

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use shimon_fp::engines::{Engine, Shimon};
use shimon_fp::eval::IMAGE_EXTENSIONS;
use shimon_fp::load::{load_grey, read_dataset_info};

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [dataset, output] = args.as_slice() else {
        bail!("usage: dump_templates <dataset folder> <output folder>");
    };
    let dpi = read_dataset_info(dataset)?
        .context("the dataset folder has no dataset.toml")?
        .dpi;
    std::fs::create_dir_all(output)?;
    let mut images: Vec<PathBuf> = std::fs::read_dir(dataset)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| IMAGE_EXTENSIONS.iter().any(|e| x.eq_ignore_ascii_case(e)))
        })
        .collect();
    images.sort();
    images.par_iter().try_for_each(|path| -> Result<()> {
        let image = load_grey(path)?;
        let stem = path.file_stem().context("no file name")?.to_string_lossy();
        match Shimon.extract(&image, dpi) {
            Ok(template) => std::fs::write(output.join(format!("{stem}.shmt")), template.to_bytes())?,
            Err(reason) => eprintln!("{}: {reason}", path.display()),
        }
        Ok(())
    })?;
    Ok(())
}
