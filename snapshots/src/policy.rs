//! The consent-signal and action sections of a definitions file, and their translation into the
//! snapshot's extension record (`edgeseg::snapshot::PayloadExt`).
//!
//! ```json
//! "consent": {
//!   "gpc": ["marketing"],
//!   "tcf": {"cookie": "euconsent-v2", "purposes": {"personalisation": [1, 3, 4], "marketing": [1, 2, 3, 4, 7]}},
//!   "cookie": "site_consent"
//! },
//! "tier_actions": {"free": {"throttle": {"rate": 10, "period_s": 1, "burst": 20, "key": "user"}}},
//! "segments": [{"name": "bots", ..., "throttle": {"rate": 1, "period_s": 1, "burst": 1, "key": "ip"}}]
//! ```
//!
//! Everything is checked here with the field path of the offending value, and again by the edge's
//! own validation when the builder decodes its output.

use crate::definitions::CONTRACT;
use crate::error::{BuildError, BuildErrorKind};
use edgeseg::actions::{Actions, CacheKey, CacheMode, CachePolicy, Route};
use edgeseg::consent::{ConsentConfig, PurposeSignals};
use edgeseg::snapshot::Slo;
use edgeseg::throttle::{ThrottleAction, ThrottleKey, ThrottlePolicy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Purposes `Sec-GPC: 1` removes when the definitions do not say: GPC opts out of sale and
/// sharing, which is what marketing does.
pub const DEFAULT_GPC_PURPOSES: &[&str] = &["marketing"];

/// `consent`: where the edge reads request-time consent signals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentDef {
    /// Purposes removed by `Sec-GPC: 1`; default [`DEFAULT_GPC_PURPOSES`] (those declared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpc: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcf: Option<TcfDef>,
    /// Name of the site's own consent cookie (purpose names separated by `|`, `,`, `+` or spaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
}

/// `consent.tcf`: an IAB TCF v2 string and how its purposes map onto ours.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcfDef {
    /// Cookie holding the string; default `euconsent-v2` unless only `header` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Our purpose → the TCF purposes (1–24) that must all be consented for it.
    pub purposes: BTreeMap<String, Vec<u8>>,
}

/// Actions of a segment or tier.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteDef>,
}

/// `throttle`: GCRA, `rate` requests per `period_s` seconds with bursts of up to `burst`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleDef {
    pub rate: u32,
    #[serde(default = "one")]
    pub period_s: u64,
    /// Requests allowed at once from a fresh key; default `rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// `user` (falls back to the IP for anonymous requests), `ip`, or `segment` (one bucket shared
    /// by everyone the policy applies to).
    pub key: KeyDef,
    /// `reject` (429, the default) or `deprioritize` (served in `lane`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
}

fn one() -> u64 {
    1
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDef {
    User,
    Ip,
    Segment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionDef {
    Reject,
    Deprioritize,
}

/// `cache`: the response's cacheability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheDef {
    /// `public`, `private`, `no-store` or `bypass`.
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_maxage: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_while_revalidate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_if_error: Option<u32>,
    /// `tier` (default), `segment` or `shared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub surrogate_keys: Vec<String>,
}

/// `route`: origin pool and priority lane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDef {
    pub pool: String,
    #[serde(default = "default_lane")]
    pub lane: String,
}

fn default_lane() -> String {
    "default".into()
}

fn def_error(field: String, message: impl Into<String>) -> BuildError {
    BuildError::new(BuildErrorKind::Definitions, message).with_field(field)
}

impl ConsentDef {
    /// The edge's consent config and per-purpose signals, for `purposes` in definitions order.
    pub fn compile(&self, purposes: &[String]) -> Result<(ConsentConfig, Vec<PurposeSignals>), BuildError> {
        let index = |field: String, name: &str| -> Result<usize, BuildError> {
            let i = purposes.iter().position(|p| p == name).ok_or_else(|| {
                def_error(field.clone(), format!("unknown purpose {name:?} (declared: {})", purposes.join(", ")))
            })?;
            if name == CONTRACT {
                return Err(def_error(field, "`contract` needs no consent; no signal can remove it"));
            }
            Ok(i)
        };
        let mut signals = vec![PurposeSignals::default(); purposes.len()];
        match &self.gpc {
            Some(list) => {
                for (k, name) in list.iter().enumerate() {
                    let i = index(format!("consent.gpc[{k}]"), name)?;
                    signals[i].sale_sharing = true;
                }
            }
            None => {
                for name in DEFAULT_GPC_PURPOSES {
                    if let Some(i) = purposes.iter().position(|p| p == name) {
                        signals[i].sale_sharing = true;
                    }
                }
            }
        }
        let mut config = ConsentConfig::default();
        if let Some(tcf) = &self.tcf {
            config.tcf_header = tcf.header.clone();
            config.tcf_cookie = match (&tcf.cookie, &tcf.header) {
                (Some(c), _) => Some(c.clone()),
                (None, Some(_)) => None,
                (None, None) => Some("euconsent-v2".into()),
            };
            for (name, tcf_purposes) in &tcf.purposes {
                let at = format!("consent.tcf.purposes.{name}");
                let i = index(at.clone(), name)?;
                if tcf_purposes.is_empty() {
                    return Err(def_error(at, "list at least one TCF purpose (1 to 24)"));
                }
                for &t in tcf_purposes {
                    if !(1..=24).contains(&t) {
                        return Err(def_error(at, format!("TCF purpose {t} is not in 1..=24")));
                    }
                    signals[i].tcf_purposes |= 1 << (t - 1);
                }
            }
        }
        config.cookie = self.cookie.clone();
        for (field, name) in [
            ("consent.tcf.cookie", &config.tcf_cookie),
            ("consent.tcf.header", &config.tcf_header),
            ("consent.cookie", &config.cookie),
        ] {
            if let Some(n) = name
                && (n.is_empty() || n.len() > 256 || !n.bytes().all(|b| b.is_ascii_graphic()))
            {
                return Err(def_error(field.into(), "must be 1 to 256 visible ASCII characters"));
            }
        }
        Ok((config, signals))
    }
}

