//! The reader of edgeseg's own request log: JSON Lines, one request per line.
//!
//! ```json
//! {"now_ms": 1763719200123, "method": "GET", "host": "shop.example", "path": "/p/123",
//!  "headers": {"cookie": "edgeseg_uid=u0004711", "user-agent": "Mozilla/5.0"},
//!  "country": "DE", "client_ip": "192.0.2.7", "attributes": {"device": "mobile"},
//!  "status": 200, "latency_ms": 84.5}
//! ```
//!
//! `now_ms`, `method` and `path` are required; `host` defaults to `""`; everything else is
//! optional and unknown fields are ignored (logs grow fields; old readers must keep working).
//! `headers` is an object or an array of `[name, value]` pairs — the array form keeps duplicate
//! headers (two `cookie` lines), which an object cannot. Attribute values are JSON scalars.
//!
//! Logs are big and come from production, so the reader streams and never trusts a line: each
//! line is read with a length cap (an endless line without a newline cannot exhaust memory), a
//! bad line is an error *for that line* carrying its number, and the next call carries on with
//! the following line. Only an IO error ends the stream.

use edgeseg::{AttrValue, Request};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::BufRead;

pub mod har;
pub mod lines;
pub mod nginx;
pub mod time;

use lines::Lines;

/// Default cap on one log line: 1 MiB, far above any real request yet bounded.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// An attribute value, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
}

impl Attr {
    /// The borrowed form the engine takes.
    pub fn as_value(&self) -> AttrValue<'_> {
        match self {
            Attr::Null => AttrValue::Null,
            Attr::Bool(b) => AttrValue::Bool(*b),
            Attr::Number(n) => AttrValue::Number(*n),
            Attr::String(s) => AttrValue::String(s),
        }
    }
}

/// One logged request.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficRecord {
    /// 1-based line number in the log (HAR: 1-based entry number).
    pub line: u64,
    pub now_ms: u64,
    pub method: String,
    pub host: String,
    pub path: String,
    /// `(name, value)` in log order, duplicates kept.
    pub headers: Vec<(String, String)>,
    pub country: Option<String>,
    /// The client address the platform saw (only hashed by the engine, for per-IP throttles).
    pub client_ip: Option<String>,
    pub attributes: Vec<(String, Attr)>,
    /// The origin's response status, when the log has it.
    pub status: Option<u16>,
    /// The origin's response latency, when the log has it.
    pub latency_ms: Option<f64>,
}

impl TrafficRecord {
    /// The request as the engine sees it, borrowing from this record.
    pub fn request(&self) -> Request<'_> {
        Request {
            method: &self.method,
            host: &self.host,
            path: &self.path,
            headers: self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            country: self.country.as_deref(),
            client_ip: self.client_ip.as_deref(),
            now_ms: self.now_ms,
            attributes: self.attributes.iter().map(|(n, v)| (n.as_str(), v.as_value())).collect(),
            verified_id: None,
        }
    }

    /// Parses one log line (without its newline). `line` only labels the result.
    pub fn parse(json: &[u8], line: u64) -> Result<TrafficRecord, TrafficError> {
        let raw: RawRecord = serde_json::from_slice(json)
            .map_err(|e| TrafficError { line, reason: TrafficErrorReason::Json(e.to_string()) })?;
        Ok(TrafficRecord {
            line,
            now_ms: raw.now_ms,
            method: raw.method,
            host: raw.host.unwrap_or_default(),
            path: raw.path,
            headers: raw.headers.map(|h| h.0).unwrap_or_default(),
            country: raw.country,
            client_ip: raw.client_ip,
            attributes: raw.attributes.map(|a| a.0).unwrap_or_default(),
            status: raw.status,
            latency_ms: raw.latency_ms,
        })
    }
}

/// Why a line could not be read.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrafficErrorReason {
    /// The underlying reader failed; the stream ends here.
    Io(String),
    /// The line is longer than the reader's cap; it was skipped without being buffered.
    TooLong { limit: usize },
    /// The line is not a valid record (bad JSON, missing or mistyped field).
    Json(String),
    /// The nginx line does not match the log format, or a field in it is invalid.
    Nginx(String),
    /// The HAR entry (`log.entries[line - 1]`) is not a usable request.
    HarEntry(String),
    /// The HAR entry is larger than the cap; the document cannot be read further.
    HarEntryTooLarge { limit: usize },
    /// The HAR document itself is broken (bad JSON, no `log.entries`); reading stops here.
    HarDocument(String),
}

