//! Evaluation: the walk over a [`Rule`]'s nodes, its work budget, and the scopes of iteration
//! bodies.

use super::community::{loose_equal, number, ordered, strict_equal};
use super::error::{EvalError, Halt};
use super::value::{Value, contains, elements, truthy};
use super::{CompareOp, DEFAULT_EVAL_BUDGET, Env, IterOp, Literal, MissingKey, NoRequest, Node, Rule};
use super::{flagd, ops};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

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
    /// Evaluates the rule and applies JSON Logic truthiness to the result, within
    /// [`DEFAULT_EVAL_BUDGET`]; a rule that runs out of budget or fails does not match
    /// (fail-closed).
    pub fn matches<'a>(&'a self, env: &impl Env<'a>) -> bool {
        self.matches_within(env, DEFAULT_EVAL_BUDGET).unwrap_or(false)
    }

    /// [`Rule::matches`] within `budget` work units; `Err` when the rule ran out of them or failed.
    pub fn matches_within<'a>(&'a self, env: &impl Env<'a>, budget: u64) -> Result<bool, Halt> {
        let cx = Ctx::new(env, budget);
        let hit = self.root(&cx, Scope::Top).truthy();
        cx.finish(hit)
    }

    /// Evaluates a rule compiled over an arbitrary data document (the builder's `Mode::Data`, as
    /// json-logic-js's `apply(rule, data)`): `var` reads `data`, no request slot is reachable
    /// and `in_segment` is false. The rule should have passed [`Rule::validate`]. Null when the
    /// rule runs out of [`DEFAULT_EVAL_BUDGET`] or fails (see [`Rule::evaluate_data_within`]).
    pub fn evaluate_data<'a>(&'a self, data: &'a Literal) -> Value<'a> {
        let cx = Ctx::new(&NoRequest, DEFAULT_EVAL_BUDGET);
        self.root_or_null(&cx, Scope::Lit(data))
    }

    /// [`Rule::evaluate_data`] within `budget` work units, telling a failure from a value.
    pub fn evaluate_data_within<'a>(&'a self, data: &'a Literal, budget: u64) -> Result<Value<'a>, Halt> {
        self.run(&NoRequest, Scope::Lit(data), budget)
    }

    /// Evaluates the rule to a value; null when it runs out of [`DEFAULT_EVAL_BUDGET`] or fails.
    pub fn evaluate<'a>(&'a self, env: &impl Env<'a>) -> Value<'a> {
        let cx = Ctx::new(env, DEFAULT_EVAL_BUDGET);
        self.root_or_null(&cx, Scope::Top)
    }

    /// Evaluates the rule to a value within `budget` work units (see [`DEFAULT_EVAL_BUDGET`]).
    pub fn evaluate_within<'a>(&'a self, env: &impl Env<'a>, budget: u64) -> Result<Value<'a>, Halt> {
        self.run(env, Scope::Top, budget)
    }

    fn run<'a, E: Env<'a>>(&'a self, env: &E, scope: Scope<'_, 'a>, budget: u64) -> Result<Value<'a>, Halt> {
        let cx = Ctx::new(env, budget);
        let value = self.root(&cx, scope);
        cx.finish(value)
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

    /// [`Rule::root`], null when the evaluation ran out of budget or failed.
    fn root_or_null<'a, E: Env<'a>>(&'a self, cx: &Ctx<'_, E>, scope: Scope<'_, 'a>) -> Value<'a> {
        let value = self.root(cx, scope);
        if cx.over.get() || cx.error.borrow().is_some() {
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
            Node::Compare { op, args } => match args.as_slice() {
                [a, b] => {
                    let x = self.operand(*a, cx, scope);
                    let y = self.operand(*b, cx, scope);
                    let answer = compare2(*op, &x, &y);
                    x.discard();
                    y.discard();
                    cx.answer(answer.map(Value::Bool))
                }
                _ => self.chain(*op, args, cx, scope),
            },
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
            Node::Arith { op, args } => cx.answer(with_args(args, ev, |vals| ops::arith(*op, vals))),
            Node::Affix { suffix, text, affix } => {
                let t = self.operand(*text, cx, scope);
                let a = self.operand(*affix, cx, scope);
                let found = ops::affix(&t, &a, *suffix);
                t.discard();
                a.discard();
                Value::Bool(found)
            }
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
                let found = (keys.len() - missing.len()) as f64;
                let enough = number(&ev(need)).is_some_and(|need| need <= found);
                if enough { Value::Array(Vec::new()) } else { Value::Array(missing) }
            }
            Node::Iterate { op, array, body } => {
                let list = ev(array);
                // Every element run is work, and a body over an exhausted budget stops the walk.
                let run = |item: Scope<'_, 'a>| {
                    let v = self.eval(*body as usize, cx, item);
                    (v, cx.stopped())
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
                let acc = match initial {
                    Some(c) => ev(c),
                    None => Value::Null,
                };
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
                    if cx.stopped() {
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

    /// A comparison of other than two operands: `==` and `===` hold when every operand equals
    /// the first, `!=` and `!==` compare the first two only, the orderings hold pairwise along
    /// the chain; operands are evaluated only until the answer is known. Fewer than two operands
    /// are [`EvalError::InvalidArguments`].
    fn chain<'a, E: Env<'a>>(
        &'a self,
        op: CompareOp,
        args: &[u32],
        cx: &Ctx<'_, E>,
        scope: Scope<'_, 'a>,
    ) -> Value<'a> {
        let Some((first, rest)) = args.split_first() else { return cx.fail(EvalError::InvalidArguments) };
        if rest.is_empty() {
            return cx.fail(EvalError::InvalidArguments);
        }
        let rest = if matches!(op, CompareOp::Ne | CompareOp::StrictNe) { rest.get(..1).unwrap_or(rest) } else { rest };
        let mut prev = self.operand(*first, cx, scope);
        for c in rest {
            let next = self.operand(*c, cx, scope);
            let pair = match compare2(op, &prev, &next) {
                Ok(holds) => holds,
                Err(e) => return cx.fail(e),
            };
            if !pair {
                return Value::Bool(false);
            }
            if !matches!(op, CompareOp::Eq | CompareOp::StrictEq) {
                prev = next;
            }
        }
        Value::Bool(true)
    }

    fn missing<'a, E: Env<'a>>(
        &'a self,
        keys: &'a [MissingKey],
        cx: &Ctx<'_, E>,
        scope: Scope<'_, 'a>,
    ) -> Vec<Value<'a>> {
        keys.iter()
            // Missing means absent: a data key that is not there (a `null` one is present), a
            // request slot that is null (a header or attribute not sent).
            .filter(|k| match self.nodes.get(k.var as usize) {
                Some(Node::ScopeVar { path, default: None }) if cx.spend(1) => scope_var(scope, path).is_none(),
                _ => matches!(self.eval(k.var as usize, cx, scope), Value::Null),
            })
            .map(|k| Value::Str(&k.name))
            .collect()
    }
}

/// One evaluation's environment, what is left of its budget, and its error if it failed.
struct Ctx<'c, E> {
    env: &'c E,
    left: Cell<u64>,
    /// Set once a charge did not fit; from then on every node evaluates to null at once.
    over: Cell<bool>,
    /// Set when the evaluation failed. The budget is emptied with it, so from then on every node
    /// evaluates to null at once, as when it runs out — without `over`: the cause is the error.
    error: RefCell<Option<EvalError>>,
}

impl<'c, E> Ctx<'c, E> {
    fn new(env: &'c E, budget: u64) -> Self {
        Ctx { env, left: Cell::new(budget), over: Cell::new(false), error: RefCell::new(None) }
    }

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
                if self.error.borrow().is_none() {
                    self.over.set(true);
                }
                false
            }
        }
    }

    /// Whether the evaluation has stopped (out of budget, or failed).
    fn stopped(&self) -> bool {
        self.over.get() || self.error.borrow().is_some()
    }

    /// Fails the evaluation with `e` (the first error stands) and stops it: null from here on.
    #[cold]
    fn fail<'a>(&self, e: EvalError) -> Value<'a> {
        let mut error = self.error.borrow_mut();
        if error.is_none() && !self.over.get() {
            *error = Some(e);
            self.left.set(0);
        }
        Value::Null
    }

    /// An operator's answer: its value, or the failure of the evaluation.
    #[inline]
    fn answer<'a>(&self, r: Result<Value<'a>, EvalError>) -> Value<'a> {
        match r {
            Ok(v) => v,
            Err(e) => self.fail(e),
        }
    }

    /// The outcome of an evaluation that produced `value`.
    fn finish<T>(&self, value: T) -> Result<T, Halt> {
        if self.over.get() {
            return Err(Halt::Budget);
        }
        match self.error.borrow_mut().take() {
            Some(e) => Err(Halt::Error(e)),
            None => Ok(value),
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
    // Operands are discarded, not left to go out of scope: see `Value::discard`.
    match args {
        [] => f(&[]),
        [a] => {
            let x = ev(a);
            let answer = f(&[&x]);
            x.discard();
            answer
        }
        [a, b] => {
            let x = ev(a);
            let y = ev(b);
            let answer = f(&[&x, &y]);
            x.discard();
            y.discard();
            answer
        }
        [a, b, c] => {
            let x = ev(a);
            let y = ev(b);
            let z = ev(c);
            let answer = f(&[&x, &y, &z]);
            x.discard();
            y.discard();
            z.discard();
            answer
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

/// Two numbers, or two strings for (in)equality, compared in place: most comparisons in rules (a
/// variable against a constant); everything else by the community's rules ([`compare_coerced`]).
/// Inlined natively (speed); not in the size-gated wasm modules, where it only grew them.
#[cfg_attr(not(target_arch = "wasm32"), inline)]
fn compare2(op: CompareOp, a: &Value<'_>, b: &Value<'_>) -> Result<bool, EvalError> {
    Ok(match (op, a, b) {
        (_, Value::Number(x), Value::Number(y)) => match op {
            CompareOp::Eq | CompareOp::StrictEq => x == y,
            CompareOp::Ne | CompareOp::StrictNe => x != y,
            CompareOp::Lt => x < y,
            CompareOp::Le => x <= y,
            CompareOp::Gt => x > y,
            CompareOp::Ge => x >= y,
        },
        (CompareOp::Eq | CompareOp::StrictEq, Value::Str(x), Value::Str(y)) => x == y,
        (CompareOp::Ne | CompareOp::StrictNe, Value::Str(x), Value::Str(y)) => x != y,
        _ => return compare_coerced(op, a, b),
    })
}

fn compare_coerced(op: CompareOp, a: &Value<'_>, b: &Value<'_>) -> Result<bool, EvalError> {
    match op {
        CompareOp::Eq => loose_equal(a, b),
        CompareOp::Ne => loose_equal(a, b).map(|eq| !eq),
        CompareOp::StrictEq => Ok(strict_equal(a, b)),
        CompareOp::StrictNe => Ok(!strict_equal(a, b)),
        _ => ordered(op, a, b),
    }
}

/// A scope variable without a default: null when `path` leads nowhere, charged when it copies a
/// built string or array. From a literal, the value is made in the return slot (nothing to charge:
/// it borrows).
fn scope_value<'a, E>(scope: Scope<'_, 'a>, path: &[String], cx: &Ctx<'_, E>) -> Value<'a> {
    match scope {
        // Matched, not `map_or(Value::Null, …)`: an eager default is a value built and then
        // dropped (a call to the drop glue) on every read.
        Scope::Lit(l) => match walk(l, path) {
            Some(found) => Value::from(found),
            None => Value::Null,
        },
        _ => match scope_var(scope, path) {
            Some(v) => cx.charge(v),
            None => Value::Null,
        },
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
#[cfg_attr(not(target_arch = "wasm32"), inline)]
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
