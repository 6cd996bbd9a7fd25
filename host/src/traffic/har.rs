//! HAR 1.2 files (HTTP Archive, as browsers' developer tools export them): `log.entries[]`.
//!
//! A HAR file is one JSON document, often hundreds of megabytes with response bodies inline, so it
//! is never read whole. A `DeserializeSeed` walks `{"log": {"entries": [...]}}`, skipping every
//! other member with `IgnoredAny` (which streams), and materialises one entry at a time. Serde's
//! visitor pushes while the replay pulls, so the walk runs on its own thread and hands records
//! over a small bounded channel: memory is one entry plus the channel, whatever the file size.
//! A reader under the parser counts bytes and refuses an entry larger than the cap (a typed,
//! fatal [`TrafficErrorReason::HarEntryTooLarge`]) before it is buffered any further.
//!
//! An entry that is valid JSON but not a usable request (no `request.url`, a bad date) is an
//! error for that entry only, numbered like a line (`TrafficError::line` is the 1-based entry
//! number; it displays as `log.entries[i]`), and `--skip-malformed` skips it. Broken JSON ends
//! the document.
//!
//! Mapping: `startedDateTime` → `now_ms`; `request.method`; `request.url` → host (without port)
//! and path with query (no fragment); `request.headers` without HTTP/2 pseudo-headers (`:authority`
//! is the host when the URL has none); `request.cookies` become a `cookie` header when there is
//! none; `response.status` (0 means no response: absent); `time` → `latency_ms`.
//! `serverIPAddress` is the server's address, not the client's: there is no client IP in a HAR.

use super::time::parse_iso8601;
use super::{TrafficError, TrafficErrorReason, TrafficRecord};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Default cap on one entry: 16 MiB (entries can carry response bodies).
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 16 << 20;

/// Streams [`TrafficRecord`]s from a HAR document.
#[derive(Debug)]
pub struct HarReader {
    rx: Receiver<Result<TrafficRecord, TrafficError>>,
    /// The walker thread, joined once the channel reports it gone: the reader then ends only
    /// after the thread has finished and freed everything it held (LeakSanitizer in the
    /// `traffic_har` fuzz target caught allocations of a thread still winding down). A reader
    /// dropped before its end detaches the thread instead, which stops at its next send.
    walker: Option<std::thread::JoinHandle<()>>,
}

impl HarReader {
    /// Starts reading `reader` on a background thread; entries larger than `max_entry_bytes` stop
    /// the document with an error.
    pub fn new<R: Read + Send + 'static>(reader: R, max_entry_bytes: usize) -> io::Result<HarReader> {
        let (tx, rx) = sync_channel(256);
        let walker =
            std::thread::Builder::new().name("har-reader".into()).spawn(move || walk(reader, max_entry_bytes, &tx))?;
        Ok(HarReader { rx, walker: Some(walker) })
    }
}

impl Iterator for HarReader {
    type Item = Result<TrafficRecord, TrafficError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.rx.recv() {
            Ok(item) => Some(item),
            Err(_) => {
                // Disconnected: the walker has returned (its sender is gone); wait out its exit.
                // A panic in the walker already ended the document; nothing more to report.
                if let Some(walker) = self.walker.take() {
                    let _ = walker.join();
                }
                None
            }
        }
    }
}

/// Byte accounting shared by the counting reader and the entry walker.
#[derive(Clone, Default)]
struct Budget {
    read: Rc<Cell<u64>>,
    limit: Rc<Cell<u64>>,
    tripped: Rc<Cell<bool>>,
    /// The receiver is gone: the walk was abandoned on purpose.
    stopped: Rc<Cell<bool>>,
}

struct Counting<R> {
    inner: R,
    budget: Budget,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let b = &self.budget;
        if b.read.get() >= b.limit.get() {
            b.tripped.set(true);
            return Err(io::Error::other("HAR entry over the size cap"));
        }
        // Never read past the limit, so the cap is exact whatever the buffer size.
        let room = usize::try_from(b.limit.get() - b.read.get()).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(buf.get_mut(..room).unwrap_or_default())?;
        b.read.set(b.read.get() + n as u64);
        Ok(n)
    }
}

/// Parses the document, sending one item per entry; stops when the receiver is gone.
fn walk<R: Read>(reader: R, max_entry: usize, tx: &SyncSender<Result<TrafficRecord, TrafficError>>) {
    let budget = Budget::default();
    budget.limit.set(u64::MAX);
    let mut buffered = io::BufReader::with_capacity(64 << 10, reader);
    // A byte-order mark (as some Windows tools write) is not JSON; a read error here shows up at
    // the first read of the document.
    if buffered.fill_buf().is_ok_and(|b| b.starts_with(super::lines::BOM)) {
        buffered.consume(super::lines::BOM.len());
    }
    let counting = Counting { inner: buffered, budget: budget.clone() };
    let mut de = serde_json::Deserializer::from_reader(counting);
    let index = Rc::new(Cell::new(0u64));
    let seed = Document { tx, budget: budget.clone(), max_entry: max_entry as u64, index: index.clone() };
    let result = seed.deserialize(&mut de).and_then(|found| {
        de.end()?;
        Ok(found)
    });
    let fatal = |reason| TrafficError { line: index.get() + 1, reason };
    let end = match result {
        Ok(true) => return,
        Ok(false) => fatal(TrafficErrorReason::HarDocument("no log.entries array".into())),
        Err(_) if budget.tripped.get() => fatal(TrafficErrorReason::HarEntryTooLarge { limit: max_entry }),
        // The receiver went away: nobody to tell.
        Err(_) if budget.stopped.get() => return,
        Err(e) => fatal(TrafficErrorReason::HarDocument(e.to_string())),
    };
    let _ = tx.send(Err(end));
}

