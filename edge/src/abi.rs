//! The raw ABI: plain exports for wasmtime, Fastly Compute and any host that is not JavaScript.
//!
//! The contract is written up for host authors in `edge/ABI.md`; in short:
//!
//! * the module imports nothing;
//! * the host asks the guest for buffers (`edgeseg_alloc`), writes its message, calls an entry
//!   point, and frees what it allocated (`edgeseg_dealloc`);
//! * every entry point that answers returns one `u64`, `len << 32 | ptr`, naming a guest buffer
//!   holding a postcard `Result<T, AbiError>`; the host reads it and frees it with
//!   `edgeseg_dealloc(ptr, len)`. `0` means the guest could not allocate the answer.
//!
//! Message encoding and decoding live in plain functions ([`load_message`], [`decide_message`])
//! so native tests exercise exactly what the exports run.

use crate::Decision;
use crate::engine::{Engine, EngineStats};
use crate::error::{Error, ErrorKind};
use crate::identity::Claim;
use crate::request::Request;
use crate::rule::{DEFAULT_EVAL_BUDGET, Halt, Literal, Rule};
use crate::snapshot::Verify;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change to the exports or messages.
/// 2: `Request.client_ip`; decisions carry narrowing, throttle, cache, route and response headers;
/// `edgeseg_apply_delta`, `edgeseg_stats`, `edgeseg_throttle_import`.
/// 3: sharded snapshots — `LoadInfo.shards`, `Decision.shard_missing`, `EngineStats.shards`;
/// `edgeseg_shard_for`, `edgeseg_load_shard`, `edgeseg_drop_shard`, `edgeseg_shard_budget`.
/// 4: verified identity — `Request.verified_id`, `LoadInfo.verifies_identity`,
/// `EngineStats.identity_refused`; `edgeseg_identity_claim`.
pub const ABI_VERSION: u32 = 4;

/// An error as it crosses the ABI: a stable code (see [`ErrorKind::code`]) and a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbiError {
    pub code: u16,
    pub message: String,
}

impl AbiError {
    /// The kind, when the code is one this build knows.
    pub fn kind(&self) -> Option<ErrorKind> {
        ErrorKind::from_code(self.code)
    }
}

impl From<&Error> for AbiError {
    fn from(e: &Error) -> AbiError {
        AbiError { code: e.kind().code(), message: e.to_string() }
    }
}

/// What `edgeseg_load` answers on success: the handle and what a host needs to label reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadInfo<'a> {
    pub handle: u32,
    pub snapshot_id: &'a str,
    pub version: u64,
    #[serde(borrow)]
    pub tiers: Vec<&'a str>,
    #[serde(borrow)]
    pub segments: Vec<&'a str>,
    #[serde(borrow)]
    pub purposes: Vec<&'a str>,
    /// Shards of a sharded snapshot's head (`0`: not sharded, every member is in the snapshot).
    pub shards: u32,
    /// Some identity source carries a token the host must verify: call `edgeseg_identity_claim`
    /// before each decision and hand the proved id over in `Request.verified_id`.
    pub verifies_identity: bool,
}

/// What `edgeseg_identity_claim` answers for a request whose first present identity source is a
/// verified one: the token to check, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityClaim<'a> {
    /// Index of the source in the snapshot's identity sources.
    pub source: u16,
    pub token: &'a str,
    pub verify: Verify,
}

