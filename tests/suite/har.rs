//! HAR replayed: a real headless Chromium (Debian `chromium`, installed by `cargo xtask test`)
//! browses pages that a real nginx serves with a customer cookie; `tests/har-recorder/record.mjs`
//! writes the HAR over the DevTools protocol; the replay must put each request in the tier of
//! the cookie the browser sent, and the HAR must agree with nginx's own log of the same visit.

use crate::nginx::{CUSTOM_FORMAT, Nginx, demo_snapshot, edgeseg, tiers};
use edgeseg_host::traffic::TrafficRecord;
use edgeseg_host::traffic::har::HarReader;
use edgeseg_host::traffic::nginx::{LogFormat, NginxReader};
use edgeseg_tests::{root, scratch, wasm_module};
use std::io::BufReader;
use std::process::Command;
use std::time::Instant;

const CHROMIUM: &str = "/usr/bin/chromium";

const PAGES: &str = r#"
        location = /login {
            default_type text/html;
            add_header Set-Cookie "edgeseg_uid=$arg_u; Path=/";
            return 200 '<html><head><link rel="icon" href="data:,"></head><body><img src="/img/login.png"></body></html>';
        }
        location /img/ { return 204; }
        location / {
            default_type text/html;
            return 200 '<html><head><link rel="icon" href="data:,"></head><body><img src="/img$uri.png"></body></html>';
        }"#;

#[test]
fn a_chromium_har_replays_into_the_tiers_of_the_cookies_sent() {
    let started = Instant::now();
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} not found: run `cargo xtask test` (it installs Debian chromium), or apt-get install chromium"
    );
    let dir = scratch("har");
    let snapshot = demo_snapshot(&dir);
    let nginx = Nginx::start(&dir, PAGES);
    let base = format!("http://127.0.0.1:{}", nginx.port);
    let har = dir.join("visit.har");
    // Each login page is fetched without a cookie and sets one; its image already carries it.
    let steps = [
        format!("{base}/login?u=alice"),
        format!("{base}/p/1"),
        "clear".into(),
        format!("{base}/login?u=carol"),
        format!("{base}/p/2"),
        "clear".into(),
        format!("{base}/p/3"),
    ];
    let recorder = root().join("tests/har-recorder/record.mjs");
    let out = Command::new("node")
        .arg(&recorder)
        .arg(CHROMIUM)
        .arg(&har)
        .args(&steps)
        .output()
        .unwrap_or_else(|e| panic!("node {}: {e}", recorder.display()));
    nginx.stop();
    assert!(
        out.status.success(),
        "HAR recorder failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let module = wasm_module().to_str().unwrap();
    let (snap, har_path) = (snapshot.to_str().unwrap(), har.to_str().unwrap());
    // `.har` picks the format.
    let report = edgeseg(&["replay", "--module", module, "--snapshot", snap, "--traffic", har_path, "--json"]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["requests"], 10, "{report:#}");
    assert_eq!(report["identified"], 6);
    let t = tiers(&report);
    let by = |name: &str| t.iter().find(|x| x.0 == name).map(|x| (x.1, x.2)).unwrap();
    assert_eq!(by("premium"), (3, 1), "alice: /login's image, /p/1 and its image");
    assert_eq!(by("standard"), (3, 1), "carol, likewise");
    assert_eq!(by("free"), (4, 0), "two login pages and /p/3 with its image, anonymous");

    // nginx logged the same visit: request for request (path and customer cookie), the HAR and
    // nginx's own log agree. (Compared through the readers: a second replay would only
    // recompile the module.)
    let uid = |r: &TrafficRecord| r.request().cookie("edgeseg_uid").map(str::to_owned);
    let mut from_har: Vec<_> = HarReader::new(std::fs::File::open(&har).unwrap(), 1 << 20)
        .unwrap()
        .map(|r| r.map(|r| (r.path.clone(), uid(&r))))
        .collect::<Result<_, _>>()
        .unwrap();
    let custom = std::fs::File::open(dir.join("custom.log")).unwrap();
    let mut from_nginx: Vec<_> = NginxReader::new(BufReader::new(custom), LogFormat::parse(CUSTOM_FORMAT).unwrap())
        .map(|r| r.map(|r| (r.path.clone(), uid(&r))))
        .collect::<Result<_, _>>()
        .unwrap();
    from_har.sort();
    from_nginx.sort();
    assert_eq!(from_har, from_nginx, "the HAR and nginx's log of one visit disagree");
    eprintln!("HAR test: {:.1} s", started.elapsed().as_secs_f64());
}
