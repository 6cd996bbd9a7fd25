use super::*;
use std::io::Cursor;

fn read(format: &str, text: &str) -> Vec<Result<TrafficRecord, TrafficError>> {
    let format = LogFormat::parse(format).unwrap();
    NginxReader::new(Cursor::new(text.as_bytes().to_vec()), format).collect()
}

const COMBINED_LINE: &str = r#"192.0.2.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;

#[test]
fn combined_line() {
    let recs = read(COMBINED, COMBINED_LINE);
    let [Ok(r)] = recs.as_slice() else { panic!("{recs:?}") };
    assert_eq!(r.line, 1);
    assert_eq!(r.now_ms, 971_211_336_000);
    assert_eq!((r.method.as_str(), r.path.as_str(), r.host.as_str()), ("GET", "/apache_pb.gif?a=1", ""));
    assert_eq!(r.client_ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(r.status, Some(200));
    assert_eq!(r.latency_ms, None);
    assert_eq!(
        r.headers,
        vec![
            ("referer".to_owned(), "http://www.example.com/start.html".to_owned()),
            ("user-agent".to_owned(), "Mozilla/4.08 [en] (Win98; I ;Nav)".to_owned())
        ]
    );
    assert!(LogFormat::parse(COMBINED).unwrap().time_source().whole_seconds());
}

#[test]
fn dash_is_absent_and_escapes_are_decoded() {
    let line =
        r#"::1 - - [01/Dec/2026:23:00:00 +0000] "GET /q?x=\x22hi\x22 HTTP/1.1" 404 0 "-" "curl \x5Cx/8 \xC3\xA9""#;
    let recs = read(COMBINED, line);
    let Ok(r) = &recs[0] else { panic!("{recs:?}") };
    assert_eq!(r.path, "/q?x=\"hi\"");
    assert_eq!(r.headers, vec![("user-agent".to_owned(), "curl \\x/8 é".to_owned())]);
    assert_eq!(r.status, Some(404));
}

const CUSTOM: &str = r#"$remote_addr [$time_iso8601] $msec $host "$request" $status "$upstream_status" $request_time "$upstream_response_time" "$http_x_customer_id" "$http_cookie" $cookie_edgeseg_uid $connection "$http_user_agent""#;

#[test]
fn custom_log_format() {
    let format = LogFormat::parse(CUSTOM).unwrap();
    assert_eq!(format.time_source(), TimeSource::Msec);
    assert!(!format.time_source().whole_seconds());
    let line = r#"127.0.0.1 [2026-12-01T23:00:00+00:00] 1796166000.123 shop.example "POST /checkout HTTP/1.1" 200 "502, 201" 0.250 "0.100, 0.120" "c-42" "edgeseg_uid=alice; theme=dark" alice 17 "Mobile Safari""#;
    let recs = read(CUSTOM, line);
    let Ok(r) = &recs[0] else { panic!("{recs:?}") };
    assert_eq!(r.now_ms, 1_796_166_000_123);
    assert_eq!((r.method.as_str(), r.host.as_str(), r.path.as_str()), ("POST", "shop.example", "/checkout"));
    assert_eq!(r.status, Some(201), "upstream status wins, the last upstream tried");
    assert_eq!(r.latency_ms, Some(250.0), "request_time wins over upstream_response_time");
    let req = r.request();
    assert_eq!(req.header("x-customer-id"), Some("c-42"));
    assert_eq!(req.cookie("edgeseg_uid"), Some("alice"));
    assert_eq!(req.header("user-agent"), Some("Mobile Safari"));

    // No upstream, no cookie header: status from $status, the $cookie_ variable becomes a cookie.
    let line =
        r#"127.0.0.1 [2026-12-01T23:00:00+00:00] 1796166000.5 - "GET / HTTP/1.1" 304 "-" 0.001 "-" "-" "-" bob - "-""#;
    let recs = read(CUSTOM, line);
    let Ok(r) = &recs[0] else { panic!("{recs:?}") };
    assert_eq!((r.status, r.now_ms, r.host.as_str()), (Some(304), 1_796_166_000_500, ""));
    assert_eq!(r.request().cookie("edgeseg_uid"), Some("bob"));
    assert_eq!(r.request().header("x-customer-id"), None);
}

#[test]
fn method_and_uri_variables_and_braces() {
    let f = "${time_local}|$request_method|$request_uri|$http_host|$unknown_thing";
    let recs = read(f, "10/Oct/2000:13:55:36 -0700|DELETE|/x?y|h.example|whatever it is");
    let Ok(r) = &recs[0] else { panic!("{recs:?}") };
    assert_eq!((r.method.as_str(), r.path.as_str(), r.host.as_str()), ("DELETE", "/x?y", "h.example"));
}

#[test]
fn bad_formats_are_refused() {
    assert!(
        LogFormat::parse("$remote_addr$remote_user [$time_local] \"$request\"").unwrap_err().0.contains("adjacent")
    );
    assert!(LogFormat::parse("$remote_addr \"$request\"").unwrap_err().0.contains("no time"));
    assert!(LogFormat::parse("[$time_local] $status").unwrap_err().0.contains("no request"));
    assert!(LogFormat::parse("[${time_local] \"$request\"").is_err());
}

#[test]
fn malformed_lines_carry_their_numbers_and_reading_continues() {
    let text = format!(
        "{COMBINED_LINE}\n\ngarbage\n{}\n{}\n{COMBINED_LINE}\n",
        COMBINED_LINE.replace("10/Oct/2000", "99/Oct/2000"),
        COMBINED_LINE.replace("\"GET /apache_pb.gif?a=1 HTTP/1.0\"", "\"\\x16\\x03\\x01\""),
    );
    let recs = read(COMBINED, &text);
    assert_eq!(recs.len(), 5, "the blank line is skipped: {recs:?}");
    assert!(matches!(&recs[0], Ok(r) if r.line == 1));
    for (i, line) in [(1, 3), (2, 4), (3, 5)] {
        let Err(e) = &recs[i] else { panic!("{:?}", recs[i]) };
        assert_eq!(e.line, line);
        assert!(matches!(e.reason, TrafficErrorReason::Nginx(_)), "{e}");
        assert!(!e.is_fatal());
    }
    assert!(recs[2].as_ref().unwrap_err().to_string().contains("bad or missing time"));
    assert!(recs[3].as_ref().unwrap_err().to_string().contains("is not `METHOD URI"));
    assert!(matches!(&recs[4], Ok(r) if r.line == 6));
}

#[test]
fn a_huge_line_is_capped_and_skipped() {
    let huge = COMBINED_LINE.replace("Mozilla", &"A".repeat(10_000));
    let text = format!("{huge}\n{COMBINED_LINE}\n");
    let format = LogFormat::parse(COMBINED).unwrap();
    let recs: Vec<_> = NginxReader::new(Cursor::new(text.into_bytes()), format).with_max_line_bytes(1000).collect();
    assert_eq!(recs[0], Err(TrafficError { line: 1, reason: TrafficErrorReason::TooLong { limit: 1000 } }));
    assert!(matches!(&recs[1], Ok(r) if r.line == 2));
}

#[test]
fn an_absolute_form_request_gives_host_and_path() {
    let line = COMBINED_LINE.replace("GET /apache_pb.gif?a=1", "GET http://proxy.example:8080/x?y=1");
    let recs = read(COMBINED, &line);
    let Ok(r) = &recs[0] else { panic!("{recs:?}") };
    assert_eq!((r.host.as_str(), r.path.as_str()), ("proxy.example", "/x?y=1"));
}

/// The `traffic_nginx` fuzz target's finding (`host/testdata/fuzz/`, the target's input: a first
/// byte choosing `combined`, then the log): a `$time_local` year of 22 digits overflowed the
/// calendar arithmetic. The line is now a typed, non-fatal error (bad time), not a panic.
#[test]
fn an_absurd_year_in_time_local_is_no_time_not_a_panic() {
    let input = include_bytes!("../../../testdata/fuzz/traffic_nginx-year-overflow.log");
    let log = input.get(1..).unwrap();
    let items: Vec<_> = NginxReader::new(Cursor::new(log.to_vec()), LogFormat::parse(COMBINED).unwrap())
        .with_max_line_bytes(4096)
        .collect();
    let first = items.first().unwrap();
    let err = first.as_ref().unwrap_err();
    assert!(!err.is_fatal() && err.to_string().contains("bad or missing time"), "{err}");
}
