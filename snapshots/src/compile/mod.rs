//! JSON Logic → rule IR.
//!
//! The edge never sees JSON: it walks [`edgeseg::rule::Rule`], a flat list of nodes in which every
//! child comes before its parent and the root is last. This module is the only place that reads
//! JSON Logic, so it is also where every mistake in a rule is caught, with the path to it:
//! `segments[3].rule.and[1]: unknown operator "foo"`.
//!
//! Three things happen on the way down:
//!
//! * **Variables resolve to slots** once, here: `headers.User-Agent` becomes
//!   `Slot::Header("user-agent")`, so the edge does no string splitting per request. Which paths
//!   exist depends on the [`Mode`]: a request rule sees the request, a profile rule sees a
//!   member's attributes (and is evaluated by the builder, never shipped).
//! * **Constants fold.** A node whose operands are all constant is evaluated now, with the edge's
//!   own evaluator (so folding cannot disagree with the edge), and replaced by its value.
//! * **Limits hold.** Depth and size are bounded by [`MAX_DEPTH`] and [`MAX_NODES`], the same caps
//!   the edge validates, so a rule that compiles also loads.
//!
//! The operator set is JSON Logic's with the community's semantics (datalogic-rs 5.4 the
//! reference: chained comparisons, variadic arithmetic, `?:`, `{}`, `val`; evaluation errors), flagd's
//! `starts_with` `ends_with` `sem_ver` `fractional`, and edgeseg's `in_segment` and `consent`;
//! anything else is refused by name. A constant that fails is left unfolded, to fail where it is
//! evaluated. Where edgeseg is narrower:
//!
//! * `var` outside an iteration body takes a constant string path naming a request slot; inside a
//!   body (`map` `filter` `reduce` `all` `some` `none`) it reads the current element, as in
//!   json-logic-js, and compiles to `ScopeVar`.
//! * `missing`/`missing_some` keys are constant strings (resolved like `var`), and are refused
//!   inside iteration bodies. A key is missing when absent (a request slot that is null).
//! * Arity is checked at build time where other engines would silently ignore extra operands
//!   (`!` 1, `substr` 2–3, `log` 1, `in` 2); comparisons and arithmetic take any count.
//! * `fractional` without a bucketing key uses flagd's default, the flag key followed by the
//!   targeting key — here the segment's name followed by the request's customer id — and is null
//!   for anonymous requests (no id, no bucket) rather than putting them all in one bucket. A rule
//!   compiled outside a segment ([`compile_with`]) needs an explicit key.

mod data;
mod refs;
mod vars;

pub use data::{compile_data, literal_from_json, literal_to_json};
pub use refs::{Evaluators, expand_refs};

use crate::error::{BuildError, BuildErrorKind};
use edgeseg::rule::{
    ArithOp, CompareOp, DEFAULT_EVAL_BUDGET, Halt, IterOp, Literal, MAX_DEPTH, MAX_NODES, NoRequest, Node, Rule, Slot,
};
use std::collections::HashMap;

/// What a rule's variables refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Evaluated at the edge over a request: `method`, `headers.<name>`, …
    Request,
    /// Evaluated by the builder over one member's attributes: any path names an attribute.
    Profile,
    /// Evaluated over an arbitrary data document, as json-logic-js's `apply(rule, data)`: `var`
    /// paths (dotted, with array indices; `""` the whole document) and `missing` keys read the
    /// data, `in_segment` is refused. What `edgeseg jsonlogic` and the `edgeseg_eval` export run.
    Data,
}

const REQUEST_ROOTS: &str =
    "method, host, path, country, now, now_ms, headers.<name>, cookies.<name>, attributes.<name>";

/// Compiles one JSON Logic rule. `segments` holds segment names by their final index in the
/// snapshot (what `in_segment` compiles to); `at` is the rule's field path, prefixed to errors.
///
/// This checks that `in_segment` names a known segment; the builder additionally checks that the
/// segment has members (see [`compile_with`]).
pub fn compile_rule(json: &serde_json::Value, mode: Mode, segments: &[&str], at: &str) -> Result<Rule, BuildError> {
    compile_with(json, mode, segments, &|_| true, at)
}

