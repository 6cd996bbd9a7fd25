//! Per-tier SLOs over a replayed log: success rate, latency percentiles, error budget and
//! multi-window burn rates.
//!
//! A request counts when the log recorded its status: success is a status below 500 (a 4xx is the
//! client's doing). Latency percentiles come from the log's `latency_ms`. The **burn rate** of a
//! window is its error ratio divided by the error budget `1 - target`: 1× spends the budget exactly
//! over the SLO period, 14.4× spends a 30-day budget's 2% in one hour. Windows slide over the log,
//! ending at every request, and count only once the log covers them whole: a 6-hour window says
//! nothing about a 1-hour log (its figure is absent), and the first minutes of a log cannot page
//! on two requests.
//!
//! Alerts follow the multi-window pattern: an alert fires at a request when every one of its
//! windows ending there burns at or above its factor. The rules `edgeseg slo rules` generates for
//! Prometheus ([`ALERTS`]) are the same ones, so a replay shows which alerts yesterday's traffic
//! would have fired. An alert's severity is the tier's for the fast burns (4× over 15 min, 14.4×
//! over 1 h and 5 min) and always `ticket` for the slow ones: premium pages by default, other
//! tiers get tickets ([`default_severity`]; a replay knows only the snapshot, which carries no
//! severities, so it uses the defaults). A tier with a p99 target also gets the same alerts on
//! its latency SLO: a request slower than the bound is a bad event, against a 1% budget
//! ([`LATENCY_BUDGET`]), as the rules compute it from a histogram.

use super::percentile;
pub use edgeseg_snapshots::policy::{Severity, default_severity};
use serde::Serialize;

/// An alert: a name, a burn-rate factor and the windows (seconds) that must all burn above it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alert {
    pub name: &'static str,
    /// A fast burn takes the tier's severity; a slow one is always a ticket.
    pub fast: bool,
    pub factor: f64,
    pub windows_s: &'static [u64],
}

impl Alert {
    /// This alert's severity in a tier whose fast burns have `tier` severity.
    pub fn severity(&self, tier: Severity) -> Severity {
        if self.fast { tier } else { Severity::Ticket }
    }

    /// The name without its `burn-` prefix (`4x-15m`): the `burn` label of the generated rules.
    pub fn burn_label(&self) -> &'static str {
        self.name.strip_prefix("burn-").unwrap_or(self.name)
    }
}

/// The alerts evaluated per tier: the seeds' 4× over 15 minutes (fast) and 2× over 30 minutes
/// (slow), and the classic multi-window pairs 14.4× over 1 h and 5 m (fast), 6× over 6 h and
/// 30 m (slow).
pub const ALERTS: [Alert; 4] = [
    Alert { name: "burn-4x-15m", fast: true, factor: 4.0, windows_s: &[900] },
    Alert { name: "burn-2x-30m", fast: false, factor: 2.0, windows_s: &[1800] },
    Alert { name: "burn-14.4x-1h-5m", fast: true, factor: 14.4, windows_s: &[3600, 300] },
    Alert { name: "burn-6x-6h-30m", fast: false, factor: 6.0, windows_s: &[21_600, 1800] },
];

/// Every window length an alert uses, shortest first.
pub const WINDOWS_S: [u64; 5] = [300, 900, 1800, 3600, 21_600];

/// One logged outcome.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    pub now_ms: u64,
    pub bad: bool,
    pub latency_ms: Option<f64>,
}

/// A tier's SLO figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SloReport {
    pub tier: String,
    pub availability_target_pct: f64,
    pub latency_p99_target_ms: Option<u32>,
    /// Requests of this tier whose status the log recorded.
    pub requests: u64,
    pub errors: u64,
    pub success_pct: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Availability and (when targeted) p99 latency both met.
    pub met: Option<bool>,
    /// Errors as a percentage of the budget the log's requests allowed.
    pub budget_consumed_pct: Option<f64>,
    /// Highest burn rate seen per window length.
    pub max_burn: Vec<WindowBurn>,
    pub alerts: Vec<AlertOutcome>,
    /// The same alerts on the latency SLO (requests slower than the p99 bound against a 1%
    /// budget); empty without a p99 target or logged latencies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub latency_alerts: Vec<AlertOutcome>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowBurn {
    pub window_s: u64,
    /// `None` when the log is shorter than the window.
    pub burn: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertOutcome {
    pub alert: String,
    pub severity: String,
    /// When it first fired (the `now_ms` of the request), if it did.
    pub first_fired_ms: Option<u64>,
}

/// The share of requests a p99 latency target lets through slower than its bound: the latency
/// SLO's budget.
pub const LATENCY_BUDGET: f64 = 0.01;

