//! nginx access logs replayed: a real nginx (Debian `nginx`, installed by `cargo xtask test`)
//! serves requests we send with known identities, writes a custom `log_format` and `combined`
//! log, and the replay must put each request in the tier its identity says.

use edgeseg_host::cli;
use edgeseg_host::traffic::nginx::{LogFormat, NginxReader};
use edgeseg_tests::{root, scratch, wasm_module};
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NGINX: &str = "/usr/sbin/nginx";

/// The custom format the test's nginx writes (and the replay is told).
pub const CUSTOM_FORMAT: &str = r#"$remote_addr [$time_local] $msec $host "$request" $status "$upstream_status" $request_time "$upstream_response_time" "$http_x_customer_id" "$http_cookie" "$cookie_edgeseg_uid" "$http_user_agent" $body_bytes_sent"#;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn edgeseg(args: &[&str]) -> String {
    let mut out = Vec::new();
    let argv = std::iter::once("edgeseg").chain(args.iter().copied()).map(Into::into);
    if let Err(e) = cli::run(argv, &mut out) {
        panic!("edgeseg {}: {e:#}\n{}", args.join(" "), String::from_utf8_lossy(&out));
    }
    String::from_utf8(out).unwrap()
}

/// The demo definitions over `js/test/members.csv` (alice premium, carol standard, bob free).
pub fn demo_snapshot(dir: &Path) -> PathBuf {
    let snapshot = dir.join("demo.snapshot");
    let defs = root().join("snapshots/data/demo.json");
    let members = root().join("js/test/members.csv");
    edgeseg(&["build", "--definitions", s(&defs), "--members", s(&members), "--out", s(&snapshot), "--seed", "7"]);
    snapshot
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A real nginx on loopback, its files under one directory; stopped on drop.
pub struct Nginx {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

impl Nginx {
    /// Starts nginx with `server` (the body of the front `server {}` block, after `listen`).
    /// An origin on a second port answers `/origin/...` 200 and `/origin/missing` 404.
    pub fn start(dir: &Path, server: &str) -> Nginx {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} not found: run `cargo xtask test` (it installs Debian nginx), or apt-get install nginx"
        );
        let (port, origin) = (free_port(), free_port());
        let d = s(dir);
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    log_format edgeseg '{CUSTOM_FORMAT}';
    server {{
        listen 127.0.0.1:{origin};
        access_log off;
        location = /origin/missing {{ return 404 "no\n"; }}
        location / {{ return 200 "origin\n"; }}
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name shop.example;
        access_log {d}/custom.log edgeseg;
        access_log {d}/combined.log combined;
        location /origin/ {{ proxy_pass http://127.0.0.1:{origin}; }}
        {server}
    }}
}}
"#
        );
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let mut child = Command::new(NGINX)
            .args(["-p", d, "-e", &format!("{d}/error.log"), "-c", &format!("{d}/nginx.conf")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{NGINX}: {e}; run `cargo xtask test`"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                panic!("nginx exited ({status}):\n{err}\n{log}");
            }
            assert!(Instant::now() < deadline, "nginx did not listen on {port} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx { child, dir: dir.to_owned(), port }
    }

    /// One HTTP/1.1 request (`Connection: close`); returns the status.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> u16 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        BufReader::new(stream).read_to_string(&mut resp).unwrap();
        resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("bad response {resp:?}"))
    }

    /// Stops nginx gracefully (`-s quit`), killing it if that takes more than 5 s.
    pub fn stop(mut self) {
        self.quit();
    }

    fn quit(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let d = s(&self.dir).to_owned();
        let _ = Command::new(NGINX)
            .args(["-p", &d, "-e", &format!("{d}/error.log"), "-c", &format!("{d}/nginx.conf"), "-s", "quit"])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.quit();
    }
}

/// `(tier, requests, distinct users)` from a `replay --json` report.
pub fn tiers(report: &serde_json::Value) -> Vec<(String, u64, u64)> {
    report["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tier"].as_str().unwrap().to_owned(),
                t["requests"].as_u64().unwrap(),
                t["distinct_users"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn tier<'a>(report: &'a [(String, u64, u64)], name: &str) -> &'a (String, u64, u64) {
    report.iter().find(|t| t.0 == name).unwrap_or_else(|| panic!("no tier {name} in {report:?}"))
}