/// [`compile_rule`], with `has_members(index)` saying which segments `in_segment` may name: a
/// segment without a membership set has nothing to probe.
pub fn compile_with(
    json: &serde_json::Value,
    mode: Mode,
    segments: &[&str],
    has_members: &dyn Fn(usize) -> bool,
    at: &str,
) -> Result<Rule, BuildError> {
    compile_segment_rule(json, mode, segments, &[], has_members, None, at)
}

/// [`compile_with`] for a rule of the segment named `segment`, which gives `fractional` its
/// default bucketing key; `purposes` are the snapshot's purposes by index (what `consent` names).
pub fn compile_segment_rule(
    json: &serde_json::Value,
    mode: Mode,
    segments: &[&str],
    purposes: &[&str],
    has_members: &dyn Fn(usize) -> bool,
    segment: Option<&str>,
    at: &str,
) -> Result<Rule, BuildError> {
    let mut c = Compiler {
        mode,
        segments,
        purposes,
        segment,
        has_members,
        nodes: Vec::new(),
        scopes: 0,
        literals: HashMap::new(),
    };
    let root = c.expr(json, at, 1)?;
    // The root must be the last node; a constant root is the whole rule.
    if let Operand::Const(lit) = root {
        c.push(Node::Literal(lit), at)?;
    }
    let rule = Rule { nodes: c.nodes };
    rule.validate(segments.len())
        .map_err(|e| BuildError::new(BuildErrorKind::Limit, e.detail().to_string()).with_field(at))?;
    if matches!(mode, Mode::Request) {
        check_path_literals(&rule, at)?;
    }
    Ok(rule)
}

/// The edge hands request rules the path lower-cased (`edgeseg::path`, issue 19), so a string
/// with an upper-case ASCII letter before any `?` that is compared with the path could never
/// match: a guard such as `{"starts_with": [{"var": "path"}, "/Account"]}` would silently stop
/// guarding. Refused, naming the literal and its lower-case spelling.
fn check_path_literals(rule: &Rule, at: &str) -> Result<(), BuildError> {
    fn upper(lit: &Literal) -> Option<&str> {
        match lit {
            Literal::String(s) => {
                s.split('?').next().is_some_and(|p| p.bytes().any(|b| b.is_ascii_uppercase())).then_some(s.as_str())
            }
            Literal::Array(items) => items.iter().find_map(upper),
            _ => None,
        }
    }
    let node = |i: u32| rule.nodes.get(i as usize);
    for n in &rule.nodes {
        let operands: Vec<u32> = match n {
            Node::Compare { args, .. } => args.clone(),
            Node::In { needle, haystack } => vec![*needle, *haystack],
            Node::Affix { text, affix, .. } => vec![*text, *affix],
            _ => continue,
        };
        if !operands.iter().any(|&i| matches!(node(i), Some(Node::Var { slot: Slot::Path, .. }))) {
            continue;
        }
        if let Some(s) = operands.iter().find_map(|&i| match node(i) {
            Some(Node::Literal(lit)) => upper(lit),
            _ => None,
        }) {
            let (path, query) = s.split_at(s.find('?').unwrap_or(s.len()));
            return Err(rule_error(
                at,
                format!(
                    "{s:?} is compared with the path, which rules see lower-cased (percent-escapes of \
                     letters decoded, `//` and dot segments resolved): it could never match; write \
                     {:?}",
                    format!("{}{query}", path.to_ascii_lowercase())
                ),
            ));
        }
    }
    Ok(())
}

/// A compiled operand: still a constant (foldable) or already a node.
enum Operand {
    Const(Literal),
    Node(u32),
}

struct Compiler<'s> {
    mode: Mode,
    segments: &'s [&'s str],
    purposes: &'s [&'s str],
    /// The segment whose rule this is, if any: `fractional`'s default key starts with its name.
    segment: Option<&'s str>,
    has_members: &'s dyn Fn(usize) -> bool,
    nodes: Vec<Node>,
    /// How many iteration bodies enclose the expression being compiled: inside one, `var` reads
    /// the current element.
    scopes: usize,
    /// Emitted literal nodes by their debug form, so a constant used twice is stored once.
    literals: HashMap<String, u32>,
}

