use super::*;
use std::io::{self, BufReader, Cursor, Read};

fn read_all(text: &str) -> Vec<Result<TrafficRecord, TrafficError>> {
    TrafficReader::new(Cursor::new(text.as_bytes().to_vec())).collect()
}

const GOOD: &str = r#"{"now_ms": 1763719200123, "method": "GET", "host": "shop.example", "path": "/p/123", "headers": {"cookie": "edgeseg_uid=u0004711; theme=dark", "user-agent": "Mozilla/5.0 (iPhone; Mobile)"}, "country": "DE", "attributes": {"device": "mobile"}, "status": 200, "latency_ms": 84.5}"#;

#[test]
fn parses_the_documented_example() {
    let recs = read_all(GOOD);
    let [Ok(r)] = recs.as_slice() else { panic!("{recs:?}") };
    assert_eq!(r.line, 1);
    assert_eq!(r.now_ms, 1_763_719_200_123);
    assert_eq!((r.method.as_str(), r.host.as_str(), r.path.as_str()), ("GET", "shop.example", "/p/123"));
    assert_eq!(r.headers[0], ("cookie".to_owned(), "edgeseg_uid=u0004711; theme=dark".to_owned()));
    assert_eq!(r.headers[1].0, "user-agent");
    assert_eq!(r.country.as_deref(), Some("DE"));
    assert_eq!(r.attributes, vec![("device".to_owned(), Attr::String("mobile".into()))]);
    assert_eq!((r.status, r.latency_ms), (Some(200), Some(84.5)));
    let req = r.request();
    assert_eq!(req.cookie("edgeseg_uid"), Some("u0004711"));
    assert_eq!(req.attribute("device"), Some(AttrValue::String("mobile")));
    assert_eq!(req.country, Some("DE"));
}

#[test]
fn array_headers_keep_duplicates_and_order() {
    let line = r#"{"now_ms": 1, "method": "GET", "path": "/", "headers": [["Cookie", "a=1"], ["cookie", "uid=7"], ["X-A", "x"]]}"#;
    let recs = read_all(line);
    let Ok(r) = &recs[0] else { panic!("{recs:?}") };
    assert_eq!(r.headers.len(), 3);
    assert_eq!(r.host, "");
    let req = r.request();
    assert_eq!(req.cookie("uid"), Some("7"));
    assert_eq!(req.cookie("a"), Some("1"));
    assert_eq!(req.header("x-a"), Some("x"));
}

#[test]
fn scalar_attributes_of_every_kind() {
    let line = r#"{"now_ms": 1, "method": "GET", "path": "/", "attributes": {"n": null, "b": true, "i": -3, "f": 2.5, "s": "x"}}"#;
    let recs = read_all(line);
    let Ok(r) = &recs[0] else { panic!("{recs:?}") };
    let want = [
        ("n", Attr::Null),
        ("b", Attr::Bool(true)),
        ("i", Attr::Number(-3.0)),
        ("f", Attr::Number(2.5)),
        ("s", Attr::String("x".into())),
    ];
    let got: Vec<(&str, &Attr)> = r.attributes.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(got, want.iter().map(|(k, v)| (*k, v)).collect::<Vec<_>>());
}

#[test]
fn errors_carry_line_numbers_and_reading_continues() {
    let text = format!(
        "{GOOD}\n\n   \n{{\"method\": \"GET\", \"path\": \"/\"}}\nnot json\n{}\n{GOOD}\n",
        r#"{"now_ms": 1, "method": "GET", "path": "/", "attributes": {"a": [1]}}"#
    );
    let recs = read_all(&text);
    assert_eq!(recs.len(), 5, "{recs:?}");
    assert!(matches!(&recs[0], Ok(r) if r.line == 1));
    let err = |i: usize| recs[i].clone().unwrap_err();
    assert_eq!(err(1).line, 4);
    assert!(err(1).to_string().contains("now_ms"), "{}", err(1));
    assert_eq!(err(2).line, 5);
    assert_eq!(err(3).line, 6);
    assert!(err(3).to_string().contains("scalar") || err(3).to_string().contains("null, a boolean"), "{}", err(3));
    assert!(!err(3).is_fatal());
    assert!(matches!(&recs[4], Ok(r) if r.line == 7));
}

