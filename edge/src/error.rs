//! Errors with kinds: callers branch on [`ErrorKind`], people read the message.

use alloc::string::String;
use core::fmt;

/// What went wrong, coarsely enough to act on. Stable numeric codes cross the raw ABI.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Fewer bytes than the header or the announced payload length.
    Truncated,
    /// The first eight bytes are not `EDGESEG\0`.
    BadMagic,
    /// A format version this build does not read.
    UnsupportedVersion,
    /// Header flags this build does not understand (e.g. a signature it cannot verify).
    UnsupportedFlags,
    /// Trailing bytes after the announced payload.
    LengthMismatch,
    /// The payload checksum does not match the header.
    ChecksumMismatch,
    /// The payload is not valid postcard for the snapshot schema.
    Payload,
    /// The payload decoded but breaks an invariant (index out of range, unsorted set, bad filter…).
    Invalid,
    /// A request (or another ABI message) could not be decoded.
    Request,
    /// An unknown engine handle was passed through the ABI.
    Handle,
    /// The guest could not allocate memory for a message.
    OutOfMemory,
    /// A revocation delta older than (or the same as) the one already applied.
    Stale,
    /// A snapshot past its `expires_ms` (a host-side refusal: see [`crate::swap`]).
    Expired,
    /// An older version of the serving snapshot's lineage (a host-side refusal).
    Rollback,
    /// A signature is required and missing, or does not verify (a host-side refusal).
    Signature,
    /// Over a configured or hard limit (a snapshot over its declared limits, an oversized delta).
    TooLarge,
    /// Another build under the serving snapshot's id and version: different bytes claiming to be
    /// the same snapshot (a host-side refusal: see [`crate::swap`]).
    Rebuilt,
}

impl ErrorKind {
    /// Stable code used across the raw ABI (see `edge/ABI.md`).
    pub const fn code(self) -> u16 {
        match self {
            ErrorKind::Truncated => 1,
            ErrorKind::BadMagic => 2,
            ErrorKind::UnsupportedVersion => 3,
            ErrorKind::UnsupportedFlags => 4,
            ErrorKind::LengthMismatch => 5,
            ErrorKind::ChecksumMismatch => 6,
            ErrorKind::Payload => 7,
            ErrorKind::Invalid => 8,
            ErrorKind::Request => 9,
            ErrorKind::Handle => 10,
            ErrorKind::OutOfMemory => 11,
            ErrorKind::Stale => 12,
            ErrorKind::Expired => 13,
            ErrorKind::Rollback => 14,
            ErrorKind::Signature => 15,
            ErrorKind::TooLarge => 16,
            ErrorKind::Rebuilt => 17,
        }
    }

    /// Inverse of [`ErrorKind::code`]; `None` for codes from a newer module.
    pub const fn from_code(code: u16) -> Option<ErrorKind> {
        Some(match code {
            1 => ErrorKind::Truncated,
            2 => ErrorKind::BadMagic,
            3 => ErrorKind::UnsupportedVersion,
            4 => ErrorKind::UnsupportedFlags,
            5 => ErrorKind::LengthMismatch,
            6 => ErrorKind::ChecksumMismatch,
            7 => ErrorKind::Payload,
            8 => ErrorKind::Invalid,
            9 => ErrorKind::Request,
            10 => ErrorKind::Handle,
            11 => ErrorKind::OutOfMemory,
            12 => ErrorKind::Stale,
            13 => ErrorKind::Expired,
            14 => ErrorKind::Rollback,
            15 => ErrorKind::Signature,
            16 => ErrorKind::TooLarge,
            17 => ErrorKind::Rebuilt,
            _ => return None,
        })
    }

    const fn label(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "snapshot truncated",
            ErrorKind::BadMagic => "not an edgeseg snapshot (bad magic)",
            ErrorKind::UnsupportedVersion => "unsupported snapshot format version",
            ErrorKind::UnsupportedFlags => "unsupported snapshot flags",
            ErrorKind::LengthMismatch => "snapshot length mismatch",
            ErrorKind::ChecksumMismatch => "snapshot checksum mismatch",
            ErrorKind::Payload => "snapshot payload undecodable",
            ErrorKind::Invalid => "snapshot invalid",
            ErrorKind::Request => "request undecodable",
            ErrorKind::Handle => "unknown engine handle",
            ErrorKind::OutOfMemory => "out of memory",
            ErrorKind::Stale => "stale revocation delta",
            ErrorKind::Expired => "snapshot expired",
            ErrorKind::Rollback => "snapshot rollback",
            ErrorKind::Signature => "snapshot signature missing or invalid",
            ErrorKind::TooLarge => "over a limit",
            ErrorKind::Rebuilt => "another build with the serving snapshot's id and version",
        }
    }
}

/// An error from decoding or validating untrusted input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    detail: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<String>) -> Error {
        Error { kind, detail: detail.into() }
    }

    /// The kind, for programs.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The specific reason, for people.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            f.write_str(self.kind.label())
        } else {
            write!(f, "{}: {}", self.kind.label(), self.detail)
        }
    }
}

impl core::error::Error for Error {}