/// The answer to `edgeseg_load`.
pub type LoadResult<'a> = Result<LoadInfo<'a>, AbiError>;
/// The answer to `edgeseg_decide`.
pub type DecideResult<'a> = Result<Decision<'a>, AbiError>;
/// The answer to `edgeseg_apply_delta`: the applied delta's sequence and entry count.
pub type DeltaResult = Result<DeltaInfo, AbiError>;
/// The answer to `edgeseg_stats`.
pub type StatsResult = Result<EngineStats, AbiError>;
/// The answer to `edgeseg_throttle_import`: how many entries were imported.
pub type ImportResult = Result<u32, AbiError>;
/// The answer to `edgeseg_identity_claim` (`None`: nothing to verify — the identity is a bare claim
/// or absent).
pub type ClaimResult<'a> = Result<Option<IdentityClaim<'a>>, AbiError>;
/// The answer to `edgeseg_shard_for`: the shard a request needs (`None`: none — the snapshot is
/// not sharded, or the request is anonymous).
pub type ShardForResult = Result<Option<u32>, AbiError>;
/// The answer to `edgeseg_load_shard`: the index of the shard now held.
pub type ShardResult = Result<u32, AbiError>;

/// What `edgeseg_apply_delta` answers on success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaInfo {
    pub sequence: u64,
    pub entries: u64,
}

/// Most entries one `edgeseg_throttle_import` call takes.
pub const MAX_THROTTLE_IMPORT: usize = 4096;
/// What `edgeseg_eval` reads: a compiled rule (the builder's `Mode::Data`) and the data document.
pub type EvalInput = (Rule, Literal);
/// The answer to `edgeseg_eval`: the rule's value (`Ok(Ok(value))`), its evaluation error as the
/// community's error value (`Ok(Err({"type": "NaN"}))`, see [`crate::rule::EvalError`]), or a
/// refusal of the message itself.
pub type EvalResult = Result<Result<Literal, Literal>, AbiError>;

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    encode_into(value, Vec::new())
}

/// [`encode`] into `buf` (reserved by the caller for a message it knows to be larger).
fn encode_into<T: Serialize>(value: &T, buf: Vec<u8>) -> Vec<u8> {
    // Serialising our own plain structs into a Vec cannot fail short of OOM; if it ever did, the
    // host gets an empty message and reports it as undecodable rather than the guest trapping.
    postcard::serialize_with_flavor(value, Reserved(buf)).unwrap_or_default()
}

/// Encodes the answer to a load: `Ok(LoadInfo)` for `handle`, or the error.
pub fn load_message(result: Result<(&Engine, u32), &Error>) -> Vec<u8> {
    let answer: LoadResult<'_> = match result {
        Ok((engine, handle)) => {
            let s = engine.snapshot();
            Ok(LoadInfo {
                handle,
                snapshot_id: &s.id,
                version: s.version,
                tiers: s.tiers.iter().map(|t| t.name.as_str()).collect(),
                segments: s.segments.iter().map(|t| t.name.as_str()).collect(),
                purposes: s.purposes.iter().map(|t| t.name.as_str()).collect(),
                shards: s.sharding.as_ref().map_or(0, |sh| sh.count()),
                verifies_identity: s.identity.iter().any(|i| i.verify().is_some()),
            })
        }
        Err(e) => Err(AbiError::from(e)),
    };
    encode(&answer)
}

/// Applies a revocation delta and encodes the answer.
pub fn delta_message(engine: &mut Engine, delta: &[u8]) -> Vec<u8> {
    let answer: DeltaResult = engine
        .apply_delta(delta)
        .map(|d| DeltaInfo { sequence: d.sequence, entries: d.entries.len() as u64 })
        .map_err(|e| AbiError::from(&e));
    encode(&answer)
}

/// Encodes the engine's counters.
pub fn stats_message(engine: &Engine) -> Vec<u8> {
    let answer: StatsResult = Ok(engine.stats());
    encode(&answer)
}

/// Decodes postcard `Vec<(u64, u64)>` throttle state and imports it.
pub fn throttle_import_message(engine: &mut Engine, message: &[u8]) -> Vec<u8> {
    let answer: ImportResult = match postcard::from_bytes::<Vec<(u64, u64)>>(message) {
        Ok(entries) if entries.len() <= MAX_THROTTLE_IMPORT => {
            engine.import_throttle_state(&entries);
            Ok(entries.len() as u32)
        }
        Ok(entries) => Err(AbiError {
            code: ErrorKind::Request.code(),
            message: alloc::format!("{} throttle entries, limit {MAX_THROTTLE_IMPORT}", entries.len()),
        }),
        Err(e) => Err(AbiError { code: ErrorKind::Request.code(), message: alloc::format!("throttle state: {e}") }),
    };
    encode(&answer)
}

