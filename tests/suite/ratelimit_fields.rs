//! The `RateLimit-Policy` and `RateLimit` fields we emit, read back by a structured-field parser
//! (`sfv`, RFC 9651) rather than by our own expectations of the text (issue 25). Both are Lists
//! of one Item: an sf-string naming the policy, with integer parameters `q`, `w` (policy) and
//! `r`, `t` (current state), per draft-ietf-httpapi-ratelimit-headers-11.
//!
//! Two sources: decisions through wasmtime (the module as shipped), over requests that are let
//! through and requests that are throttled; and the header writer natively over generated policy
//! names (quotes, backslashes, non-ASCII, empty), policies and request times.

use edgeseg::throttle::{Limiter, ThrottleAction, ThrottleKey, ThrottlePolicy, Verdict, rate_limit_headers};
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::traffic::TrafficReader;
use edgeseg_tests::{scratch, spec, wasm_module};
use proptest::prelude::*;

/// One parsed field: the policy name and its parameters, in order.
#[derive(Debug, PartialEq)]
struct Field {
    name: String,
    params: Vec<(String, i64)>,
}

/// Parses `value` as an RFC 9651 List of exactly one Item whose value is a String and whose
/// parameters are all Integers.
fn parse(value: &str) -> Result<Field, String> {
    let list: sfv::List = sfv::Parser::new(value).parse().map_err(|e| format!("{value:?}: {e}"))?;
    let [sfv::ListEntry::Item(item)] = list.as_slice() else {
        return Err(format!("{value:?}: not a list of one item"));
    };
    let name = item.bare_item.as_string().ok_or_else(|| format!("{value:?}: the item is not a string"))?;
    let params = item
        .params
        .iter()
        .map(|(k, v)| {
            let n = v.as_integer().ok_or_else(|| format!("{value:?}: parameter {k} is not an integer"))?;
            Ok((k.as_str().to_owned(), i64::from(n)))
        })
        .collect::<Result<_, String>>()?;
    Ok(Field { name: name.as_str().to_owned(), params })
}

fn expect(name: &str, params: [(&str, u64); 2]) -> Field {
    Field {
        name: name.to_owned(),
        params: params.iter().map(|(k, v)| ((*k).to_owned(), i64::try_from(*v).unwrap())).collect(),
    }
}

/// What the policy name becomes: printable ASCII kept (the parser undoes the escapes), the rest `_`.
fn sf_name(name: &str) -> String {
    name.chars().map(|c| if (' '..='~').contains(&c) { c } else { '_' }).collect()
}

/// The two fields of a verdict, parsed, against the verdict they say.
fn check(name: &str, policy: &ThrottlePolicy, v: &Verdict) -> Result<(), String> {
    let h = rate_limit_headers(name, policy, v);
    let got = (parse(&h.policy)?, parse(&h.ratelimit)?);
    let want = (
        expect(&sf_name(name), [("q", v.limit.into()), ("w", policy.window_s())]),
        expect(&sf_name(name), [("r", v.remaining.into()), ("t", v.reset_s)]),
    );
    if got != want {
        return Err(format!("{h:?}: parsed {got:?}, said {want:?}"));
    }
    Ok(())
}

const DEFS: &str = r#"{"id": "fields", "purposes": ["contract"], "tiers": ["all"],
  "tier_actions": {"all": {"throttle": {"rate": 2, "period_s": 1, "burst": 4, "key": "ip"}}},
  "segments": [{"name": "any", "purpose": "contract", "rule": {"!!": [{"var": "path"}]}}]}"#;