impl ActionsDef {
    /// The edge's actions; `at` is the field path of this object.
    pub fn compile(&self, at: &str) -> Result<Actions, BuildError> {
        let throttle = self.throttle.as_ref().map(|t| t.compile(&format!("{at}.throttle"))).transpose()?;
        let cache = self.cache.as_ref().map(|c| c.compile(&format!("{at}.cache"))).transpose()?;
        let route = match &self.route {
            Some(r) => {
                let route = Route { pool: r.pool.clone(), lane: r.lane.clone() };
                route.validate().map_err(|why| def_error(format!("{at}.route"), why))?;
                Some(route)
            }
            None => None,
        };
        Ok(Actions { throttle, cache, route })
    }
}

impl ThrottleDef {
    fn compile(&self, at: &str) -> Result<ThrottlePolicy, BuildError> {
        let action = match (self.action.unwrap_or(ActionDef::Reject), &self.lane) {
            (ActionDef::Reject, None) => ThrottleAction::Reject,
            (ActionDef::Reject, Some(_)) => {
                return Err(def_error(format!("{at}.lane"), "a lane only goes with \"action\": \"deprioritize\""));
            }
            (ActionDef::Deprioritize, Some(lane)) => ThrottleAction::Deprioritize { lane: lane.clone() },
            (ActionDef::Deprioritize, None) => {
                return Err(def_error(format!("{at}.lane"), "\"deprioritize\" needs the lane to move requests to"));
            }
        };
        let period_ms =
            self.period_s.checked_mul(1000).ok_or_else(|| def_error(format!("{at}.period_s"), "period too long"))?;
        let policy = ThrottlePolicy {
            rate: self.rate,
            period_ms,
            burst: self.burst.unwrap_or(self.rate),
            key: match self.key {
                KeyDef::User => ThrottleKey::User,
                KeyDef::Ip => ThrottleKey::Ip,
                KeyDef::Segment => ThrottleKey::Segment,
            },
            action,
        };
        policy.validate().map_err(|why| def_error(at.into(), why))?;
        Ok(policy)
    }
}

impl CacheDef {
    fn compile(&self, at: &str) -> Result<CachePolicy, BuildError> {
        let mode = match self.mode.as_str() {
            "public" => CacheMode::Public,
            "private" => CacheMode::Private,
            "no-store" => CacheMode::NoStore,
            "bypass" => CacheMode::Bypass,
            other => {
                return Err(def_error(
                    format!("{at}.mode"),
                    format!("unknown cache mode {other:?} (public, private, no-store, bypass)"),
                ));
            }
        };
        let key = match self.key.as_deref().unwrap_or("tier") {
            "tier" => CacheKey::Tier,
            "segment" => CacheKey::Segment,
            "shared" => CacheKey::Shared,
            other => {
                return Err(def_error(
                    format!("{at}.key"),
                    format!("unknown cache key {other:?} (tier, segment, shared)"),
                ));
            }
        };
        let policy = CachePolicy {
            mode,
            max_age: self.max_age,
            s_maxage: self.s_maxage,
            stale_while_revalidate: self.stale_while_revalidate,
            stale_if_error: self.stale_if_error,
            key,
            surrogate_keys: self.surrogate_keys.clone(),
        };
        policy.validate().map_err(|why| def_error(at.into(), why))?;
        Ok(policy)
    }
}

/// `tier_slos.<tier>`: availability in percent (status below 500 counts as success) and an
/// optional p99 latency bound.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloDef {
    pub availability: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<u32>,
}

/// SLOs for tiers the definitions do not mention, by well-known tier name (premium 99.95% with
/// p99 under 200 ms, standard 99.9% / 500 ms, free 99% best effort).
pub fn default_slo(tier: &str) -> Option<Slo> {
    match tier {
        "premium" => Some(Slo { availability_ppm: 999_500, latency_p99_ms: Some(200) }),
        "standard" => Some(Slo { availability_ppm: 999_000, latency_p99_ms: Some(500) }),
        "free" => Some(Slo { availability_ppm: 990_000, latency_p99_ms: None }),
        _ => None,
    }
}

impl SloDef {
    pub fn compile(&self, at: &str) -> Result<Slo, BuildError> {
        if !(self.availability > 0.0 && self.availability <= 100.0) {
            return Err(def_error(
                format!("{at}.availability"),
                format!("{} is not a percentage in (0, 100]", self.availability),
            ));
        }
        Ok(Slo { availability_ppm: (self.availability * 10_000.0).round() as u32, latency_p99_ms: self.latency_p99_ms })
    }
}