/// Burn rate of the window of `window_ms` ending at each event (`(now_ms, bad)`, sorted by
/// time); `None` where the log does not cover the whole window yet.
fn burns(events: &[(u64, bool)], window_ms: u64, budget: f64) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(events.len());
    let (mut start, mut bad) = (0usize, 0u64);
    let first = events.first().map_or(0, |e| e.0);
    for (end, &(now_ms, is_bad)) in events.iter().enumerate() {
        bad += u64::from(is_bad);
        while events.get(start).is_some_and(|s| s.0 + window_ms <= now_ms) {
            bad -= u64::from(events.get(start).is_some_and(|s| s.1));
            start += 1;
        }
        let total = (end + 1 - start) as f64;
        let covered = now_ms >= first.saturating_add(window_ms);
        out.push(covered.then(|| if budget > 0.0 { bad as f64 / total / budget } else { 0.0 }));
    }
    out
}

/// A window length (seconds) and its burn rate ending at each event.
type BurnSeries = (u64, Vec<Option<f64>>);

/// Burn rates per window of [`WINDOWS_S`] over `events` (sorted by time) against `budget`, and
/// when each alert of [`ALERTS`] first fired.
fn evaluate(events: &[(u64, bool)], budget: f64, severity: Severity) -> (Vec<BurnSeries>, Vec<AlertOutcome>) {
    let series: Vec<BurnSeries> = WINDOWS_S.iter().map(|&w| (w, burns(events, w * 1000, budget))).collect();
    let series_for = |w: u64| series.iter().find(|(x, _)| *x == w).map(|(_, b)| b.as_slice()).unwrap_or(&[]);
    let alerts = ALERTS
        .iter()
        .map(|a| {
            let fired = (0..events.len()).find(|&j| {
                a.windows_s.iter().all(|&w| series_for(w).get(j).copied().flatten().is_some_and(|b| b >= a.factor))
            });
            AlertOutcome {
                alert: a.name.to_owned(),
                severity: a.severity(severity).as_str().to_owned(),
                first_fired_ms: fired.and_then(|j| events.get(j)).map(|e| e.0),
            }
        })
        .collect();
    (series, alerts)
}

