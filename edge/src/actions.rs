//! What the edge does for a segment or tier: throttle, cache policy, route.
//!
//! Actions hang off segments and tiers in the snapshot. For each kind of action independently, the
//! matched segment with the highest precedence that carries one supplies it (segments are stored in
//! precedence order, so that is the first); when no matched segment does, the decided tier's own
//! action applies. The decision names the source of each action ([`Source`]), so an operator can
//! always tell why a request was throttled or cached the way it was.
//!
//! Header rendering lives here too, so that every skin emits byte-identical headers.

use crate::decision::push_decimal;
use crate::throttle::ThrottlePolicy;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The actions of one segment or tier. All optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actions {
    pub throttle: Option<ThrottlePolicy>,
    pub cache: Option<CachePolicy>,
    pub route: Option<Route>,
}

impl Actions {
    pub fn is_empty(&self) -> bool {
        self.throttle.is_none() && self.cache.is_none() && self.route.is_none()
    }
}

/// How a response for this segment or tier may be cached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachePolicy {
    pub mode: CacheMode,
    /// `max-age` (browser and shared caches), seconds.
    pub max_age: Option<u32>,
    /// `s-maxage` (shared caches, the CDN), seconds.
    pub s_maxage: Option<u32>,
    pub stale_while_revalidate: Option<u32>,
    pub stale_if_error: Option<u32>,
    /// What goes into the cache key so that differently personalised objects never share an entry.
    pub key: CacheKey,
    /// Extra surrogate keys (purge groups) besides the tier and segment ones the edge adds.
    pub surrogate_keys: Vec<String>,
}

/// The cacheability class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheMode {
    /// Shared caches may store it (per cache key).
    Public,
    /// Only the visitor's browser may store it.
    Private,
    /// Nobody stores it.
    NoStore,
    /// The edge neither looks up nor stores; the origin's own headers pass through untouched.
    Bypass,
}

impl CacheMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Public => "public",
            CacheMode::Private => "private",
            CacheMode::NoStore => "no-store",
            CacheMode::Bypass => "bypass",
        }
    }
}

/// The cache-key part added for a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheKey {
    /// `tier=<tier>`: one object per tier (the default: tiers never share a personalised object).
    Tier,
    /// `segment=<source segment>` (or the tier when the policy is the tier's).
    Segment,
    /// Nothing added: the object is the same for everyone.
    Shared,
}

/// Where the request goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Origin pool name (e.g. `premium-pool`).
    pub pool: String,
    /// Priority lane name (e.g. `fast`); a throttle's `deprioritize` action overrides it.
    pub lane: String,
}

/// Where an action came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source<'e> {
    Segment(&'e str),
    Tier(&'e str),
}

impl Source<'_> {
    /// `segment:<name>` or `tier:<name>`, for reports and logs.
    pub fn label(&self) -> String {
        match self {
            Source::Segment(n) => ["segment:", n].concat(),
            Source::Tier(n) => ["tier:", n].concat(),
        }
    }
}

/// Longest value accepted for a surrogate key or a route name (they end up in headers).
pub const MAX_ACTION_NAME: usize = 128;

/// Values in headers: visible ASCII without separators that would split a header list.
pub(crate) fn header_safe(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ACTION_NAME && s.bytes().all(|b| b.is_ascii_graphic() && !b",;\"\\".contains(&b))
}