/// Decodes a postcard [`Request`] and encodes the shard it needs.
pub fn shard_for_message(engine: &Engine, request: &[u8]) -> Vec<u8> {
    let answer: ShardForResult = postcard::from_bytes::<Request<'_>>(request)
        .map(|req| engine.shard_for(&req))
        .map_err(|e| AbiError { code: ErrorKind::Request.code(), message: alloc::format!("request undecodable: {e}") });
    encode(&answer)
}

/// The identity token a postcard `Request` carries for the host to verify, encoded.
pub fn identity_claim_message(engine: &Engine, request: &[u8]) -> Vec<u8> {
    let answer: ClaimResult<'_> = match postcard::from_bytes::<Request<'_>>(request) {
        Ok(req) => Ok(match engine.identity_claim(&req) {
            Claim::Token { source, token, verify } => Some(IdentityClaim { source, token, verify: verify.clone() }),
            Claim::None | Claim::Bare(_) => None,
        }),
        Err(e) => {
            Err(AbiError { code: ErrorKind::Request.code(), message: alloc::format!("request undecodable: {e}") })
        }
    };
    encode(&answer)
}

/// Validates a shard against the engine's head, holds it, and encodes its index (or the refusal).
pub fn load_shard_message(engine: &mut Engine, shard: Vec<u8>) -> Vec<u8> {
    let answer: ShardResult = engine.load_shard(shard).map_err(|e| AbiError::from(&e));
    encode(&answer)
}

/// Decodes a postcard [`Request`] and encodes the decision (or the decode error).
pub fn decide_message(engine: &mut Engine, request: &[u8]) -> Vec<u8> {
    let answer: DecideResult<'_> = match postcard::from_bytes::<Request<'_>>(request) {
        Ok(req) => Ok(engine.decide(&req)),
        Err(e) => {
            Err(AbiError { code: ErrorKind::Request.code(), message: alloc::format!("request undecodable: {e}") })
        }
    };
    // A decision is a few hundred bytes: one allocation, not a doubling per field written.
    encode_into(&answer, Vec::with_capacity(DECIDE_ANSWER_CAPACITY))
}

/// Bytes reserved for a decide answer before it is written (room for a typical decision: the
/// demo's sample traffic encodes to 279–586 bytes, median 524, so 512 made most answers grow
/// once, a reallocation and a copy).
const DECIDE_ANSWER_CAPACITY: usize = 1024;

/// postcard output into a `Vec` the caller may have reserved (postcard's own `Vec` flavor always
/// starts empty, and its `to_extend` adds byte by byte through `Extend`).
struct Reserved(Vec<u8>);

