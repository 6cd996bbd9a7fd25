//! What the engine decided for one request, and the headers that carry it downstream.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// A header to add to the request sent to the origin (and to metrics pipelines).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header<'e> {
    pub name: &'e str,
    pub value: String,
}

/// The decision for one request. Borrows names from the engine's snapshot; crosses the raw ABI as
/// postcard and deserialises borrowing from the host's buffer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision<'e> {
    pub snapshot_version: u64,
    pub tier: &'e str,
    /// Index of `tier` in the snapshot's tiers (0 = highest precedence).
    pub tier_index: u16,
    /// Matched segments, highest precedence first. Only segments whose purpose is granted on this
    /// request can appear here.
    #[serde(borrow)]
    pub segments: Vec<&'e str>,
    /// Whether a customer id was found in the request.
    pub identified: bool,
    /// Bit `i` set: purpose `i` of the snapshot is granted on this request (`contract` always is).
    pub consent: u64,
    #[serde(borrow)]
    pub headers: Vec<Header<'e>>,
}

/// W3C Baggage caps a header at 8192 bytes; past that we leave the caller's header untouched.
pub(crate) const MAX_BAGGAGE: usize = 8192;
const TIER_KEY: &str = "edgeseg.tier";

/// Merges `edgeseg.tier=<tier>` into an existing `baggage` value per the W3C Baggage format:
/// other list members are kept in order, an earlier `edgeseg.tier` member is replaced. `None`
/// when the result would exceed the W3C size limit (the original header is then left alone).
pub(crate) fn merge_baggage(existing: Option<&str>, tier: &str) -> Option<String> {
    let mut out = String::new();
    for member in existing.unwrap_or("").split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let key = member.split(['=', ';']).next().unwrap_or("").trim_matches([' ', '\t']);
        if key == TIER_KEY {
            continue;
        }
        out.push_str(member);
        out.push(',');
    }
    out.push_str(TIER_KEY);
    out.push('=');
    out.push_str(tier);
    (out.len() <= MAX_BAGGAGE).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baggage_merge() {
        assert_eq!(merge_baggage(None, "premium").as_deref(), Some("edgeseg.tier=premium"));
        assert_eq!(
            merge_baggage(Some("a=1, edgeseg.tier=free;p=1 ,b=2;prop"), "premium").as_deref(),
            Some("a=1,b=2;prop,edgeseg.tier=premium")
        );
        assert_eq!(merge_baggage(Some(" , "), "free").as_deref(), Some("edgeseg.tier=free"));
        let huge = alloc::format!("k={}", "v".repeat(MAX_BAGGAGE));
        assert_eq!(merge_baggage(Some(&huge), "free"), None);
    }
}
