//! Importing a flagd flag-definition file's `$evaluators` as segments.
//!
//! flagd files (`{"flags": {...}, "$evaluators": {...}}`) keep their reusable targeting fragments
//! under `$evaluators`; a team moving its audiences to the edge wants those fragments as segments,
//! unchanged in meaning. [`import_evaluators`] returns a definitions fragment — the same
//! `$evaluators` (variables rewritten) and one rule-only segment per evaluator, `{"$ref": name}` —
//! to merge into a definitions file.
//!
//! flagd evaluates over an evaluation context; edgeseg request rules read the request. So `var`
//! paths are rewritten: `$flagd.timestamp` becomes `now`, any other path `p` becomes
//! `attributes.p` (the platform or worker sets request attributes from the same context).
//! `targetingKey` and `$flagd.flagKey` have no equivalent a rule may read (the customer id never
//! reaches a `var`); they are refused by path — `fractional` without a key already buckets by
//! segment name + customer id, as flagd does by flag key + targeting key. Inside iteration bodies
//! `var` reads the element and is left alone.

use crate::definitions::check_name;
use crate::error::{BuildError, BuildErrorKind};
use serde_json::{Map, Value, json};

/// The iteration operators, whose second operand is a body with its own `var` scope.
const ITERATORS: [&str; 6] = ["map", "filter", "reduce", "all", "some", "none"];

/// Reads flagd flag-definition JSON and returns `{"$evaluators": {...}, "segments": [...]}`, one
/// segment per evaluator with the given `purpose`.
pub fn import_evaluators(text: &str, purpose: &str) -> Result<Value, BuildError> {
    let err = |field: &str, message: String| BuildError::new(BuildErrorKind::Definitions, message).with_field(field);
    let doc: Value = serde_json::from_str(crate::text::strip_bom(text)).map_err(|e| {
        BuildError::new(BuildErrorKind::Definitions, format!("not JSON: {e}"))
            .with_line(e.line() as u64)
            .with_column(e.column() as u64)
    })?;
    let Some(root) = doc.as_object() else {
        return Err(err("", "a flagd flag file is an object {\"flags\": …, \"$evaluators\": …}".into()));
    };
    if !root.get("flags").is_some_and(Value::is_object) {
        return Err(err("flags", "not a flagd flag file: no `flags` object".into()));
    }
    let Some(evaluators) = root.get("$evaluators").and_then(Value::as_object).filter(|e| !e.is_empty()) else {
        return Err(err("$evaluators", "the flag file has no `$evaluators` to import".into()));
    };
    let mut rewritten = Map::new();
    let mut segments = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    for (name, rule) in evaluators {
        let at = format!("$evaluators.{name}");
        rewritten.insert(name.clone(), rewrite(rule, &at, false)?);
        let segment = segment_name(name);
        check_name(&at, &segment)?;
        if taken.contains(&segment) {
            return Err(err(&at, format!("evaluator {name:?} becomes segment {segment:?}, which another took")));
        }
        segments.push(json!({"name": segment, "purpose": purpose, "rule": {"$ref": name}}));
        taken.push(segment);
    }
    Ok(json!({"$evaluators": rewritten, "segments": segments}))
}

/// `isPremium_User` → `ispremium_user`; anything outside `[a-z0-9_.-]` becomes `-`.
fn segment_name(evaluator: &str) -> String {
    evaluator
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c) { c } else { '-' })
        .collect()
}

/// The rule with its context paths turned into request paths (see the module docs).
fn rewrite(json: &Value, at: &str, in_body: bool) -> Result<Value, BuildError> {
    match json {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| rewrite(v, &format!("{at}[{i}]"), in_body))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Value::Object(map) if map.len() == 1 => {
            let Some((op, args)) = map.iter().next() else { return Ok(json.clone()) };
            let at = format!("{at}.{op}");
            let args = match op.as_str() {
                "var" if !in_body => var_args(args, &at)?,
                "missing" | "missing_some" if !in_body => missing_args(op, args, &at)?,
                "$ref" => args.clone(),
                _ if ITERATORS.contains(&op.as_str()) => match args {
                    Value::Array(items) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| rewrite(v, &format!("{at}[{i}]"), in_body || i == 1))
                        .collect::<Result<_, _>>()
                        .map(Value::Array)?,
                    other => rewrite(other, &at, in_body)?,
                },
                _ => rewrite(args, &at, in_body)?,
            };
            Ok(json!({ op: args }))
        }
        other => Ok(other.clone()),
    }
}