#[test]
fn an_overlong_line_is_an_error_and_the_next_line_parses() {
    let long = format!(r#"{{"now_ms": 1, "method": "GET", "path": "/{}"}}"#, "x".repeat(5000));
    let text = format!("{GOOD}\n{long}\n{GOOD}");
    // A tiny BufReader capacity forces the long line across many fill_buf calls.
    let reader =
        TrafficReader::new(BufReader::with_capacity(64, Cursor::new(text.into_bytes()))).with_max_line_bytes(1000);
    let recs: Vec<_> = reader.collect();
    assert_eq!(recs.len(), 3);
    assert!(recs[0].is_ok());
    assert_eq!(recs[1], Err(TrafficError { line: 2, reason: TrafficErrorReason::TooLong { limit: 1000 } }));
    assert!(matches!(&recs[2], Ok(r) if r.line == 3));
}

#[test]
fn line_length_cap_is_exact_and_crlf_is_not_counted() {
    let line = r#"{"now_ms": 1, "method": "GET", "path": "/"}"#;
    let n = line.len();
    let text = format!("{line}\r\n{line}\n{line}");
    let at_cap: Vec<_> = TrafficReader::new(Cursor::new(text.clone().into_bytes())).with_max_line_bytes(n).collect();
    assert!(at_cap.iter().all(Result::is_ok), "{at_cap:?}");
    let under: Vec<_> = TrafficReader::new(Cursor::new(text.into_bytes())).with_max_line_bytes(n - 1).collect();
    assert_eq!(under.len(), 3);
    assert!(under.iter().all(|r| matches!(r, Err(TrafficError { reason: TrafficErrorReason::TooLong { .. }, .. }))));
}

#[test]
fn io_errors_end_the_stream() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                self.0 += 1;
                let line = format!("{GOOD}\n");
                buf[..line.len()].copy_from_slice(line.as_bytes());
                return Ok(line.len());
            }
            Err(io::Error::other("disk on fire"))
        }
    }
    let recs: Vec<_> = TrafficReader::new(BufReader::with_capacity(4096, Failing(0))).collect();
    assert_eq!(recs.len(), 2);
    let err = recs[1].clone().unwrap_err();
    assert!(err.is_fatal());
    assert_eq!(err.line, 2);
    assert!(err.to_string().contains("disk on fire"));
}

#[test]
fn empty_input_and_invalid_utf8() {
    assert!(read_all("").is_empty());
    assert!(read_all("\n\n").is_empty());
    let bad = b"{\"now_ms\": 1, \"method\": \"G\xffT\", \"path\": \"/\"}\n".to_vec();
    let recs: Vec<_> = TrafficReader::new(Cursor::new(bad)).collect();
    assert!(matches!(&recs[0], Err(TrafficError { line: 1, reason: TrafficErrorReason::Json(_) })));
}

#[test]
fn issue19_a_byte_order_mark_at_the_start_is_not_part_of_the_first_line() {
    let recs = read_all(&format!("\u{feff}{GOOD}\n{GOOD}\n"));
    assert_eq!(recs.len(), 2);
    for (i, r) in recs.iter().enumerate() {
        let Ok(r) = r else { panic!("{recs:?}") };
        assert_eq!(r.line, i as u64 + 1);
    }
    // Only at the start: later it is content (and here, bad JSON for that line alone).
    let recs = read_all(&format!("{GOOD}\n\u{feff}{GOOD}\n"));
    assert!(recs[0].is_ok() && recs[1].is_err(), "{recs:?}");
    // nginx logs share the line reader.
    let format = super::nginx::LogFormat::parse(super::nginx::COMBINED).unwrap();
    let line = "\u{feff}192.0.2.7 - - [21/Nov/2025:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"ua\"\n";
    let nginx = super::nginx::NginxReader::new(Cursor::new(line.as_bytes().to_vec()), format);
    let recs: Vec<_> = nginx.collect();
    assert!(matches!(recs.as_slice(), [Ok(r)] if r.client_ip.as_deref() == Some("192.0.2.7")), "{recs:?}");
}
