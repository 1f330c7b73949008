//! Verify latency and throughput of the real server on this machine: a deployment in a temporary
//! folder, the release server on loopback, one user enrolled with the simulated reader, then
//! 1,000 sequential Verify calls from one agent (median and 99th percentile latency) and 32
//! agents, each on its own connection, calling Verify concurrently for a fixed time (throughput).
//!
//! `cargo build --release -p shimon-server && cargo run --release -p shimon-e2e --example verify_load`

use shimon_agent::Agent;
use shimon_e2e::{admin_station, grant_all_purposes, Deployment};
use shimon_hal::{CancelHandle, Reader};
use shimon_proto::v1::{Finger, Purpose};
use shimon_station::client::EnrollMode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEQUENTIAL_CALLS: usize = 1000;
const CONCURRENT_CLIENTS: usize = 32;
const CONCURRENT_RUN: Duration = Duration::from_secs(20);

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    let station = admin_station(&deployment, &server).await;
    station.register_user("alice", "Alice", "accounts").await?;
    station
        .enroll(EnrollMode::Enroll, "alice", &shimon_e2e::enrollment_captures(101))
        .await?;
    grant_all_purposes(&station, "alice").await;
    let mut reader = shimon_agent::person::simulated_reader(101, Finger::RightIndex);
    reader.set_next_impression(9);
    let image = Arc::new(reader.capture(Duration::from_secs(5), &CancelHandle::new())?);
    let terminal = deployment.client("terminal", &server);

    let agent = Agent::connect(&terminal).await?;
    assert!(agent.verify("alice", Purpose::Email, &image).await?.is_match());
    let mut latencies_ms = Vec::with_capacity(SEQUENTIAL_CALLS);
    for _ in 0..SEQUENTIAL_CALLS {
        let start = Instant::now();
        agent.verify("alice", Purpose::Email, &image).await?;
        latencies_ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    latencies_ms.sort_by(f64::total_cmp);
    println!(
        "{SEQUENTIAL_CALLS} sequential Verify calls: median {:.1} ms, 99th percentile {:.1} ms",
        percentile(&latencies_ms, 0.5),
        percentile(&latencies_ms, 0.99)
    );

    let deadline = Instant::now() + CONCURRENT_RUN;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENT_CLIENTS {
        let (terminal, image) = (terminal.clone(), image.clone());
        tasks.push(tokio::spawn(async move {
            let agent = Agent::connect(&terminal).await?;
            let mut calls = 0usize;
            while Instant::now() < deadline {
                agent.verify("alice", Purpose::Email, &image).await?;
                calls += 1;
            }
            Ok::<_, shimon_agent::AgentError>(calls)
        }));
    }
    let started = Instant::now();
    let mut total = 0usize;
    for task in tasks {
        total += task.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{CONCURRENT_CLIENTS} concurrent clients: {total} Verify calls in {seconds:.1} s, {:.1} calls/s",
        total as f64 / seconds
    );
    Ok(())
}
