//! Rule IR and its evaluator.
//!
//! Rules are written as JSON Logic (plus edgeseg's `in_segment`) and compiled by the builder into
//! this IR: a flat list of [`Node`]s where every child index is smaller than its parent's, the root
//! is the last node, constants are folded, and every `var` path is resolved once to a [`Slot`]. The
//! edge never parses JSON; it walks this list.
//!
//! Semantics follow json-logic-js, which follows JavaScript: `==` is loose equality with JS's
//! coercions, `===` strict; `<` and friends compare strings by UTF-16 code units and everything
//! else as numbers; an empty array is falsy (JSON Logic's one departure from JS); `and`/`or`
//! return the deciding operand, not a bool. Anything odd (a missing header, a string where a number
//! was expected) evaluates to `null`/`false` rather than failing: a rule never errors at the edge.
//!
//! Validation ([`Rule::validate`]) guarantees that evaluation only follows existing indices and
//! that recursion depth is bounded, so a hostile snapshot cannot overflow the guest's stack.

//! Inside the body of `map` `filter` `reduce` `all` `some` `none`, `var` reads the current element
//! (or `current`/`accumulator` in `reduce`), not the request: the compiler emits
//! [`Node::ScopeVar`] there, and evaluation carries the innermost scope down (json-logic-js gives a
//! body no access to outer scopes, and neither does this).
//!
//! Module map: [`value`] holds runtime values and JS coercions, `ops` the arithmetic and string
//! operators, `flagd` flagd's `sem_ver`, `fractional` and its MurmurHash3.

mod decimal;
mod flagd;
mod ops;
pub mod value;

pub use flagd::murmur3_32;
pub use ops::ArithOp;
pub use value::{Value, loose_eq, strict_eq, string_to_number, to_js_string, truthy};

use crate::error::{Error, ErrorKind};
use crate::request::Request;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use serde::{Deserialize, Serialize};
use value::{contains, elements, less};

/// Work units one evaluation of a rule may spend unless the host sets another limit
/// (`Engine::set_eval_budget`): a unit per node evaluated (each run of an iteration body
/// counts), per array element walked by `map`/`filter`/`reduce` or built by `merge`/`map`, and per
/// byte of a string built (`cat`, `substr`) or copied out of an iteration scope.
/// [`Rule::validate`] bounds a rule's structure, not the work of its loops: nested `map`s over
/// large literal arrays or a `reduce` that doubles a string would otherwise run (and allocate)
/// without bound where no fuel stops them (a Worker, a browser). An evaluation that runs out stops
/// at once, and its rule does not match. 65,536 units (as many as [`MAX_EVALUATIONS`]) is about a
/// millisecond of native work at worst, far above real rules (tens of units) and far below a hang;
/// the builder folds constants under the same limit.
pub const DEFAULT_EVAL_BUDGET: u64 = 1 << 16;

/// An evaluation ran out of its work budget (see [`DEFAULT_EVAL_BUDGET`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetExceeded;

/// Deepest rule the edge evaluates (the builder refuses deeper ones).
pub const MAX_DEPTH: usize = 64;
/// Most nodes in one rule.
pub const MAX_NODES: usize = 4096;
/// Most node evaluations one pass over a rule may take, counting a node once per parent that
/// refers to it. Nodes may be shared (the IR is a DAG), so without this bound 61 nodes, each
/// `+` of the previous one twice, make 2^60 evaluations: a snapshot that hangs every decision (issue 10).
/// Iteration bodies count once here, not once per element.
pub const MAX_EVALUATIONS: u64 = 1 << 16;

/// A literal value in the IR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Literal>),
    /// A JSON object, keys in document order. Never produced by the compiler (an object in a rule
    /// is an operator); it arrives only in the data document of [`Rule::evaluate_data`] (the
    /// `edgeseg_eval` export). Appended last: earlier variants keep their postcard tags.
    Object(Vec<(String, Literal)>),
}