/// The top level: finds `log`. `true` once `log.entries` was walked.
struct Document<'a> {
    tx: &'a SyncSender<Result<TrafficRecord, TrafficError>>,
    budget: Budget,
    max_entry: u64,
    index: Rc<Cell<u64>>,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(Level { doc: self, depth: 0 })
    }
}

/// The members on the way down: `{"log": {"entries": […]}}`.
const PATH: [&str; 2] = ["log", "entries"];

/// One level of `{"log": {"entries": […]}}`: depth 0 and 1 are objects in which to find
/// `PATH[depth]`; depth 2 is the entries array.
struct Level<'a> {
    doc: Document<'a>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        if self.depth >= PATH.len() { d.deserialize_seq(self) } else { d.deserialize_map(self) }
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match PATH.get(self.depth) {
            Some(key) => write!(f, "an object with {key:?}"),
            None => f.write_str("an array of entries"),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Level { doc, depth } = self;
        let key = PATH.get(depth).copied().unwrap_or_default();
        let mut doc = Some(doc);
        let mut found = false;
        while let Some(k) = map.next_key::<String>()? {
            match (k == key, doc.take()) {
                (true, Some(d)) => {
                    found = map.next_value_seed(Level { doc: d, depth: depth + 1 })?;
                }
                (_, d) => {
                    doc = d;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let doc = self.doc;
        loop {
            let start = doc.budget.read.get();
            doc.budget.limit.set(start.saturating_add(doc.max_entry));
            let Some(value) = seq.next_element::<serde_json::Value>()? else { break };
            doc.budget.limit.set(u64::MAX);
            let i = doc.index.get();
            if doc.tx.send(entry_record(value, i + 1)).is_err() {
                doc.budget.stopped.set(true);
                return Err(de::Error::custom("HAR reader dropped"));
            }
            doc.index.set(i + 1);
        }
        doc.budget.limit.set(u64::MAX);
        Ok(true)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    started_date_time: String,
    #[serde(default)]
    time: Option<f64>,
    request: HarRequest,
    #[serde(default)]
    response: Option<HarResponse>,
}

#[derive(Deserialize)]
struct HarRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    cookies: Vec<NameValue>,
}

#[derive(Deserialize)]
struct HarResponse {
    #[serde(default)]
    status: Option<i64>,
}

#[derive(Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

/// `scheme://[userinfo@]host[:port]/path?query#fragment` → (host without port, path with query).
fn split_url(url: &str) -> (Option<&str>, String) {
    let url = url.split('#').next().unwrap_or(url);
    let Some((_, rest)) = url.split_once("://") else {
        return (None, if url.is_empty() { "/".into() } else { url.to_owned() });
    };
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    let host = strip_port(authority.rsplit('@').next().unwrap_or(authority));
    let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
    (Some(host).filter(|h| !h.is_empty()), path)
}

fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        // [v6]:port
        return authority.split_once(']').map_or(authority, |(h, _)| h.get(1..).unwrap_or(h));
    }
    authority.split_once(':').map_or(authority, |(h, _)| h)
}

/// One entry (already parsed as JSON) → a record, or an error for this entry.
fn entry_record(value: serde_json::Value, number: u64) -> Result<TrafficRecord, TrafficError> {
    let err = |msg: String| TrafficError { line: number, reason: TrafficErrorReason::HarEntry(msg) };
    let entry: Entry = serde_json::from_value(value).map_err(|e| err(e.to_string()))?;
    let now_ms = parse_iso8601(&entry.started_date_time)
        .ok_or_else(|| err(format!("startedDateTime {:?} is not an ISO 8601 date-time", entry.started_date_time)))?;
    let (url_host, path) = split_url(&entry.request.url);
    let pseudo = |name: &str| entry.request.headers.iter().find(|h| h.name == name).map(|h| h.value.as_str());
    let host_header =
        entry.request.headers.iter().find(|h| h.name.eq_ignore_ascii_case("host")).map(|h| h.value.as_str());
    let host = url_host.or(pseudo(":authority")).or(host_header).map(strip_port).unwrap_or_default().to_owned();
    let path = if url_host.is_none() { pseudo(":path").map_or(path, str::to_owned) } else { path };
    let mut headers: Vec<(String, String)> = entry
        .request
        .headers
        .iter()
        .filter(|h| !h.name.starts_with(':'))
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    if !entry.request.cookies.is_empty() && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("cookie")) {
        let cookie = entry.request.cookies.iter().map(|c| format!("{}={}", c.name, c.value)).collect::<Vec<_>>();
        headers.push(("cookie".into(), cookie.join("; ")));
    }
    let status = match entry.response.and_then(|r| r.status) {
        None | Some(0) => None,
        Some(s) => Some(u16::try_from(s).map_err(|_| err(format!("response.status {s} is not an HTTP status")))?),
    };
    Ok(TrafficRecord {
        line: number,
        now_ms,
        method: entry.request.method,
        host,
        path,
        headers,
        country: None,
        client_ip: None,
        attributes: Vec::new(),
        status,
        latency_ms: entry.time.filter(|t| *t >= 0.0),
    })
}

#[cfg(test)]
mod tests;