impl postcard::ser_flavors::Flavor for Reserved {
    type Output = Vec<u8>;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// The message of the `TooLarge` answer [`eval_message`] gives a rule that runs out of
/// [`DEFAULT_EVAL_BUDGET`].
pub const EVAL_BUDGET_EXCEEDED: &str = "evaluation budget exceeded";

/// Decodes a postcard [`EvalInput`], validates the rule (no segments: `in_segment` is refused)
/// and encodes its value over the data as an [`EvalResult`]. Conformance checking, not a hot path:
/// the JSON Logic `apply(rule, data)` of the module, used by `edgeseg jsonlogic`. A rule that runs
/// out of [`DEFAULT_EVAL_BUDGET`] is a `TooLarge` error ([`EVAL_BUDGET_EXCEEDED`]), not `null`:
/// a conformance run must tell "the answer is null" from "there is no answer". A rule that fails
/// answers its error value.
pub fn eval_message(input: &[u8]) -> Vec<u8> {
    let answer: EvalResult = match postcard::from_bytes::<EvalInput>(input) {
        Ok((rule, data)) => match rule.validate(0) {
            Ok(()) => match rule.evaluate_data_within(&data, DEFAULT_EVAL_BUDGET) {
                Ok(value) => Ok(Ok(value.to_literal())),
                Err(Halt::Error(e)) => Ok(Err(e.to_literal())),
                Err(Halt::Budget) => {
                    Err(AbiError { code: ErrorKind::TooLarge.code(), message: EVAL_BUDGET_EXCEEDED.to_string() })
                }
            },
            Err(e) => Err(AbiError::from(&e)),
        },
        Err(e) => Err(AbiError { code: ErrorKind::Request.code(), message: alloc::format!("rule undecodable: {e}") }),
    };
    encode(&answer)
}

/// Encodes an error answer (unknown handle, out of memory…).
pub fn error_message(kind: ErrorKind, message: &str) -> Vec<u8> {
    let answer: Result<(), AbiError> = Err(AbiError { code: kind.code(), message: message.to_string() });
    encode(&answer)
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod exports {
    //! The exports themselves. Single-threaded wasm only: no two calls ever run at once, which is
    //! what makes the handle table below sound.

    use super::*;
    use alloc::alloc::{Layout, alloc, dealloc};
    use alloc::boxed::Box;
    use core::cell::RefCell;

    struct Engines(RefCell<Vec<Option<Engine>>>);
    // SAFETY: compiled only for wasm32 without the `atomics` feature, i.e. without threads; the
    // table is never touched from two places at once.
    unsafe impl Sync for Engines {}
    static ENGINES: Engines = Engines(RefCell::new(Vec::new()));

    /// Hands `message` to the host as `len << 32 | ptr`; the host frees it with `edgeseg_dealloc`.
    fn hand_over(message: Vec<u8>) -> u64 {
        if message.is_empty() {
            return 0;
        }
        let len = message.len() as u64;
        let ptr = Box::into_raw(message.into_boxed_slice()) as *mut u8 as usize as u64;
        (len << 32) | ptr
    }

    /// # Safety
    /// `(ptr, len)` must be a buffer the host obtained from `edgeseg_alloc` (or `len == 0`).
    unsafe fn input<'a>(ptr: u32, len: u32) -> &'a [u8] {
        if len == 0 || ptr == 0 {
            return &[];
        }
        // SAFETY: per the contract above, the host wrote `len` bytes at `ptr` in our memory.
        unsafe { core::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }
    }

    #[unsafe(no_mangle)]
    pub extern "C" fn edgeseg_abi_version() -> u32 {
        ABI_VERSION
    }

    /// Allocates `len` bytes for the host to write a message into. Returns 0 on failure (or for 0).
    #[unsafe(no_mangle)]
    pub extern "C" fn edgeseg_alloc(len: u32) -> u32 {
        let Ok(layout) = Layout::from_size_align(len as usize, 1) else { return 0 };
        if layout.size() == 0 {
            return 0;
        }
        // SAFETY: the layout has non-zero size.
        unsafe { alloc(layout) as usize as u32 }
    }

    /// Frees a buffer from `edgeseg_alloc` or an answer. `ptr == 0` or `len == 0` is a no-op.
    ///
    /// # Safety
    /// `(ptr, len)` must come from `edgeseg_alloc(len)` or from an answer, and be freed once.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_dealloc(ptr: u32, len: u32) {
        if ptr == 0 || len == 0 {
            return;
        }
        if let Ok(layout) = Layout::from_size_align(len as usize, 1) {
            // SAFETY: per the contract, the block was allocated with exactly this layout (answers
            // are boxed byte slices, whose layout is `(len, 1)` too).
            unsafe { dealloc(ptr as usize as *mut u8, layout) }
        }
    }

    /// Loads snapshot bytes. Answers a postcard `LoadResult`.
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc` holding the snapshot.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_load(ptr: u32, len: u32) -> u64 {
        // SAFETY: forwarded contract.
        let bytes = unsafe { input(ptr, len) };
        keep(Engine::load(bytes))
    }

    /// [`edgeseg_load`] that takes the buffer over instead of copying it: the engine probes its
    /// membership sets in place there, and frees it when dropped (or at once, if the snapshot is
    /// refused). The host must not free or reuse the buffer afterwards. Optional for hosts (added
    /// in ABI version 2's lifetime; a host that does not look it up copies as before).
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc(len)` holding the snapshot, not used by
    /// the host afterwards.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_load_owned(ptr: u32, len: u32) -> u64 {
        // SAFETY: forwarded contract.
        keep(Engine::load_owned(unsafe { take_over(ptr, len) }))
    }