/// Where a `var` reads from, resolved at build time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Slot {
    Method,
    Host,
    Path,
    Country,
    /// Seconds since the Unix epoch (as flagd's `$flagd.timestamp`).
    Now,
    NowMs,
    /// A request header, name stored lower-case.
    Header(String),
    Cookie(String),
    /// A request attribute (at the edge) or a member attribute (profile rules in the builder).
    Attribute(String),
    /// The customer id (at the edge: per the snapshot's identity sources, null when anonymous; in
    /// the builder: the member's id). Never reachable from a user's `var` path, so no rule can
    /// compare against — and thereby ship — a raw id; the compiler emits it only as part of
    /// `fractional`'s default bucketing key (segment name + customer id, like flagd's flag key +
    /// targeting key). Appended last: earlier variants keep their postcard tags.
    Identity,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    /// `==`, loose.
    Eq,
    /// `!=`, loose.
    Ne,
    /// `===`.
    StrictEq,
    /// `!==`.
    StrictNe,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The array operators whose second operand is a body evaluated per element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IterOp {
    /// The body's value for each element (`[]` when the operand is not an array).
    Map,
    /// The elements whose body value is truthy.
    Filter,
    /// Body truthy for every element; false for an empty (or non-array) operand, as json-logic-js.
    All,
    /// Body truthy for at least one element.
    Some,
    /// Body truthy for no element.
    None,
}

/// One `missing`/`missing_some` key: its name as written and the `Var` node that reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MissingKey {
    pub name: String,
    pub var: u32,
}

/// One IR node. Child references are indices into [`Rule::nodes`], always smaller than the node's own.
///
/// The snapshot stores nodes with postcard, which encodes the variant's position: variants are
/// only ever appended, never reordered or reshaped, so older snapshots keep decoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Node {
    Literal(Literal),
    Var {
        slot: Slot,
        default: Option<u32>,
    },
    /// An array whose elements are not all constant.
    Array(Vec<u32>),
    /// Two operands, or three for the "between" forms of `<` and `<=`.
    Compare {
        op: CompareOp,
        args: Vec<u32>,
    },
    /// Array membership (strict equality) or substring.
    In {
        needle: u32,
        haystack: u32,
    },
    And(Vec<u32>),
    Or(Vec<u32>),
    Not(u32),
    /// `!!`
    Truthy(u32),
    /// `if`: condition, value pairs, then an optional else.
    If(Vec<u32>),
    /// Is the request's identity in this segment's membership set?
    InSegment(u16),
    /// `+ - * / % max min`.
    Arith {
        op: ArithOp,
        args: Vec<u32>,
    },
    /// `cat`
    Cat(Vec<u32>),
    /// `substr`: source, start and an optional length.
    Substr(Vec<u32>),
    /// `merge`
    Merge(Vec<u32>),
    /// `missing`: the names of the keys whose value is null or "".
    Missing(Vec<MissingKey>),
    /// `missing_some`: `[]` when at least `need` keys are present, else the missing ones.
    MissingSome {
        need: u32,
        keys: Vec<MissingKey>,
    },
    /// `map filter all some none`: `body` is evaluated with each element of `array` as its scope.
    Iterate {
        op: IterOp,
        array: u32,
        body: u32,
    },
    /// `reduce`: `body` sees `current` and `accumulator`; `initial` defaults to null.
    Reduce {
        array: u32,
        body: u32,
        initial: Option<u32>,
    },
    /// `var` inside an iteration body: a path into the scope value (array indices are decimal
    /// segments; in `reduce` the first segment is `current` or `accumulator`). Empty: the whole
    /// value. A path that leads nowhere gives `default` (or null); a null found on the way is null.
    ScopeVar {
        path: Vec<String>,
        default: Option<u32>,
    },
    /// flagd `starts_with` (`suffix: false`) and `ends_with`: string operands only, else false.
    Affix {
        suffix: bool,
        text: u32,
        affix: u32,
    },
    /// flagd `sem_ver`: version, operator, version.
    SemVer {
        left: u32,
        op: u32,
        right: u32,
    },
    /// flagd `fractional` with an explicit bucketing key; each variant evaluates to `[name]` or
    /// `[name, weight]`.
    Fractional {
        key: u32,
        variants: Vec<u32>,
    },
    /// edgeseg `consent`: is this purpose granted on this request (the member's recorded consent,
    /// narrowed by the request's signals and revocations; purposes that need no consent always)?
    Consent(u16),
}

/// A compiled rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub nodes: Vec<Node>,
}