fn rule_error(at: &str, message: impl Into<String>) -> BuildError {
    BuildError::new(BuildErrorKind::Rule, message).with_field(at)
}

impl Compiler<'_> {
    fn push(&mut self, node: Node, at: &str) -> Result<u32, BuildError> {
        if self.nodes.len() >= MAX_NODES {
            return Err(
                BuildError::new(BuildErrorKind::Limit, format!("rule has more than {MAX_NODES} nodes")).with_field(at)
            );
        }
        let index = self.nodes.len() as u32;
        self.nodes.push(node);
        Ok(index)
    }

    /// Turns an operand into a node index, emitting (or reusing) a literal node for constants.
    fn node(&mut self, op: Operand, at: &str) -> Result<u32, BuildError> {
        match op {
            Operand::Node(i) => Ok(i),
            Operand::Const(lit) => {
                let key = format!("{lit:?}");
                if let Some(&i) = self.literals.get(&key) {
                    return Ok(i);
                }
                let i = self.push(Node::Literal(lit), at)?;
                self.literals.insert(key, i);
                Ok(i)
            }
        }
    }

    fn expr(&mut self, json: &serde_json::Value, at: &str, depth: usize) -> Result<Operand, BuildError> {
        use serde_json::Value as J;
        if depth > MAX_DEPTH {
            return Err(
                BuildError::new(BuildErrorKind::Limit, format!("rule nested deeper than {MAX_DEPTH}")).with_field(at)
            );
        }
        match json {
            J::Null => Ok(Operand::Const(Literal::Null)),
            J::Bool(b) => Ok(Operand::Const(Literal::Bool(*b))),
            J::Number(n) => match n.as_f64() {
                Some(x) if x.is_finite() => Ok(Operand::Const(Literal::Number(x))),
                _ => Err(rule_error(at, format!("number {n} is out of range"))),
            },
            J::String(s) => Ok(Operand::Const(Literal::String(s.clone()))),
            J::Array(items) => {
                let mut ops = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    ops.push(self.expr(item, &format!("{at}[{i}]"), depth + 1)?);
                }
                self.combine(ops, at, Node::Array)
            }
            J::Object(map) => {
                let mut entries = map.iter();
                match (entries.next(), entries.next()) {
                    (Some((op, args)), None) => self.operator(op, args, at, depth),
                    // The community reads `{}` as an empty object, a (falsy) value.
                    (None, _) => Ok(Operand::Const(Literal::Object(Vec::new()))),
                    (Some(_), Some(_)) => {
                        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                        Err(rule_error(
                            at,
                            format!(
                                "an operator object has exactly one key, found {}: {}",
                                keys.len(),
                                keys.join(", ")
                            ),
                        ))
                    }
                }
            }
        }
    }

    /// Compiles `{op: args}` standing at `at`.
    fn operator(&mut self, op: &str, args: &serde_json::Value, at: &str, depth: usize) -> Result<Operand, BuildError> {
        // JSON Logic lets a single argument go unwrapped: {"!": x} is {"!": [x]}.
        let (list, wrapped): (Vec<&serde_json::Value>, bool) = match args {
            serde_json::Value::Array(items) => (items.iter().collect(), true),
            other => (vec![other], false),
        };
        let arg_at = |i: usize| if wrapped { format!("{at}.{op}[{i}]") } else { format!("{at}.{op}") };
        let n = list.len();
        let arity = |ok: bool, want: &str| {
            if ok { Ok(()) } else { Err(rule_error(at, format!("`{op}` takes {want}, got {n}"))) }
        };
        let cmp = match op {
            "==" => Some(CompareOp::Eq),
            "!=" => Some(CompareOp::Ne),
            "===" => Some(CompareOp::StrictEq),
            "!==" => Some(CompareOp::StrictNe),
            "<" => Some(CompareOp::Lt),
            "<=" => Some(CompareOp::Le),
            ">" => Some(CompareOp::Gt),
            ">=" => Some(CompareOp::Ge),
            _ => None,
        };
        let arith = match op {
            "+" => Some(ArithOp::Add),
            "-" => Some(ArithOp::Sub),
            "*" => Some(ArithOp::Mul),
            "/" => Some(ArithOp::Div),
            "%" => Some(ArithOp::Mod),
            "max" => Some(ArithOp::Max),
            "min" => Some(ArithOp::Min),
            _ => None,
        };
        let iter = match op {
            "map" => Some(IterOp::Map),
            "filter" => Some(IterOp::Filter),
            "all" => Some(IterOp::All),
            "some" => Some(IterOp::Some),
            "none" => Some(IterOp::None),
            _ => None,
        };
        match op {
            "var" => return self.var(&list, at, &arg_at, depth),
            "val" => return self.val(args, at),
            "in_segment" => return self.in_segment(&list, at),
            "consent" => return self.consent(&list, at),
            "missing" | "missing_some" => return self.missing(op, &list, at, &arg_at, depth),
            _ => {}
        }
        if let Some(iop) = iter {
            arity(n == 2, "2 arguments (an array and a body)")?;
            return self.iterate(&list, &arg_at, at, depth, |a| Node::Iterate { op: iop, array: a[0], body: a[1] });
        }
        if op == "reduce" {
            arity(n == 2 || n == 3, "2 or 3 arguments (an array, a body and an initial value)")?;
            return self.iterate(&list, &arg_at, at, depth, |a| Node::Reduce {
                array: a[0],
                body: a[1],
                initial: a.get(2).copied(),
            });
        }
        if cmp.is_some() {
            // Comparisons chain (`{"<": [1, 2, 3]}`); `!=` `!==` read their first two operands.
            arity(n >= 2, "at least 2 arguments")?;
        } else if arith.is_some() {
            // Every count compiles: the ones an operator has no answer for (`{"-": []}`, `max` of
            // nothing) fail when evaluated, as the community's engines do.
        } else {
            match op {
                "in" | "starts_with" | "ends_with" => arity(n == 2, "2 arguments")?,
                "and" | "or" | "if" | "?:" => {}
                "!" | "!!" | "log" => arity(n == 1, "1 argument")?,
                "cat" | "merge" => {}
                "substr" => arity(n == 2 || n == 3, "2 or 3 arguments")?,
                "sem_ver" => arity(n == 3, "3 arguments (version, operator, version)")?,
                "fractional" => {
                    arity(n >= 1, "at least 1 variant")?;
                    if list.first().is_some_and(|k| k.is_array()) {
                        if self.segment.is_none() {
                            return Err(rule_error(
                                &arg_at(0),
                                "`fractional` outside a segment needs an explicit bucketing key first, e.g. \
                                 {\"cat\": [\"canary\", {\"var\": \"cookies.uid\"}]}",
                            ));
                        }
                    } else {
                        arity(n >= 2, "a bucketing key and at least 1 variant")?;
                    }
                }
                _ => return Err(rule_error(at, format!("unknown operator {op:?}"))),
            }
        }
        let mut ops = Vec::with_capacity(n);
        for (i, arg) in list.iter().enumerate() {
            ops.push(self.expr(arg, &arg_at(i), depth + 1)?);
        }
        if let Some(c) = cmp {
            return self.combine(ops, at, |args| Node::Compare { op: c, args });
        }
        if let Some(a) = arith {
            return self.combine(ops, at, |args| Node::Arith { op: a, args });
        }
        match op {
            "in" => self.combine(ops, at, |a| Node::In { needle: a[0], haystack: a[1] }),
            "and" => self.combine(ops, at, Node::And),
            "or" => self.combine(ops, at, Node::Or),
            "if" | "?:" => self.combine(ops, at, Node::If),
            "!" => self.combine(ops, at, |a| Node::Not(a[0])),
            "!!" => self.combine(ops, at, |a| Node::Truthy(a[0])),
            // `log` is the identity (there is no console at the edge).
            "log" => ops.pop().ok_or_else(|| rule_error(at, "`log` takes 1 argument")),
            "cat" => self.combine(ops, at, Node::Cat),
            "merge" => self.combine(ops, at, Node::Merge),
            "substr" => self.combine(ops, at, Node::Substr),
            "starts_with" => self.combine(ops, at, |a| Node::Affix { suffix: false, text: a[0], affix: a[1] }),
            "ends_with" => self.combine(ops, at, |a| Node::Affix { suffix: true, text: a[0], affix: a[1] }),
            "sem_ver" => self.combine(ops, at, |a| Node::SemVer { left: a[0], op: a[1], right: a[2] }),
            _ => match self.segment {
                Some(segment) if list.first().is_some_and(|k| k.is_array()) => self.default_key(ops, segment, at),
                _ => self.combine(ops, at, |a| Node::Fractional { key: a[0], variants: a[1..].to_vec() }),
            },
        }
    }

    /// `fractional` with flagd's default bucketing key: `if(id, fractional(cat(segment, id), …), null)`.
    fn default_key(&mut self, variants: Vec<Operand>, segment: &str, at: &str) -> Result<Operand, BuildError> {
        let id = self.push(Node::Var { slot: Slot::Identity, default: None }, at)?;
        let name = self.node(Operand::Const(Literal::String(segment.to_string())), at)?;
        let key = self.push(Node::Cat(vec![name, id]), at)?;
        let mut children = Vec::with_capacity(variants.len());
        for v in variants {
            children.push(self.node(v, at)?);
        }
        let bucketed = self.push(Node::Fractional { key, variants: children }, at)?;
        let null = self.node(Operand::Const(Literal::Null), at)?;
        self.push(Node::If(vec![id, bucketed, null]), at).map(Operand::Node)
    }

    /// Emits `make(children)`, or — when every child is constant — evaluates it now and returns
    /// the value. Arrays of constants become `Literal::Array` without evaluation.
    fn combine(&mut self, ops: Vec<Operand>, at: &str, make: impl Fn(Vec<u32>) -> Node) -> Result<Operand, BuildError> {
        if ops.iter().all(|o| matches!(o, Operand::Const(_))) {
            let lits: Vec<Literal> = ops
                .into_iter()
                .filter_map(|o| match o {
                    Operand::Const(l) => Some(l),
                    Operand::Node(_) => None,
                })
                .collect();
            let n = lits.len() as u32;
            let node = make((0..n).collect());
            if let Node::Array(_) = node {
                return Ok(Operand::Const(Literal::Array(lits)));
            }
            let mut nodes: Vec<Node> = lits.into_iter().map(Node::Literal).collect();
            nodes.push(node);
            let folded = Rule { nodes };
            return match fold(&folded, at)? {
                Some(value) => Ok(Operand::Const(value)),
                // A constant that fails stays an expression and fails where it is evaluated.
                None => {
                    let mut children = Vec::with_capacity(folded.nodes.len());
                    for n in folded.nodes {
                        if let Node::Literal(l) = n {
                            children.push(self.node(Operand::Const(l), at)?);
                        }
                    }
                    self.push(make(children), at).map(Operand::Node)
                }
            };
        }
        let mut children = Vec::with_capacity(ops.len());
        for o in ops {
            children.push(self.node(o, at)?);
        }
        self.push(make(children), at).map(Operand::Node)
    }
}

/// Evaluates a rule with no inputs (all its leaves are literals) to a literal, within the edge's
/// default evaluation budget: a constant expression that would run out of it at the edge (a
/// `reduce` doubling a string, nested `map`s over large arrays) is refused here, by path, rather
/// than hanging the build or shipping a rule that never matches.
/// `None` when the expression fails (an evaluation error: it is kept, to fail at run time).
fn fold(rule: &Rule, at: &str) -> Result<Option<Literal>, BuildError> {
    // Folded nodes read nothing, so the edge's input-less environment is all they need.
    match rule.evaluate_within(&NoRequest, DEFAULT_EVAL_BUDGET) {
        Ok(v) => Ok(Some(v.to_literal())),
        Err(Halt::Error(_)) => Ok(None),
        Err(Halt::Budget) => Err(BuildError::new(
            BuildErrorKind::Limit,
            format!("constant expression takes more than {DEFAULT_EVAL_BUDGET} work units to evaluate"),
        )
        .with_field(at)),
    }
}
