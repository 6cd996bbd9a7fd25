//! The guest's work per decision, as fuel (about one unit per wasm instruction executed), on the
//! demo snapshot and sample traffic. Fuel is deterministic for a given module and input, so it can
//! be a budget, as the module's size is, where time could only be a measurement: a change that makes
//! every decision do much more work fails here, on any machine, however loaded.

use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::traffic::{TrafficReader, TrafficRecord};
use edgeseg_snapshots::{BuildOptions, Definitions, build, members::CsvMembers, sample};
use edgeseg_tests::{root, wasm_module};

/// Mean fuel per decide allowed. Measured 2 Dec 2026: 41,906 for the shipped module (after
/// wasm-opt, as `cargo xtask test` runs it) and 43,322 without wasm-opt (plain `cargo test`); the
/// module of the day before spent about 66,000. The headroom (6% over the plain build, 10% over the
/// shipped one) is smaller than the last single fixes (reading TCF bit fields six bits at a time
/// saved 9%). Raise it only with a reason in the commit message. Raised to 47,000 on 6 Dec for
/// issue 25's baggage (`edgeseg.segments`, `edgeseg.snapshot`) and `traceparent` check: 45,685 →
/// 46,432 on the plain build (+1.6%; the `traceparent` scan is about 150 of it).
const FUEL_PER_DECIDE_BUDGET: u64 = 47_000;

#[test]
fn guest_work_per_decision_stays_within_its_budget() {
    let defs = Definitions::load(&root().join("snapshots/data/demo.json")).unwrap();
    let mut members = Vec::new();
    sample::write_members(&mut members, 20_000, 42).unwrap();
    let snapshot = build(&defs, CsvMembers::new(members.as_slice(), None), &BuildOptions::default()).unwrap().bytes;
    let mut traffic = Vec::new();
    sample::write_traffic(&mut traffic, 20_000, 1_000, 42).unwrap();
    let records: Vec<TrafficRecord> = TrafficReader::new(traffic.as_slice()).collect::<Result<_, _>>().unwrap();

    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&snapshot).unwrap();
    let mut fuel: Vec<u64> = records
        .iter()
        .map(|r| {
            guest.decide_with(&r.request(), |d| d.tier_index).unwrap();
            guest.last_call_fuel().unwrap()
        })
        .collect();
    let mean = fuel.iter().sum::<u64>() / fuel.len() as u64;
    fuel.sort_unstable();
    let (median, max) = (fuel[fuel.len() / 2], fuel[fuel.len() - 1]);
    eprintln!("fuel per decide over {} sample requests: mean {mean}, median {median}, max {max}", fuel.len());
    assert!(mean > 1_000, "a decide does real work: mean fuel {mean}");
    assert!(
        mean <= FUEL_PER_DECIDE_BUDGET,
        "mean fuel per decide {mean} is over its budget of {FUEL_PER_DECIDE_BUDGET} (median {median}, max {max})"
    );
}