/// What a rule can see. The edge implements it over a request; the builder over a member's
/// attributes (profile rules).
pub trait Env<'a> {
    fn slot(&self, slot: &'a Slot) -> Value<'a>;
    fn in_segment(&self, segment: u16) -> bool;
    /// Whether `purpose` is granted for this request. Fail-closed: an environment without
    /// consent information grants nothing.
    fn consent(&self, _purpose: u16) -> bool {
        false
    }
}

/// An environment with no inputs: every slot is null, no segment matches, no purpose is granted.
/// Rules over a data document run in it, and the builder folds constants in it.
#[derive(Clone, Copy, Debug)]
pub struct NoRequest;

impl<'a> Env<'a> for NoRequest {
    fn slot(&self, _: &'a Slot) -> Value<'a> {
        Value::Null
    }
    fn in_segment(&self, _: u16) -> bool {
        false
    }
}

/// A request on its own: every slot it carries, no identity, no membership, no consent. The
/// engine's environment adds those; this is what a request rule reads.
impl<'a> Env<'a> for Request<'a> {
    fn slot(&self, slot: &'a Slot) -> Value<'a> {
        let opt = |v: Option<&'a str>| v.map_or(Value::Null, Value::Str);
        match slot {
            Slot::Method => Value::Str(self.method),
            Slot::Host => Value::Str(self.host),
            Slot::Path => Value::Str(self.path),
            Slot::Country => opt(self.country),
            Slot::Now => Value::Number((self.now_ms / 1000) as f64),
            Slot::NowMs => Value::Number(self.now_ms as f64),
            Slot::Header(name) => opt(self.header(name)),
            Slot::Cookie(name) => opt(self.cookie(name)),
            Slot::Attribute(name) => self.attribute(name).map_or(Value::Null, Value::from),
            Slot::Identity => Value::Null,
        }
    }
    fn in_segment(&self, _: u16) -> bool {
        false
    }
}

/// What `var` sees inside an iteration body.
#[derive(Clone, Copy)]
enum Scope<'s, 'a> {
    /// Outside any body.
    Top,
    Item(&'s Value<'a>),
    /// An element straight from a literal (a constant array, the data document): read in place,
    /// never copied into a value first.
    Lit(&'a Literal),
    /// `reduce`'s `[current, accumulator]` (one reference: a scope fits in two registers).
    Reduce(&'s [Value<'a>; 2]),
}

impl Rule {
    /// Checks the structural invariants evaluation relies on. `segments` is the number of
    /// segments in the snapshot (for `InSegment`).
    pub fn validate(&self, segments: usize) -> Result<(), Error> {
        self.validate_within(segments, MAX_DEPTH)
    }

