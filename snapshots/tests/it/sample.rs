//! Sample data: deterministic, and shaped like the brief says.

use edgeseg_snapshots::sample::{TRAFFIC_EPOCH_MS, write_members, write_traffic};

fn traffic(members: u64, requests: u64, seed: u64) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    write_traffic(&mut out, members, requests, seed).unwrap();
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn same_seed_same_bytes() {
    let gen_members = |seed| {
        let mut out = Vec::new();
        write_members(&mut out, 2000, seed).unwrap();
        out
    };
    assert_eq!(gen_members(1), gen_members(1));
    assert_ne!(gen_members(1), gen_members(2));
    let gen_traffic = |seed| {
        let mut out = Vec::new();
        write_traffic(&mut out, 2000, 1000, seed).unwrap();
        out
    };
    assert_eq!(gen_traffic(1), gen_traffic(1));
    assert_ne!(gen_traffic(1), gen_traffic(2));
}

#[test]
fn traffic_is_shaped_like_real_traffic() {
    let records = traffic(10_000, 20_000, 42);
    assert_eq!(records.len(), 20_000);
    let times: Vec<u64> = records.iter().map(|r| r["now_ms"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "timestamps increase");
    assert!(times[0] >= TRAFFIC_EPOCH_MS);
    let span = times[times.len() - 1] - times[0];
    assert!((3_000_000..4_200_000).contains(&span), "span {span} ms");

    let share = |f: &dyn Fn(&serde_json::Value) -> bool| records.iter().filter(|r| f(r)).count() as f64 / 20_000.0;
    let uid = |r: &serde_json::Value| -> Option<u64> {
        let cookie =
            r["headers"]["cookie"].as_str().and_then(|c| c.split("; ").find_map(|p| p.strip_prefix("edgeseg_uid=")));
        let id = cookie.or_else(|| r["headers"]["x-customer-id"].as_str())?;
        id.strip_prefix('u')?.parse().ok()
    };
    let known = share(&|r| uid(r).is_some_and(|n| (1..=10_000).contains(&n)));
    let unknown = share(&|r| uid(r).is_some_and(|n| n > 10_000));
    let by_header = share(&|r| r["headers"]["x-customer-id"].is_string());
    // 75% of the generator's draws are members; the scraper's bursts (about 3% of records) are not.
    assert!((0.69..0.76).contains(&known), "known {known}");
    assert!((0.03..0.07).contains(&unknown), "unknown {unknown}");
    assert!((0.07..0.15).contains(&by_header), "by header {by_header}");
    assert!(share(&|r| r["method"] == "GET") > 0.85);
    assert!(share(&|r| r["path"].as_str().unwrap().starts_with("/checkout")) > 0.04);
    let errors = share(&|r| r["status"].as_u64().unwrap() >= 500);
    assert!((0.002..0.02).contains(&errors), "5xx {errors}");
    assert!(records.iter().all(|r| r["latency_ms"].as_f64().is_some_and(|l| l > 0.0)));
    assert!(records.iter().all(|r| r["host"] == "shop.example" && r["country"].is_string()));
    assert!(records.iter().all(|r| r["client_ip"].is_string()));

    // Consent signals: GPC from ~12% of members and 10% of anonymous visitors; TCF strings on
    // ~60% of requests from the five EU countries (about half the traffic); the scraper's bursts.
    let gpc = share(&|r| r["headers"]["sec-gpc"] == "1");
    assert!((0.08..0.15).contains(&gpc), "gpc {gpc}");
    let cookie = |r: &serde_json::Value, name: &str| {
        r["headers"]["cookie"].as_str().is_some_and(|c| c.split("; ").any(|p| p.starts_with(name)))
    };
    let tcf = share(&|r| cookie(r, "euconsent-v2="));
    assert!((0.22..0.36).contains(&tcf), "tcf {tcf}");
    assert!(
        records
            .iter()
            .filter(|r| cookie(r, "euconsent-v2="))
            .all(|r| { ["DE", "FR", "NL", "ES", "IT"].contains(&r["country"].as_str().unwrap()) })
    );
    let site = share(&|r| cookie(r, "site_consent="));
    assert!((0.02..0.06).contains(&site), "site consent {site}");
    let scraper = share(&|r| r["client_ip"] == "203.0.113.66");
    assert!((0.01..0.06).contains(&scraper), "scraper {scraper}");

    // Heavy users repeat: the top 1% of ids carry far more than 1% of identified requests.
    let mut counts = std::collections::HashMap::new();
    for n in records.iter().filter_map(uid).filter(|n| *n <= 10_000) {
        *counts.entry(n).or_insert(0u64) += 1;
    }
    let mut c: Vec<u64> = counts.into_values().collect();
    c.sort_unstable_by(|a, b| b.cmp(a));
    let top: u64 = c.iter().take(100).sum();
    let all: u64 = c.iter().sum();
    assert!(top as f64 / all as f64 > 0.1, "top 100 ids: {top} of {all}");
}
