//! Renders a few synthetic fingers for a look by eye: each finger's master print (ridges only, and
//! with its pores and ridge units) and its first impressions, with the time each step took.
//!
//! `cargo run --release -p shimon-hal --example sim_preview -- OUT_DIR [FINGERS] [IMPRESSIONS] [SET_SEED]`

use std::path::PathBuf;
use std::time::Instant;

use shimon_hal::sim::{finger_seed, Condition, SyntheticFinger, DEFAULT_GEOMETRY};
use shimon_hal::FingerImage;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(args.first().map(String::as_str).unwrap_or("/tmp/sim-preview"));
    let fingers: u32 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(4);
    let impressions: u32 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let set_seed: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let extra = out.join("extra");
    std::fs::create_dir_all(&extra)?;
    for finger in 1..=fingers {
        let t = Instant::now();
        let f = SyntheticFinger::new(finger_seed(set_seed, finger));
        let master_ms = t.elapsed().as_secs_f64() * 1e3;
        let m = f.master();
        let pixels = m
            .ridges
            .data
            .iter()
            .map(|v| (127.5 - 127.5 * v.clamp(-1.0, 1.0)) as u8)
            .collect();
        FingerImage {
            width: m.ridges.width as u32,
            height: m.ridges.height as u32,
            dpi: 500,
            pixels,
        }
        .write_png(&extra.join(format!("master_{finger}.png")))?;
        // The skin's texture over the ridges: pores white, the boundaries between ridge units grey.
        let t = &m.texture;
        let pixels = (0..m.ridges.data.len())
            .map(|i| {
                let ridge = m.ridges.data[i].clamp(-1.0, 1.0);
                let dark = (0.5 + 0.5 * ridge) * t.unit_core.data[i] * (1.0 - t.pores.data[i]);
                (255.0 - 235.0 * dark) as u8
            })
            .collect();
        FingerImage {
            width: m.ridges.width as u32,
            height: m.ridges.height as u32,
            dpi: 500,
            pixels,
        }
        .write_png(&extra.join(format!("texture_{finger}.png")))?;
        let mut times = Vec::new();
        for k in 1..=impressions {
            let t = Instant::now();
            let image = f.impression(k, DEFAULT_GEOMETRY, Condition::Normal);
            times.push(format!("{:.0}", t.elapsed().as_secs_f64() * 1e3));
            image.write_png(&out.join(format!("{finger}_{k}.png")))?;
        }
        let t = Instant::now();
        let poor = f.impression(1, DEFAULT_GEOMETRY, Condition::Poor);
        let poor_ms = t.elapsed().as_secs_f64() * 1e3;
        poor.write_png(&extra.join(format!("poor_{finger}.png")))?;
        println!(
            "finger {finger}: {:?}, master {master_ms:.0} ms, impressions {} ms, poor {poor_ms:.0} ms",
            m.class,
            times.join(" ")
        );
    }
    Ok(())
}