    /// [`Rule::validate`] with the rule held to `max_depth` (a snapshot's declared
    /// `limits.rule_depth`), never more than [`MAX_DEPTH`].
    pub fn validate_within(&self, segments: usize, max_depth: usize) -> Result<(), Error> {
        let max_depth = max_depth.min(MAX_DEPTH);
        let invalid = |why: String| Err(Error::new(ErrorKind::Invalid, why));
        if self.nodes.is_empty() {
            return invalid("rule has no nodes".into());
        }
        if self.nodes.len() > MAX_NODES {
            return invalid(format!("rule has {} nodes, limit {MAX_NODES}", self.nodes.len()));
        }
        let mut depth: Vec<usize> = Vec::with_capacity(self.nodes.len());
        // Evaluations of each node's subtree, shared children counted each time they are used.
        let mut evaluations: Vec<u64> = Vec::with_capacity(self.nodes.len());
        for (i, node) in self.nodes.iter().enumerate() {
            let mut d = 1usize;
            let mut e = 1u64;
            let mut child = |c: u32| -> Result<(), Error> {
                match (depth.get(c as usize), evaluations.get(c as usize)) {
                    (Some(cd), Some(ce)) if (c as usize) < i => {
                        d = d.max(cd + 1);
                        e = e.saturating_add(*ce);
                        Ok(())
                    }
                    _ => Err(Error::new(ErrorKind::Invalid, format!("rule node {i} refers forward to {c}"))),
                }
            };
            let arity = |n: usize, ok: bool| {
                if ok { Ok(()) } else { invalid(format!("rule node {i}: {n} operands")) }
            };
            match node {
                Node::Literal(_) => {}
                Node::Var { default, .. } | Node::ScopeVar { default, .. } => {
                    if let Some(c) = default {
                        child(*c)?;
                    }
                }
                Node::Array(cs) | Node::And(cs) | Node::Or(cs) | Node::If(cs) | Node::Cat(cs) | Node::Merge(cs) => {
                    for c in cs {
                        child(*c)?;
                    }
                }
                Node::Compare { op, args } => {
                    let between_ok = matches!(op, CompareOp::Lt | CompareOp::Le) && args.len() == 3;
                    if args.len() != 2 && !between_ok {
                        return invalid(format!("rule node {i}: {op:?} with {} operands", args.len()));
                    }
                    for c in args {
                        child(*c)?;
                    }
                }
                Node::Arith { op, args } => {
                    let n = args.len();
                    arity(
                        n,
                        match op {
                            ArithOp::Add | ArithOp::Max | ArithOp::Min => true,
                            ArithOp::Mul => n >= 1,
                            ArithOp::Sub => n == 1 || n == 2,
                            ArithOp::Div | ArithOp::Mod => n == 2,
                        },
                    )?;
                    for c in args {
                        child(*c)?;
                    }
                }
                Node::Substr(args) => {
                    arity(args.len(), args.len() == 2 || args.len() == 3)?;
                    for c in args {
                        child(*c)?;
                    }
                }
                Node::In { needle: a, haystack: b }
                | Node::Iterate { array: a, body: b, .. }
                | Node::Affix { text: a, affix: b, .. } => {
                    child(*a)?;
                    child(*b)?;
                }
                Node::Reduce { array, body, initial } => {
                    child(*array)?;
                    child(*body)?;
                    if let Some(c) = initial {
                        child(*c)?;
                    }
                }
                Node::SemVer { left, op, right } => {
                    child(*left)?;
                    child(*op)?;
                    child(*right)?;
                }
                Node::Fractional { key, variants } => {
                    child(*key)?;
                    for c in variants {
                        child(*c)?;
                    }
                }
                Node::Missing(keys) => {
                    for k in keys {
                        child(k.var)?;
                    }
                }
                Node::MissingSome { need, keys } => {
                    child(*need)?;
                    for k in keys {
                        child(k.var)?;
                    }
                }
                Node::Not(c) | Node::Truthy(c) => child(*c)?,
                Node::InSegment(s) => {
                    if usize::from(*s) >= segments {
                        return invalid(format!("rule node {i}: in_segment {s} of {segments} segments"));
                    }
                }
                // Any index is safe: a purpose the snapshot does not have is never granted.
                Node::Consent(_) => {}
            }
            if d > max_depth {
                return invalid(format!("rule deeper than {max_depth}"));
            }
            if e > MAX_EVALUATIONS {
                return invalid(format!(
                    "rule node {i} takes more than {MAX_EVALUATIONS} evaluations (shared subtrees)"
                ));
            }
            depth.push(d);
            evaluations.push(e);
        }
        Ok(())
    }

    /// Evaluates the rule and applies JSON Logic truthiness to the result, within
    /// [`DEFAULT_EVAL_BUDGET`]; a rule that runs out of budget does not match (fail-closed).
    pub fn matches<'a>(&'a self, env: &impl Env<'a>) -> bool {
        self.matches_within(env, DEFAULT_EVAL_BUDGET).unwrap_or(false)
    }

