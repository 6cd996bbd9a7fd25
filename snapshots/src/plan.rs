//! From validated definitions to a build plan: indices resolved, segments in their final order,
//! every rule compiled.
//!
//! Everything that can be wrong with the definitions is found here, before the first member is
//! read: a ten-million-row member file should not be streamed only to fail on a typo in a rule.

use crate::compile::{Mode, compile_segment_rule, expand_refs};
use crate::definitions::{CONTRACT, ClientIpDef, Definitions, EncodingDef, TracingDef};
use crate::error::{BuildError, BuildErrorKind};
use edgeseg::rule::Rule;
use edgeseg::snapshot::{IdentitySource, PayloadExt};

/// A purpose, in definitions order (its index is its consent-mask bit).
#[derive(Debug)]
pub(crate) struct PlanPurpose {
    pub name: String,
    pub requires_consent: bool,
}

/// Which members a segment holds.
#[derive(Debug)]
pub(crate) enum Selection {
    All,
    Where(Rule),
    /// Named in the member's `segments` list.
    Precomputed,
}

/// A segment, with everything resolved to indices.
#[derive(Debug)]
pub(crate) struct PlanSegment {
    pub name: String,
    pub tier: Option<u16>,
    pub purpose: u16,
    pub precedence: i32,
    pub rule: Option<Rule>,
    /// `Some` for segments with `members`.
    pub selection: Option<(Selection, EncodingDef)>,
    /// Bloom's target rate.
    pub fp_rate: f64,
    /// A fuse filter's fingerprint bits (8 or 16).
    pub fuse_bits: u8,
    /// Grants a privilege (a tier or a throttle quota): `auto` keeps it exact.
    pub privileged: bool,
    /// Its index in the definitions, for field paths (`segments[i].members.where`).
    pub def_index: usize,
}

/// The resolved definitions.
#[derive(Debug)]
pub(crate) struct Plan {
    pub id: String,
    pub version: Option<u64>,
    pub expires_in_s: Option<u64>,
    pub identity: Vec<IdentitySource>,
    pub purposes: Vec<PlanPurpose>,
    pub tiers: Vec<String>,
    pub default_tier: u16,
    /// Final order: precedence descending, then name ascending (the order the edge requires).
    pub segments: Vec<PlanSegment>,
    /// Consent signals and actions, segment actions in final order.
    pub ext: PayloadExt,
    /// Which member ids are accepted (`member_ids` in the definitions).
    pub id_rules: crate::text::IdRules,
}

fn index(i: usize, what: &str) -> Result<u16, BuildError> {
    u16::try_from(i)
        .map_err(|_| BuildError::new(BuildErrorKind::Limit, format!("{what} index {i} does not fit in u16")))
}

