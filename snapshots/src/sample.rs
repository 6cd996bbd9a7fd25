//! Deterministic demo data: a member file, traffic that refers to it, and demo definitions.
//!
//! Everything is a pure function of `(seed, index)`: member `i`'s profile is drawn from its own
//! SplitMix64 stream, so the traffic generator can recompute a member's plan and country (for
//! realistic latency and geography) without reading the member file, and the output is
//! byte-identical on every machine and every run. No clock is read: timestamps start at
//! [`TRAFFIC_EPOCH_MS`].
//!
//! The shapes are chosen to make the demo segments non-trivial: ~5% premium and ~20% standard
//! plans, weighted countries, engagement and lifetime value that depend on the plan, and consents
//! that correlate (marketing is likelier with personalisation), so consent filtering visibly
//! removes members from segments.

use crate::prng::{SplitMix64, mix};
use serde::Serialize;
use std::io::Write;

/// The bundled demo definitions (`snapshots/data/demo.json`).
pub const DEMO_DEFINITIONS: &str = include_str!("../data/demo.json");

/// Traffic timestamps start here: 2025-11-21T10:00:00Z.
pub const TRAFFIC_EPOCH_MS: u64 = 1_763_719_200_000;
/// Traffic spans about this long.
const TRAFFIC_SPAN_MS: f64 = 3_600_000.0;

const COUNTRIES: [(&str, u32); 9] =
    [("US", 25), ("DE", 22), ("FR", 12), ("GB", 12), ("JP", 7), ("NL", 6), ("BR", 6), ("ES", 5), ("IT", 5)];

/// The member id of index `i` (1-based): `u0000001`.
pub fn member_id(i: u64) -> String {
    format!("u{i:07}")
}

/// A member's generated profile.
struct Profile {
    plan: &'static str,
    country: &'static str,
    engagement: u32,
    ltv: f64,
    personalisation: bool,
    marketing: bool,
    analytics: bool,
    mobile: bool,
    /// Sends `Sec-GPC: 1` (drawn after everything the member file shows, so it stays unchanged).
    gpc: bool,
}

fn pick_country(rng: &mut SplitMix64) -> &'static str {
    let total: u32 = COUNTRIES.iter().map(|(_, w)| w).sum();
    let mut r = rng.below(u64::from(total)) as u32;
    for (c, w) in COUNTRIES {
        if r < w {
            return c;
        }
        r -= w;
    }
    "US"
}

fn profile(seed: u64, i: u64) -> Profile {
    let mut rng = SplitMix64::new(mix(mix(seed) ^ i));
    let u = rng.next_f64();
    let (plan, engagement_mean, ltv_median, ltv_sigma) = if u < 0.05 {
        ("premium", 65.0, 900.0, 0.5)
    } else if u < 0.25 {
        ("standard", 50.0, 250.0, 0.6)
    } else {
        ("free", 35.0, 30.0, 0.9)
    };
    let country = pick_country(&mut rng);
    let engagement = (engagement_mean + 22.0 * rng.normal()).round().clamp(0.0, 100.0) as u32;
    let ltv = (f64::ln(ltv_median) + ltv_sigma * rng.normal()).exp();
    let personalisation = rng.chance(0.65);
    let marketing = rng.chance(if personalisation { 0.5 } else { 0.21 });
    let analytics = rng.chance(0.70);
    let mobile = rng.chance(0.55);
    let gpc = rng.chance(0.12);
    Profile {
        plan,
        country,
        engagement,
        ltv: (ltv * 100.0).round() / 100.0,
        personalisation,
        marketing,
        analytics,
        mobile,
        gpc,
    }
}

/// Countries where the demo's visitors carry an IAB TCF v2 string.
const TCF_COUNTRIES: [&str; 5] = ["DE", "FR", "NL", "ES", "IT"];