    /// [`Rule::matches`] within `budget` work units; `Err` when the rule ran out of them.
    pub fn matches_within<'a>(&'a self, env: &impl Env<'a>, budget: u64) -> Result<bool, BudgetExceeded> {
        let cx = Ctx { env, left: Cell::new(budget), over: Cell::new(false) };
        let hit = self.root(&cx, Scope::Top).truthy();
        if cx.over.get() { Err(BudgetExceeded) } else { Ok(hit) }
    }

    /// Evaluates a rule compiled over an arbitrary data document (the builder's `Mode::Data`, as
    /// json-logic-js's `apply(rule, data)`): `var` reads `data`, no request slot is reachable
    /// and `in_segment` is false. The rule should have passed [`Rule::validate`]. Null when the
    /// rule runs out of [`DEFAULT_EVAL_BUDGET`] (see [`Rule::evaluate_data_within`]).
    pub fn evaluate_data<'a>(&'a self, data: &'a Literal) -> Value<'a> {
        let cx = Ctx { env: &NoRequest, left: Cell::new(DEFAULT_EVAL_BUDGET), over: Cell::new(false) };
        self.root_or_null(&cx, Scope::Lit(data))
    }

    /// [`Rule::evaluate_data`] within `budget` work units.
    pub fn evaluate_data_within<'a>(&'a self, data: &'a Literal, budget: u64) -> Result<Value<'a>, BudgetExceeded> {
        self.run(&NoRequest, Scope::Lit(data), budget)
    }

    /// Evaluates the rule to a value; null when it runs out of [`DEFAULT_EVAL_BUDGET`].
    pub fn evaluate<'a>(&'a self, env: &impl Env<'a>) -> Value<'a> {
        let cx = Ctx { env, left: Cell::new(DEFAULT_EVAL_BUDGET), over: Cell::new(false) };
        self.root_or_null(&cx, Scope::Top)
    }

    /// Evaluates the rule to a value within `budget` work units (see [`DEFAULT_EVAL_BUDGET`]).
    pub fn evaluate_within<'a>(&'a self, env: &impl Env<'a>, budget: u64) -> Result<Value<'a>, BudgetExceeded> {
        self.run(env, Scope::Top, budget)
    }

    fn run<'a, E: Env<'a>>(&'a self, env: &E, scope: Scope<'_, 'a>, budget: u64) -> Result<Value<'a>, BudgetExceeded> {
        let cx = Ctx { env, left: Cell::new(budget), over: Cell::new(false) };
        let value = self.root(&cx, scope);
        if cx.over.get() { Err(BudgetExceeded) } else { Ok(value) }
    }

    /// The root node's value (null for a rule without nodes). Callers check `cx.over` after it
    /// and use the value where it was returned: the paths that answer a bool or a plain value
    /// never move it into a `Result` (see [`with_args`] on moving values just returned).
    fn root<'a, E: Env<'a>>(&'a self, cx: &Ctx<'_, E>, scope: Scope<'_, 'a>) -> Value<'a> {
        match self.nodes.len().checked_sub(1) {
            Some(root) => self.eval(root, cx, scope),
            None => Value::Null,
        }
    }

    /// [`Rule::root`], null when the evaluation ran out of budget.
    fn root_or_null<'a, E: Env<'a>>(&'a self, cx: &Ctx<'_, E>, scope: Scope<'_, 'a>) -> Value<'a> {
        let value = self.root(cx, scope);
        if cx.over.get() {
            value.discard();
            return Value::Null;
        }
        value
    }

    fn eval<'a, E: Env<'a>>(&'a self, i: usize, cx: &Ctx<'_, E>, scope: Scope<'_, 'a>) -> Value<'a> {
        let Some(node) = self.nodes.get(i) else { return Value::Null };
        if !cx.spend(1) {
            return Value::Null;
        }
        let env = cx.env;
        let ev = |c: &u32| self.operand(*c, cx, scope);
        match node {
            Node::Literal(l) => Value::from(l),
            // Straight into the return slot: a value moved after a call is copied, and that
            // copy reads it back before the callee's stores have landed (a store-forwarding stall).
            Node::Var { slot, default: None } => env.slot(slot),
            Node::Var { slot, default: Some(d) } => {
                let v = env.slot(slot);
                if matches!(v, Value::Null) { ev(d) } else { v }
            }
            Node::ScopeVar { path, default: None } => scope_value(scope, path, cx),
            Node::ScopeVar { path, default: Some(d) } => match scope_var(scope, path) {
                Some(v) => cx.charge(v),
                None => ev(d),
            },
            Node::Compare { op, args } => Value::Bool(match args.as_slice() {
                [a, b] => {
                    let x = self.operand(*a, cx, scope);
                    let y = self.operand(*b, cx, scope);
                    let answer = compare2(*op, &x, &y);
                    x.discard();
                    y.discard();
                    answer
                }
                _ => with_args(args, ev, |vals| compare(*op, vals)),
            }),
            Node::In { needle, haystack } => {
                let h = self.operand(*haystack, cx, scope);
                let n = self.operand(*needle, cx, scope);
                let found = contains(&h, &n);
                h.discard();
                n.discard();
                Value::Bool(found)
            }
            // The deciding operand is returned as evaluated, never moved between locals (see `Var`).
            Node::And(cs) | Node::Or(cs) => {
                let Some((last, init)) = cs.split_last() else { return Value::Null };
                let stop = matches!(node, Node::Or(_));
                for c in init {
                    let v = self.operand(*c, cx, scope);
                    if truthy(&v) == stop {
                        return v;
                    }
                    v.discard();
                }
                self.operand(*last, cx, scope)
            }
            Node::Not(c) => Value::Bool(!self.operand(*c, cx, scope).truthy()),
            Node::Truthy(c) => Value::Bool(self.operand(*c, cx, scope).truthy()),
            Node::If(cs) => {
                let mut pairs = cs.chunks_exact(2);
                for pair in pairs.by_ref() {
                    if let [cond, then] = pair
                        && ev(cond).truthy()
                    {
                        return ev(then);
                    }
                }
                match pairs.remainder() {
                    [otherwise] => ev(otherwise),
                    _ => Value::Null,
                }
            }
            Node::InSegment(s) => Value::Bool(env.in_segment(*s)),
            Node::Consent(p) => Value::Bool(env.consent(*p)),
            Node::Arith { op, args } => with_args(args, ev, |vals| ops::arith(*op, vals)),
            Node::Affix { suffix, text, affix } => Value::Bool(ops::affix(&ev(text), &ev(affix), *suffix)),
            _ => self.eval_cold(node, cx, scope),
        }
    }

    /// The operators that build arrays and strings or loop: kept out of [`Rule::eval`] so the
    /// common path has a small frame (natively; the size-gated wasm modules leave it to the
    /// compiler).
    #[cfg_attr(not(target_arch = "wasm32"), inline(never))]
    #[cfg_attr(target_arch = "wasm32", inline(always))]
    fn eval_cold<'a, E: Env<'a>>(&'a self, node: &'a Node, cx: &Ctx<'_, E>, scope: Scope<'_, 'a>) -> Value<'a> {
        let ev = |c: &u32| self.operand(*c, cx, scope);
        let all = |cs: &[u32]| cs.iter().map(ev).collect::<Vec<_>>();
        match node {
            Node::Array(cs) => Value::Array(all(cs)),
            Node::Cat(cs) => cx.charge(with_args(cs, ev, |vals| ops::cat(vals))),
            Node::Substr(cs) => cx.charge(with_args(cs, ev, |vals| ops::substr(vals))),
            Node::Merge(cs) => cx.charge(ops::merge(all(cs))),
            Node::Missing(keys) => Value::Array(self.missing(keys, cx, scope)),
            Node::MissingSome { need, keys } => {
                let missing = self.missing(keys, cx, scope);
                let found = Value::Number((keys.len() - missing.len()) as f64);
                if less(&ev(need), &found, true) { Value::Array(Vec::new()) } else { Value::Array(missing) }
            }
            Node::Iterate { op, array, body } => {
                let list = ev(array);
                // Every element run is work, and a body over an exhausted budget stops the walk.
                let run = |item: Scope<'_, 'a>| {
                    let v = self.eval(*body as usize, cx, item);
                    (v, cx.over.get())
                };
                // The quantifiers walk the array in place; only map and filter build one.
                match op {
                    IterOp::Map | IterOp::Filter => {
                        let items = elements(&list);
                        if !cx.spend(items.len() as u64) {
                            return Value::Null;
                        }
                        let mut out = Vec::new();
                        for x in items {
                            let (v, over) = run(Scope::Item(&x));
                            if over {
                                return Value::Null;
                            }
                            match op {
                                IterOp::Map => out.push(v),
                                _ if truthy(&v) => out.push(x),
                                _ => {}
                            }
                        }
                        Value::Array(out)
                    }
                    // An exhausted budget ends the walk too (its answer is thrown away).
                    _ => {
                        let hit = |want: bool| {
                            any_element(&list, |x| {
                                let (v, over) = run(x);
                                over || v.truthy() == want
                            })
                        };
                        Value::Bool(match op {
                            IterOp::All => !list.is_empty() && !hit(false),
                            IterOp::Some => hit(true),
                            _ => !hit(true),
                        })
                    }
                }
            }
            Node::Reduce { array, body, initial } => {
                let list = ev(array);
                let acc = initial.as_ref().map_or(Value::Null, ev);
                if !list.is_array() {
                    return acc;
                }
                let items = elements(&list);
                if !cx.spend(items.len() as u64) {
                    return Value::Null;
                }
                let mut pair = [Value::Null, acc];
                for current in items {
                    pair[0] = current;
                    pair[1] = self.eval(*body as usize, cx, Scope::Reduce(&pair));
                    if cx.over.get() {
                        return Value::Null;
                    }
                }
                let [_, acc] = pair;
                acc
            }
            Node::SemVer { left, op, right } => flagd::sem_ver(&ev(left), &ev(op), &ev(right)),
            Node::Fractional { key, variants } => flagd::fractional(&ev(key), &all(variants)),
            _ => Value::Null,
        }
    }

    /// Node `c` as an operand. Leaves are read here rather than through another call: most
    /// operands are constants and variables.
    // Inlined natively (speed); not forced in the size-gated wasm modules.
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn operand<'a, E: Env<'a>>(&'a self, c: u32, cx: &Ctx<'_, E>, scope: Scope<'_, 'a>) -> Value<'a> {
        match self.nodes.get(c as usize) {
            Some(Node::Literal(l)) if cx.spend(1) => Value::from(l),
            Some(Node::Var { slot, default: None }) if cx.spend(1) => cx.env.slot(slot),
            Some(Node::ScopeVar { path, default: None }) if cx.spend(1) => scope_value(scope, path, cx),
            _ => self.eval(c as usize, cx, scope),
        }
    }

    fn missing<'a, E: Env<'a>>(
        &'a self,
        keys: &'a [MissingKey],
        cx: &Ctx<'_, E>,
        scope: Scope<'_, 'a>,
    ) -> Vec<Value<'a>> {
        keys.iter()
            .filter(|k| {
                let v = self.eval(k.var as usize, cx, scope);
                matches!(v, Value::Null) || v.as_str() == Some("")
            })
            .map(|k| Value::Str(&k.name))
            .collect()
    }
}

