//! Speed of shimon beside the NIST NBIS peer on a few real images from the shared databases:
//! `extract/shimon/<image>` against `extract/nbis_mindtct/<image>`, and
//! `compare/shimon/<pair>` against `compare/nbis_bozorth3/<pair>`. The ratio of two lines with the
//! same image or pair is the speed ratio. Without the shared data it says so and measures nothing.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use shimon_fp::datasets::fingerprints_dir;
use shimon_fp::engines::{Engine, Nbis, Shimon};
use shimon_fp::load::{load_grey, read_dataset_info, GreyImage};

/// Images measured, as (database, file): two impressions of one finger and one of another, from
/// an easy optical set and a hard one.
const IMAGES: [(&str, &str); 4] = [
    ("fvc2002-db1b", "101_1.tif"),
    ("fvc2002-db1b", "101_2.tif"),
    ("fvc2002-db1b", "102_1.tif"),
    ("fvc2004-db1b", "101_1.tif"),
];

/// Pairs compared, as indices into [`IMAGES`] with a label.
const PAIRS: [(usize, usize, &str); 2] = [(0, 1, "genuine_db1b_101_1-2"), (0, 2, "impostor_db1b_101_1-102_1")];

struct Loaded {
    label: String,
    image: GreyImage,
    dpi: u32,
}

fn load_images() -> Option<Vec<Loaded>> {
    let base = fingerprints_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    let mut out = Vec::new();
    for (db, file) in IMAGES {
        let dir = base.join(db);
        let loaded = read_dataset_info(&dir)
            .ok()
            .flatten()
            .and_then(|info| load_grey(&dir.join(file)).ok().map(|image| (image, info.dpi)));
        let Some((image, dpi)) = loaded else {
            eprintln!(
                "SKIPPED benchmarks: {} not found or unreadable (set SHIMON_SHARED)",
                dir.join(file).display()
            );
            return None;
        };
        out.push(Loaded {
            label: format!("{db}/{file}"),
            image,
            dpi,
        });
    }
    Some(out)
}

fn bench_engines(c: &mut Criterion) {
    let Some(images) = load_images() else {
        return;
    };

    let mut group = c.benchmark_group("extract");
    for img in &images {
        match Shimon.extract(&img.image, img.dpi) {
            Ok(_) => {
                group.bench_with_input(BenchmarkId::new("shimon", &img.label), img, |b, img| {
                    b.iter(|| Shimon.extract(black_box(&img.image), img.dpi))
                });
            }
            Err(e) => eprintln!("shimon cannot extract {}: {e}; not measured", img.label),
        }
        group.bench_with_input(BenchmarkId::new("nbis_mindtct", &img.label), img, |b, img| {
            b.iter(|| Nbis.extract(black_box(&img.image), img.dpi))
        });
    }
    group.finish();

    let ours: Vec<_> = images.iter().map(|i| Shimon.extract(&i.image, i.dpi).ok()).collect();
    let theirs: Vec<_> = images.iter().map(|i| Nbis.extract(&i.image, i.dpi).ok()).collect();
    let mut group = c.benchmark_group("compare");
    for (a, b, label) in PAIRS {
        if let (Some(ta), Some(tb)) = (&ours[a], &ours[b]) {
            group.bench_function(BenchmarkId::new("shimon", label), |bench| {
                bench.iter(|| Shimon.compare(black_box(ta), black_box(tb)))
            });
        } else {
            eprintln!("shimon has no templates for {label}; not measured");
        }
        if let (Some(ta), Some(tb)) = (&theirs[a], &theirs[b]) {
            group.bench_function(BenchmarkId::new("nbis_bozorth3", label), |bench| {
                bench.iter(|| Nbis.compare(black_box(ta), black_box(tb)))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench_engines
}
criterion_main!(benches);
