//! Modules that break the ABI on purpose: the host refuses them or reports a typed error, and
//! never panics, hangs or reads outside guest memory.

use crate::wasm::{fake_edgeseg, grow_or_trap, i32_const, i64_const, module, spin};
use edgeseg::ErrorKind;
use edgeseg_host::guest::{Guest, GuestConfig, GuestError};

/// The ABI version this host speaks (the fake modules claim it unless a test says otherwise).
const ABI: i32 = edgeseg::abi::ABI_VERSION as i32;

fn load_error(wasm: &[u8]) -> String {
    match Guest::from_bytes(wasm, GuestConfig::default()) {
        Ok(_) => panic!("the module should have been refused"),
        Err(e) => format!("{e:#}"),
    }
}

fn fake(load: Vec<u8>, decide: Vec<u8>) -> Guest {
    let wasm = module(&[], &fake_edgeseg(ABI, load, decide), true);
    Guest::from_bytes(&wasm, GuestConfig::default()).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn the_fake_module_itself_is_accepted() {
    let guest = fake(i64_const(0), i64_const(0));
    assert!(guest.imports().is_empty());
}

#[test]
fn imports_are_refused_by_name() {
    let wasm =
        module(&[("env", "clock"), ("wbg", "__wbindgen_throw")], &fake_edgeseg(ABI, i64_const(0), i64_const(0)), true);
    let e = load_error(&wasm);
    assert!(e.contains("env::clock") && e.contains("wbg::__wbindgen_throw"), "{e}");
}

#[test]
fn missing_or_mistyped_exports_are_refused() {
    let mut funcs = fake_edgeseg(ABI, i64_const(0), i64_const(0));
    funcs.retain(|f| f.name != "edgeseg_free");
    let e = load_error(&module(&[], &funcs, true));
    assert!(e.contains("edgeseg_free"), "{e}");

    let e = load_error(&module(&[], &fake_edgeseg(ABI, i64_const(0), i64_const(0)), false));
    assert!(e.contains("memory"), "{e}");

    let mut funcs = fake_edgeseg(ABI, i64_const(0), i32_const(0));
    funcs[4].results = vec![crate::wasm::I32];
    let e = load_error(&module(&[], &funcs, true));
    assert!(e.contains("edgeseg_decide") && e.contains("(i32, i32, i32) -> (i32)"), "{e}");
}

#[test]
fn another_abi_version_is_refused() {
    let e = load_error(&module(&[], &fake_edgeseg(ABI + 1, i64_const(0), i64_const(0)), true));
    assert!(e.contains(&format!("ABI version {}", ABI + 1)), "{e}");
}

#[test]
fn answers_outside_guest_memory_are_host_errors() {
    for packed in [(16i64 << 32) | 0xFFFF_FFF0, (0x7FFF_FFFFi64 << 32) | 16, (1i64 << 32) | 65_536] {
        let mut guest = fake(i64_const(packed), i64_const(packed));
        match guest.decide_raw_with(1, b"request") {
            Err(GuestError::Host(m)) => assert!(m.contains("outside"), "{m}"),
            other => panic!("{packed:#x}: {other:?}"),
        }
        assert!(matches!(guest.load_snapshot(b"snapshot"), Err(GuestError::Host(_))));
        assert!(guest.snapshot().is_none());
    }
    // The last byte of memory is still inside.
    let mut guest = fake(i64_const(0), i64_const((1i64 << 32) | 65_535));
    assert_eq!(guest.decide_raw_with(1, b"r").map(|a| a.len()), Ok(1));
}

#[test]
fn a_null_answer_or_failed_alloc_is_out_of_memory() {
    let mut guest = fake(i64_const(0), i64_const(0));
    let e = guest.decide_raw_with(1, b"request").unwrap_err();
    assert_eq!(e.kind(), Some(ErrorKind::OutOfMemory), "{e}");

    let mut funcs = fake_edgeseg(ABI, i64_const(0), i64_const((1i64 << 32) | 8));
    funcs[1].body = i32_const(0);
    let mut guest = Guest::from_bytes(&module(&[], &funcs, true), GuestConfig::default()).unwrap();
    let e = guest.decide_raw_with(1, b"request").unwrap_err();
    assert_eq!(e.kind(), Some(ErrorKind::OutOfMemory), "{e}");
    // An empty input needs no buffer: the call goes through.
    assert_eq!(guest.decide_raw_with(1, b"").map(|a| a.len()), Ok(1));
}

#[test]
fn a_spinning_guest_runs_out_of_fuel_every_time() {
    let mut decide = spin();
    decide.extend(i64_const(0));
    let wasm = module(&[], &fake_edgeseg(ABI, i64_const(0), decide), true);
    let mut guest =
        Guest::from_bytes(&wasm, GuestConfig { fuel_per_call: Some(100_000), ..GuestConfig::default() }).unwrap();
    for round in 1..=3 {
        match guest.decide_raw_with(1, b"x") {
            Err(GuestError::Trap(m)) => assert!(m.contains("fuel"), "{m}"),
            other => panic!("round {round}: {other:?}"),
        }
        assert_eq!(guest.traps(), round);
    }
}

#[test]
fn memory_growth_stops_at_the_configured_cap() {
    let mut decide = grow_or_trap(32); // 2 MiB more
    decide.extend(i64_const((1i64 << 32) | 8));
    let wasm = module(&[], &fake_edgeseg(ABI, i64_const(0), decide), true);

    let capped = GuestConfig { max_memory_bytes: 1 << 20, ..GuestConfig::default() };
    let mut guest = Guest::from_bytes(&wasm, capped).unwrap();
    assert!(matches!(guest.decide_raw_with(1, b"x"), Err(GuestError::Trap(_))));
    // Re-instantiated with one page again: the next call traps the same way, not worse.
    assert!(matches!(guest.decide_raw_with(1, b"x"), Err(GuestError::Trap(_))));

    let mut roomy = Guest::from_bytes(&wasm, GuestConfig::default()).unwrap();
    assert_eq!(roomy.decide_raw_with(1, b"x").map(|a| a.len()), Ok(1));
}

/// A module whose decide loops for ever on an input longer than one byte and otherwise answers
/// one byte at offset 8.
fn loops_on_long_input() -> Vec<u8> {
    let mut decide = vec![0x20, 0x02]; // local.get 2 (input length)
    decide.extend(i32_const(1));
    decide.extend_from_slice(&[0x4b, 0x04, 0x40]); // i32.gt_u, if
    decide.extend(spin());
    decide.push(0x0b); // end
    decide.extend(i64_const((1i64 << 32) | 8));
    module(&[], &fake_edgeseg(ABI, i64_const(0), decide), true)
}

#[test]
fn a_guest_that_loops_on_one_request_is_stopped_and_the_host_keeps_serving_the_others() {
    let wasm = loops_on_long_input();
    let mut guest =
        Guest::from_bytes(&wasm, GuestConfig { fuel_per_call: Some(100_000), ..GuestConfig::default() }).unwrap();
    for round in 1..=3 {
        match guest.decide_raw_with(1, b"loop") {
            Err(GuestError::Trap(m)) => assert!(m.contains("fuel"), "round {round}: {m}"),
            other => panic!("round {round}: {other:?}"),
        }
        assert_eq!(guest.traps(), round);
        // The next request gets an answer from a fresh instance: the loop cost one request, not the host.
        assert_eq!(guest.decide_raw_with(1, b"x").map(|a| a.len()), Ok(1), "round {round}");
    }
}

#[test]
fn without_fuel_a_deadline_stops_the_looping_guest_and_the_host_keeps_serving() {
    // The guest of the test above, under a wall-clock deadline instead of fuel.
    let wasm = loops_on_long_input();
    let deadline = std::time::Duration::from_millis(20);
    let config = GuestConfig { fuel_per_call: None, deadline: Some(deadline), ..GuestConfig::default() };
    let mut guest = Guest::from_bytes(&wasm, config).unwrap();
    for round in 1..=3 {
        let started = std::time::Instant::now();
        match guest.decide_raw_with(1, b"loop") {
            Err(GuestError::Trap(m)) => assert!(m.contains("interrupt"), "round {round}: {m}"),
            other => panic!("round {round}: {other:?}"),
        }
        // Not a timing assertion: only that it did not run for ever (nor stop before the deadline).
        assert!(started.elapsed() >= deadline, "round {round}: stopped after {:?}", started.elapsed());
        assert_eq!(guest.traps(), round);
        assert_eq!(guest.decide_raw_with(1, b"x").map(|a| a.len()), Ok(1), "round {round}");
    }
    // A sibling shares the compiled code and the ticker; one with fuel instead compiles anew.
    let mut sibling =
        guest.sibling(GuestConfig { fuel_per_call: None, deadline: Some(deadline), ..GuestConfig::default() }).unwrap();
    assert!(matches!(sibling.decide_raw_with(1, b"loop"), Err(GuestError::Trap(_))));
    let mut fueled = guest.sibling(GuestConfig { fuel_per_call: Some(100_000), ..GuestConfig::default() }).unwrap();
    match fueled.decide_raw_with(1, b"loop") {
        Err(GuestError::Trap(m)) => assert!(m.contains("fuel"), "{m}"),
        other => panic!("{other:?}"),
    }
}
