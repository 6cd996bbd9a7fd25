//! Evaluation errors, in the JSON Logic community's shape.
//!
//! The community spec (and datalogic-rs, the engine inside flagd-evaluator) lets an evaluation
//! fail: arithmetic or an ordering on something that is not a number fails with `{"type": "NaN"}`,
//! an operator given operands it has no answer for with `{"type": "Invalid Arguments"}`. An error
//! stops the whole evaluation at once (as running out of the work budget does). In a segment rule
//! an error means the segment does not match; it is counted (`Decision::rule_errors`).

use super::Literal;
use alloc::string::String;
use alloc::vec;

/// Why an evaluation failed.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalError {
    /// Not a number where one was needed (`"a" * 1`, `1 / 0`, an array operand, `1 < "a"`).
    NaN,
    /// Operands the operator has no answer for (`-` or `/` with none, `max` over a string,
    /// `1 == "a"`).
    InvalidArguments,
}

impl EvalError {
    /// The community's error value: `{"type": "NaN"}`, `{"type": "Invalid Arguments"}`.
    pub fn to_literal(&self) -> Literal {
        let kind = match self {
            EvalError::NaN => "NaN",
            EvalError::InvalidArguments => "Invalid Arguments",
        };
        Literal::Object(vec![(String::from("type"), Literal::String(String::from(kind)))])
    }
}

/// Why an evaluation stopped without a value.
#[derive(Clone, Debug, PartialEq)]
pub enum Halt {
    /// It ran out of its work budget (see [`super::DEFAULT_EVAL_BUDGET`]).
    Budget,
    /// The rule failed (see [`EvalError`]).
    Error(EvalError),
}
