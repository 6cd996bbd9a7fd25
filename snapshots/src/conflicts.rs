//! Action conflicts: pairs of segments that can match the same request and carry different actions
//! of the same kind. The edge resolves them deterministically — the higher-precedence segment
//! supplies the action — but an operator should know that a lower segment's throttle or cache
//! policy is shadowed for some requests, so the builder lists every such pair with the winner.
//!
//! "Can both match" is decided conservatively: a pair is reported unless the builder can prove the
//! two segments disjoint, from
//!
//! * their members: both have member sets and no fingerprint is in both;
//! * their request rules: each is a conjunction (or a single test) and the two require different
//!   string or number constants from the same request variable with `==`/`===`, or string
//!   prefixes (`starts_with`) of which neither extends the other, or an equality whose constant
//!   lacks the other's prefix.
//!
//! Anything else (disjunctions, negations, arithmetic) counts as a possible overlap.

use edgeseg::actions::Actions;
use edgeseg::rule::{CompareOp, Literal, Node, Rule, Slot};
use serde::Serialize;

/// One shadowed action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// `throttle`, `cache` or `route`.
    pub action: &'static str,
    /// The segment whose action applies when both match (higher precedence, then name).
    pub winner: String,
    /// The segment whose action is shadowed then.
    pub shadowed: String,
}

/// What the analysis knows about one segment.
pub(crate) struct SegmentFacts<'a> {
    pub name: &'a str,
    pub actions: &'a Actions,
    pub rule: Option<&'a Rule>,
    /// Sorted fingerprints, when the segment has members.
    pub members: Option<&'a [u64]>,
}

/// A test a request must pass for a rule to hold.
#[derive(Debug, PartialEq)]
enum Fact<'a> {
    Equals(&'a Slot, &'a Literal),
    Prefix(&'a Slot, &'a str),
}

/// Conflicting pairs among `segments`, which are in snapshot order (precedence descending).
pub(crate) fn find(segments: &[SegmentFacts<'_>]) -> Vec<Conflict> {
    let mut out = Vec::new();
    for (i, hi) in segments.iter().enumerate() {
        for lo in segments.iter().skip(i + 1) {
            let kinds = [
                ("throttle", differs(&hi.actions.throttle, &lo.actions.throttle)),
                ("cache", differs(&hi.actions.cache, &lo.actions.cache)),
                ("route", differs(&hi.actions.route, &lo.actions.route)),
            ];
            if !kinds.iter().any(|(_, d)| *d) || disjoint(hi, lo) {
                continue;
            }
            for (action, d) in kinds {
                if d {
                    out.push(Conflict { action, winner: hi.name.to_owned(), shadowed: lo.name.to_owned() });
                }
            }
        }
    }
    out
}

fn differs<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    matches!((a, b), (Some(x), Some(y)) if x != y)
}

fn disjoint(a: &SegmentFacts<'_>, b: &SegmentFacts<'_>) -> bool {
    if let (Some(x), Some(y)) = (a.members, b.members)
        && !intersects(x, y)
    {
        return true;
    }
    let (fa, fb) = (facts(a.rule), facts(b.rule));
    fa.iter().any(|x| fb.iter().any(|y| contradict(x, y)))
}

fn intersects(a: &[u64], b: &[u64]) -> bool {
    let (mut i, mut j) = (0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// The tests every match of `rule` passes (empty when none can be read off).
fn facts(rule: Option<&Rule>) -> Vec<Fact<'_>> {
    let Some(rule) = rule else { return Vec::new() };
    let Some(root) = rule.nodes.last() else { return Vec::new() };
    let node = |i: &u32| rule.nodes.get(*i as usize);
    let terms: Vec<&Node> = match root {
        Node::And(children) => children.iter().filter_map(node).collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for t in terms {
        match t {
            Node::Compare { op: CompareOp::Eq | CompareOp::StrictEq, args } if args.len() == 2 => {
                let (a, b) = (args.first().and_then(node), args.get(1).and_then(node));
                match (var(a), lit(b), var(b), lit(a)) {
                    (Some(slot), Some(l), _, _) | (_, _, Some(slot), Some(l)) => out.push(Fact::Equals(slot, l)),
                    _ => {}
                }
            }
            Node::Affix { suffix: false, text, affix } => {
                if let (Some(slot), Some(Literal::String(p))) = (var(node(text)), lit(node(affix))) {
                    out.push(Fact::Prefix(slot, p));
                }
            }
            _ => {}
        }
    }
    out
}

fn var(n: Option<&Node>) -> Option<&Slot> {
    match n {
        Some(Node::Var { slot, default: None }) => Some(slot),
        _ => None,
    }
}

fn lit(n: Option<&Node>) -> Option<&Literal> {
    match n {
        Some(Node::Literal(l @ (Literal::String(_) | Literal::Number(_)))) => Some(l),
        _ => None,
    }
}

fn contradict(a: &Fact<'_>, b: &Fact<'_>) -> bool {
    match (a, b) {
        (Fact::Equals(s, x), Fact::Equals(t, y)) => s == t && same_kind(x, y) && x != y,
        (Fact::Prefix(s, p), Fact::Prefix(t, q)) => s == t && !p.starts_with(q) && !q.starts_with(p),
        (Fact::Equals(s, Literal::String(v)), Fact::Prefix(t, p))
        | (Fact::Prefix(t, p), Fact::Equals(s, Literal::String(v))) => s == t && !v.starts_with(p),
        _ => false,
    }
}

/// Loose `==` equates `"1"` and `1`; only constants of one kind are known to differ.
fn same_kind(a: &Literal, b: &Literal) -> bool {
    matches!((a, b), (Literal::String(_), Literal::String(_)) | (Literal::Number(_), Literal::Number(_)))
}