#[test]
fn fields_of_wasm_decisions_parse_throttled_or_not() {
    let spec = spec::SpecFile {
        description: String::new(),
        definitions: serde_json::from_str(DEFS).unwrap(),
        members: vec![],
        cases: vec![],
    };
    let snapshot = spec::build_snapshot(&spec, &scratch("ratelimit-fields"));
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&snapshot).unwrap();
    let (mut allowed, mut rejected) = (0, 0);
    // Twelve requests from one address within 1.1 s (burst 4, 2/s): the first four and those the
    // refill allows get through, the rest are throttled.
    for i in 0..12u64 {
        let line = format!(
            r#"{{"now_ms": {}, "method": "GET", "path": "/", "client_ip": "192.0.2.10"}}"#,
            1_763_700_000_000 + i * 100
        );
        let record = TrafficReader::new(format!("{line}\n").as_bytes()).next().unwrap().unwrap();
        let d = guest.decide(&record.request()).unwrap();
        let header = |name: &str| {
            let mut values = d.response_headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
            let v = values.next().map(|(_, v)| v.clone());
            assert!(values.next().is_none(), "one {name} field");
            v
        };
        let (policy, state) = (parse(&header("RateLimit-Policy").unwrap()), parse(&header("RateLimit").unwrap()));
        let (policy, state) = (policy.unwrap(), state.unwrap());
        assert_eq!(policy.name, state.name, "both fields name the same policy");
        let param = |f: &Field, k: &str| f.params.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        assert_eq!((param(&policy, "q"), param(&policy, "w")), (Some(4), Some(2)), "burst 4, refilled in 2 s");
        let (r, t) = (param(&state, "r").unwrap(), param(&state, "t").unwrap());
        assert!((0..=4).contains(&r) && t >= 0, "r={r} t={t}");
        match header("Retry-After") {
            // Throttled: nothing left, and Retry-After (a plain integer, RFC 9110) is the reset.
            Some(after) => {
                rejected += 1;
                assert_eq!(r, 0);
                assert_eq!(after.parse::<i64>().unwrap(), t.max(1));
            }
            None => allowed += 1,
        }
    }
    assert!(allowed >= 4 && rejected >= 4, "{allowed} allowed, {rejected} throttled");
}

fn policy() -> impl Strategy<Value = ThrottlePolicy> {
    (1u32..=u32::MAX, 1u64..=edgeseg::throttle::MAX_PERIOD_MS, 1u32..=u32::MAX)
        .prop_map(|(rate, period_ms, burst)| ThrottlePolicy {
            rate,
            period_ms,
            burst,
            key: ThrottleKey::Ip,
            action: ThrottleAction::Reject,
        })
        .prop_filter("a policy the decoder accepts", |p| p.validate().is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any name, any valid policy, any request times: both fields parse and say the verdict.
    #[test]
    fn fields_parse_for_any_name_and_policy(
        name in any::<String>(),
        policy in policy(),
        gaps in proptest::collection::vec(0u64..5_000_000, 1..40),
    ) {
        let mut limiter = Limiter::new(8);
        let mut now = 1_763_700_000_000u64;
        for gap in gaps {
            now += gap / 1000;
            let v = limiter.check(1, &policy, now);
            prop_assert!(check(&name, &policy, &v).is_ok(), "{}", check(&name, &policy, &v).unwrap_err());
        }
    }
}

#[test]
fn hostile_names_and_extreme_policies_parse() {
    let widest = ThrottlePolicy {
        rate: 1,
        period_ms: edgeseg::throttle::MAX_PERIOD_MS,
        burst: 366,
        key: ThrottleKey::User,
        action: ThrottleAction::Reject,
    };
    widest.validate().unwrap();
    let narrowest = ThrottlePolicy { rate: 1000, period_ms: 1, burst: u32::MAX, ..widest.clone() };
    for policy in [widest, narrowest] {
        let mut limiter = Limiter::new(8);
        for name in ["", "\"", "\\", "a\"b\\c", "tier:premium", "ünïcode", "tab\there", "\u{7f}"] {
            for now in [0, 1, 1000, u64::MAX] {
                let v = limiter.check(7, &policy, now);
                check(name, &policy, &v).unwrap();
            }
        }
    }
}