/// A TCF v2 core segment plus empty vendor sections, base64url without padding, granting the TCF
/// purposes in `purposes` (bit `n - 1` = purpose `n`). Field widths per the IAB "TC String" spec.
fn tcf_string(purposes: u32, created_ds: u64) -> String {
    let mut bits: Vec<bool> = Vec::with_capacity(256);
    let mut put = |v: u64, n: u32| bits.extend((0..n).rev().map(|i| v >> i & 1 == 1));
    put(2, 6); // version
    put(created_ds, 36);
    put(created_ds, 36);
    put(300, 12); // CMP id
    put(2, 12); // CMP version
    put(1, 6); // consent screen
    put(4, 6); // language "EN": E = 4,
    put(13, 6); //               N = 13
    put(48, 12); // vendor list version
    put(4, 6); // TCF policy version
    put(1, 1); // service specific
    put(0, 1); // non-standard texts
    put(0, 12); // special feature opt-ins
    put(u64::from(purposes.reverse_bits() >> 8), 24); // purpose 1 first
    put(u64::from((purposes & 0x200).reverse_bits() >> 8), 24); // LI transparency: purpose 10
    put(0, 1); // purpose one treatment
    put(3, 6); // publisher CC "DE": D = 3,
    put(4, 6); //                    E = 4
    put(0, 16); // vendor consents: max vendor id 0
    put(0, 1); //   bit field
    put(0, 16); // vendor LI: max vendor id 0
    put(0, 1); //   bit field
    put(0, 12); // publisher restrictions: none
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    bits.chunks(6)
        .map(|c| {
            let v = c.iter().enumerate().fold(0usize, |v, (i, &b)| v | usize::from(b) << (5 - i));
            char::from(ALPHABET[v])
        })
        .collect()
}

/// The members [`write_members`] writes, as they would be read back, generated one at a time: a
/// build over 10⁸ members needs no 10⁸-line file (`edgeseg build --synthetic-members N`).
/// Cells are typed as the CSV reader types them, so both paths select the same members.
pub fn members(count: u64, seed: u64) -> impl Iterator<Item = Result<crate::Member, crate::BuildError>> {
    (1..=count).map(move |i| {
        let p = profile(seed, i);
        let consents = [("personalisation", p.personalisation), ("marketing", p.marketing), ("analytics", p.analytics)]
            .into_iter()
            .filter(|&(_, yes)| yes)
            .map(|(name, _)| name.to_string())
            .collect();
        let cell = crate::members::csv_value;
        Ok(crate::Member {
            id: member_id(i),
            consents,
            segments: Vec::new(),
            tcf: None,
            attributes: vec![
                ("plan".into(), cell(p.plan)),
                ("country".into(), cell(p.country)),
                ("engagement".into(), cell(&p.engagement.to_string())),
                ("ltv".into(), cell(&format!("{:.2}", p.ltv))),
            ],
            line: None,
        })
    })
}

/// Writes `count` members as CSV: `id,plan,country,engagement,ltv,consents`.
pub fn write_members(out: &mut impl Write, count: u64, seed: u64) -> std::io::Result<()> {
    writeln!(out, "id,plan,country,engagement,ltv,consents")?;
    for i in 1..=count {
        let p = profile(seed, i);
        let consents: Vec<&str> =
            [("personalisation", p.personalisation), ("marketing", p.marketing), ("analytics", p.analytics)]
                .into_iter()
                .filter_map(|(name, yes)| yes.then_some(name))
                .collect();
        writeln!(
            out,
            "{},{},{},{},{:.2},{}",
            member_id(i),
            p.plan,
            p.country,
            p.engagement,
            p.ltv,
            consents.join(";")
        )?;
    }
    Ok(())
}

/// One traffic record (field order as in the format documentation).
#[derive(Serialize)]
struct TrafficRecord<'a> {
    now_ms: u64,
    method: &'a str,
    host: &'a str,
    path: String,
    headers: serde_json::Map<String, serde_json::Value>,
    country: &'a str,
    client_ip: String,
    attributes: serde_json::Map<String, serde_json::Value>,
    status: u16,
    latency_ms: f64,
}

const UA_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const UA_ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
const UA_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
const UA_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const SEARCH_TERMS: [&str; 8] = ["shoes", "jacket", "lamp", "headphones", "coffee", "desk", "sale", "gift"];

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A stride coprime to the population: `rank * stride % members` is a fixed permutation of member
/// indices, so the heavy visitors are spread over the id space rather than being u0000001, u0000002…
fn rank_stride(members: u64, seed: u64) -> u64 {
    let mut stride = if members > 0 { mix(seed) % members } else { 1 };
    while members > 0 && gcd(stride.max(1), members) != 1 {
        stride += 1;
    }
    stride
}

/// Writes `count` revocations (the format `edgeseg revoke` reads) for the `count` most frequent
/// visitors of [`write_traffic`]'s population, so a delta applied mid-replay visibly changes
/// decisions: every third revokes everything, the others marketing only.
pub fn write_revocations(out: &mut impl Write, members: u64, count: u64, seed: u64) -> std::io::Result<()> {
    writeln!(out, "# opt-outs received after the snapshot was built (sample data)")?;
    let stride = rank_stride(members, seed);
    for rank in 0..count.min(members) {
        let index = ((u128::from(rank) * u128::from(stride.max(1))) % u128::from(members)) as u64 + 1;
        if rank % 3 == 0 {
            writeln!(out, "{}", member_id(index))?;
        } else {
            writeln!(out, "{},marketing", member_id(index))?;
        }
    }
    Ok(())
}