/// One evaluation's environment and what is left of its budget.
struct Ctx<'c, E> {
    env: &'c E,
    left: Cell<u64>,
    /// Set once a charge did not fit; from then on every node evaluates to null at once.
    over: Cell<bool>,
}

impl<E> Ctx<'_, E> {
    /// Takes `units` from the budget; false (and the budget is gone) when they do not fit.
    #[inline]
    fn spend(&self, units: u64) -> bool {
        match self.left.get().checked_sub(units) {
            Some(left) => {
                self.left.set(left);
                true
            }
            None => {
                self.left.set(0);
                self.over.set(true);
                false
            }
        }
    }

    /// Charges for a value built (or copied) during evaluation: a unit per byte of a string,
    /// per element of an array. Null when that does not fit.
    #[inline]
    fn charge<'a>(&self, v: Value<'a>) -> Value<'a> {
        let units = match &v {
            Value::String(s) => s.len(),
            Value::Array(items) => items.len(),
            _ => 0,
        };
        if self.spend(units as u64) { v } else { Value::Null }
    }
}

/// Evaluates up to three operands on the stack (no `Vec` per node on the hot path) and hands
/// references to them to `f`; longer lists are collected. Each operand is evaluated into its own
/// local and never moved: moving a value just returned copies it with wide loads that cannot be
/// forwarded from the callee's narrower stores (a store-forwarding stall per operand).
fn with_args<'a, T>(args: &[u32], ev: impl Fn(&u32) -> Value<'a>, f: impl FnOnce(&[&Value<'a>]) -> T) -> T {
    match args {
        [] => f(&[]),
        [a] => {
            let x = ev(a);
            f(&[&x])
        }
        [a, b] => {
            let x = ev(a);
            let y = ev(b);
            f(&[&x, &y])
        }
        [a, b, c] => {
            let x = ev(a);
            let y = ev(b);
            let z = ev(c);
            f(&[&x, &y, &z])
        }
        _ => {
            let vals: Vec<Value<'a>> = args.iter().map(ev).collect();
            f(&vals.iter().collect::<Vec<_>>())
        }
    }
}

/// Whether `f` holds for some element of an array value (false for anything else), each element
/// given as a scope, without copying the elements out.
fn any_element<'a>(list: &Value<'a>, mut f: impl FnMut(Scope<'_, 'a>) -> bool) -> bool {
    match list {
        Value::Literals(items) => items.iter().any(|l| f(Scope::Lit(l))),
        Value::Array(items) => items.iter().any(|v| f(Scope::Item(v))),
        _ => false,
    }
}

