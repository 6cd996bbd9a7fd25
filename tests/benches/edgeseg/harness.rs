//! Criterion, driven from our own `main`: each case is one criterion benchmark, and its median is
//! read back from the `estimates.json` criterion writes, so every section can print ours beside
//! the peer's with a ratio and the whole run lands in one JSON report.

use criterion::{BatchSize, Criterion, SamplingMode};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No `--bench`: every case runs once on tiny inputs, nothing is timed.
    Smoke,
    /// `--bench --quick`: small sizes, short criterion runs.
    Quick,
    /// `--bench`: the sizes the issue asks for.
    Full,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke",
            Mode::Quick => "quick",
            Mode::Full => "full",
        }
    }

    /// Picks a size by mode.
    pub fn size(self, smoke: u64, quick: u64, full: u64) -> u64 {
        match self {
            Mode::Smoke => smoke,
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }
}

/// How long one call of a case takes, which decides criterion's sampling.
#[derive(Clone, Copy, Debug)]
pub enum Speed {
    /// Nanoseconds to microseconds: linear sampling, many samples.
    Fast,
    /// Milliseconds or more (snapshot loads, whole replays): flat sampling, 10 samples.
    Slow,
}

pub struct Harness {
    mode: Mode,
    criterion: Criterion,
    home: PathBuf,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").field("mode", &self.mode).field("home", &self.home).finish_non_exhaustive()
    }
}

impl Harness {
    pub fn new(mode: Mode) -> Harness {
        let home = std::env::var_os("CRITERION_HOME")
            .map_or_else(|| crate::fixtures::bench_dir().join("criterion"), PathBuf::from);
        let criterion = Criterion::default().without_plots().output_directory(&home);
        Harness { mode, criterion, home }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Median ns per call of `routine` (NaN in a smoke run, where it runs once).
    pub fn bench(&mut self, group: &str, id: &str, speed: Speed, mut routine: impl FnMut()) -> f64 {
        if self.mode == Mode::Smoke {
            routine();
            return f64::NAN;
        }
        let mut g = self.criterion.benchmark_group(group);
        configure(&mut g, self.mode, speed);
        g.bench_function(id, |b| b.iter(&mut routine));
        g.finish();
        self.median(group, id)
    }

    /// Median ns per call of `routine`, with `setup` (untimed) making each call's input.
    pub fn bench_batched<I>(
        &mut self,
        group: &str,
        id: &str,
        speed: Speed,
        mut setup: impl FnMut() -> I,
        mut routine: impl FnMut(I),
    ) -> f64 {
        if self.mode == Mode::Smoke {
            routine(setup());
            return f64::NAN;
        }
        let mut g = self.criterion.benchmark_group(group);
        configure(&mut g, self.mode, speed);
        g.bench_function(id, |b| b.iter_batched(&mut setup, &mut routine, BatchSize::PerIteration));
        g.finish();
        self.median(group, id)
    }

    /// Criterion's median estimate for `group/id`, in ns per iteration.
    fn median(&self, group: &str, id: &str) -> f64 {
        let path = self.home.join(group).join(id).join("new").join("estimates.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let estimates: serde_json::Value = serde_json::from_str(&text).unwrap();
        estimates["median"]["point_estimate"].as_f64().unwrap_or_else(|| panic!("{}: no median", path.display()))
    }
}

fn configure(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, mode: Mode, speed: Speed) {
    let ms = Duration::from_millis;
    match (mode, speed) {
        (Mode::Full, Speed::Fast) => {
            g.sample_size(50).warm_up_time(ms(1000)).measurement_time(ms(3000));
        }
        (_, Speed::Fast) => {
            g.sample_size(10).warm_up_time(ms(200)).measurement_time(ms(500));
        }
        (Mode::Full, Speed::Slow) => {
            g.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(ms(500)).measurement_time(ms(4000));
        }
        (_, Speed::Slow) => {
            g.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(ms(100)).measurement_time(ms(500));
        }
    }
}

/// `peer / ours`: how many times faster ours is (below 1: slower).
pub fn ratio(ours: f64, peer: f64) -> f64 {
    peer / ours
}

/// A ratio for the table: `12.3x`, or `-` when there is none.
pub fn show_ratio(r: f64) -> String {
    if r.is_finite() { format!("{r:.2}x") } else { "-".into() }
}