    /// The bytes of a buffer from `edgeseg_alloc(len)`, taken over.
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc(len)`, not used by the host afterwards.
    unsafe fn take_over(ptr: u32, len: u32) -> Vec<u8> {
        if ptr == 0 || len == 0 {
            return Vec::new();
        }
        // SAFETY: `edgeseg_alloc(len)` allocated exactly `Layout(len, 1)` from the global
        // allocator, which is the layout of a `Vec<u8>` of capacity `len`; the host wrote `len`
        // bytes and gives up the buffer (contract above).
        unsafe { Vec::from_raw_parts(ptr as usize as *mut u8, len as usize, len as usize) }
    }

    /// The shard a postcard `Request` needs. Answers a `ShardForResult`.
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc` holding the request.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_shard_for(handle: u32, ptr: u32, len: u32) -> u64 {
        // SAFETY: forwarded contract.
        let request = unsafe { input(ptr, len) };
        with_engine(handle, |engine| shard_for_message(engine, request))
    }

    /// The identity token a postcard `Request` carries, for the host to verify before
    /// `edgeseg_decide`. Answers a `ClaimResult`.
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc` holding the request.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_identity_claim(handle: u32, ptr: u32, len: u32) -> u64 {
        // SAFETY: forwarded contract.
        let request = unsafe { input(ptr, len) };
        with_engine(handle, |engine| identity_claim_message(engine, request))
    }

    /// Holds a shard of the (sharded) snapshot behind `handle`, taking the buffer over as
    /// `edgeseg_load_owned` does (freed by the engine, also when refused). Answers a `ShardResult`.
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc(len)` holding the shard, not used by the
    /// host afterwards.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_load_shard(handle: u32, ptr: u32, len: u32) -> u64 {
        // SAFETY: forwarded contract.
        let bytes = unsafe { take_over(ptr, len) };
        with_engine(handle, |engine| load_shard_message(engine, bytes))
    }

    /// Drops shard `index` of the engine behind `handle`: 1 if it was held, else 0.
    #[unsafe(no_mangle)]
    pub extern "C" fn edgeseg_drop_shard(handle: u32, index: u32) -> u32 {
        with_engine_flag(handle, |engine| engine.drop_shard(index))
    }

    /// Sets the bytes of shards the engine behind `handle` holds (least recently used evicted
    /// past it): 1 if the handle exists, else 0.
    #[unsafe(no_mangle)]
    pub extern "C" fn edgeseg_shard_budget(handle: u32, bytes: u64) -> u32 {
        with_engine_flag(handle, |engine| {
            engine.set_shard_budget(bytes);
            true
        })
    }

    fn with_engine_flag(handle: u32, f: impl FnOnce(&mut Engine) -> bool) -> u32 {
        let Ok(mut table) = ENGINES.0.try_borrow_mut() else { return 0 };
        match handle.checked_sub(1).and_then(|i| table.get_mut(i as usize)).and_then(Option::as_mut) {
            Some(engine) => u32::from(f(engine)),
            None => 0,
        }
    }

    /// Puts a loaded engine in the table and answers its `LoadResult` (or the load's error).
    fn keep(loaded: Result<Engine, Error>) -> u64 {
        let engine = match loaded {
            Ok(engine) => engine,
            Err(e) => return hand_over(load_message(Err(&e))),
        };
        let Ok(mut table) = ENGINES.0.try_borrow_mut() else {
            return hand_over(error_message(ErrorKind::Handle, "engine table busy"));
        };
        let slot = match table.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                table.push(None);
                table.len() - 1
            }
        };
        let handle = slot as u32 + 1;
        let Some(cell) = table.get_mut(slot) else {
            return hand_over(error_message(ErrorKind::Handle, "engine table corrupt"));
        };
        let engine = cell.insert(engine);
        hand_over(load_message(Ok((engine, handle))))
    }

    /// Runs `f` on the engine behind `handle`, or answers a `Handle` error.
    fn with_engine(handle: u32, f: impl FnOnce(&mut Engine) -> Vec<u8>) -> u64 {
        let Ok(mut table) = ENGINES.0.try_borrow_mut() else {
            return hand_over(error_message(ErrorKind::Handle, "engine table busy"));
        };
        match handle.checked_sub(1).and_then(|i| table.get_mut(i as usize)).and_then(Option::as_mut) {
            Some(engine) => hand_over(f(engine)),
            None => hand_over(error_message(ErrorKind::Handle, "no engine with this handle")),
        }
    }

    /// Decides one postcard `Request` with the engine behind `handle`. Answers a `DecideResult`.
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc` holding the request.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_decide(handle: u32, ptr: u32, len: u32) -> u64 {
        // SAFETY: forwarded contract.
        let request = unsafe { input(ptr, len) };
        with_engine(handle, |engine| decide_message(engine, request))
    }

    /// Applies a revocation delta to the engine behind `handle`. Answers a `DeltaResult`.
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc` holding the delta.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_apply_delta(handle: u32, ptr: u32, len: u32) -> u64 {
        // SAFETY: forwarded contract.
        let delta = unsafe { input(ptr, len) };
        with_engine(handle, |engine| delta_message(engine, delta))
    }

    /// The counters of the engine behind `handle`. Answers a `StatsResult`.
    #[unsafe(no_mangle)]
    pub extern "C" fn edgeseg_stats(handle: u32) -> u64 {
        with_engine(handle, |engine| stats_message(engine))
    }

    /// Imports throttle state (postcard `Vec<(u64, u64)>`). Answers an `ImportResult`.
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc` holding the message.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_throttle_import(handle: u32, ptr: u32, len: u32) -> u64 {
        // SAFETY: forwarded contract.
        let message = unsafe { input(ptr, len) };
        with_engine(handle, |engine| throttle_import_message(engine, message))
    }

    /// Evaluates a postcard `(Rule, Literal)`: a rule over a data document. Answers an
    /// `EvalResult`.
    ///
    /// # Safety
    /// `(ptr, len)` must be a buffer from `edgeseg_alloc` holding the message.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn edgeseg_eval(ptr: u32, len: u32) -> u64 {
        // SAFETY: forwarded contract.
        hand_over(eval_message(unsafe { input(ptr, len) }))
    }

    /// Drops the engine behind `handle`. Returns 1 if there was one, 0 otherwise.
    #[unsafe(no_mangle)]
    pub extern "C" fn edgeseg_free(handle: u32) -> u32 {
        let Ok(mut table) = ENGINES.0.try_borrow_mut() else { return 0 };
        match handle.checked_sub(1).and_then(|i| table.get_mut(i as usize)) {
            Some(cell) if cell.is_some() => {
                *cell = None;
                1
            }
            _ => 0,
        }
    }
}
