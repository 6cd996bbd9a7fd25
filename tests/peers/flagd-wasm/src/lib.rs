//! A bench-only peer for the JS path (`cargo xtask bench --only js`): datalogic-rs compiled to wasm
//! behind a JSON-string ABI, the way OpenFeature's flagd-evaluator embeds it, plus flagd's
//! `fractional` operator. Never shipped, outside every size budget.
//!
//! The ABI: the host allocates with `peer_alloc(len)`, writes UTF-8 JSON, calls an entry point and
//! frees its buffer with `peer_dealloc(ptr, len)`. `peer_load(ptr, len)` takes `{name: rule}` and
//! answers the number of rules (negative: refused); `peer_evaluate(ptr, len)` takes the context
//! and answers `len << 32 | ptr` of a JSON array of the names whose rule is `true` (the host
//! frees it), as one flagd-evaluator call answers one evaluation as JSON.

use datalogic_rs::bumpalo::Bump;
use datalogic_rs::operator::EvalContext;
use datalogic_rs::{ArenaExt, CustomOperator, DataValue, Engine, Logic};
use std::cell::RefCell;

// flagd's `fractional` buckets by MurmurHash3 x86_32 of the key: edgeseg's own (a peer of the
// evaluator, not of the hash; the bench checks both give the same answers).
use edgeseg::rule::murmur3_32;

/// flagd's `fractional` with an explicit bucketing key: `[key, [variant, weight]...]`; the first
/// variant whose cumulative weight exceeds `murmur3(key) * total >> 32`. Null otherwise.
struct Fractional;

impl CustomOperator for Fractional {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        _ctx: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> datalogic_rs::Result<&'a DataValue<'a>> {
        let Some((key, variants)) = args.split_first() else { return Ok(arena.null()) };
        let Some(key) = key.as_str() else { return Ok(arena.null()) };
        let mut parsed = Vec::with_capacity(variants.len());
        let mut total = 0u64;
        for v in variants {
            let Some(items) = v.as_array() else { return Ok(arena.null()) };
            let Some(name) = items.first().and_then(|n| n.as_str()) else { return Ok(arena.null()) };
            let weight = match items.get(1) {
                None => 1,
                Some(w) => match w.as_f64() {
                    Some(w) if w >= 0.0 && w.fract() == 0.0 => w as u64,
                    _ => return Ok(arena.null()),
                },
            };
            total += weight;
            parsed.push((name, weight));
        }
        if total == 0 {
            return Ok(arena.null());
        }
        let bucket = (u64::from(murmur3_32(key.as_bytes(), 0)) * total) >> 32;
        let mut upto = 0;
        for (name, weight) in parsed {
            upto += weight;
            if bucket < upto {
                return Ok(arena.string(name));
            }
        }
        Ok(arena.null())
    }
}

struct Loaded {
    engine: Engine,
    rules: Vec<(String, Logic)>,
}

thread_local! {
    static LOADED: RefCell<Option<Loaded>> = const { RefCell::new(None) };
}

/// Compiles `{name: rule}`; the number of rules, or -1.
pub fn load(json: &str) -> i32 {
    let engine = Engine::builder().add_operator("fractional", Fractional).build();
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(json) else { return -1 };
    let mut rules = Vec::with_capacity(map.len());
    for (name, rule) in map {
        match engine.compile(&rule) {
            Ok(logic) => rules.push((name, logic)),
            Err(_) => return -1,
        }
    }
    let n = rules.len() as i32;
    LOADED.with(|l| *l.borrow_mut() = Some(Loaded { engine, rules }));
    n
}

/// The names whose rule is `true` on the context, as a JSON array (an error object on bad input).
/// The context is parsed once per call into a fresh arena, as flagd-evaluator does per evaluation.
pub fn evaluate(context: &str) -> String {
    LOADED.with(|l| {
        let loaded = l.borrow();
        let Some(loaded) = loaded.as_ref() else { return String::from(r#"{"error":"not loaded"}"#) };
        let arena = Bump::with_capacity(4096);
        let data = match DataValue::from_str(context, &arena) {
            Ok(d) => &*arena.alloc(d),
            Err(e) => return serde_json::json!({ "error": e.to_string() }).to_string(),
        };
        let mut out = String::from("[");
        for (name, logic) in &loaded.rules {
            match loaded.engine.evaluate(logic, data, &arena) {
                Ok(v) if v.as_bool() == Some(true) => {
                    if out.len() > 1 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(name.clone()).to_string());
                }
                Ok(_) => {}
                Err(e) => return serde_json::json!({ "error": e.to_string() }).to_string(),
            }
        }
        out.push(']');
        out
    })
}

#[cfg(target_arch = "wasm32")]
mod abi {
    use std::alloc::{Layout, alloc, dealloc};

    #[unsafe(no_mangle)]
    pub extern "C" fn peer_alloc(len: usize) -> *mut u8 {
        Layout::array::<u8>(len.max(1)).map_or(std::ptr::null_mut(), |l| unsafe { alloc(l) })
    }

    /// # Safety
    /// `ptr` and `len` from `peer_alloc` or an answer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn peer_dealloc(ptr: *mut u8, len: usize) {
        if let Ok(l) = Layout::array::<u8>(len.max(1)) {
            unsafe { dealloc(ptr, l) }
        }
    }

    fn text<'a>(ptr: *const u8, len: usize) -> &'a str {
        std::str::from_utf8(unsafe { std::slice::from_raw_parts(ptr, len) }).unwrap_or("")
    }

    #[unsafe(no_mangle)]
    pub extern "C" fn peer_load(ptr: *const u8, len: usize) -> i32 {
        super::load(text(ptr, len))
    }

    #[unsafe(no_mangle)]
    pub extern "C" fn peer_evaluate(ptr: *const u8, len: usize) -> u64 {
        let answer = super::evaluate(text(ptr, len)).into_bytes().into_boxed_slice();
        let len = answer.len();
        let ptr = Box::into_raw(answer) as *mut u8;
        ((len as u64) << 32) | ptr as u64
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn evaluates_the_bench_rules() {
        let rules = r#"{"eq": {"==": [{"var": "country"}, "DE"]},
            "frac": {"==": [{"fractional": [{"var": "uid"}, ["a", 50], ["b", 50]]}, "a"]}}"#;
        assert_eq!(super::load(rules), 2);
        assert!(super::evaluate(r#"{"country": "DE", "uid": "u-1"}"#).starts_with(r#"["eq""#));
        assert_eq!(super::evaluate(r#"{"country": "FR"}"#), r#"[]"#);
    }
}
