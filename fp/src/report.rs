//! Text rendering of an evaluation: shimon and the peer side by side, the speed ratios, the
//! threshold table that calibrates shimon's scores, and the failures to extract.

use std::fmt::Write as _;

use crate::eval::{EngineReport, EvalReport};
use crate::metrics::ErrorRates;

/// Failures listed by name per engine before the rest are only counted.
pub const MAX_FAILURES_LISTED: usize = 10;

fn percent(v: f64) -> String {
    if v.is_nan() {
        "-".to_owned()
    } else {
        format!("{v:.2}%")
    }
}

fn number(v: f64, decimals: usize) -> String {
    if v.is_nan() {
        "-".to_owned()
    } else {
        format!("{v:.decimals$}")
    }
}

fn threshold(v: f64) -> String {
    if v == f64::INFINITY {
        "reject all".to_owned()
    } else if v == f64::NEG_INFINITY {
        "accept all".to_owned()
    } else {
        format!("{v:.3}")
    }
}

/// Picks one rate out of the four.
type RateOf = fn(&ErrorRates) -> f64;

/// Renders an evaluation as a plain-text table.
pub fn render(report: &EvalReport) -> String {
    let ours = &report.ours;
    let engines: Vec<&EngineReport> = std::iter::once(ours).chain(report.peer.as_ref()).collect();
    let mut out = String::new();
    let _ = writeln!(out, "dataset {} at {} dpi", ours.dataset, ours.dpi);
    let _ = writeln!(
        out,
        "{} images; {} genuine pairs; impostor pairs: {} all cross-finger, {} by the FVC rule",
        ours.images, ours.genuine, ours.impostor_all, ours.impostor_fvc
    );
    let _ = writeln!(out);

    let row = |out: &mut String, label: &str, cells: Vec<String>, extra: String| {
        let _ = write!(out, "{label:<30}");
        for c in cells {
            let _ = write!(out, "{c:>12}");
        }
        let _ = writeln!(out, "{extra}");
    };
    let ratio_header = if report.speed_ratios.is_some() {
        "   nbis/shimon".to_owned()
    } else {
        String::new()
    };
    row(
        &mut out,
        "",
        engines.iter().map(|e| e.engine.clone()).collect(),
        ratio_header,
    );
    row(
        &mut out,
        "failures to extract",
        engines.iter().map(|e| e.failures_to_extract.to_string()).collect(),
        String::new(),
    );
    let rates = |out: &mut String, title: &str, pick: &dyn Fn(&EngineReport) -> ErrorRates| {
        let _ = writeln!(out, "{title}");
        let fields: [(&str, RateOf); 4] = [
            ("  EER", |r| r.eer),
            ("  FMR100  (FNMR at FMR<=1%)", |r| r.fmr100),
            ("  FMR1000 (FNMR at FMR<=0.1%)", |r| r.fmr1000),
            ("  ZeroFMR (FNMR at FMR=0)", |r| r.zero_fmr),
        ];
        for (label, get) in fields {
            row(
                out,
                label,
                engines.iter().map(|e| percent(get(&pick(e)))).collect(),
                String::new(),
            );
        }
    };
    rates(&mut out, "all cross-finger impostors", &|e| e.all_pairs);
    rates(&mut out, "FVC-rule impostors", &|e| e.fvc_rule);
    let ratio = |v: Option<f64>| v.map(|r| format!("{:>14}", number(r, 2) + "x")).unwrap_or_default();
    row(
        &mut out,
        "median extraction (ms)",
        engines.iter().map(|e| number(e.extract_ms_median, 2)).collect(),
        ratio(report.speed_ratios.map(|r| r.extract)),
    );
    row(
        &mut out,
        "median comparison (us)",
        engines.iter().map(|e| number(e.compare_us_median, 1)).collect(),
        ratio(report.speed_ratios.map(|r| r.compare)),
    );

    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} score thresholds over all cross-finger impostors (a pair matches when score >= threshold):",
        ours.engine
    );
    let _ = writeln!(
        out,
        "  {:<12}{:>14}{:>10}{:>10}",
        "target FMR", "threshold", "FMR", "FNMR"
    );
    for t in &ours.thresholds {
        let _ = writeln!(
            out,
            "  {:<12}{:>14}{:>10}{:>10}",
            if t.target_fmr == 0.0 {
                "= 0%".to_owned()
            } else {
                format!("<= {}%", t.target_fmr)
            },
            threshold(t.threshold),
            percent(t.fmr),
            percent(t.fnmr)
        );
    }

    for e in &engines {
        if e.failures.is_empty() {
            continue;
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} failed to extract {} of {} images:",
            e.engine,
            e.failures.len(),
            e.images
        );
        for f in e.failures.iter().take(MAX_FAILURES_LISTED) {
            let _ = writeln!(out, "  {}: {}", f.file, f.reason);
        }
        if e.failures.len() > MAX_FAILURES_LISTED {
            let _ = writeln!(out, "  ... and {} more", e.failures.len() - MAX_FAILURES_LISTED);
        }
    }
    out
}