fn context_path(path: &str, at: &str) -> Result<String, BuildError> {
    match path {
        "$flagd.timestamp" => Ok("now".into()),
        "targetingKey" | "$flagd.flagKey" | "" => Err(BuildError::new(
            BuildErrorKind::Rule,
            format!(
                "`{path}` cannot be read by an edgeseg rule (the customer id never reaches a `var`); \
                 `fractional` without a key buckets by segment name + customer id"
            ),
        )
        .with_field(at)),
        p => Ok(format!("attributes.{p}")),
    }
}

fn var_args(args: &Value, at: &str) -> Result<Value, BuildError> {
    match args {
        Value::String(p) => Ok(json!(context_path(p, at)?)),
        Value::Array(items) => match items.split_first() {
            Some((Value::String(p), rest)) => {
                let mut out = vec![json!(context_path(p, &format!("{at}[0]"))?)];
                for (i, d) in rest.iter().enumerate() {
                    out.push(rewrite(d, &format!("{at}[{}]", i + 1), false)?);
                }
                Ok(Value::Array(out))
            }
            _ => Ok(args.clone()),
        },
        _ => Ok(args.clone()),
    }
}

fn missing_args(op: &str, args: &Value, at: &str) -> Result<Value, BuildError> {
    let keys = |v: &Value, at: &str| -> Result<Value, BuildError> {
        match v {
            Value::String(p) => Ok(json!(context_path(p, at)?)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, k)| match k {
                    Value::String(p) => Ok(json!(context_path(p, &format!("{at}[{i}]"))?)),
                    other => Ok(other.clone()),
                })
                .collect::<Result<_, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    };
    match (op, args) {
        ("missing_some", Value::Array(items)) if items.len() == 2 => {
            Ok(json!([items[0].clone(), keys(&items[1], &format!("{at}[1]"))?]))
        }
        ("missing", Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, k)| keys(k, &format!("{at}[{i}]")))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        _ => keys(args, at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_paths_become_request_paths() {
        let flags = json!({
            "flags": {},
            "$evaluators": {
                "Emails": {"in": ["@faas.com", {"var": ["email"]}]},
                "recent": {"and": [{">": [{"var": "$flagd.timestamp"}, 5]}, {"some": [{"var": "tags"}, {"==": [{"var": ""}, "x"]}]}]},
                "known": {"!": {"missing": ["email", "plan"]}}
            }
        });
        let got = import_evaluators(&flags.to_string(), "contract").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got["$evaluators"]["Emails"], json!({"in": ["@faas.com", {"var": ["attributes.email"]}]}));
        assert_eq!(
            got["$evaluators"]["recent"],
            json!({"and": [{">": [{"var": "now"}, 5]}, {"some": [{"var": "attributes.tags"}, {"==": [{"var": ""}, "x"]}]}]})
        );
        assert_eq!(got["$evaluators"]["known"], json!({"!": {"missing": ["attributes.email", "attributes.plan"]}}));
        assert_eq!(got["segments"][0], json!({"name": "emails", "purpose": "contract", "rule": {"$ref": "Emails"}}));
    }

    #[test]
    fn the_targeting_key_is_refused_by_path() {
        let flags = json!({"flags": {}, "$evaluators": {"k": {"==": [{"var": "targetingKey"}, "u1"]}}});
        let e = import_evaluators(&flags.to_string(), "contract").unwrap_err();
        assert_eq!(e.field(), Some("$evaluators.k.==[0].var"));
        let e = import_evaluators(r#"{"$evaluators": {}}"#, "contract").unwrap_err();
        assert_eq!(e.field(), Some("flags"));
    }
}
