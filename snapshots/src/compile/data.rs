//! Rules over arbitrary JSON data: json-logic-js's `apply(rule, data)`.
//!
//! The edge evaluates rules over requests; conformance checking (`edgeseg jsonlogic`, the
//! differential tests) needs the general form, where `var` reads any document. The rule compiles
//! in [`Mode::Data`] and the document becomes a [`Literal`] — the IR's own postcard value type —
//! so the wasm module gets it without a JSON parser (export `edgeseg_eval`).

use super::{Mode, compile_rule, rule_error};
use crate::error::BuildError;
use edgeseg::rule::{Literal, Rule};

/// Compiles a rule whose variables read a data document. Errors name the path inside the rule
/// (`rule.and[1]`).
pub fn compile_data(json: &serde_json::Value) -> Result<Rule, BuildError> {
    compile_rule(json, Mode::Data, &[], "rule")
}

/// A JSON data document as a [`Literal`]; object keys keep the document's order (as far as
/// `serde_json` keeps it). A number outside f64 is refused.
pub fn literal_from_json(json: &serde_json::Value) -> Result<Literal, BuildError> {
    use serde_json::Value as J;
    Ok(match json {
        J::Null => Literal::Null,
        J::Bool(b) => Literal::Bool(*b),
        J::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => Literal::Number(x),
            _ => return Err(rule_error("data", format!("number {n} is out of range"))),
        },
        J::String(s) => Literal::String(s.clone()),
        J::Array(items) => Literal::Array(items.iter().map(literal_from_json).collect::<Result<_, _>>()?),
        J::Object(map) => Literal::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), literal_from_json(v)?))).collect::<Result<_, BuildError>>()?,
        ),
    })
}

/// A value as JSON the way `JSON.stringify` writes it: NaN and ±Infinity become `null`, integral
/// numbers print without a fraction, `-0` is `0`.
pub fn literal_to_json(literal: &Literal) -> serde_json::Value {
    use serde_json::Value as J;
    match literal {
        Literal::Null => J::Null,
        Literal::Bool(b) => J::Bool(*b),
        Literal::Number(x) if !x.is_finite() => J::Null,
        // Below 2^53 an integral f64 is exactly an i64.
        Literal::Number(x) if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 => J::from(*x as i64),
        Literal::Number(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Literal::String(s) => J::String(s.clone()),
        Literal::Array(items) => J::Array(items.iter().map(literal_to_json).collect()),
        Literal::Object(entries) => J::Object(entries.iter().map(|(k, v)| (k.clone(), literal_to_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(rule: serde_json::Value, data: serde_json::Value) -> serde_json::Value {
        let rule = compile_data(&rule).unwrap_or_else(|e| panic!("{e}"));
        let data = literal_from_json(&data).unwrap_or_else(|e| panic!("{e}"));
        literal_to_json(&rule.evaluate_data(&data).to_literal())
    }

    #[test]
    fn var_reads_the_data_document() {
        let data = json!({"a": {"b": [10, 20]}, "n": null, "s": "x"});
        assert_eq!(apply(json!({"var": "a.b.1"}), data.clone()), json!(20));
        assert_eq!(apply(json!({"var": ""}), json!([1, 2])), json!([1, 2]));
        assert_eq!(apply(json!({"var": ["a.z", 7]}), data.clone()), json!(7));
        // json-logic-js: a null at the end of the path is null, not the default.
        assert_eq!(apply(json!({"var": ["n", 7]}), data.clone()), json!(null));
        assert_eq!(apply(json!({"var": ["n.x", 7]}), data.clone()), json!(7));
        assert_eq!(apply(json!({"var": 1}), json!(["a", "b"])), json!("b"));
        assert_eq!(apply(json!({"var": "a"}), data.clone()), json!({"b": [10, 20]}));
        assert_eq!(apply(json!({"missing": ["s", "q", "a.b"]}), data.clone()), json!(["q"]));
        assert_eq!(apply(json!({"missing_some": [1, ["s", "q"]]}), data), json!([]));
    }

    #[test]
    fn objects_follow_js() {
        let data = json!({"o": {"k": 1}});
        assert_eq!(apply(json!({"!!": {"var": "o"}}), data.clone()), json!(true));
        assert_eq!(apply(json!({"cat": [{"var": "o"}]}), data.clone()), json!("[object Object]"));
        assert_eq!(apply(json!({"==": [{"var": "o"}, {"var": "o"}]}), data.clone()), json!(false));
        // The community's `==`: an object against a string has no answer (the rule fails).
        let rule = compile_data(&json!({"==": [{"var": "o"}, "[object Object]"]})).unwrap();
        let doc = literal_from_json(&data).unwrap();
        assert_eq!(
            rule.evaluate_data_within(&doc, edgeseg::rule::DEFAULT_EVAL_BUDGET),
            Err(edgeseg::rule::Halt::Error(edgeseg::rule::EvalError::InvalidArguments))
        );
        assert_eq!(apply(json!({"merge": [{"var": "o"}, 1]}), data), json!([{"k": 1}, 1]));
    }

    #[test]
    fn numbers_print_as_json_stringify() {
        // Overflow is Infinity, which JSON.stringify prints as null.
        assert_eq!(apply(json!({"*": [1e308, 10]}), json!(null)), json!(null));
        assert_eq!(apply(json!({"*": [2, 3]}), json!(null)), json!(6));
        assert_eq!(apply(json!({"/": [1, 4]}), json!(null)), json!(0.25));
    }

    #[test]
    fn a_constant_that_would_exhaust_the_evaluation_budget_is_refused_by_path() {
        // 2^64 bytes if folded without a bound; inside an iteration body and outside one.
        let doubling = json!({"reduce": [(0..64).collect::<Vec<u32>>(),
            {"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}, "ab"]});
        let e = compile_data(&json!({"and": [true, doubling]})).unwrap_err();
        assert_eq!(e.kind(), crate::error::BuildErrorKind::Limit);
        assert_eq!(e.field(), Some("rule.and[1]"));
        assert!(e.message().contains("work units"), "{e}");
        let big: Vec<u32> = (0..300).collect();
        let nested = json!({"map": [big.clone(), {"map": [{"merge": [{"var": ""}, big]}, {"var": ""}]}]});
        assert_eq!(compile_data(&json!({"!": nested})).unwrap_err().kind(), crate::error::BuildErrorKind::Limit);
        // What fits folds as before.
        assert_eq!(
            apply(json!({"reduce": [[1, 2, 3], {"cat": [{"var": "accumulator"}, "x"]}, ""]}), json!(null)),
            json!("xxx")
        );
    }

    #[test]
    fn in_segment_is_refused_over_data() {
        assert!(compile_data(&json!({"in_segment": "x"})).is_err());
    }
}
