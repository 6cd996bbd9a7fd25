//! Rule IR and its evaluator.
//!
//! Rules are written as JSON Logic (plus edgeseg's `in_segment`) and compiled by the builder into
//! this IR: a flat list of [`Node`]s where every child index is smaller than its parent's, the root
//! is the last node, constants are folded, and every `var` path is resolved once to a [`Slot`]. The
//! edge never parses JSON; it walks this list.
//!
//! Semantics are the JSON Logic community's (datalogic-rs 5.4 is the reference): arithmetic
//! coerces numeric strings, `null` and booleans and fails with NaN on anything else; `==` coerces
//! as [`loose_equal`] says, `===` compares arrays element by element; comparisons chain (`{"<":
//! [1, 2, 3]}`); strings order by code point. Where json-logic-js differs, `snapshots/README.md`
//! lists it. An evaluation can fail ([`EvalError`]): at the edge a failed segment rule does not
//! match, and is counted. Truthiness is JavaScript's, except that an empty array or object is
//! falsy; `and`/`or` return the deciding operand, not a bool.
//!
//! Validation ([`Rule::validate`]) guarantees that evaluation only follows existing indices and
//! that recursion depth is bounded, so a hostile snapshot cannot overflow the guest's stack.

//! Inside the body of `map` `filter` `reduce` `all` `some` `none`, `var` reads the current element
//! (or `current`/`accumulator` in `reduce`), not the request: the compiler emits
//! [`Node::ScopeVar`] there, and evaluation carries the innermost scope down (json-logic-js gives a
//! body no access to outer scopes, and neither does this).
//!
//! Module map: this file holds the IR's types and the environments a rule reads; `validate` the
//! structural checks a snapshot's rules pass before they run, `eval` the evaluator and its work
//! budget; [`value`] runtime values and JS coercions, `community` the community's coercions and
//! comparisons, `error` evaluation errors, `ops` the arithmetic and string operators,
//! `flagd` flagd's `sem_ver`, `fractional` and its MurmurHash3, `decimal` JS's number parsing.

mod community;
mod decimal;
mod error;
mod eval;
mod flagd;
mod ops;
mod validate;
pub mod value;

pub use community::{loose_equal, number, ordered, strict_equal};
pub use error::{EvalError, Halt};
pub use flagd::murmur3_32;
pub use ops::ArithOp;
pub use value::{Value, loose_eq, strict_eq, string_to_number, to_js_string, truthy};

use crate::request::Request;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

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
    /// `missing`: the names of the keys that are absent (a data key not there, a request slot null).
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
        // Matched, not `map_or(Value::Null, …)`: see `eval::scope_value`.
        let opt = |v: Option<&'a str>| match v {
            Some(s) => Value::Str(s),
            None => Value::Null,
        };
        match slot {
            Slot::Method => Value::Str(self.method),
            Slot::Host => Value::Str(self.host),
            Slot::Path => Value::Str(self.path),
            Slot::Country => opt(self.country),
            Slot::Now => Value::Number((self.now_ms / 1000) as f64),
            Slot::NowMs => Value::Number(self.now_ms as f64),
            Slot::Header(name) => opt(self.header(name)),
            Slot::Cookie(name) => opt(self.cookie(name)),
            Slot::Attribute(name) => match self.attribute(name) {
                Some(a) => Value::from(a),
                None => Value::Null,
            },
            Slot::Identity => Value::Null,
        }
    }
    fn in_segment(&self, _: u16) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
