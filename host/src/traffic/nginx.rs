//! nginx access logs: the `combined` format, or any `log_format` string given on the command line.
//!
//! The format is parsed once into a list of literals and variables. A line is matched left to
//! right: a literal must appear exactly where it is expected; a variable takes everything up to
//! the first occurrence of the literal that follows it (or the rest of the line, if it is last).
//! That is unambiguous for nginx's own output because nginx escapes `"`, `\` and control bytes
//! in variable values as `\xHH` — a quoted field cannot contain the quote that closes it — and
//! the reader decodes those escapes. Two variables with nothing between them could split
//! anywhere, so such a format is refused when it is parsed.
//!
//! Variables whose values hold spaces (`$request`, `$http_user_agent`, and the upstream lists
//! like `$upstream_status` = `502, 200`) must be quoted in the format, as nginx's `combined` does.
//!
//! Variables that say something about the request fill the [`TrafficRecord`]; any other variable
//! is an opaque field, matched and dropped. `-` is nginx's "no value".
//!
//! | variable | becomes |
//! |---|---|
//! | `$msec`, `$time_iso8601`, `$time_local` | `now_ms` (that order of preference; `$time_local` and `$time_iso8601` have one-second precision) |
//! | `$request` (`GET /p?q=1 HTTP/1.1`), `$request_method`, `$request_uri` | method, path with query |
//! | `$host`, `$server_name` (else the `Host` header) | host |
//! | `$remote_addr` | client IP |
//! | `$http_NAME` | request header `NAME` (`_` → `-`), e.g. `$http_x_customer_id` → `x-customer-id` |
//! | `$cookie_NAME` | a cookie, when the log has no `$http_cookie` value |
//! | `$upstream_status` (else `$status`) | status; of a list (`502, 200`) the last |
//! | `$request_time` (else `$upstream_response_time`), seconds | latency in ms |

use super::lines::Lines;
use super::time::{parse_iso8601, parse_msec, parse_time_local};
use super::{DEFAULT_MAX_LINE_BYTES, TrafficError, TrafficErrorReason, TrafficRecord};
use std::fmt;
use std::io::BufRead;

/// nginx's predefined `combined` format.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// A `log_format` string that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nginx log format: {}", self.0)
    }
}

impl std::error::Error for FormatError {}

/// What a variable contributes to the record.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Var {
    RemoteAddr,
    TimeLocal,
    TimeIso8601,
    Msec,
    Request,
    RequestMethod,
    RequestUri,
    Status,
    UpstreamStatus,
    RequestTime,
    UpstreamResponseTime,
    Host,
    /// A request header, lower-case with `-`.
    Header(String),
    Cookie(String),
    /// Matched and dropped.
    Opaque,
}

