//! Scores every pair of the datasets from templates extracted once (`dump_templates`), and prints
//! each dataset's EER and FMR1000 (all cross-finger impostors) and their means. Comparison
//! changes can then be measured for accuracy on all databases in seconds, without extracting the
//! images again. An image without a template counts as `shimon-fp eval` counts a failure to
//! extract: its pairs score as non-matches. Last comes the threshold table of all datasets'
//! pairs pooled, the one in shimon-matcher's documentation.
//!
//! `cargo run --release -p shimon-fp --example score_templates -- <dataset> <templates> [<dataset> <templates> ...]`

use std::path::PathBuf;

use anyhow::{bail, Result};
use rayon::prelude::*;
use shimon_fp::eval::{make_pairs, scan_dataset, Sample};
use shimon_fp::metrics::{ScoreSets, THRESHOLD_TABLE_FMR_PERCENT};
use shimon_matcher::{compare, Template};

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.is_empty() || args.len() % 2 != 0 {
        bail!("usage: score_templates <dataset> <templates> [<dataset> <templates> ...]");
    }
    // WORST=N also lists each dataset's N lowest genuine and N highest impostor scores.
    let worst: Option<usize> = std::env::var("WORST").ok().and_then(|v| v.parse().ok());
    let (mut eer_sum, mut fmr1000_sum) = (0.0, 0.0);
    let (mut all_genuine, mut all_impostor) = (Vec::new(), Vec::new());
    for pair in args.chunks(2) {
        let (dataset, folder) = (&pair[0], &pair[1]);
        let samples = scan_dataset(dataset)?;
        let templates: Vec<Option<Template>> = samples
            .iter()
            .map(|s| {
                let stem = s.path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                std::fs::read(folder.join(format!("{stem}.shmt")))
                    .ok()
                    .and_then(|bytes| Template::from_bytes(&bytes).ok())
            })
            .collect();
        let fingers: Vec<&str> = samples.iter().map(|s| s.finger.as_str()).collect();
        let pairs = make_pairs(&fingers);
        let score = |list: &[(usize, usize)]| -> Vec<f64> {
            list.par_iter()
                .map(|&(i, j)| match (&templates[i], &templates[j]) {
                    (Some(a), Some(b)) => f64::from(compare(a, b)),
                    _ => f64::NEG_INFINITY,
                })
                .collect()
        };
        let (genuine, impostor) = (score(&pairs.genuine), score(&pairs.impostor_all));
        if let Some(n) = worst {
            show_worst(&samples, &pairs.genuine, &genuine, n, false);
            show_worst(&samples, &pairs.impostor_all, &impostor, n, true);
        }
        let rates = ScoreSets::new(&genuine, &impostor).error_rates();
        println!(
            "{:<14} EER {:5.2}%  FMR1000 {:5.2}%",
            dataset.file_name().unwrap_or_default().to_string_lossy(),
            rates.eer,
            rates.fmr1000
        );
        eer_sum += rates.eer;
        fmr1000_sum += rates.fmr1000;
        all_genuine.extend(genuine);
        all_impostor.extend(impostor);
    }
    let n = (args.len() / 2) as f64;
    println!(
        "{:<14} EER {:5.2}%  FMR1000 {:5.2}%",
        "mean",
        eer_sum / n,
        fmr1000_sum / n
    );
    println!(
        "pooled: {} genuine, {} impostor pairs; threshold  FMR  FNMR",
        all_genuine.len(),
        all_impostor.len()
    );
    for row in ScoreSets::new(&all_genuine, &all_impostor).threshold_table(&THRESHOLD_TABLE_FMR_PERCENT) {
        println!(
            "  FMR <= {:<5}%  {:7.2}  {:6.3}%  {:5.1}%",
            row.target_fmr, row.threshold, row.fmr, row.fnmr
        );
    }
    Ok(())
}

/// Prints the `n` lowest (or, for impostors, highest) scores with the images they compare.
fn show_worst(samples: &[Sample], list: &[(usize, usize)], scores: &[f64], n: usize, highest: bool) {
    let mut order: Vec<usize> = (0..list.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    if highest {
        order.reverse();
    }
    let name = |i: usize| format!("{}_{}", samples[i].finger, samples[i].impression);
    let kind = if highest { "impostor" } else { "genuine" };
    for &k in order.iter().take(n) {
        let (i, j) = list[k];
        println!("  {kind} {} {} {:.3}", name(i), name(j), scores[k]);
    }
}
