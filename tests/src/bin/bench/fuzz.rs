//! `fuzz`: 10^6 documents (`--fuzz N` for another count), generated or mutated from the
//! committed corpus, through `check` and, when accepted, `build` (code generation), in one
//! child process per core. A child that dies (an abort, a stack overflow) counts as an abort;
//! a document that takes over a second counts as a time-out; a broken promise (a panic, a span
//! outside the file, check and build disagreeing) is written to `target/fuzz-failures/`.

use std::process::Command;
use std::time::{Duration, Instant};

use wfc_tests::fuzz::{Fuzzer, corpus, run_one};

/// Slower than this, a document counts as a time-out.
const TIME_OUT: Duration = Duration::from_secs(1);

/// One child's share: `count` documents from `seed`; prints one summary line.
pub fn shard(seed: u64, count: usize) -> anyhow::Result<()> {
    let root = wfc_tests::repo_root();
    let failures = root.join("target/fuzz-failures");
    let mut fuzzer = Fuzzer::new(seed, corpus(&root));
    let (mut accepted, mut problems, mut timeouts, mut slowest) = (0usize, 0usize, 0usize, Duration::ZERO);
    for i in 0..count {
        let text = fuzzer.next_document();
        let started = Instant::now();
        let outcome = run_one(&text);
        let took = started.elapsed();
        slowest = slowest.max(took);
        timeouts += usize::from(took > TIME_OUT);
        match outcome {
            Ok(outcome) => accepted += usize::from(outcome.accepted),
            Err(problem) => {
                problems += 1;
                std::fs::create_dir_all(&failures)?;
                std::fs::write(failures.join(format!("{seed:x}-{i}.txt")), format!("{problem}\n---\n{text}"))?;
            }
        }
    }
    println!("{count} {accepted} {problems} {timeouts} {}", slowest.as_micros());
    Ok(())
}

/// Runs the shards, one per core, and prints the figures.
pub fn run(documents: usize) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("\n== fuzz: {documents} documents (generated, and mutations of the committed corpus) through check and build, {cores} processes");
    let me = std::env::current_exe()?;
    let started = Instant::now();
    let children: Vec<_> = (0..cores)
        .map(|i| Command::new(&me).args(["fuzz-shard", &format!("{}", 0x5eed_0000 + i as u64), &(documents / cores + usize::from(i < documents % cores)).to_string()]).output())
        .collect::<Result<_, _>>()?;
    let elapsed = started.elapsed();
    let (mut tried, mut accepted, mut problems, mut timeouts, mut slowest, mut aborts) = (0usize, 0usize, 0usize, 0usize, 0u128, 0usize);
    for child in children {
        let line = String::from_utf8_lossy(&child.stdout);
        let numbers: Vec<u128> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        match (child.status.success(), numbers.as_slice()) {
            (true, [n, a, p, t, s]) => {
                tried += *n as usize;
                accepted += *a as usize;
                problems += *p as usize;
                timeouts += *t as usize;
                slowest = slowest.max(*s);
            }
            _ => {
                aborts += 1;
                eprintln!("a fuzz process died: {}\n{}", child.status, String::from_utf8_lossy(&child.stderr).lines().last().unwrap_or_default());
            }
        }
    }
    println!("documents {tried}, accepted and built {accepted}, in {:.1} s: {:.0} documents/s", elapsed.as_secs_f64(), tried as f64 / elapsed.as_secs_f64());
    println!("slowest document {:.1} ms", slowest as f64 / 1000.0);
    println!("fuzz: {tried} documents, {problems} broken promises, {aborts} aborts, {timeouts} time-outs");
    Ok(())
}
