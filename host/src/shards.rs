//! Where a sharded snapshot's shards come from: files beside the head (or in `--shards DIR`), and
//! the per-request step that makes sure the guest holds the shard a request needs.
//!
//! A head `NAME.head` has shards `NAME.shard-XXXX`, `XXXX` the index as four lower-case hex
//! digits, in the head's directory unless a directory is given. [`ShardSource::ensure`] is what
//! replay and diff do before each decision: nothing when the guest holds the shard (a hit),
//! otherwise read the file, have the guest check and load it (a miss). A file that cannot be read
//! or a shard that is refused (SHA-256, binding, corruption) is counted and the request is decided
//! without it — the engine's fail-closed `shard_missing` decision — and the next request for that
//! shard tries again.

use crate::guest::{Guest, GuestError};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The shard files of one head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardFiles {
    /// The directory holding them.
    pub dir: PathBuf,
    /// The head's file stem (`NAME` of `NAME.head`).
    pub stem: String,
}

impl ShardFiles {
    /// The shards of `head`: in `dir` when given, else in the head's own directory; named after
    /// the head's file stem.
    pub fn for_head(head: &Path, dir: Option<&Path>) -> ShardFiles {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => head.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let stem = head.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        ShardFiles { dir, stem }
    }

    /// The file of shard `index`.
    pub fn path(&self, index: u32) -> PathBuf {
        self.dir.join(format!("{}.shard-{index:04x}", self.stem))
    }
}

/// What the source did (counts since it was made).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourceCounters {
    /// Requests whose shard the guest already held.
    pub hits: u64,
    /// Requests whose shard was not held (a read was tried).
    pub misses: u64,
    /// Shards read and accepted by the guest.
    pub loads: u64,
    /// Shards read but refused (SHA-256, another build, corrupt, or the guest trapped).
    pub refused: u64,
    /// Shard files that could not be read (missing, unreadable).
    pub read_errors: u64,
}

/// What [`ShardSource::ensure`] did for one request.
#[derive(Debug)]
pub enum Ensured {
    /// The guest already held the shard.
    Held,
    /// The shard was read and loaded; its bytes (for a native mirror, e.g. the consent auditor).
    Loaded { index: u32, bytes: Vec<u8> },
    /// The shard could not be read or was refused: the request is decided without it.
    Missing(ShardFailure),
}

/// Why a shard is missing for a request.
#[derive(Debug)]
pub enum ShardFailure {
    Read { path: PathBuf, error: std::io::Error },
    Refused { path: PathBuf, error: GuestError },
}

impl std::fmt::Display for ShardFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShardFailure::Read { path, error } => write!(f, "reading shard {}: {error}", path.display()),
            ShardFailure::Refused { path, error } => write!(f, "shard {} refused: {error}", path.display()),
        }
    }
}

/// Shard files and what reading them did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardSource {
    pub files: ShardFiles,
    pub counters: SourceCounters,
}

impl ShardSource {
    pub fn new(files: ShardFiles) -> ShardSource {
        ShardSource { files, counters: SourceCounters::default() }
    }

    /// Reads shard `index`'s file (no checks: [`Guest::load_shard`] does them).
    pub fn read(&self, index: u32) -> Result<Vec<u8>, ShardFailure> {
        let path = self.files.path(index);
        std::fs::read(&path).map_err(|error| ShardFailure::Read { path, error })
    }

    /// Makes sure `guest` holds shard `index` before a decision that needs it: a hit when held,
    /// else a read and a load (SHA-256 and binding checked), each outcome counted. Only a host
    /// failure ([`GuestError::Host`], [`GuestError::NoSnapshot`]) is an error; a failed read or a
    /// refusal is [`Ensured::Missing`] and the request goes on without the shard.
    pub fn ensure(&mut self, guest: &mut Guest, index: u32) -> Result<Ensured, GuestError> {
        if guest.has_shard(index) {
            self.counters.hits += 1;
            return Ok(Ensured::Held);
        }
        self.counters.misses += 1;
        let bytes = match self.read(index) {
            Ok(bytes) => bytes,
            Err(failure) => {
                self.counters.read_errors += 1;
                return Ok(Ensured::Missing(failure));
            }
        };
        match guest.load_shard(&bytes) {
            Ok(index) => {
                self.counters.loads += 1;
                Ok(Ensured::Loaded { index, bytes })
            }
            Err(e @ (GuestError::Host(_) | GuestError::NoSnapshot)) => Err(e),
            Err(error) => {
                self.counters.refused += 1;
                Ok(Ensured::Missing(ShardFailure::Refused { path: self.files.path(index), error }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_files_sit_beside_the_head_unless_told() {
        let files = ShardFiles::for_head(Path::new("/srv/snap/demo.head"), None);
        assert_eq!(files.path(0), Path::new("/srv/snap/demo.shard-0000"));
        assert_eq!(files.path(0x3a), Path::new("/srv/snap/demo.shard-003a"));
        assert_eq!(files.path(0xffff), Path::new("/srv/snap/demo.shard-ffff"));
        let files = ShardFiles::for_head(Path::new("demo.head"), Some(Path::new("/tmp/s")));
        assert_eq!(files.path(1), Path::new("/tmp/s/demo.shard-0001"));
        assert_eq!(ShardFiles::for_head(Path::new("demo.head"), None).path(2), Path::new("demo.shard-0002"));
    }
}
