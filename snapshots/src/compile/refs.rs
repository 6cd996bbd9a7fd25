//! flagd's reusable rule fragments: a top-level `"$evaluators": {name: rule}` in the definitions
//! and `{"$ref": "name"}` anywhere inside a rule.
//!
//! References are expanded here, before compilation, so the IR (and the edge) never sees them:
//! a fragment used by three segments is compiled three times, each time in its segment's mode and
//! with its segment's `fractional` key. Expansion follows references inside fragments too; an
//! unknown name and a cycle are [`BuildErrorKind::Rule`] errors at the field path of the `$ref`
//! (inside `$evaluators.<name>` when the bad reference sits in a fragment), with the segment named.

use crate::error::{BuildError, BuildErrorKind};
use edgeseg::rule::MAX_NODES;
use serde_json::Value;
use std::collections::BTreeMap;

/// Fragments by name, as the definitions' `$evaluators` holds them.
pub type Evaluators = BTreeMap<String, Value>;

/// Most JSON values an expanded rule may hold (a fragment referenced twice at every level would
/// otherwise grow exponentially before the compiler's own node cap could say no).
const MAX_EXPANDED: usize = 8 * MAX_NODES;

/// `json` with every `{"$ref": name}` replaced by the named fragment (itself expanded). `at` is
/// the rule's field path, `segment` the name errors mention.
pub fn expand_refs(json: &Value, evaluators: &Evaluators, segment: &str, at: &str) -> Result<Value, BuildError> {
    let mut x = Expander { evaluators, segment, stack: Vec::new(), size: 0 };
    x.expand(json, at)
}

struct Expander<'e> {
    evaluators: &'e Evaluators,
    segment: &'e str,
    /// The fragments being expanded, outermost first: a name already here is a cycle.
    stack: Vec<&'e str>,
    size: usize,
}

impl<'e> Expander<'e> {
    fn error(&self, at: &str, message: String) -> BuildError {
        BuildError::new(BuildErrorKind::Rule, format!("segment {:?}: {message}", self.segment)).with_field(at)
    }

    fn expand(&mut self, json: &Value, at: &str) -> Result<Value, BuildError> {
        self.size += 1;
        if self.size > MAX_EXPANDED {
            return Err(BuildError::new(
                BuildErrorKind::Limit,
                format!(
                    "segment {:?}: rule has more than {MAX_EXPANDED} values once `$ref`s are expanded",
                    self.segment
                ),
            )
            .with_field(at));
        }
        match json {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.expand(item, &format!("{at}[{i}]"))?);
                }
                Ok(Value::Array(out))
            }
            Value::Object(map) => {
                if let Some(target) = map.get("$ref") {
                    if map.len() != 1 {
                        return Err(self.error(at, "a `$ref` object has no other keys".into()));
                    }
                    return self.reference(target, &format!("{at}.$ref"));
                }
                let mut out = serde_json::Map::with_capacity(map.len());
                for (op, args) in map {
                    out.insert(op.clone(), self.expand(args, &format!("{at}.{op}"))?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn reference(&mut self, target: &Value, at: &str) -> Result<Value, BuildError> {
        let Some(name) = target.as_str() else {
            return Err(self.error(at, format!("`$ref` takes an evaluator name (a string), found {target}")));
        };
        let Some((name, fragment)) = self.evaluators.get_key_value(name) else {
            let known: Vec<&str> = self.evaluators.keys().map(String::as_str).collect();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(self.error(at, format!("unknown evaluator {name:?} (`$evaluators` defines: {known})")));
        };
        if self.stack.contains(&name.as_str()) {
            let mut cycle: Vec<&str> = self.stack.clone();
            cycle.push(name);
            return Err(self.error(at, format!("`$ref` cycle: {}", cycle.join(" -> "))));
        }
        self.stack.push(name);
        let expanded = self.expand(fragment, &format!("$evaluators.{name}"));
        self.stack.pop();
        expanded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn evaluators(v: Value) -> Evaluators {
        serde_json::from_value(v).unwrap_or_default()
    }

    #[test]
    fn refs_expand_recursively() {
        let ev = evaluators(json!({
            "isDe": {"==": [{"var": "country"}, "DE"]},
            "deMobile": {"and": [{"$ref": "isDe"}, {"in": ["Mobile", {"var": "headers.user-agent"}]}]}
        }));
        let rule = json!({"or": [{"$ref": "deMobile"}, false]});
        let got = expand_refs(&rule, &ev, "s", "segments[0].rule").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            json!({"or": [{"and": [{"==": [{"var": "country"}, "DE"]}, {"in": ["Mobile", {"var": "headers.user-agent"}]}]}, false]})
        );
    }

    #[test]
    fn unknown_refs_and_cycles_are_errors_with_paths() {
        let ev = evaluators(json!({"a": {"!": {"$ref": "b"}}, "b": {"and": [true, {"$ref": "a"}]}}));
        let e = expand_refs(&json!({"and": [true, {"$ref": "nope"}]}), &ev, "seg", "segments[2].rule").unwrap_err();
        assert_eq!(e.kind(), BuildErrorKind::Rule);
        assert_eq!(e.field(), Some("segments[2].rule.and[1].$ref"));
        assert!(e.message().contains("segment \"seg\"") && e.message().contains("unknown evaluator \"nope\""), "{e}");
        let e = expand_refs(&json!({"$ref": "a"}), &ev, "seg", "segments[0].rule").unwrap_err();
        assert_eq!(e.field(), Some("$evaluators.b.and[1].$ref"));
        assert!(e.message().contains("a -> b -> a"), "{e}");
        let e = expand_refs(&json!({"$ref": 3}), &ev, "seg", "r").unwrap_err();
        assert!(e.message().contains("evaluator name"), "{e}");
    }

    #[test]
    fn exponential_expansion_is_refused() {
        let mut ev = serde_json::Map::new();
        ev.insert("e0".into(), json!(true));
        for i in 1..40 {
            ev.insert(
                format!("e{i}"),
                json!({"and": [{"$ref": format!("e{}", i - 1)}, {"$ref": format!("e{}", i - 1)}]}),
            );
        }
        let ev = evaluators(Value::Object(ev));
        let e = expand_refs(&json!({"$ref": "e39"}), &ev, "s", "r").unwrap_err();
        assert_eq!(e.kind(), BuildErrorKind::Limit);
    }
}