fn compare2(op: CompareOp, a: &Value<'_>, b: &Value<'_>) -> bool {
    match op {
        CompareOp::Eq => loose_eq(a, b),
        CompareOp::Ne => !loose_eq(a, b),
        CompareOp::StrictEq => strict_eq(a, b),
        CompareOp::StrictNe => !strict_eq(a, b),
        CompareOp::Lt => less(a, b, false),
        CompareOp::Le => less(a, b, true),
        CompareOp::Gt => less(b, a, false),
        CompareOp::Ge => less(b, a, true),
    }
}

/// The "between" forms (three operands, `<` and `<=` only); two operands go to [`compare2`].
fn compare(op: CompareOp, vals: &[&Value<'_>]) -> bool {
    match (op, vals) {
        (_, [a, b]) => compare2(op, a, b),
        (CompareOp::Lt | CompareOp::Le, [a, b, c]) => compare2(op, a, b) && compare2(op, b, c),
        _ => false,
    }
}

/// A scope variable without a default: null when `path` leads nowhere, charged when it copies a
/// built string or array. From a literal, the value is made in the return slot (nothing to charge:
/// it borrows).
fn scope_value<'a, E>(scope: Scope<'_, 'a>, path: &[String], cx: &Ctx<'_, E>) -> Value<'a> {
    match scope {
        Scope::Lit(l) => walk(l, path).map_or(Value::Null, Value::from),
        _ => scope_var(scope, path).map_or(Value::Null, |v| cx.charge(v)),
    }
}