impl Plan {
    pub(crate) fn new(defs: &Definitions) -> Result<Plan, BuildError> {
        defs.validate()?;
        let purposes: Vec<PlanPurpose> =
            defs.purposes.iter().map(|p| PlanPurpose { name: p.clone(), requires_consent: p != CONTRACT }).collect();

        // Definition indices in final order. Field paths in errors keep the definition index,
        // which is what the author sees in the file.
        let mut order: Vec<usize> = (0..defs.segments.len()).collect();
        order.sort_by(|&a, &b| {
            let (sa, sb) = (&defs.segments[a], &defs.segments[b]);
            sb.precedence.cmp(&sa.precedence).then_with(|| sa.name.cmp(&sb.name))
        });
        let names: Vec<&str> = order.iter().map(|&i| defs.segments[i].name.as_str()).collect();
        let purpose_names: Vec<&str> = defs.purposes.iter().map(String::as_str).collect();
        let has_members =
            |final_index: usize| order.get(final_index).is_some_and(|&i| defs.segments[i].members.is_some());

        let limits_def = defs.limits.unwrap_or_default();
        let limits = limits_def.effective()?;
        let mut segments = Vec::with_capacity(order.len());
        let mut segment_actions = Vec::with_capacity(order.len());
        for &i in &order {
            let s = &defs.segments[i];
            let at = format!("segments[{i}]");
            segment_actions.push(s.actions().compile(&at)?);
            let rule = match &s.rule {
                Some(json) => Some(compile_segment_rule(
                    &expand_refs(json, &defs.evaluators, &s.name, &format!("{at}.rule"))?,
                    Mode::Request,
                    &names,
                    &purpose_names,
                    &has_members,
                    Some(&s.name),
                    &format!("{at}.rule"),
                )?),
                None => None,
            };
            if let Some(rule) = &rule {
                crate::policy::check_rule(rule, &limits, &s.name, &format!("{at}.rule"))?;
            }
            let (selection, fp_rate, fuse_bits) = match &s.members {
                Some(m) => {
                    let sel = match &m.where_ {
                        Some(json) => Selection::Where(compile_segment_rule(
                            &expand_refs(json, &defs.evaluators, &s.name, &format!("{at}.members.where"))?,
                            Mode::Profile,
                            &names,
                            &purpose_names,
                            &has_members,
                            Some(&s.name),
                            &format!("{at}.members.where"),
                        )?),
                        None if m.precomputed == Some(true) => Selection::Precomputed,
                        None => Selection::All,
                    };
                    (Some((sel, m.encoding())), m.fp_rate(), m.fuse_bits())
                }
                None => (None, 0.0, 16),
            };
            // `validate` guarantees the lookups below succeed.
            let tier = match &s.tier {
                Some(t) => Some(index(defs.tiers.iter().position(|x| x == t).unwrap_or(0), "tier")?),
                None => None,
            };
            let purpose = index(defs.purposes.iter().position(|p| *p == s.purpose).unwrap_or(0), "purpose")?;
            segments.push(PlanSegment {
                name: s.name.clone(),
                tier,
                purpose,
                precedence: s.precedence,
                rule,
                selection,
                fp_rate,
                fuse_bits,
                privileged: s.tier.is_some() || s.throttle.is_some(),
                def_index: i,
            });
        }

        let identity = defs
            .identity
            .iter()
            .enumerate()
            .map(|(i, d)| {
                crate::verify::compile(d)
                    .map_err(|(field, why)| crate::definitions::def_error(format!("identity[{i}].{field}"), why))
            })
            .collect::<Result<Vec<IdentitySource>, BuildError>>()?;
        let (consent, purpose_signals) = defs.consent.clone().unwrap_or_default().compile(&defs.purposes)?;
        let tier_actions = defs
            .tiers
            .iter()
            .map(|t| match defs.tier_actions.get(t) {
                Some(a) => a.compile(&format!("tier_actions.{t}")),
                None => Ok(Default::default()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ext = PayloadExt {
            consent,
            purposes: purpose_signals,
            tiers: tier_actions,
            segments: segment_actions,
            throttle_keys: defs.throttle_keys.or(limits_def.throttle_keys).unwrap_or(0),
            limits: limits_def.compile()?,
            client_ip: defs.client_ip.as_ref().map(ClientIpDef::compile).transpose()?.unwrap_or_default(),
            tracing: defs.tracing.as_ref().map(TracingDef::compile).unwrap_or_default(),
            tier_slos: defs
                .tiers
                .iter()
                .map(|t| match defs.tier_slos.get(t) {
                    Some(Some(slo)) => slo.compile(&format!("tier_slos.{t}")).map(Some),
                    Some(None) => Ok(None),
                    None => Ok(crate::policy::default_slo(t)),
                })
                .collect::<Result<Vec<_>, _>>()?,
            sharding: None,
        };
        Ok(Plan {
            ext,
            id: defs.id.clone(),
            version: defs.version,
            expires_in_s: defs.expires_in_s,
            identity,
            purposes,
            tiers: defs.tiers.clone(),
            default_tier: index(defs.default_tier_index(), "tier")?,
            segments,
            id_rules: defs.member_ids.unwrap_or_default().rules(),
        })
    }
}
