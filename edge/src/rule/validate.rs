//! [`Rule::validate`]: the structural invariants a snapshot's rules must hold before the edge
//! evaluates them (indices only point back, bounded depth, size and evaluation count).

use super::{MAX_DEPTH, MAX_EVALUATIONS, MAX_NODES, Node, Rule};
use crate::error::{Error, ErrorKind};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

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
                // Any count: comparisons chain, arithmetic folds, and the counts an operator has
                // no answer for fail when evaluated (`EvalError::InvalidArguments`).
                Node::Compare { args, .. } | Node::Arith { args, .. } => {
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
}
