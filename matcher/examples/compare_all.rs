//! Compares every pair of templates (`<finger>_<impression>.shmt`, as written by `shimon-fp`'s
//! `dump_templates` example) in a folder, the way `shimon-fp eval` does (`compare(a, b)` per pair,
//! both edge tables built each time), and prints a checksum of all scores, so that a change meant
//! to make comparison cheaper can be shown to leave every score bit-identical. Run it under
//! `valgrind --tool=callgrind` to count instructions without timing noise.
//!
//! `cargo run --release -p shimon-matcher --example compare_all -- <folder> [impostors|genuine|all]`

use shimon_matcher::{compare, Template};
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let folder = PathBuf::from(
        args.next()
            .expect("usage: compare_all <folder> [impostors|genuine|all]"),
    );
    let which = args
        .next()
        .map_or("all".to_owned(), |a| a.to_string_lossy().into_owned());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("readable folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "shmt"))
        .collect();
    files.sort();
    let finger = |p: &PathBuf| -> String {
        let stem = p.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        stem.split('_').next().unwrap_or_default().to_owned()
    };
    let templates: Vec<(String, Template)> = files
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).expect("readable template");
            (finger(p), Template::from_bytes(&bytes).expect("valid template"))
        })
        .collect();
    let (mut checksum, mut pairs, mut total) = (0u64, 0usize, 0.0f64);
    for (i, (fa, a)) in templates.iter().enumerate() {
        for (fb, b) in &templates[i + 1..] {
            let same = fa == fb;
            let wanted = match which.as_str() {
                "impostors" => !same,
                "genuine" => same,
                _ => true,
            };
            if !wanted {
                continue;
            }
            let score = compare(a, b);
            checksum = checksum.rotate_left(5) ^ u64::from(score.to_bits());
            pairs += 1;
            total += f64::from(score);
        }
    }
    println!(
        "{pairs} pairs, mean score {:.6}, checksum {checksum:016x}",
        total / pairs.max(1) as f64
    );
}
