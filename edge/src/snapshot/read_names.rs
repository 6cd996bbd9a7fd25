//! The names of the headers and attributes a snapshot reads (the JS skin's fast path).

use super::{IdentitySource, Snapshot};
use alloc::string::String;
use alloc::vec::Vec;

/// What a snapshot can read of a request beyond method, host, path, country, client address and
/// clock: the JS skin copies only these headers and attributes into the request it encodes
/// (`edge/src/js/wire.js`), so a request's unrelated headers never cross into the module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadNames {
    /// Header names, lower-case: `cookie`, `sec-gpc`, `baggage` and `traceparent` always (cookies,
    /// GPC, the baggage merge and the trace continued), then identity sources, the TCF header, the trusted client-address header
    /// and every header a rule reads.
    pub headers: Vec<String>,
    /// Attribute names rules read (exact, as attributes are matched).
    pub attributes: Vec<String>,
}

impl Snapshot {
    /// Every header and attribute name this snapshot's rules, identity sources and signals read.
    pub fn read_names(&self) -> ReadNames {
        let mut names = ReadNames {
            headers: ["cookie", "sec-gpc", "baggage", "traceparent"].map(String::from).to_vec(),
            attributes: Vec::new(),
        };
        let header = |names: &mut ReadNames, n: &str| {
            let n = n.to_ascii_lowercase();
            if !names.headers.contains(&n) {
                names.headers.push(n);
            }
        };
        for source in &self.identity {
            if matches!(source, IdentitySource::Header(_) | IdentitySource::VerifiedHeader(..)) {
                header(&mut names, source.name());
            }
        }
        if let Some(h) = &self.consent.tcf_header {
            header(&mut names, h);
        }
        if let Some(h) = &self.client_ip.trusted_header {
            header(&mut names, h);
        }
        for rule in self.segments.iter().filter_map(|s| s.rule.as_ref()) {
            for node in &rule.nodes {
                match node {
                    crate::rule::Node::Var { slot: crate::rule::Slot::Header(h), .. } => header(&mut names, h),
                    crate::rule::Node::Var { slot: crate::rule::Slot::Attribute(a), .. }
                        if !names.attributes.contains(a) =>
                    {
                        names.attributes.push(a.clone());
                    }
                    _ => {}
                }
            }
        }
        names
    }
}
