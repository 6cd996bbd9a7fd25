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
use edgeseg::rule::{Node, Rule};
use edgeseg::snapshot::{LIMIT_NAMES, Limits, MAX_THROTTLE_KEYS, Slo};
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

/// `tier_slos.<tier>`: availability in percent (status below 500 counts as success), an
/// optional p99 latency bound, and the severity of the tier's fast-burn alerts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloDef {
    pub availability: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<u32>,
    /// Read by `edgeseg slo rules --definitions` only: the snapshot does not carry it (the edge
    /// has no use for it). Absent: [`default_severity`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// How an SLO alert reaches people: `page` wakes someone, `ticket` waits for working hours. The
/// `severity` label of the generated alerting rules, which an Alertmanager route matches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ticket,
    Page,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ticket => "ticket",
            Severity::Page => "page",
        }
    }
}

/// The severity of a tier's fast-burn alerts when the definitions do not say: premium pages,
/// every other tier (standard, free, any other name) gets a ticket.
pub fn default_severity(tier: &str) -> Severity {
    if tier == "premium" { Severity::Page } else { Severity::Ticket }
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

/// `limits`: configured maxima. Every field is optional (absent: the edge's default) and must lie
/// in `1..=` its hard cap ([`Limits::HARD`], [`MAX_THROTTLE_KEYS`]). The builder refuses
/// definitions over them ([`BuildErrorKind::Limit`], naming the limit, the segment and the
/// value); the edge refuses a snapshot over its own declared limits and treats longer header
/// values as absent.
///
/// ```json
/// "limits": {"segments": 64, "rule_nodes": 256, "rule_depth": 16, "header_bytes": 4096,
///            "throttle_keys": 100000, "delta_bytes": 1048576}
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_nodes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_depth: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_bytes: Option<u32>,
    /// Throttle table size (the same setting as the top-level `throttle_keys`; set one of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_keys: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_bytes: Option<u32>,
}

fn limit_error(field: String, message: impl Into<String>) -> BuildError {
    BuildError::new(BuildErrorKind::Limit, message).with_field(field)
}

impl LimitsDef {
    /// The snapshot's [`Limits`] record (`0` for each limit left unset), each value checked
    /// against its hard cap.
    pub fn compile(&self) -> Result<Limits, BuildError> {
        let given = [self.segments, self.rule_nodes, self.rule_depth, self.header_bytes, self.delta_bytes];
        let mut out = [0u32; 5];
        for (((name, value), cap), slot) in LIMIT_NAMES.iter().zip(given).zip(Limits::HARD.values()).zip(&mut out) {
            if let Some(v) = value {
                if !(1..=cap).contains(&v) {
                    return Err(limit_error(format!("limits.{name}"), format!("{v} is not in 1..={cap}")));
                }
                *slot = v;
            }
        }
        if let Some(n) = self.throttle_keys
            && !(1..=MAX_THROTTLE_KEYS).contains(&n)
        {
            return Err(limit_error("limits.throttle_keys".into(), format!("{n} is not in 1..={MAX_THROTTLE_KEYS}")));
        }
        let [segments, rule_nodes, rule_depth, header_bytes, delta_bytes] = out;
        Ok(Limits { segments, rule_nodes, rule_depth, header_bytes, delta_bytes })
    }

    /// The limits in force: the configured ones, defaults filled in.
    pub fn effective(&self) -> Result<Limits, BuildError> {
        Ok(self.compile()?.resolve())
    }
}

/// Depth of a compiled rule (a lone node is 1): what `limits.rule_depth` bounds.
pub fn rule_depth(rule: &Rule) -> usize {
    let mut depth: Vec<usize> = Vec::with_capacity(rule.nodes.len());
    for node in &rule.nodes {
        let children: Vec<u32> = match node {
            Node::Literal(_) | Node::InSegment(_) | Node::Consent(_) => Vec::new(),
            Node::Var { default, .. } | Node::ScopeVar { default, .. } => default.iter().copied().collect(),
            Node::Array(cs)
            | Node::And(cs)
            | Node::Or(cs)
            | Node::If(cs)
            | Node::Cat(cs)
            | Node::Merge(cs)
            | Node::Substr(cs)
            | Node::Compare { args: cs, .. }
            | Node::Arith { args: cs, .. } => cs.clone(),
            Node::In { needle: a, haystack: b }
            | Node::Iterate { array: a, body: b, .. }
            | Node::Affix { text: a, affix: b, .. } => vec![*a, *b],
            Node::Reduce { array, body, initial } => [*array, *body].into_iter().chain(*initial).collect(),
            Node::SemVer { left, op, right } => vec![*left, *op, *right],
            Node::Fractional { key, variants } => std::iter::once(*key).chain(variants.iter().copied()).collect(),
            Node::Missing(keys) => keys.iter().map(|k| k.var).collect(),
            Node::MissingSome { need, keys } => std::iter::once(*need).chain(keys.iter().map(|k| k.var)).collect(),
            Node::Not(c) | Node::Truthy(c) => vec![*c],
        };
        let d = 1 + children.iter().filter_map(|&c| depth.get(c as usize)).copied().max().unwrap_or(0);
        depth.push(d);
    }
    depth.last().copied().unwrap_or(0)
}

/// Refuses a compiled rule over the configured node or depth limit, naming limit, segment and value.
pub fn check_rule(rule: &Rule, limits: &Limits, segment: &str, at: &str) -> Result<(), BuildError> {
    let nodes = rule.nodes.len();
    if nodes > limits.rule_nodes as usize {
        return Err(limit_error(
            at.into(),
            format!("segment {segment}: rule has {nodes} nodes, limits.rule_nodes is {}", limits.rule_nodes),
        ));
    }
    let depth = rule_depth(rule);
    if depth > limits.rule_depth as usize {
        return Err(limit_error(
            at.into(),
            format!("segment {segment}: rule is {depth} deep, limits.rule_depth is {}", limits.rule_depth),
        ));
    }
    Ok(())
}