/// Writes `requests` traffic records (JSONL) for a population of `members` (ids as in
/// [`write_members`]; pass the same `seed` so plans and countries line up).
///
/// About 75% of requests are identified (mostly by the `edgeseg_uid` cookie, some by the
/// `x-customer-id` header), 5% carry ids outside the population, 20% are anonymous. Members are
/// drawn with a heavy skew (rank ∝ u³ over a fixed permutation), so frequent visitors repeat.
///
/// Consent signals: members who set GPC send `Sec-GPC: 1` (as do 10% of anonymous visitors);
/// about 60% of requests from EU countries carry a TCF v2 string (`euconsent-v2`) — mostly
/// matching the member's recorded consents, sometimes withdrawing marketing, 1% malformed; 4%
/// of requests carry the site's own `site_consent` cookie without marketing. A scraper sends
/// bursts of 30 anonymous requests from one address (what the free tier's throttle is for).
pub fn write_traffic(out: &mut impl Write, members: u64, requests: u64, seed: u64) -> std::io::Result<()> {
    let mut rng = SplitMix64::new(mix(seed ^ 0x0074_7261_6666_6963));
    let stride = rank_stride(members, seed);
    let step = 2.0 * TRAFFIC_SPAN_MS / requests.max(1) as f64;
    let mut t = 0.0f64;
    let mut burst_left = 0u32;
    for _ in 0..requests {
        if burst_left > 0 {
            burst_left -= 1;
            t += 20.0;
            let record = scraper_record(TRAFFIC_EPOCH_MS + t as u64);
            serde_json::to_writer(&mut *out, &record)?;
            out.write_all(b"\n")?;
            continue;
        }
        t += rng.next_f64() * step;
        if rng.chance(0.001) {
            burst_left = 29;
            let record = scraper_record(TRAFFIC_EPOCH_MS + t as u64);
            serde_json::to_writer(&mut *out, &record)?;
            out.write_all(b"\n")?;
            continue;
        }
        let kind = rng.next_f64();
        let (id, profile) = if kind < 0.75 && members > 0 {
            let rank = (members as f64 * rng.next_f64().powi(3)) as u64;
            let index = ((u128::from(rank) * u128::from(stride.max(1))) % u128::from(members)) as u64 + 1;
            (Some(member_id(index)), Some(profile(seed, index)))
        } else if kind < 0.80 {
            (Some(member_id(members + 1 + rng.below(members.max(1000)))), None)
        } else {
            (None, None)
        };

        let mobile = profile.as_ref().map_or_else(|| rng.chance(0.55), |p| p.mobile);
        let ua = match (mobile, rng.chance(0.5)) {
            (true, true) => UA_IPHONE,
            (true, false) => UA_ANDROID,
            (false, true) => UA_WINDOWS,
            (false, false) => UA_MAC,
        };
        let country = match &profile {
            Some(p) if rng.chance(0.9) => p.country,
            _ => pick_country(&mut rng),
        };
        let (path, method) = request_line(&mut rng);

        let mut headers = serde_json::Map::new();
        let theme = if rng.chance(0.3) { "; theme=dark" } else { "" };
        match &id {
            Some(id) if profile.is_some() && rng.chance(0.15) => {
                headers.insert("x-customer-id".into(), id.clone().into());
            }
            Some(id) => {
                headers.insert("cookie".into(), format!("edgeseg_uid={id}{theme}").into());
            }
            None if !theme.is_empty() => {
                headers.insert("cookie".into(), "theme=dark".into());
            }
            None => {}
        }
        headers.insert("user-agent".into(), ua.into());
        if profile.as_ref().map_or_else(|| rng.chance(0.10), |p| p.gpc) {
            headers.insert("sec-gpc".into(), "1".into());
        }
        let mut cookies: Vec<String> = Vec::new();
        if TCF_COUNTRIES.contains(&country) && rng.chance(0.6) {
            let (pers, mkt, ana) = profile
                .as_ref()
                .map_or((false, false, true), |p| (p.personalisation, p.marketing && !rng.chance(0.2), p.analytics));
            // TCF purposes as the demo definitions map them.
            let bits = |yes: bool, mask: u32| if yes { mask } else { 0 };
            let granted = bits(pers, 0b11_0001) | bits(mkt, 0b100_1101) | bits(ana, 0b1_1000_0001) | 0b10_0000_0000;
            let value =
                if rng.chance(0.01) { "CQ!broken".to_string() } else { tcf_string(granted, TRAFFIC_EPOCH_MS / 100) };
            cookies.push(format!("euconsent-v2={value}"));
        }
        if rng.chance(0.04) {
            cookies.push("site_consent=personalisation|analytics".into());
        }
        if !cookies.is_empty() {
            let joined = cookies.join("; ");
            match headers.get_mut("cookie") {
                Some(serde_json::Value::String(c)) => *c = format!("{c}; {joined}"),
                _ => {
                    headers.insert("cookie".into(), joined.into());
                }
            }
        }
        let client_ip = match &id {
            Some(id) if profile.is_some() => {
                let h = mix(id.bytes().fold(seed, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b))));
                format!("10.{}.{}.{}", h >> 16 & 0xff, h >> 8 & 0xff, h & 0xff)
            }
            _ => format!("198.51.100.{}", rng.below(250) + 1),
        };
        let mut attributes = serde_json::Map::new();
        attributes.insert("device".into(), if mobile { "mobile" } else { "desktop" }.into());

        let plan = profile.as_ref().map(|p| p.plan);
        let status = if rng.chance(0.006) {
            if rng.chance(0.7) { 503 } else { 500 }
        } else if path.starts_with("/p/") && rng.chance(0.02) {
            404
        } else {
            200
        };
        let median = match plan {
            Some("premium") => 45.0,
            Some("standard") => 70.0,
            Some(_) => 95.0,
            None => 110.0,
        };
        let slow = if status >= 500 { 4.0 } else { 1.0 };
        let latency = (f64::ln(median * slow) + 0.45 * rng.normal()).exp();
        let record = TrafficRecord {
            now_ms: TRAFFIC_EPOCH_MS + t as u64,
            method,
            host: "shop.example",
            path,
            headers,
            country,
            client_ip,
            attributes,
            status,
            latency_ms: (latency * 10.0).round() / 10.0,
        };
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// One request of the scraper: anonymous, one address, a listing page.
fn scraper_record(now_ms: u64) -> TrafficRecord<'static> {
    let mut headers = serde_json::Map::new();
    headers.insert("user-agent".into(), "python-requests/2.32".into());
    let mut attributes = serde_json::Map::new();
    attributes.insert("device".into(), "desktop".into());
    TrafficRecord {
        now_ms,
        method: "GET",
        host: "shop.example",
        path: "/search?q=sale".into(),
        headers,
        country: "US",
        client_ip: "203.0.113.66".into(),
        attributes,
        status: 200,
        latency_ms: 120.0,
    }
}

