use super::*;
use std::io::Cursor;

fn read(doc: &str, cap: usize) -> Vec<Result<TrafficRecord, TrafficError>> {
    HarReader::new(Cursor::new(doc.as_bytes().to_vec()), cap).unwrap().collect()
}

fn entry(url: &str, headers: &str, status: i64) -> String {
    format!(
        r#"{{"startedDateTime": "2026-12-01T23:00:00.250Z", "time": 12.5, "serverIPAddress": "10.9.9.9",
            "request": {{"method": "GET", "url": "{url}", "httpVersion": "h2", "headers": {headers},
                        "cookies": [{{"name": "edgeseg_uid", "value": "alice"}}], "queryString": [], "headersSize": -1, "bodySize": 0}},
            "response": {{"status": {status}, "content": {{"size": 3, "text": "abc"}}}},
            "timings": {{"send": 0, "wait": 10, "receive": 2.5}}}}"#
    )
}

fn doc(entries: &[String]) -> String {
    format!(
        r#"{{"log": {{"version": "1.2", "creator": {{"name": "t", "version": "1"}}, "pages": [{{"id": "p", "title": "x"}}],
                 "entries": [{}]}}, "trailing": {{"ignored": [1, 2, 3]}}}}"#,
        entries.join(",")
    )
}

#[test]
fn entries_become_records_and_pseudo_headers_are_dropped() {
    let headers = r#"[{"name": ":authority", "value": "shop.example"}, {"name": ":path", "value": "/p/1?x=2"},
                     {"name": "user-agent", "value": "Mobile"}, {"name": "x-customer-id", "value": "c-1"}]"#;
    let recs = read(&doc(&[entry("https://shop.example:8443/p/1?x=2#frag", headers, 200)]), 1 << 20);
    let [Ok(r)] = recs.as_slice() else { panic!("{recs:?}") };
    assert_eq!(r.line, 1);
    assert_eq!(r.now_ms, 1_796_166_000_250);
    assert_eq!((r.method.as_str(), r.host.as_str(), r.path.as_str()), ("GET", "shop.example", "/p/1?x=2"));
    assert!(r.headers.iter().all(|(n, _)| !n.starts_with(':')), "{:?}", r.headers);
    assert_eq!(r.status, Some(200));
    assert_eq!(r.latency_ms, Some(12.5));
    assert_eq!(r.client_ip, None, "serverIPAddress is the server");
    let req = r.request();
    assert_eq!(req.cookie("edgeseg_uid"), Some("alice"), "request.cookies used when no cookie header");
    assert_eq!(req.header("x-customer-id"), Some("c-1"));
}

#[test]
fn authority_is_the_host_when_the_url_has_none_and_status_zero_is_absent() {
    let headers = r#"[{"name": ":authority", "value": "h2.example:443"}, {"name": ":path", "value": "/a?b"},
                     {"name": "cookie", "value": "edgeseg_uid=bob"}]"#;
    let recs = read(&doc(&[entry("/relative", headers, 0)]), 1 << 20);
    let [Ok(r)] = recs.as_slice() else { panic!("{recs:?}") };
    assert_eq!((r.host.as_str(), r.path.as_str()), ("h2.example", "/a?b"));
    assert_eq!(r.status, None);
    assert_eq!(r.request().cookie("edgeseg_uid"), Some("bob"), "the cookie header wins over request.cookies");
    assert_eq!(r.headers.iter().filter(|(n, _)| n == "cookie").count(), 1);
}

#[test]
fn a_malformed_entry_names_its_index_and_reading_continues() {
    let good = entry("http://a.example/", "[]", 200);
    let no_url = good.replace(r#""url": "http://a.example/","#, "");
    let bad_date = good.replace("2026-12-01T23:00:00.250Z", "yesterday");
    let recs = read(&doc(&[good.clone(), no_url, bad_date, good]), 1 << 20);
    assert_eq!(recs.len(), 4);
    assert!(matches!(&recs[0], Ok(r) if r.line == 1));
    for (i, index) in [(1, "log.entries[1]"), (2, "log.entries[2]")] {
        let Err(e) = &recs[i] else { panic!("{:?}", recs[i]) };
        assert!(matches!(e.reason, TrafficErrorReason::HarEntry(_)));
        assert!(!e.is_fatal());
        assert!(e.to_string().starts_with(index), "{e}");
    }
    assert!(recs[1].as_ref().unwrap_err().to_string().contains("url"));
    assert!(matches!(&recs[3], Ok(r) if r.line == 4));
}

#[test]
fn a_huge_entry_is_refused_with_a_typed_error() {
    let small = entry("http://a.example/", "[]", 200);
    let huge = small.replace(r#""text": "abc""#, &format!(r#""text": "{}""#, "x".repeat(100_000)));
    let recs = read(&doc(&[small.clone(), huge, small]), 10_000);
    assert_eq!(recs.len(), 2, "the document stops at the huge entry: {recs:?}");
    assert!(recs[0].is_ok());
    let Err(e) = &recs[1] else { panic!() };
    assert_eq!(e.reason, TrafficErrorReason::HarEntryTooLarge { limit: 10_000 });
    assert!(e.is_fatal());
    assert_eq!(e.to_string(), "log.entries[1]: larger than 10000 bytes");
}

#[test]
fn broken_documents_are_fatal() {
    for text in ["", "[]", r#"{"log": {}}"#, r#"{"log": {"entries": [{"#, "not json"] {
        let recs = read(text, 1 << 20);
        let [Err(e)] = recs.as_slice() else { panic!("{text}: {recs:?}") };
        assert!(matches!(e.reason, TrafficErrorReason::HarDocument(_)), "{text}: {e}");
        assert!(e.is_fatal());
    }
}

#[test]
fn dropping_the_reader_stops_the_walk() {
    let many: Vec<String> = (0..2000).map(|_| entry("http://a.example/", "[]", 200)).collect();
    let mut reader = HarReader::new(Cursor::new(doc(&many).into_bytes()), 1 << 20).unwrap();
    assert!(reader.next().is_some_and(|r| r.is_ok()));
    drop(reader);
}

/// The `traffic_har` fuzz target's LeakSanitizer finding (`host/testdata/fuzz/`): the reader
/// ended while its walker thread was still winding down, so the thread's allocations outlived the
/// input. Now the end of the reader is the end of the thread.
#[test]
fn the_reader_ends_only_after_its_walker_thread_has_finished() {
    let input = include_bytes!("../../../testdata/fuzz/traffic_har-leak-walker-not-joined.json");
    let mut reader = HarReader::new(Cursor::new(input.to_vec()), 64 << 10).unwrap();
    let items: Vec<_> = reader.by_ref().collect();
    assert!(items.last().is_some_and(|e| e.as_ref().is_err_and(TrafficError::is_fatal)), "{items:?}");
    assert!(reader.walker.is_none(), "the walker thread was not joined at the end");
    assert!(reader.next().is_none());
    // A well-formed document: same, after its records.
    let mut reader =
        HarReader::new(Cursor::new(doc(&[entry("https://a.test/x", "[]", 200)]).into_bytes()), 1 << 20).unwrap();
    assert_eq!(reader.by_ref().filter(Result::is_ok).count(), 1);
    assert!(reader.walker.is_none());
}

#[test]
fn issue19_a_byte_order_mark_before_the_document_is_skipped() {
    let recs = read(&format!("\u{feff}{}", doc(&[entry("https://a.test/x", "[]", 200)])), 1 << 20);
    assert!(matches!(recs.as_slice(), [Ok(r)] if r.path == "/x"), "{recs:?}");
}