impl CachePolicy {
    /// Checks what the edge relies on; `Err` names the problem.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.surrogate_keys.len() > 16 {
            return Err("more than 16 surrogate keys");
        }
        if !self.surrogate_keys.iter().all(|k| header_safe(k)) {
            return Err("surrogate key empty, too long, or not visible ASCII without , ; \" \\");
        }
        if matches!(self.mode, CacheMode::NoStore | CacheMode::Bypass)
            && (self.max_age.is_some()
                || self.s_maxage.is_some()
                || self.stale_while_revalidate.is_some()
                || self.stale_if_error.is_some())
        {
            return Err("no-store and bypass take no lifetimes");
        }
        if self.mode == CacheMode::Private && self.s_maxage.is_some() {
            return Err("s-maxage is for shared caches; a private policy cannot have one");
        }
        Ok(())
    }

    /// The `Cache-Control` response value, or `None` for `bypass` (the origin's header stands).
    pub fn cache_control(&self) -> Option<String> {
        let mode = match self.mode {
            CacheMode::Public => "public",
            CacheMode::Private => "private",
            CacheMode::NoStore => return Some(String::from("no-store")),
            CacheMode::Bypass => return None,
        };
        // Room for every directive at once (no growing).
        let mut out = String::with_capacity(96);
        out.push_str(mode);
        let mut push = |name: &str, v: Option<u32>| {
            if let Some(v) = v {
                // Straight into `out`, no `core::fmt`: this runs per decision.
                out.push_str(", ");
                out.push_str(name);
                out.push('=');
                push_decimal(&mut out, v.into());
            }
        };
        push("max-age", self.max_age);
        push("s-maxage", self.s_maxage);
        push("stale-while-revalidate", self.stale_while_revalidate);
        push("stale-if-error", self.stale_if_error);
        Some(out)
    }

    /// The cache-key part for a decision, or `None` when the policy adds none.
    pub fn key_part(&self, tier: &str, source: Source<'_>) -> Option<String> {
        if !matches!(self.mode, CacheMode::Public) {
            return None;
        }
        match (self.key, source) {
            (CacheKey::Shared, _) => None,
            (CacheKey::Tier, _) | (CacheKey::Segment, Source::Tier(_)) => Some(["tier=", tier].concat()),
            (CacheKey::Segment, Source::Segment(s)) => Some(["segment=", s].concat()),
        }
    }

    /// Surrogate keys for a decision, joined by `separator` (`" "` for `Surrogate-Key`, `","` for
    /// `Cache-Tag`): the tier's, the source segment's, then the configured ones. Only shared
    /// (public) objects get them: nothing else sits in the CDN to be purged. One string, not one
    /// per key: this runs per cached decision.
    pub fn surrogate_keys(&self, tier: &str, source: Source<'_>, separator: &str) -> Option<String> {
        if self.mode != CacheMode::Public {
            return None;
        }
        let mut out = String::with_capacity(64);
        out.push_str("edgeseg-tier-");
        out.push_str(tier);
        if let Source::Segment(s) = source {
            out.push_str(separator);
            out.push_str("edgeseg-segment-");
            out.push_str(s);
        }
        for key in &self.surrogate_keys {
            out.push_str(separator);
            out.push_str(key);
        }
        Some(out)
    }
}

impl Route {
    pub fn validate(&self) -> Result<(), &'static str> {
        if header_safe(&self.pool) && header_safe(&self.lane) {
            Ok(())
        } else {
            Err("route pool and lane must be 1 to 128 visible ASCII characters without , ; \" \\")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn public() -> CachePolicy {
        CachePolicy {
            mode: CacheMode::Public,
            max_age: Some(60),
            s_maxage: Some(300),
            stale_while_revalidate: Some(30),
            stale_if_error: Some(86_400),
            key: CacheKey::Tier,
            surrogate_keys: vec!["catalog".into()],
        }
    }

    #[test]
    fn cache_control_renders_each_mode() {
        assert_eq!(
            public().cache_control().as_deref(),
            Some("public, max-age=60, s-maxage=300, stale-while-revalidate=30, stale-if-error=86400")
        );
        let private = CachePolicy { mode: CacheMode::Private, s_maxage: None, ..public() };
        assert_eq!(
            private.cache_control().as_deref(),
            Some("private, max-age=60, stale-while-revalidate=30, stale-if-error=86400")
        );
        let none = CachePolicy {
            mode: CacheMode::NoStore,
            max_age: None,
            s_maxage: None,
            stale_while_revalidate: None,
            stale_if_error: None,
            ..public()
        };
        assert_eq!(none.cache_control().as_deref(), Some("no-store"));
        assert_eq!(CachePolicy { mode: CacheMode::Bypass, ..none }.cache_control(), None);
    }

    #[test]
    fn keys_follow_the_source() {
        let p = public();
        assert_eq!(p.key_part("free", Source::Tier("free")).as_deref(), Some("tier=free"));
        let seg = CachePolicy { key: CacheKey::Segment, ..public() };
        assert_eq!(seg.key_part("free", Source::Segment("de-mobile")).as_deref(), Some("segment=de-mobile"));
        assert_eq!(seg.key_part("free", Source::Tier("free")).as_deref(), Some("tier=free"));
        assert_eq!(CachePolicy { key: CacheKey::Shared, ..public() }.key_part("free", Source::Tier("free")), None);
        assert_eq!(
            p.surrogate_keys("free", Source::Segment("de-mobile"), " ").as_deref(),
            Some("edgeseg-tier-free edgeseg-segment-de-mobile catalog")
        );
        assert_eq!(p.surrogate_keys("free", Source::Tier("free"), ",").as_deref(), Some("edgeseg-tier-free,catalog"));
        let private = CachePolicy { mode: CacheMode::Private, surrogate_keys: Vec::new(), ..public() };
        assert_eq!(private.surrogate_keys("free", Source::Tier("free"), " "), None);
    }

    #[test]
    fn validation_refuses_contradictions_and_unsafe_names() {
        assert_eq!(public().validate(), Ok(()));
        assert!(CachePolicy { mode: CacheMode::NoStore, ..public() }.validate().is_err());
        assert!(CachePolicy { mode: CacheMode::Private, ..public() }.validate().is_err());
        assert!(CachePolicy { surrogate_keys: vec!["a,b".into()], ..public() }.validate().is_err());
        assert!(Route { pool: "p".into(), lane: "l\r\nx".into() }.validate().is_err());
        assert!(Route { pool: "premium-pool".into(), lane: "fast".into() }.validate().is_ok());
    }
}