/// The SLO report of one tier from its outcomes (any order); `severity` is the tier's (fast burns).
pub(crate) fn report(
    tier: &str,
    slo: edgeseg::snapshot::Slo,
    severity: Severity,
    mut outcomes: Vec<Outcome>,
) -> SloReport {
    outcomes.sort_by_key(|o| o.now_ms);
    let target = slo.availability();
    let budget = 1.0 - target;
    let requests = outcomes.len() as u64;
    let errors = outcomes.iter().filter(|o| o.bad).count() as u64;
    let mut lat_us: Vec<u64> =
        outcomes.iter().filter_map(|o| o.latency_ms).map(|ms| (ms * 1000.0).round().max(0.0) as u64).collect();
    lat_us.sort_unstable();
    let ms = |q| percentile(&lat_us, q).map(|us| us as f64 / 1000.0);
    let (p95_ms, p99_ms) = (ms(0.95), ms(0.99));
    let success = (requests > 0).then(|| (requests - errors) as f64 / requests as f64);
    let latency_ok = match (slo.latency_p99_ms, p99_ms) {
        (Some(bound), Some(p99)) => p99 <= f64::from(bound),
        _ => true,
    };
    let events: Vec<(u64, bool)> = outcomes.iter().map(|o| (o.now_ms, o.bad)).collect();
    let (series, alerts) = evaluate(&events, budget, severity);
    // The latency SLO: a request slower than the p99 bound spends its 1% budget.
    let latency_alerts = match slo.latency_p99_ms {
        Some(bound) => {
            let slow: Vec<(u64, bool)> =
                outcomes.iter().filter_map(|o| Some((o.now_ms, o.latency_ms? > f64::from(bound)))).collect();
            if slow.is_empty() { Vec::new() } else { evaluate(&slow, LATENCY_BUDGET, severity).1 }
        }
        None => Vec::new(),
    };
    SloReport {
        tier: tier.to_owned(),
        availability_target_pct: target * 100.0,
        latency_p99_target_ms: slo.latency_p99_ms,
        requests,
        errors,
        success_pct: success.map(|s| s * 100.0),
        p95_ms,
        p99_ms,
        met: success.map(|s| s >= target && latency_ok),
        budget_consumed_pct: (requests > 0 && budget > 0.0).then(|| errors as f64 / (requests as f64 * budget) * 100.0),
        max_burn: series
            .iter()
            .map(|(w, b)| WindowBurn {
                window_s: *w,
                burn: b.iter().copied().flatten().fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x)))),
            })
            .collect(),
        alerts,
        latency_alerts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeseg::snapshot::Slo;

    fn at(min: u64, bad: bool) -> Outcome {
        Outcome { now_ms: min * 60_000, bad, latency_ms: Some(100.0) }
    }

    #[test]
    fn burn_rates_match_a_hand_computation() {
        // 99% target: budget 1%. 100 requests one per minute; errors at minutes 50..=54 (5).
        let outcomes: Vec<Outcome> = (0..100).map(|m| at(m, (50..55).contains(&m))).collect();
        let r = report("free", Slo { availability_ppm: 990_000, latency_p99_ms: None }, Severity::Ticket, outcomes);
        assert_eq!((r.requests, r.errors), (100, 5));
        assert_eq!(r.success_pct, Some(95.0));
        assert_eq!(r.met, Some(false));
        // 5 errors against a budget of 1 error per 100 requests.
        assert!((r.budget_consumed_pct.unwrap() - 500.0).abs() < 1e-9);
        let burn = |w: u64| r.max_burn.iter().find(|b| b.window_s == w).unwrap().burn;
        let near = |w: u64, x: f64| burn(w).is_some_and(|b| (b - x).abs() < 1e-9);
        // 5-minute window ending at minute 54: requests at 50..=54, all errors: 100% / 1% = 100x.
        assert!(near(300, 100.0), "{:?}", burn(300));
        // 15 minutes ending at 54..=59: 15 requests, 5 errors: 33.3% / 1% = 33.3x.
        assert!(near(900, 100.0 / 3.0));
        // 30 minutes: 5/30 = 16.7x. An hour, first covered at minute 60: 60 requests, 5 errors.
        assert!(near(1800, 100.0 / 6.0));
        assert!(near(3600, 100.0 / 12.0));
        // Six hours is longer than the whole log: no figure.
        assert_eq!(burn(21_600), None);
        let fired: Vec<(&str, Option<u64>)> =
            r.alerts.iter().map(|a| (a.alert.as_str(), a.first_fired_ms.map(|t| t / 60_000))).collect();
        // 4x over 15 m: first at minute 50 (1 error in 15 requests, 6.7x). 2x over 30 m: 1/30 =
        // 3.3x at minute 50. 14.4x over 1 h and 5 m: never (the hour peaks at 8.3x). 6x over
        // 6 h and 30 m: the log never covers 6 hours.
        assert_eq!(
            fired,
            [
                ("burn-4x-15m", Some(50)),
                ("burn-2x-30m", Some(50)),
                ("burn-14.4x-1h-5m", None),
                ("burn-6x-6h-30m", None)
            ]
        );
    }

    #[test]
    fn latency_burns_fire_the_same_alerts_against_a_one_percent_budget() {
        // One request a minute, all successful; those at minutes 50..=54 over the 200 ms bound.
        let outcomes: Vec<Outcome> = (0..100)
            .map(|m| Outcome {
                now_ms: m * 60_000,
                bad: false,
                latency_ms: Some(if (50..55).contains(&m) { 450.0 } else { 80.0 }),
            })
            .collect();
        let premium = Slo { availability_ppm: 999_500, latency_p99_ms: Some(200) };
        let r = report("premium", premium, Severity::Page, outcomes.clone());
        assert!(r.alerts.iter().all(|a| a.first_fired_ms.is_none()), "no errors: availability is silent");
        let fired: Vec<(&str, &str, Option<u64>)> = r
            .latency_alerts
            .iter()
            .map(|a| (a.alert.as_str(), a.severity.as_str(), a.first_fired_ms.map(|t| t / 60_000)))
            .collect();
        // 1 slow in 15 (6.7x) and in 30 (3.3x) at minute 50; the hour peaks at 5/60 = 8.3x < 14.4x.
        assert_eq!(
            fired,
            [
                ("burn-4x-15m", "page", Some(50)),
                ("burn-2x-30m", "ticket", Some(50)),
                ("burn-14.4x-1h-5m", "page", None),
                ("burn-6x-6h-30m", "ticket", None)
            ]
        );
        // Under a 500 ms bound the same requests are all fast; without a target there is nothing to burn.
        let lenient =
            report("standard", Slo { latency_p99_ms: Some(500), ..premium }, Severity::Ticket, outcomes.clone());
        assert!(lenient.latency_alerts.iter().all(|a| a.first_fired_ms.is_none()));
        let untargeted = report("free", Slo { latency_p99_ms: None, ..premium }, Severity::Ticket, outcomes);
        assert!(untargeted.latency_alerts.is_empty());
    }

    #[test]
    fn latency_target_and_empty_tiers() {
        let slow: Vec<Outcome> = (0..100)
            .map(|i| Outcome { now_ms: i, bad: false, latency_ms: Some(if i < 98 { 50.0 } else { 900.0 }) })
            .collect();
        let premium = Slo { availability_ppm: 999_500, latency_p99_ms: Some(200) };
        let r = report("premium", premium, Severity::Page, slow);
        assert_eq!((r.p95_ms, r.p99_ms), (Some(50.0), Some(900.0)));
        assert_eq!(r.met, Some(false), "p99 over 200 ms");
        let none = report("premium", premium, Severity::Page, vec![]);
        assert_eq!((none.met, none.success_pct, none.budget_consumed_pct), (None, None, None));
        assert!(none.alerts.iter().all(|a| a.first_fired_ms.is_none()));
        // Premium's fast burns page; its slow ones, and every alert of a ticket tier, are tickets.
        let severities = |r: &SloReport| r.alerts.iter().map(|a| a.severity.clone()).collect::<Vec<_>>();
        assert_eq!(severities(&none), ["page", "ticket", "page", "ticket"]);
        let free = report("free", premium, Severity::Ticket, vec![]);
        assert_eq!(severities(&free), ["ticket"; 4]);
    }
}
