//! The guest's state beside its snapshot: revocation deltas, throttle state, counters.
//!
//! A revocation delta is kept (its bytes) with the serving snapshot and re-applied whenever the
//! instance is replaced after a trap, so an opt-out can never come undone. A new snapshot drops
//! it: deltas are bound to the snapshot they were made for, and the next build already excludes
//! the revoked members.
//!
//! Throttle state is not carried across a trap: it lives in the instance that died, and a host
//! that needs it durable (Fastly Compute, which starts a fresh instance per request anyway) keeps
//! it outside with [`Guest::import_throttle_state`] and each decision's `throttle.state`. Losing it
//! once per trap only means a few requests get a fresh burst.

use super::instance::{Live, call_with_input, trap};
use super::{Guest, GuestError, unavailable};
use edgeseg::EngineStats;
use edgeseg::abi::{AbiError, DeltaInfo, ImportResult};
use serde::Deserialize;

fn decode<'a, T: Deserialize<'a>>(what: &str, answer: &'a [u8]) -> Result<T, GuestError> {
    let decoded: Result<T, AbiError> = postcard::from_bytes(answer)
        .map_err(|e| GuestError::Host(format!("undecodable {what} answer ({} bytes): {e}", answer.len())))?;
    decoded.map_err(GuestError::from)
}

pub(super) fn reapply_delta(
    live: &mut Live,
    handle: u32,
    delta: &[u8],
    fuel: super::instance::Budget,
    answer: &mut Vec<u8>,
) -> Result<DeltaInfo, GuestError> {
    call_with_input(live, |e| &e.apply_delta, handle, delta, fuel, answer)?;
    decode("apply_delta", answer)
}

impl Guest {
    /// Applies a revocation delta to the serving snapshot; effective from the next decision. A
    /// refused delta (another snapshot's, or not newer than the applied one) changes nothing.
    pub fn apply_delta(&mut self, delta: &[u8]) -> Result<DeltaInfo, GuestError> {
        let handle = self.current.as_ref().map(|c| c.info.handle).ok_or(GuestError::NoSnapshot)?;
        let info = self.with_recovery(|g| {
            let fuel = g.load_budget(delta.len());
            let Guest { live, answer_buf, .. } = g;
            let live = live.as_mut().ok_or_else(unavailable)?;
            reapply_delta(live, handle, delta, fuel, answer_buf)
        })?;
        if let Some(current) = &mut self.current {
            current.delta = Some(delta.to_vec());
        }
        Ok(info)
    }

    /// The engine's counters: throttle keys held and their high-water mark, evictions, delta.
    pub fn stats(&mut self) -> Result<EngineStats, GuestError> {
        let handle = self.current.as_ref().map(|c| c.info.handle).ok_or(GuestError::NoSnapshot)?;
        self.with_recovery(|g| {
            let fuel = super::call_budget(&g.config);
            let Guest { live, answer_buf, .. } = g;
            let live = live.as_mut().ok_or_else(unavailable)?;
            live.arm(fuel);
            let packed = live.exports.stats.call(&mut live.store, handle).map_err(trap)?;
            live.take_answer(packed, fuel, answer_buf)?;
            decode("stats", answer_buf)
        })
    }

    /// Hands throttle state kept outside the instance back in: `(state_key, state)` pairs from
    /// earlier decisions' `throttle` outcomes. Returns how many entries were taken.
    pub fn import_throttle_state(&mut self, entries: &[(u64, u64)]) -> Result<u32, GuestError> {
        let handle = self.current.as_ref().map(|c| c.info.handle).ok_or(GuestError::NoSnapshot)?;
        let message = postcard::to_allocvec(entries).map_err(|e| GuestError::Host(format!("encoding: {e}")))?;
        self.with_recovery(|g| {
            let fuel = super::call_budget(&g.config);
            let Guest { live, answer_buf, .. } = g;
            let live = live.as_mut().ok_or_else(unavailable)?;
            call_with_input(live, |e| &e.throttle_import, handle, &message, fuel, answer_buf)?;
            let answer: ImportResult = postcard::from_bytes(answer_buf)
                .map_err(|e| GuestError::Host(format!("undecodable import answer: {e}")))?;
            answer.map_err(GuestError::from)
        })
    }
}