#[test]
fn nginx_access_logs_replay_into_the_tiers_of_the_identities_sent() {
    let started = Instant::now();
    let dir = scratch("nginx");
    let snapshot = demo_snapshot(&dir);
    let nginx = Nginx::start(&dir, r#"location / { return 200 "front\n"; }"#);

    let mut expected_statuses = Vec::new();
    let mut send = |path: &str, headers: &[(&str, &str)]| expected_statuses.push(nginx.get(path, headers));
    for i in 0..3 {
        send(&format!("/p/{i}"), &[("Cookie", "edgeseg_uid=alice; theme=dark"), ("User-Agent", "Mobile Safari")]);
    }
    send("/origin/checkout", &[("X-Customer-Id", "carol")]);
    send("/origin/missing", &[("X-Customer-Id", "carol")]);
    send("/p/9", &[("Cookie", "edgeseg_uid=bob")]);
    send("/", &[]);
    // A quote and a backslash in a header: nginx writes \x22 and \x5C, the reader decodes them.
    send("/search?q=1", &[("User-Agent", r#"say "hi" \ bye"#)]);
    nginx.stop();
    assert_eq!(expected_statuses, [200, 200, 200, 200, 404, 200, 200, 200]);

    // The reader sees what was sent: statuses (404 from the upstream), latency, headers.
    let custom = dir.join("custom.log");
    let log = std::fs::read_to_string(&custom).unwrap();
    assert!(log.contains(r#"say \x22hi\x22 \x5C bye"#), "nginx escapes quotes and backslashes:\n{log}");
    let format = LogFormat::parse(CUSTOM_FORMAT).unwrap();
    let records: Vec<_> = NginxReader::new(BufReader::new(std::fs::File::open(&custom).unwrap()), format)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 8);
    assert_eq!(records.iter().map(|r| r.status.unwrap()).collect::<Vec<_>>(), expected_statuses);
    assert!(records.iter().all(|r| r.latency_ms.is_some() && r.host == "shop.example" && r.now_ms > 0));
    assert_eq!(records[3].request().header("x-customer-id"), Some("carol"));
    assert_eq!(records[0].request().cookie("edgeseg_uid"), Some("alice"));
    assert_eq!(records[7].request().header("user-agent"), Some(r#"say "hi" \ bye"#));
    assert_eq!(records[7].path, "/search?q=1");

    // Replayed through the wasm module: the custom log carries both identity sources.
    let module = wasm_module();
    let replay = |log: &Path, extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["replay", "--module", s(module), "--snapshot", s(&snapshot), "--traffic", s(log)];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--json", "--no-progress"]);
        serde_json::from_str(&edgeseg(&args)).unwrap()
    };
    let report = replay(&custom, &["--log-format", CUSTOM_FORMAT]);
    assert_eq!(report["requests"], 8);
    assert_eq!(report["identified"], 6, "{report:#}");
    let t = tiers(&report);
    assert_eq!(tier(&t, "premium"), &("premium".into(), 3, 1));
    assert_eq!(tier(&t, "standard"), &("standard".into(), 2, 1));
    assert_eq!(tier(&t, "free"), &("free".into(), 3, 1));

    // `combined` logs neither the cookie nor x-customer-id: every request is anonymous, which is
    // all a default nginx log can tell.
    let combined = dir.join("combined.log");
    // A line that is not nginx's (say, a truncated write) is counted and skipped on request.
    let mut lines = std::fs::read_to_string(&combined).unwrap();
    lines.insert_str(0, "127.0.0.1 - - [01/Dec/2026:23:00:00 +0000] \"GET /tru\n");
    std::fs::write(&combined, lines).unwrap();
    let report = replay(&combined, &["--format", "nginx", "--skip-malformed"]);
    assert_eq!(report["malformed_skipped"], 1);
    assert_eq!(report["requests"], 8);
    assert_eq!(report["identified"], 0);
    assert_eq!(tier(&tiers(&report), "free").1, 8);
    // And diff takes the same traffic options.
    let diffed = edgeseg(&[
        "diff",
        "--module",
        s(module),
        "--old",
        s(&snapshot),
        "--new",
        s(&snapshot),
        "--traffic",
        s(&custom),
        "--log-format",
        CUSTOM_FORMAT,
        "--json",
    ]);
    let diffed: serde_json::Value = serde_json::from_str(&diffed).unwrap();
    assert_eq!(diffed["requests"], 8, "{diffed:#}");
    eprintln!("nginx test: {:.1} s", started.elapsed().as_secs_f64());
}