/// Follows `path` into the scope value; `None` when it leads nowhere. Walks the data document's
/// literals in place and makes a value only of what it finds.
fn scope_var<'a>(scope: Scope<'_, 'a>, path: &[String]) -> Option<Value<'a>> {
    let (start, rest) = match scope {
        Scope::Top => return None,
        Scope::Lit(l) => return walk(l, path).map(Value::from),
        Scope::Item(v) => (v, path),
        Scope::Reduce([current, accumulator]) => match path.split_first() {
            Some((first, rest)) if first == "current" => (current, rest),
            Some((first, rest)) if first == "accumulator" => (accumulator, rest),
            _ => return None,
        },
    };
    let Some((first, more)) = rest.split_first() else { return Some(start.clone()) };
    match start {
        Value::Object(entries) => walk(field(entries, first)?, more).map(Value::from),
        Value::Literals(items) => walk(items.get(index(first)?)?, more).map(Value::from),
        // An array built during evaluation holds values, not literals.
        Value::Array(items) => value_path(items.get(index(first)?)?.clone(), more),
        _ => None,
    }
}

/// Follows `path` through literals in place; `None` when it leads nowhere.
fn walk<'a>(mut lit: &'a Literal, path: &[String]) -> Option<&'a Literal> {
    for seg in path {
        lit = match lit {
            Literal::Object(entries) => field(entries, seg)?,
            Literal::Array(items) => items.get(index(seg)?)?,
            _ => return None,
        };
    }
    Some(lit)
}

/// The rest of a scope path from a value.
fn value_path<'a>(mut v: Value<'a>, path: &[String]) -> Option<Value<'a>> {
    for seg in path {
        v = match v {
            Value::Object(entries) => Value::from(field(entries, seg)?),
            _ => v.get(index(seg)?)?,
        };
    }
    Some(v)
}

fn field<'a>(entries: &'a [(String, Literal)], key: &str) -> Option<&'a Literal> {
    // Length and first byte before the byte comparison: most keys differ there.
    let first = key.as_bytes().first();
    entries.iter().find(|(k, _)| k.len() == key.len() && k.as_bytes().first() == first && k == key).map(|(_, v)| v)
}

/// A path segment as an array index. Only canonical indices name elements in JS: `a["01"]` and
/// `a["+1"]` are undefined.
fn index(seg: &str) -> Option<usize> {
    let canonical = seg == "0" || (!seg.starts_with('0') && seg.bytes().all(|b| b.is_ascii_digit()));
    seg.parse::<usize>().ok().filter(|_| canonical)
}

#[cfg(test)]
mod tests;
