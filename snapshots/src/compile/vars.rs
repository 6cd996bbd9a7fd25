//! Variables and scopes: `var` (a request slot, a member attribute, a path into the data document
//! or into the current element of an iteration body), `missing`/`missing_some`, the iteration
//! operators that open a scope, and `in_segment`.

use super::{Compiler, Mode, Operand, REQUEST_ROOTS, fold, rule_error};
use crate::error::BuildError;
use edgeseg::rule::{MissingKey, Node, Rule, Slot};

impl Compiler<'_> {
    /// Compiles an iteration operator: the array (and `reduce`'s initial value) in the current
    /// scope, the body (second argument) in the element's scope.
    pub(super) fn iterate(
        &mut self,
        list: &[&serde_json::Value],
        arg_at: &dyn Fn(usize) -> String,
        at: &str,
        depth: usize,
        make: impl Fn(Vec<u32>) -> Node,
    ) -> Result<Operand, BuildError> {
        let mut ops = Vec::with_capacity(list.len());
        let mut body_from = self.nodes.len();
        for (i, arg) in list.iter().enumerate() {
            if i == 1 {
                body_from = self.nodes.len();
                self.scopes += 1;
                let body = self.expr(arg, &arg_at(i), depth + 1);
                self.scopes -= 1;
                ops.push(body?);
            } else {
                ops.push(self.expr(arg, &arg_at(i), depth + 1)?);
            }
        }
        // A body that reads only its element (no request input) over constant operands folds too:
        // evaluate it now, then drop the body's nodes.
        let others_const = ops.iter().enumerate().all(|(i, o)| i == 1 || matches!(o, Operand::Const(_)));
        let body_pure = self.nodes.get(body_from..).is_some_and(|body| {
            body.iter().all(|n| {
                !matches!(
                    n,
                    Node::Var { .. }
                        | Node::InSegment(_)
                        | Node::Consent(_)
                        | Node::Missing(_)
                        | Node::MissingSome { .. }
                )
            })
        });
        if others_const && body_pure && matches!(ops.get(1), Some(Operand::Node(_))) {
            let mut nodes = self.nodes.clone();
            let mut children = Vec::with_capacity(ops.len());
            for o in &ops {
                children.push(match o {
                    Operand::Node(i) => *i,
                    Operand::Const(lit) => {
                        nodes.push(Node::Literal(lit.clone()));
                        (nodes.len() - 1) as u32
                    }
                });
            }
            nodes.push(make(children));
            // A body that fails stays as it is, to fail where it is evaluated.
            if let Some(value) = fold(&Rule { nodes }, at)? {
                self.nodes.truncate(body_from);
                self.literals.retain(|_, i| (*i as usize) < body_from);
                return Ok(Operand::Const(value));
            }
        }
        self.combine(ops, at, make)
    }

    /// `missing` / `missing_some`: the keys must be constant strings, each resolved like a `var`.
    pub(super) fn missing(
        &mut self,
        op: &str,
        list: &[&serde_json::Value],
        at: &str,
        arg_at: &dyn Fn(usize) -> String,
        depth: usize,
    ) -> Result<Operand, BuildError> {
        if self.scopes > 0 && self.mode != Mode::Data {
            return Err(rule_error(at, format!("`{op}` inside an iteration body is not supported")));
        }
        let some = op == "missing_some";
        if some && list.len() != 2 {
            return Err(rule_error(
                at,
                format!("`missing_some` takes 2 arguments (a count and an array of keys), got {}", list.len()),
            ));
        }
        let mut need = None;
        let mut keys_json: Vec<(String, &serde_json::Value)> = Vec::new();
        for (i, arg) in list.iter().enumerate() {
            if some && i == 0 {
                let op = self.expr(arg, &arg_at(0), depth + 1)?;
                need = Some(self.node(op, at)?);
                continue;
            }
            keys_json.push((arg_at(i), arg));
        }
        // A first (or `missing_some`'s second) argument that is an array holds the keys.
        let mut names: Vec<(String, String)> = Vec::new();
        let mut push_key = |where_: String, v: &serde_json::Value| match v.as_str() {
            Some(s) => {
                names.push((where_, s.to_string()));
                Ok(())
            }
            None => Err(rule_error(&where_, format!("`{op}` keys must be constant strings, found {v}"))),
        };
        match keys_json.as_slice() {
            [(where_, serde_json::Value::Array(items))] => {
                for (j, item) in items.iter().enumerate() {
                    push_key(format!("{where_}[{j}]"), item)?;
                }
            }
            _ if some => {
                return Err(rule_error(at, "`missing_some` takes its keys as an array"));
            }
            _ => {
                for (where_, v) in &keys_json {
                    push_key(where_.clone(), v)?;
                }
            }
        }
        let mut keys = Vec::with_capacity(names.len());
        for (where_, name) in names {
            let var = if self.mode == Mode::Data || self.scopes > 0 {
                let path = serde_json::Value::String(name.clone());
                match self.scope_var(&path, None, at, &|_| where_.clone(), depth)? {
                    Operand::Node(i) => i,
                    Operand::Const(_) => return Err(rule_error(&where_, "`missing` key did not compile to a read")),
                }
            } else {
                let slot = self.slot(&name, &where_)?;
                self.push(Node::Var { slot, default: None }, at)?
            };
            keys.push(MissingKey { name, var });
        }
        let node = match need {
            Some(need) => Node::MissingSome { need, keys },
            None => Node::Missing(keys),
        };
        self.push(node, at).map(Operand::Node)
    }

    pub(super) fn var(
        &mut self,
        list: &[&serde_json::Value],
        at: &str,
        arg_at: &dyn Fn(usize) -> String,
        depth: usize,
    ) -> Result<Operand, BuildError> {
        let (path, default) = match list {
            [path] => (*path, None),
            [path, default] => (*path, Some(*default)),
            _ => {
                return Err(rule_error(
                    at,
                    format!("`var` takes a path and an optional default, got {} arguments", list.len()),
                ));
            }
        };
        if self.scopes > 0 || self.mode == Mode::Data {
            return self.scope_var(path, default, at, arg_at, depth);
        }
        let Some(path) = path.as_str() else {
            return Err(rule_error(
                &arg_at(0),
                "`var` path must be a string (array indices and computed paths are not supported)",
            ));
        };
        let slot = self.slot(path, &arg_at(0))?;
        let default = match default {
            Some(d) => {
                let op = self.expr(d, &arg_at(1), depth + 1)?;
                Some(self.node(op, at)?)
            }
            None => None,
        };
        self.push(Node::Var { slot, default }, at).map(Operand::Node)
    }

    /// `val` (the community's): a path given as its segments, each taken whole (`{"val": ["a",
    /// "b.c"]}` reads key `b.c` of `a`; `{"val": "a.b"}` reads key `a.b`); none, `""` or `null`:
    /// the whole document or element. No default (a path that leads nowhere is null). Segments
    /// are constant strings or integers; at the edge they name a request slot (`["headers",
    /// "x-lang"]`).
    pub(super) fn val(&mut self, args: &serde_json::Value, at: &str) -> Result<Operand, BuildError> {
        use serde_json::Value as J;
        let segments: Vec<&J> = match args {
            J::Array(items) => items.iter().collect(),
            J::Null => Vec::new(),
            other => vec![other],
        };
        let mut path = Vec::with_capacity(segments.len());
        for (i, seg) in segments.iter().enumerate() {
            path.push(match seg {
                J::String(s) => s.clone(),
                J::Number(n) => match n.as_u64() {
                    Some(i) => i.to_string(),
                    None => return Err(rule_error(&format!("{at}.val[{i}]"), "a `val` index is a whole number")),
                },
                _ => {
                    return Err(rule_error(
                        &format!("{at}.val[{i}]"),
                        "a `val` segment is a constant string or index (computed paths and scope levels are not supported)",
                    ));
                }
            });
        }
        if let [only] = path.as_slice()
            && only.is_empty()
        {
            path.clear();
        }
        if self.scopes > 0 || self.mode == Mode::Data {
            return self.push(Node::ScopeVar { path, default: None }, at).map(Operand::Node);
        }
        let slot = self.slot(&path.join("."), &format!("{at}.val"))?;
        self.push(Node::Var { slot, default: None }, at).map(Operand::Node)
    }

    /// `var` inside an iteration body: a path into the current element (json-logic-js's `data`).
    fn scope_var(
        &mut self,
        path: &serde_json::Value,
        default: Option<&serde_json::Value>,
        at: &str,
        arg_at: &dyn Fn(usize) -> String,
        depth: usize,
    ) -> Result<Operand, BuildError> {
        use serde_json::Value as J;
        let path: Vec<String> = match path {
            J::Null => Vec::new(),
            J::Array(items) if items.is_empty() => Vec::new(),
            J::String(s) if s.is_empty() => Vec::new(),
            J::String(s) => s.split('.').map(str::to_string).collect(),
            // JS `String(n)`: an integral 1.0 is "1", not serde_json's "1.0".
            J::Number(n) => match n.as_f64() {
                Some(x) if x.fract() == 0.0 && x.abs() < 1e21 => vec![format!("{}", x as i64)],
                _ => n.to_string().split('.').map(str::to_string).collect(),
            },
            _ => return Err(rule_error(&arg_at(0), "`var` path must be a string or a number")),
        };
        let default = match default {
            Some(d) => {
                let op = self.expr(d, &arg_at(1), depth + 1)?;
                Some(self.node(op, at)?)
            }
            None => None,
        };
        self.push(Node::ScopeVar { path, default }, at).map(Operand::Node)
    }

    fn slot(&self, path: &str, at: &str) -> Result<Slot, BuildError> {
        let named = |prefix: &str| path.strip_prefix(prefix).filter(|n| !n.is_empty());
        match self.mode {
            Mode::Profile => {
                let name = path.strip_prefix("attributes.").unwrap_or(path);
                if name.is_empty() {
                    return Err(rule_error(at, "empty `var` path: name a member attribute"));
                }
                Ok(Slot::Attribute(name.to_string()))
            }
            // Data rules read paths with `ScopeVar`, never a slot.
            Mode::Data => Err(rule_error(at, format!("variable {path:?} does not name a request slot"))),
            Mode::Request => Ok(match path {
                "method" => Slot::Method,
                "host" => Slot::Host,
                "path" => Slot::Path,
                "country" => Slot::Country,
                "now" => Slot::Now,
                "now_ms" => Slot::NowMs,
                _ => {
                    if let Some(h) = named("headers.") {
                        Slot::Header(h.to_ascii_lowercase())
                    } else if let Some(c) = named("cookies.") {
                        Slot::Cookie(c.to_string())
                    } else if let Some(a) = named("attributes.") {
                        Slot::Attribute(a.to_string())
                    } else {
                        return Err(rule_error(
                            at,
                            format!("unknown variable {path:?}: request rules read {REQUEST_ROOTS}"),
                        ));
                    }
                }
            }),
        }
    }

    pub(super) fn in_segment(&mut self, list: &[&serde_json::Value], at: &str) -> Result<Operand, BuildError> {
        if self.mode != Mode::Request {
            return Err(rule_error(
                at,
                "`in_segment` works in request rules only: profile rules run before memberships exist, \
                 rules over data have no request",
            ));
        }
        let [name] = list else {
            return Err(rule_error(at, format!("`in_segment` takes 1 segment name, got {} arguments", list.len())));
        };
        let Some(name) = name.as_str() else {
            return Err(rule_error(at, "`in_segment` takes a segment name (a string)"));
        };
        let Some(index) = self.segments.iter().position(|s| *s == name) else {
            return Err(rule_error(at, format!("`in_segment`: unknown segment {name:?}")));
        };
        if !(self.has_members)(index) {
            return Err(rule_error(at, format!("`in_segment`: segment {name:?} has no `members` to probe")));
        }
        let index = u16::try_from(index).map_err(|_| rule_error(at, "segment index does not fit in u16"))?;
        self.push(Node::InSegment(index), at).map(Operand::Node)
    }

    /// `{"consent": "<purpose>"}`: true when the purpose is granted on this request — the
    /// member's recorded consent narrowed by the request's signals and revocations (a purpose that
    /// needs no consent, `contract`, always). Anonymous requests have only such purposes.
    pub(super) fn consent(&mut self, list: &[&serde_json::Value], at: &str) -> Result<Operand, BuildError> {
        if self.mode != Mode::Request {
            return Err(rule_error(
                at,
                "`consent` works in request rules only: it reads the request's consent signals \
                 (a member's recorded consents already decide the `members` list)",
            ));
        }
        let [name] = list else {
            return Err(rule_error(at, format!("`consent` takes 1 purpose name, got {} arguments", list.len())));
        };
        let Some(name) = name.as_str() else {
            return Err(rule_error(at, "`consent` takes a purpose name (a string)"));
        };
        let Some(index) = self.purposes.iter().position(|p| *p == name) else {
            let declared = self.purposes.join(", ");
            return Err(rule_error(at, format!("`consent`: unknown purpose {name:?} (declared: {declared})")));
        };
        let index = u16::try_from(index).map_err(|_| rule_error(at, "purpose index does not fit in u16"))?;
        self.push(Node::Consent(index), at).map(Operand::Node)
    }
}