fn request_line(rng: &mut SplitMix64) -> (String, &'static str) {
    let r = rng.next_f64();
    let path = if r < 0.15 {
        "/".to_string()
    } else if r < 0.60 {
        format!("/p/{}", 1 + rng.below(5000))
    } else if r < 0.75 {
        format!("/search?q={}", SEARCH_TERMS[rng.below(SEARCH_TERMS.len() as u64) as usize])
    } else if r < 0.85 {
        "/cart".to_string()
    } else if r < 0.92 {
        if rng.chance(0.6) { "/checkout".to_string() } else { "/checkout/payment".to_string() }
    } else {
        "/account".to_string()
    };
    let method = match path.as_str() {
        "/cart" if rng.chance(0.4) => "POST",
        p if p.starts_with("/checkout") && rng.chance(0.5) => "POST",
        _ if rng.chance(0.01) => "HEAD",
        _ => "GET",
    };
    (path, method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_shape() {
        let mut out = Vec::new();
        write_members(&mut out, 20_000, 42).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 20_000);
        assert_eq!(rows[0][0], "u0000001");
        let share = |f: &dyn Fn(&Vec<&str>) -> bool| rows.iter().filter(|r| f(r)).count() as f64 / rows.len() as f64;
        let premium = share(&|r| r[1] == "premium");
        let standard = share(&|r| r[1] == "standard");
        assert!((0.04..0.06).contains(&premium), "{premium}");
        assert!((0.18..0.22).contains(&standard), "{standard}");
        let pers = share(&|r| r[5].contains("personalisation"));
        let mkt = share(&|r| r[5].contains("marketing"));
        let ana = share(&|r| r[5].contains("analytics"));
        assert!((0.62..0.68).contains(&pers), "{pers}");
        assert!((0.37..0.43).contains(&mkt), "{mkt}");
        assert!((0.67..0.73).contains(&ana), "{ana}");
        assert!(rows.iter().all(|r| r[3].parse::<u32>().is_ok_and(|e| e <= 100)));
    }
}