impl Var {
    fn from_name(name: &str) -> Var {
        match name {
            "remote_addr" => Var::RemoteAddr,
            "time_local" => Var::TimeLocal,
            "time_iso8601" => Var::TimeIso8601,
            "msec" => Var::Msec,
            "request" => Var::Request,
            "request_method" => Var::RequestMethod,
            "request_uri" => Var::RequestUri,
            "status" => Var::Status,
            "upstream_status" => Var::UpstreamStatus,
            "request_time" => Var::RequestTime,
            "upstream_response_time" => Var::UpstreamResponseTime,
            "host" | "server_name" => Var::Host,
            _ => {
                if let Some(h) = name.strip_prefix("http_").filter(|h| !h.is_empty()) {
                    Var::Header(h.to_ascii_lowercase().replace('_', "-"))
                } else if let Some(c) = name.strip_prefix("cookie_").filter(|c| !c.is_empty()) {
                    Var::Cookie(c.to_owned())
                } else {
                    Var::Opaque
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Literal(String),
    Var(String, Var),
}

/// Where `now_ms` comes from, and so its precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSource {
    /// `$msec`: milliseconds.
    Msec,
    /// `$time_iso8601`: seconds.
    Iso8601,
    /// `$time_local`: seconds.
    Local,
}

impl TimeSource {
    /// Whether requests within one second share a timestamp (rates and throttles then see
    /// bursts at second boundaries).
    pub fn whole_seconds(self) -> bool {
        !matches!(self, TimeSource::Msec)
    }
}

/// A parsed `log_format`: literals and variables, checked once.
#[derive(Clone, Debug)]
pub struct LogFormat {
    items: Vec<Item>,
    time: TimeSource,
}

impl LogFormat {
    /// Parses a `log_format` string (`$name` or `${name}` variables, everything else literal).
    pub fn parse(format: &str) -> Result<LogFormat, FormatError> {
        let mut items: Vec<Item> = Vec::new();
        let mut literal = String::new();
        let mut chars = format.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '$' {
                literal.push(c);
                continue;
            }
            let name = if chars.peek().map(|&(_, c)| c) == Some('{') {
                let rest = format.get(i + 2..).unwrap_or("");
                let end = rest.find('}').ok_or_else(|| FormatError(format!("unclosed ${{ at byte {i}")))?;
                let name = rest.get(..end).unwrap_or("");
                for _ in 0..end + 2 {
                    chars.next();
                }
                name.to_owned()
            } else {
                let mut name = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                name
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(FormatError(format!("bad variable name {name:?} at byte {i}")));
            }
            if literal.is_empty() {
                if let Some(Item::Var(prev, _)) = items.last() {
                    return Err(FormatError(format!(
                        "${prev} and ${name} are adjacent: nothing in the line would separate them"
                    )));
                }
            } else {
                items.push(Item::Literal(std::mem::take(&mut literal)));
            }
            let var = Var::from_name(&name);
            items.push(Item::Var(name, var));
        }
        if !literal.is_empty() {
            items.push(Item::Literal(literal));
        }
        let has = |v: &Var| items.iter().any(|i| matches!(i, Item::Var(_, x) if x == v));
        let time = if has(&Var::Msec) {
            TimeSource::Msec
        } else if has(&Var::TimeIso8601) {
            TimeSource::Iso8601
        } else if has(&Var::TimeLocal) {
            TimeSource::Local
        } else {
            return Err(FormatError("no time: needs $msec, $time_iso8601 or $time_local".into()));
        };
        let split_request = has(&Var::RequestMethod) && has(&Var::RequestUri);
        if !has(&Var::Request) && !split_request {
            return Err(FormatError("no request: needs $request, or $request_method and $request_uri".into()));
        }
        Ok(LogFormat { items, time })
    }

    /// Where timestamps come from (and so whether they have millisecond precision).
    pub fn time_source(&self) -> TimeSource {
        self.time
    }

    /// Matches one line (without its newline) against the format.
    pub fn parse_line(&self, text: &[u8], line: u64) -> Result<TrafficRecord, TrafficError> {
        let err = |msg: String| TrafficError { line, reason: TrafficErrorReason::Nginx(msg) };
        let text = std::str::from_utf8(text).map_err(|e| err(format!("not UTF-8 ({e})")))?;
        let mut fields = Fields::default();
        let mut pos = 0usize;
        let mut items = self.items.iter().peekable();
        while let Some(item) = items.next() {
            let rest = text.get(pos..).unwrap_or("");
            match item {
                Item::Literal(lit) => {
                    if !rest.starts_with(lit.as_str()) {
                        return Err(err(format!("expected {lit:?} at column {}", pos + 1)));
                    }
                    pos += lit.len();
                }
                Item::Var(name, var) => {
                    let len = match items.peek() {
                        Some(Item::Literal(next)) => rest
                            .find(next.as_str())
                            .ok_or_else(|| err(format!("${name} at column {}: no {next:?} after it", pos + 1)))?,
                        _ => rest.len(),
                    };
                    let raw = rest.get(..len).unwrap_or("");
                    pos += len;
                    if raw != "-" {
                        fields.set(var, unescape(raw));
                    }
                }
            }
        }
        fields.into_record(self.time, line).map_err(err)
    }
}

/// Decodes nginx's `\xHH` escapes; anything else is kept as written.
fn unescape(raw: &str) -> String {
    if !raw.contains("\\x") {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' && bytes.get(i + 1) == Some(&b'x') {
            let hex = bytes.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The values a line gave, before they become a record.
#[derive(Default)]
struct Fields {
    client_ip: Option<String>,
    time_local: Option<String>,
    time_iso: Option<String>,
    msec: Option<String>,
    request: Option<String>,
    method: Option<String>,
    uri: Option<String>,
    status: Option<String>,
    upstream_status: Option<String>,
    request_time: Option<String>,
    upstream_time: Option<String>,
    host: Option<String>,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
}

/// The last entry of an nginx list value (`502, 504 : 200` — one per upstream tried).
fn last_of_list(v: &str) -> &str {
    v.rsplit([',', ':']).next().unwrap_or(v).trim()
}

impl Fields {
    /// Records one variable's value; of two variables for one field (`$host` and
    /// `$server_name`) the first in the format wins.
    fn set(&mut self, var: &Var, value: String) {
        let slot = match var {
            Var::RemoteAddr => &mut self.client_ip,
            Var::TimeLocal => &mut self.time_local,
            Var::TimeIso8601 => &mut self.time_iso,
            Var::Msec => &mut self.msec,
            Var::Request => &mut self.request,
            Var::RequestMethod => &mut self.method,
            Var::RequestUri => &mut self.uri,
            Var::Status => &mut self.status,
            Var::UpstreamStatus => &mut self.upstream_status,
            Var::RequestTime => &mut self.request_time,
            Var::UpstreamResponseTime => &mut self.upstream_time,
            Var::Host => &mut self.host,
            Var::Header(h) => return self.headers.push((h.clone(), value)),
            Var::Cookie(c) => return self.cookies.push((c.clone(), value)),
            Var::Opaque => return,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }

    fn into_record(mut self, time: TimeSource, line: u64) -> Result<TrafficRecord, String> {
        let (stamp, parse): (_, TimeParser) = match time {
            TimeSource::Msec => (self.msec.take(), parse_msec),
            TimeSource::Iso8601 => (self.time_iso.take(), parse_iso8601),
            TimeSource::Local => (self.time_local.take(), parse_time_local),
        };
        let parsed = stamp.as_deref().and_then(parse);
        let now_ms = parsed.ok_or_else(|| format!("bad or missing time {stamp:?}"))?;

        let (method, path) = match self.request.as_deref() {
            Some(req) => {
                let mut parts = req.split(' ');
                let (method, uri) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let rest: Vec<&str> = parts.collect();
                if method.is_empty() || !uri.starts_with(['/', '*']) && !uri.contains("://") || rest.len() > 1 {
                    return Err(format!("$request {req:?} is not `METHOD URI [PROTOCOL]`"));
                }
                // A proxy request line has the absolute form: `GET http://host/path HTTP/1.1`.
                let (uri_host, uri) = match uri.split_once("://") {
                    Some((_, rest)) => {
                        let cut = rest.find(['/', '?']).unwrap_or(rest.len());
                        let (authority, path) = rest.split_at(cut);
                        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
                        (Some(authority.split(':').next().unwrap_or(authority).to_owned()), path)
                    }
                    None => (None, uri.to_owned()),
                };
                if self.host.is_none() {
                    self.host = uri_host;
                }
                (self.method.take().unwrap_or_else(|| method.to_owned()), self.uri.take().unwrap_or(uri))
            }
            None => match (self.method.take(), self.uri.take()) {
                (Some(m), Some(u)) => (m, u),
                _ => return Err("no request method and URI".into()),
            },
        };

        let status_field = self.upstream_status.as_deref().or(self.status.as_deref());
        let status = match status_field {
            Some(s) => Some(last_of_list(s).parse::<u16>().map_err(|_| format!("status {s:?} is not a number"))?),
            None => None,
        };
        let latency_ms = match self.request_time.as_deref().or(self.upstream_time.as_deref()) {
            Some(t) => {
                let secs: f64 = last_of_list(t).parse().map_err(|_| format!("time {t:?} is not in seconds"))?;
                Some(secs * 1000.0)
            }
            None => None,
        };
        let host_header = self.headers.iter().find(|(n, _)| n == "host").map(|(_, v)| v.clone());
        let host = self.host.or(host_header).unwrap_or_default();
        let mut headers = self.headers;
        if !self.cookies.is_empty() && !headers.iter().any(|(n, _)| n == "cookie") {
            let cookie = self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
            headers.push(("cookie".to_owned(), cookie));
        }
        Ok(TrafficRecord {
            line,
            now_ms,
            method,
            host,
            path,
            headers,
            country: None,
            client_ip: self.client_ip,
            attributes: Vec::new(),
            status,
            latency_ms,
        })
    }
}

type TimeParser = fn(&str) -> Option<u64>;

/// Streams [`TrafficRecord`]s from an nginx access log; blank lines are skipped.
#[derive(Debug)]
pub struct NginxReader<R> {
    lines: Lines<R>,
    format: LogFormat,
}

impl<R: BufRead> NginxReader<R> {
    pub fn new(reader: R, format: LogFormat) -> NginxReader<R> {
        NginxReader { lines: Lines::new(reader, DEFAULT_MAX_LINE_BYTES), format }
    }

    /// Sets the longest line accepted, in bytes (newline excluded).
    pub fn with_max_line_bytes(mut self, max: usize) -> NginxReader<R> {
        self.lines.set_max_line(max);
        self
    }
}

impl<R: BufRead> Iterator for NginxReader<R> {
    type Item = Result<TrafficRecord, TrafficError>;

    fn next(&mut self) -> Option<Self::Item> {
        let format = &self.format;
        self.lines.parse_next(|text, line| format.parse_line(text, line))
    }
}

#[cfg(test)]
mod tests;