/// A log line that could not be read, with its 1-based line number (in a HAR file: the 1-based
/// entry number; `Display` names the entry as `log.entries[i]`, 0-based like the JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficError {
    pub line: u64,
    pub reason: TrafficErrorReason,
}

impl TrafficError {
    /// Whether the stream is over (an IO error) rather than one line being bad.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self.reason,
            TrafficErrorReason::Io(_)
                | TrafficErrorReason::HarEntryTooLarge { .. }
                | TrafficErrorReason::HarDocument(_)
        )
    }
}

impl fmt::Display for TrafficError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            TrafficErrorReason::Io(e) => write!(f, "line {}: read error: {e}", self.line),
            TrafficErrorReason::TooLong { limit } => {
                write!(f, "line {}: longer than {limit} bytes, skipped", self.line)
            }
            TrafficErrorReason::Json(e) | TrafficErrorReason::Nginx(e) => write!(f, "line {}: {e}", self.line),
            TrafficErrorReason::HarEntry(e) => write!(f, "log.entries[{}]: {e}", self.line.saturating_sub(1)),
            TrafficErrorReason::HarEntryTooLarge { limit } => {
                write!(f, "log.entries[{}]: larger than {limit} bytes", self.line.saturating_sub(1))
            }
            TrafficErrorReason::HarDocument(e) => write!(f, "HAR document: {e}"),
        }
    }
}

impl std::error::Error for TrafficError {}

/// Streams [`TrafficRecord`]s from a JSONL log; blank lines are skipped.
#[derive(Debug)]
pub struct TrafficReader<R> {
    lines: Lines<R>,
}

impl<R: BufRead> TrafficReader<R> {
    pub fn new(reader: R) -> TrafficReader<R> {
        TrafficReader { lines: Lines::new(reader, DEFAULT_MAX_LINE_BYTES) }
    }

    /// Sets the longest line accepted, in bytes (newline excluded).
    pub fn with_max_line_bytes(mut self, max: usize) -> TrafficReader<R> {
        self.lines.set_max_line(max);
        self
    }
}

impl<R: BufRead> Iterator for TrafficReader<R> {
    type Item = Result<TrafficRecord, TrafficError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.lines.parse_next(TrafficRecord::parse)
    }
}

/// The wire shape of a record; converted into [`TrafficRecord`].
#[derive(Deserialize)]
struct RawRecord {
    now_ms: u64,
    method: String,
    #[serde(default)]
    host: Option<String>,
    path: String,
    #[serde(default)]
    headers: Option<Headers>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    client_ip: Option<String>,
    #[serde(default)]
    attributes: Option<Attributes>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    latency_ms: Option<f64>,
}

/// Headers as an object (in document order) or as `[[name, value], …]`.
struct Headers(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Headers, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of header strings or an array of [name, value] pairs")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some(pair) = map.next_entry::<String, String>()? {
                    out.push(pair);
                }
                Ok(Headers(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some(pair) = seq.next_element::<(String, String)>()? {
                    out.push(pair);
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Attributes as an object of scalars, in document order.
struct Attributes(Vec<(String, Attr)>);

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Attributes, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attributes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of scalar attribute values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attributes, A::Error> {
                let mut out = Vec::new();
                while let Some(pair) = map.next_entry::<String, Attr>()? {
                    out.push(pair);
                }
                Ok(Attributes(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Attr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Attr, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null, a boolean, a number or a string")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Attr, E> {
                Ok(Attr::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Attr, E> {
                Ok(Attr::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Attr, E> {
                Ok(Attr::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Attr, E> {
                Ok(Attr::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Attr, E> {
                Ok(Attr::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Attr, E> {
                Ok(Attr::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Attr, E> {
                Ok(Attr::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Attr, E> {
                Ok(Attr::String(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests;
