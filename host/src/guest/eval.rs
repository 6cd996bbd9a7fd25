//! `edgeseg_eval`: a compiled rule over a data document, evaluated inside the module.
//!
//! Conformance checking, not a hot path (`edgeseg jsonlogic`): each call allocates a fresh input
//! buffer and runs on the per-call fuel budget. A trap re-instantiates like any other call.

use super::instance::trap;
use super::{Guest, GuestError, unavailable};
use edgeseg::abi::{EvalInput, EvalResult};
use edgeseg::rule::{Literal, Rule};

impl Guest {
    /// Evaluates `rule` (compiled in the builder's data mode) over `data` in the guest.
    pub fn eval(&mut self, rule: &Rule, data: &Literal) -> Result<Result<Literal, Literal>, GuestError> {
        // The ABI message is the tuple; cloning keeps the signature borrow-friendly for callers.
        let input: EvalInput = (rule.clone(), data.clone());
        let bytes = postcard::to_allocvec(&input).map_err(|e| GuestError::Host(format!("encoding the rule: {e}")))?;
        let answer = self.eval_raw(&bytes)?;
        let decoded: EvalResult = postcard::from_bytes(&answer)
            .map_err(|e| GuestError::Host(format!("undecodable eval answer ({} bytes): {e}", answer.len())))?;
        decoded.map_err(GuestError::from)
    }

    /// Calls `edgeseg_eval` with a postcard `(Rule, Literal)` and returns the raw answer bytes.
    pub fn eval_raw(&mut self, input: &[u8]) -> Result<Vec<u8>, GuestError> {
        self.with_recovery(|g| {
            let fuel = super::call_budget(&g.config);
            let Guest { live, answer_buf, .. } = g;
            let live = live.as_mut().ok_or_else(unavailable)?;
            let Some(eval) = live.exports.eval.clone() else {
                return Err(GuestError::Host("the module does not export `edgeseg_eval` (built before it?)".into()));
            };
            let (ptr, len) = live.write_fresh(input, fuel)?;
            live.arm(fuel);
            let packed = eval.call(&mut live.store, (ptr, len));
            live.dealloc(ptr, len, fuel)?;
            live.take_answer(packed.map_err(trap)?, fuel, answer_buf)?;
            Ok(answer_buf.clone())
        })
    }
}
