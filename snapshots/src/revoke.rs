//! Revocation deltas: the opt-outs received since a snapshot was built, fingerprinted under that
//! snapshot's key, for the edge to apply before the next full build (see `edgeseg::delta`).
//!
//! Input is a text file, one revocation per line: a customer id alone (revokes every
//! consent-gated purpose), or `id,purpose|purpose…` for some purposes only. Blank lines and lines
//! starting with `#` are skipped. Ids never leave this process; only fingerprints are written.

use crate::error::{BuildError, BuildErrorKind};
use edgeseg::Snapshot;
use edgeseg::delta::{ALL_PURPOSES, Revocation, RevocationDelta};
use std::io::BufRead;
use std::path::Path;

/// Builds a delta for `snapshot` from revocation lines.
pub fn revocation_delta(
    snapshot: &[u8],
    lines: impl BufRead,
    sequence: u64,
    created_ms: u64,
) -> Result<RevocationDelta, BuildError> {
    let snap = Snapshot::decode(snapshot).map_err(|e| BuildError::new(BuildErrorKind::Encode, e.to_string()))?;
    let mut entries = Vec::new();
    for (n, line) in lines.lines().enumerate() {
        let at = n as u64 + 1;
        let line = line.map_err(|e| BuildError::new(BuildErrorKind::Io, e.to_string()).with_line(at))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, purposes) = match line.split_once(',') {
            Some((id, list)) => (id.trim(), Some(list)),
            None => (line, None),
        };
        if id.is_empty() || id.len() > 512 {
            return Err(BuildError::new(BuildErrorKind::Members, "id must be 1 to 512 bytes").with_line(at));
        }
        let mask = match purposes {
            None => ALL_PURPOSES,
            Some(list) => {
                let mut mask = 0u64;
                for name in list.split('|').map(str::trim).filter(|s| !s.is_empty()) {
                    let i = snap.purposes.iter().position(|p| p.name == name).ok_or_else(|| {
                        BuildError::new(BuildErrorKind::Members, format!("unknown purpose {name:?}")).with_line(at)
                    })?;
                    mask |= 1 << i;
                }
                if mask == 0 {
                    return Err(BuildError::new(BuildErrorKind::Members, "empty purpose list").with_line(at));
                }
                mask
            }
        };
        entries.push(Revocation { fingerprint: snap.fingerprint(id), purposes: mask });
    }
    let delta = RevocationDelta::new(&snap.id, snap.version, snap.key_id(), sequence, created_ms, entries);
    if delta.entries.len() > edgeseg::delta::MAX_REVOCATIONS {
        return Err(BuildError::new(
            BuildErrorKind::Limit,
            format!(
                "{} revocations; past {} rebuild the snapshot",
                delta.entries.len(),
                edgeseg::delta::MAX_REVOCATIONS
            ),
        ));
    }
    Ok(delta)
}

/// [`revocation_delta`] over files; errors name the revocation file.
pub fn revocation_delta_files(
    snapshot: &Path,
    revocations: &Path,
    sequence: u64,
    created_ms: u64,
) -> Result<RevocationDelta, BuildError> {
    let bytes = std::fs::read(snapshot).map_err(|e| BuildError::io(snapshot, &e))?;
    let file = std::fs::File::open(revocations).map_err(|e| BuildError::io(revocations, &e))?;
    revocation_delta(&bytes, std::io::BufReader::new(file), sequence, created_ms).map_err(|e| e.in_file(revocations))
}
