//! What can go wrong when the host talks to the guest.
//!
//! The split follows what a caller does next: an [`GuestError::Abi`] answer is the module doing
//! its job (the snapshot or request was bad, the guest is fine); a [`GuestError::Trap`] means the
//! instance died and the host has already re-instantiated it; [`GuestError::NoSnapshot`] is a
//! call made too early; [`GuestError::Host`] is the host itself failing (a guest answer it cannot
//! read, an input too large to pass).

use edgeseg::ErrorKind;
use edgeseg::abi::AbiError;
use std::fmt;

/// An error from a [`crate::guest::Guest`] call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestError {
    /// The guest answered with an error (see `edge/ABI.md`, "Error codes"). `kind` is `None` for
    /// a code this host does not know (a newer module).
    Abi { kind: Option<ErrorKind>, code: u16, message: String },
    /// The guest trapped (out of fuel, out of memory, `unreachable`…). The instance has been
    /// replaced and the last good snapshot re-loaded; the message says if that failed.
    Trap(String),
    /// The host refused a snapshot before the guest saw it ([`edgeseg::swap`]: expired, a
    /// rollback, or a container that does not even check out); the serving snapshot stays.
    Refused { kind: ErrorKind, message: String },
    /// No snapshot is loaded yet.
    NoSnapshot,
    /// The host could not complete the call (undecodable or out-of-bounds answer, oversized input,
    /// a wasmtime failure that is not a trap).
    Host(String),
}

impl GuestError {
    /// The ABI error kind, if this is a guest error answer with a known code.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            GuestError::Abi { kind, .. } => *kind,
            GuestError::Refused { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    pub(crate) fn out_of_memory(what: &str) -> GuestError {
        GuestError::Abi {
            kind: Some(ErrorKind::OutOfMemory),
            code: ErrorKind::OutOfMemory.code(),
            message: format!("the guest could not allocate {what}"),
        }
    }
}

impl From<AbiError> for GuestError {
    fn from(e: AbiError) -> GuestError {
        GuestError::Abi { kind: e.kind(), code: e.code, message: e.message }
    }
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestError::Abi { kind: Some(kind), code, message } => {
                write!(f, "guest error {code} ({kind:?}): {message}")
            }
            GuestError::Abi { kind: None, code, message } => write!(f, "guest error {code}: {message}"),
            GuestError::Trap(message) => write!(f, "guest trapped: {message}"),
            GuestError::Refused { kind, message } => write!(f, "snapshot refused ({kind:?}): {message}"),
            GuestError::NoSnapshot => f.write_str("no snapshot loaded"),
            GuestError::Host(message) => write!(f, "host error: {message}"),
        }
    }
}

impl std::error::Error for GuestError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_errors_keep_code_and_kind() {
        let e = GuestError::from(AbiError { code: 10, message: "no engine".into() });
        assert_eq!(e.kind(), Some(ErrorKind::Handle));
        assert_eq!(e.to_string(), "guest error 10 (Handle): no engine");
        let future = GuestError::from(AbiError { code: 999, message: "new".into() });
        assert_eq!(future.kind(), None);
        assert_eq!(future.to_string(), "guest error 999: new");
        assert_eq!(GuestError::Trap("x".into()).kind(), None);
    }
}
