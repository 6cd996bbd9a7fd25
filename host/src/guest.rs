//! The wasmtime embedding of the raw ABI (`edge/ABI.md`): the reference host.
//!
//! A [`Guest`] owns one compiled module and one live instance of it. Three concerns shape it:
//!
//! * **The guest is untrusted.** Every pointer it hands back is bounds-checked against its memory
//!   before the host reads a byte; memory is capped with [`wasmtime::StoreLimits`], CPU per call
//!   with fuel. A misbehaving module produces a [`GuestError`], never a host panic.
//! * **A trap must not take the service down.** When a call traps, the instance (and its whole
//!   store) is thrown away, a fresh one is made from the [`InstancePre`] — cheap, since the
//!   module is already compiled and linked — and the last snapshot that loaded is loaded again.
//!   The caller gets [`GuestError::Trap`] for the call that died; the next call just works.
//! * **The last good snapshot keeps serving.** A load that fails leaves the previous engine in
//!   place; only a successful load frees the old handle. That is the hot-swap rule of the edge.
//!
//! Calls follow the ABI to the letter: allocate the input in the guest, write it, call, free the
//! input, read the packed `len << 32 | ptr` answer, copy it out, free it. The request buffer is
//! kept between decide calls (the ABI allows reuse) so the hot path costs one allocation fewer.

mod claim;
mod error;
mod eval;
mod fallback;
mod instance;
mod owned;
mod shards;
mod state;

pub use error::GuestError;
pub use fallback::{Answered, FallbackReason};
pub use owned::{LoadedSnapshot, OwnedCache, OwnedDecision, OwnedRoute, OwnedThrottle};
pub use shards::GuestShardStats;

use anyhow::{Context, bail};
use edgeseg::abi::ABI_VERSION;
use edgeseg::{Decision, Request};
pub use instance::EPOCH_TICK;
use instance::{
    Budget, Live, StoreState, check_interface, deadline_ticks, instantiate, load_into, start_epoch_ticker, trap, wt,
};
use owned::decode_decide_answer;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{Config, Engine, InstancePre, Linker, Module};

/// Default fuel per guest call: about 50 million wasm operations, orders of magnitude above a
/// decision (tens of thousands) yet a hard stop for a runaway rule long before a human notices.
pub const DEFAULT_FUEL_PER_CALL: u64 = 50_000_000;
/// Default cap on the guest's linear memory.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 256 << 20;
/// Fuel granted to a snapshot load (and the free of the snapshot it replaces) per snapshot byte,
/// on top of [`LOAD_FUEL_BASE`]. Loads are bounded by the snapshot's size, not by the per-request
/// budget: a budget tuned for decisions must not leave the guest unable to re-load its snapshot
/// after a trap. Measured: about 38 units per byte for exact sets (8 MB snapshot: 303 M units);
/// 1 000 per byte leaves 25x headroom and still stops a runaway load.
const LOAD_FUEL_PER_BYTE: u64 = 1_000;
const LOAD_FUEL_BASE: u64 = DEFAULT_FUEL_PER_CALL;
/// The wall-clock counterpart for [`GuestConfig::deadline`]: a load may take the deadline, plus
/// a second, plus a microsecond per snapshot byte (measured: about 5 ns per byte in wasmtime for
/// a 10⁷-member exact set), so a deadline tuned for decisions never stops a re-load.
const LOAD_TIME_BASE: Duration = Duration::from_secs(1);
const LOAD_TIME_PER_BYTE: Duration = Duration::from_micros(1);

/// Resource limits for a [`Guest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestConfig {
    /// Fuel for each decide call; `None` turns fuel metering off altogether (faster, but then
    /// only a [`GuestConfig::deadline`] stops a looping guest).
    pub fuel_per_call: Option<u64>,
    /// Most bytes the guest's linear memory may grow to.
    pub max_memory_bytes: usize,
    /// Wall-clock limit per guest call, through wasmtime's epoch interruption (a thread advances
    /// the epoch every [`EPOCH_TICK`]). Much cheaper than fuel — a check at function entries and
    /// loop back-edges instead of counting every block — but not deterministic: a serving host's
    /// guard, where fuel is the replay's (its traps must be the same on every machine). Loads get
    /// the deadline plus a second plus 1 µs per snapshot byte. `None`: off.
    pub deadline: Option<Duration>,
}

impl Default for GuestConfig {
    fn default() -> GuestConfig {
        GuestConfig {
            fuel_per_call: Some(DEFAULT_FUEL_PER_CALL),
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            deadline: None,
        }
    }
}

/// The snapshot currently serving, with its bytes (and those of the revocation delta applied to
/// it) kept for re-loading after a trap.
struct Current {
    info: LoadedSnapshot,
    bytes: Vec<u8>,
    delta: Option<Vec<u8>>,
    /// `(index, name)` of the snapshot's default tier, once a fallback answer needed it.
    default_tier: Option<(u16, String)>,
}

/// The edgeseg module running under wasmtime, with at most one snapshot serving.
pub struct Guest {
    engine: Engine,
    module: Module,
    /// The module's bytes, kept to compile it again should a sibling need other fuel metering.
    wasm: Arc<[u8]>,
    pre: InstancePre<StoreState>,
    /// `None` only when re-instantiation after a trap failed; retried on the next call.
    live: Option<Live>,
    config: GuestConfig,
    /// Whether the engine meters fuel (fixed at creation: it changes the compiled code).
    metered: bool,
    /// Whether the engine checks epoch deadlines (fixed at creation, like `metered`).
    interruptible: bool,
    current: Option<Current>,
    module_path: Option<PathBuf>,
    request_buf: Vec<u8>,
    answer_buf: Vec<u8>,
    last_call: Duration,
    /// Fuel the last `edgeseg_decide` call burnt (`None` unmetered).
    last_fuel: Option<u64>,
    traps: u64,
    refused_loads: u64,
    /// `refused_loads` by the refusal's kind (`ErrorKind` name, `Trap` or `Host`).
    refused_by_kind: BTreeMap<String, u64>,
    public_key: Option<edgeseg_snapshots::sign::PublicKey>,
    /// The serving snapshot's shards as the host knows them (`guest/shards.rs`).
    shards: shards::ShardState,
    /// Checks the tokens of verified identity sources (`guest/claim.rs`).
    verifier: crate::identity::Verifier,
}

impl fmt::Debug for Guest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guest")
            .field("module_path", &self.module_path)
            .field("module_size", &self.wasm.len())
            .field("config", &self.config)
            .field("snapshot", &self.current.as_ref().map(|c| &c.info))
            .field("live", &self.live.is_some())
            .field("traps", &self.traps)
            .finish_non_exhaustive()
    }
}

impl Guest {
    /// Reads, compiles and instantiates the module at `path`.
    pub fn from_file(path: &Path, config: GuestConfig) -> anyhow::Result<Guest> {
        let wasm = std::fs::read(path).with_context(|| format!("reading wasm module {}", path.display()))?;
        let mut guest =
            Guest::from_bytes(&wasm, config).with_context(|| format!("loading wasm module {}", path.display()))?;
        guest.module_path = Some(path.to_path_buf());
        Ok(guest)
    }

    /// Compiles and instantiates `wasm`.
    ///
    /// Validates the module's imports are empty (error naming any import) and its exports match
    /// the ABI, checks `edgeseg_abi_version() == edgeseg::abi::ABI_VERSION`.
    pub fn from_bytes(wasm: &[u8], config: GuestConfig) -> anyhow::Result<Guest> {
        let mut wasm_config = Config::new();
        let metered = config.fuel_per_call.is_some();
        let interruptible = config.deadline.is_some();
        wasm_config.consume_fuel(metered);
        wasm_config.epoch_interruption(interruptible);
        // `EDGESEG_WASM_PERFMAP=1`: wasmtime writes /tmp/perf-PID.map, so `perf report` names the
        // guest's functions (with a module that keeps its `name` section: the `wasm-names` profile).
        // For profiling only; it changes nothing else.
        if std::env::var_os("EDGESEG_WASM_PERFMAP").is_some() {
            wasm_config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = wt(Engine::new(&wasm_config))?;
        if interruptible {
            start_epoch_ticker(&engine)?;
        }
        let module = wt(Module::new(&engine, wasm)).context("compiling the module")?;
        check_interface(&module)?;
        let pre = wt(Linker::new(&engine).instantiate_pre(&module))?;
        let mut live = instantiate(&engine, &pre, &config, metered)?;
        live.arm(call_budget(&config));
        let version = wt(live.version())?;
        if version != ABI_VERSION {
            bail!("module speaks edgeseg ABI version {version}, this host speaks {ABI_VERSION}");
        }
        Ok(Guest {
            engine,
            module,
            wasm: Arc::from(wasm),
            pre,
            live: Some(live),
            config,
            metered,
            interruptible,
            current: None,
            module_path: None,
            request_buf: Vec::new(),
            answer_buf: Vec::new(),
            last_call: Duration::ZERO,
            last_fuel: None,
            traps: 0,
            refused_loads: 0,
            refused_by_kind: BTreeMap::new(),
            public_key: None,
            shards: shards::ShardState::default(),
            verifier: crate::identity::Verifier::default(),
        })
    }

    /// A new guest of the same module under `config`: its own store, limits and snapshot slot
    /// (no snapshot loaded). The compiled code is shared — compiling is by far the most
    /// expensive step of making a guest — unless `config` switches fuel metering on or off, which
    /// changes the code and compiles the module again. For side-by-side replays (`diff`) and
    /// test suites that need many fresh guests.
    pub fn sibling(&self, config: GuestConfig) -> anyhow::Result<Guest> {
        if config.fuel_per_call.is_some() != self.metered || config.deadline.is_some() != self.interruptible {
            let mut guest = Guest::from_bytes(&self.wasm, config)?;
            guest.module_path.clone_from(&self.module_path);
            return Ok(guest);
        }
        let live = instantiate(&self.engine, &self.pre, &config, self.metered)?;
        Ok(Guest {
            engine: self.engine.clone(),
            module: self.module.clone(),
            wasm: Arc::clone(&self.wasm),
            pre: self.pre.clone(),
            live: Some(live),
            config,
            metered: self.metered,
            interruptible: self.interruptible,
            current: None,
            module_path: self.module_path.clone(),
            request_buf: Vec::new(),
            answer_buf: Vec::new(),
            last_call: Duration::ZERO,
            last_fuel: None,
            traps: 0,
            refused_loads: 0,
            refused_by_kind: BTreeMap::new(),
            public_key: self.public_key,
            shards: shards::ShardState::default(),
            verifier: crate::identity::Verifier::default(),
        })
    }

    /// `"module::name"` of every import of the module (an edgeseg module has none).
    pub fn imports(&self) -> Vec<String> {
        self.module.imports().map(|i| format!("{}::{}", i.module(), i.name())).collect()
    }

    /// The path the module was read from, if it came from a file.
    pub fn module_path(&self) -> Option<&Path> {
        self.module_path.as_deref()
    }

    /// Size of the module in bytes.
    pub fn module_size(&self) -> usize {
        self.wasm.len()
    }

    /// The limits this guest runs under.
    pub fn config(&self) -> &GuestConfig {
        &self.config
    }

    /// Changes the fuel budget of later calls. Fuel metering is compiled into the module when the
    /// guest is created, so a guest created with `fuel_per_call: None` cannot start metering:
    /// asking for `Some` then is a [`GuestError::Host`]. `None` on a metered guest means "as
    /// good as unlimited" (`u64::MAX` per call).
    pub fn set_fuel_per_call(&mut self, fuel: Option<u64>) -> Result<(), GuestError> {
        let metered = self.metered;
        if fuel.is_some() && !metered {
            return Err(GuestError::Host("this guest was created without fuel metering".into()));
        }
        self.config.fuel_per_call = if metered { Some(fuel.unwrap_or(u64::MAX)) } else { None };
        Ok(())
    }

    /// The snapshot currently serving.
    pub fn snapshot(&self) -> Option<&LoadedSnapshot> {
        self.current.as_ref().map(|c| &c.info)
    }

    /// The bytes of the snapshot currently serving (the host decodes them natively for facts the
    /// ABI does not carry, e.g. the identity sources).
    pub fn snapshot_bytes(&self) -> Option<&[u8]> {
        self.current.as_ref().map(|c| c.bytes.as_slice())
    }

    /// Wall time of the last `edgeseg_decide` wasm call alone (no encoding, copying or decoding).
    pub fn last_call_duration(&self) -> Duration {
        self.last_call
    }

    /// Fuel the last `edgeseg_decide` call burnt — about one unit per wasm instruction executed
    /// inside the guest: a measure of its work that, unlike time, does not move with the machine's
    /// load (the bench prints it). `None` when the guest is not metered.
    pub fn last_call_fuel(&self) -> Option<u64> {
        self.last_fuel
    }

    /// The live instance's linear memory in bytes (it only grows; capped by
    /// [`GuestConfig::max_memory_bytes`]).
    pub fn memory_bytes(&self) -> usize {
        self.live.as_ref().map_or(0, |l| l.exports.memory.data_size(&l.store))
    }

    /// How many calls trapped since this guest was created.
    pub fn traps(&self) -> u64 {
        self.traps
    }

    /// The hot-swap entry point of a serving host: [`Guest::load_snapshot`] after the
    /// last-known-good checks of [`edgeseg::swap`] at `now_ms` — a snapshot without a valid
    /// signature when a public key is set, an expired snapshot, or an older version of the serving
    /// lineage, is refused ([`GuestError::Refused`], counted in
    /// [`Guest::refused_loads`]) before the guest sees it, and the serving snapshot stays.
    pub fn swap_snapshot(&mut self, snapshot: &[u8], now_ms: u64) -> Result<LoadedSnapshot, GuestError> {
        let refused = |kind, message| Err(GuestError::Refused { kind, message });
        // The serving snapshot's lineage, checksum included (a rebuild under its id and version is
        // refused); its bytes loaded before, so they peek.
        let serving = self.current.as_ref().and_then(|c| edgeseg::swap::peek(&c.bytes).ok());
        let loaded = match &self.public_key {
            Some(key) => edgeseg_snapshots::sign::verify(snapshot, key).or_else(|e| refused(e.kind(), e.to_string())),
            None => Ok(()),
        };
        let loaded = loaded
            .and_then(|()| {
                match edgeseg::swap::peek(snapshot).and_then(|l| edgeseg::swap::admit(serving.as_ref(), &l, now_ms)) {
                    Ok(()) => Ok(()),
                    Err(e) => refused(e.kind(), e.to_string()),
                }
            })
            .and_then(|()| self.load_snapshot(snapshot));
        if let Err(e) = &loaded {
            self.refused_loads += 1;
            let kind = match e {
                GuestError::Trap(_) => "Trap".to_owned(),
                e => e.kind().map_or_else(|| "Host".to_owned(), |k| format!("{k:?}")),
            };
            *self.refused_by_kind.entry(kind).or_default() += 1;
        }
        loaded
    }

    /// Requires every snapshot [`Guest::swap_snapshot`] accepts from now on to carry a valid
    /// Ed25519 signature under `key` (`None`: signatures are not checked).
    pub fn set_public_key(&mut self, key: Option<edgeseg_snapshots::sign::PublicKey>) {
        self.public_key = key;
    }

    /// The configured snapshot-signing public key.
    pub fn public_key(&self) -> Option<&edgeseg_snapshots::sign::PublicKey> {
        self.public_key.as_ref()
    }

    /// Snapshots [`Guest::swap_snapshot`] refused (host checks or the guest's own) since creation.
    pub fn refused_loads(&self) -> u64 {
        self.refused_loads
    }

    /// [`Guest::refused_loads`] by kind: the refusal's [`edgeseg::ErrorKind`] name (`Expired`, `Rollback`,
    /// `Signature`, `ChecksumMismatch`, `Invalid`, `TooLarge`…), `Trap` when loading trapped, `Host`
    /// for a host failure.
    pub fn refused_loads_by_kind(&self) -> &BTreeMap<String, u64> {
        &self.refused_by_kind
    }

    /// Loads `snapshot` into the guest. On success the new snapshot serves and the previous
    /// handle is freed; on failure the previous snapshot keeps serving. No expiry or rollback
    /// check (replays and tests load what they are given): serving hosts use
    /// [`Guest::swap_snapshot`].
    ///
    /// A sharded snapshot's head loads the same way and serves with no shard held: see
    /// [`Guest::load_shard`] (the head's shard digests are read natively here, before the guest
    /// sees the bytes).
    pub fn load_snapshot(&mut self, snapshot: &[u8]) -> Result<LoadedSnapshot, GuestError> {
        let sharding = head_sharding(snapshot);
        let loaded = self.with_recovery(|g| {
            let fuel = g.load_budget(snapshot.len());
            let Guest { live, answer_buf, .. } = g;
            let live = live.as_mut().ok_or_else(unavailable)?;
            load_into(live, snapshot, fuel, answer_buf)
        })?;
        let previous = self.current.replace(Current {
            info: loaded.clone(),
            bytes: snapshot.to_vec(),
            delta: None,
            default_tier: None,
        });
        self.shards.serve(sharding);
        if self.shards.is_sharded() {
            let budget = self.shards.budget();
            let handle = loaded.handle;
            self.with_recovery(|g| {
                let fuel = call_budget(&g.config);
                shards::push_budget(g.live_mut()?, handle, budget, fuel)
            })?;
        }
        if let Some(previous) = previous {
            // Freeing is part of the swap: it runs on the load's budget, not a decision's.
            let fuel = self.load_budget(snapshot.len());
            // A failed free only leaks guest memory; the new snapshot serves either way.
            let _ = self.with_recovery(|g| {
                let live = g.live_mut()?;
                live.arm(fuel);
                live.exports.free.call(&mut live.store, previous.info.handle).map_err(trap)
            });
        }
        Ok(loaded)
    }

    /// Decides one postcard-encoded [`Request`] with the serving snapshot and returns the raw
    /// answer bytes: a postcard `Result<Decision, AbiError>` (see [`OwnedDecision::from_answer`]).
    pub fn decide_raw(&mut self, request_postcard: &[u8]) -> Result<Vec<u8>, GuestError> {
        let handle = self.current.as_ref().map(|c| c.info.handle).ok_or(GuestError::NoSnapshot)?;
        self.decide_raw_with(handle, request_postcard)
    }

    /// [`Guest::decide_raw`] against an explicit engine handle, serving snapshot or not: raw ABI
    /// access for conformance tests and tools.
    pub fn decide_raw_with(&mut self, handle: u32, request_postcard: &[u8]) -> Result<Vec<u8>, GuestError> {
        self.call_decide(handle, request_postcard)?;
        Ok(self.answer_buf.clone())
    }

    /// Decides one request with the serving snapshot.
    pub fn decide(&mut self, request: &Request<'_>) -> Result<OwnedDecision, GuestError> {
        self.decide_with(request, |d| OwnedDecision::from(d))
    }

    /// Decides one request and hands the borrowed decision to `f` — no owned copy of names, for
    /// hot loops such as replay.
    pub fn decide_with<T>(
        &mut self,
        request: &Request<'_>,
        f: impl FnOnce(&Decision<'_>) -> T,
    ) -> Result<T, GuestError> {
        let (handle, verifies) =
            self.current.as_ref().map(|c| (c.info.handle, c.info.verifies_identity)).ok_or(GuestError::NoSnapshot)?;
        let mut buf = std::mem::take(&mut self.request_buf);
        buf.clear();
        let buf =
            postcard::to_extend(request, buf).map_err(|e| GuestError::Host(format!("encoding the request: {e}")))?;
        // A verified identity source: the token is checked here, and the request re-encoded with
        // the id it proved (or none, and the guest decides it as anonymous).
        let buf = if verifies { self.verify_identity(handle, request, buf)? } else { buf };
        // A sharded snapshot: which shard this request uses, so the host's LRU sees the use.
        let shard = if self.shards.is_sharded() { self.shard_for_encoded(handle, &buf) } else { Ok(None) };
        let called = shard.and_then(|shard| self.call_decide(handle, &buf).map(|()| shard));
        self.request_buf = buf;
        let shard = called?;
        match decode_decide_answer(&self.answer_buf)? {
            Ok(decision) => {
                if let Some(index) = shard {
                    self.shards.used(index, decision.shard_missing);
                }
                Ok(f(&decision))
            }
            Err(e) => Err(GuestError::from(e)),
        }
    }

    /// Runs one decide call, leaving the answer in `self.answer_buf`.
    fn call_decide(&mut self, handle: u32, request: &[u8]) -> Result<(), GuestError> {
        self.with_recovery(|g| {
            let fuel = call_budget(&g.config);
            let Guest { live, answer_buf, last_call, last_fuel, .. } = g;
            let live = live.as_mut().ok_or_else(unavailable)?;
            let (ptr, len) = live.request_buffer(request, fuel)?;
            live.arm(fuel);
            let started = Instant::now();
            let packed = live.exports.decide.call(&mut live.store, (handle, ptr, len));
            *last_call = started.elapsed();
            *last_fuel = fuel.fuel.and_then(|armed| live.store.get_fuel().ok().map(|left| armed.saturating_sub(left)));
            live.take_answer(packed.map_err(trap)?, fuel, answer_buf)
        })
    }

    /// The budget of a call that loads `len` bytes (a snapshot or a delta) or frees a snapshot.
    fn load_budget(&self, len: usize) -> Budget {
        let fuel = self.config.fuel_per_call.map(|per_call| {
            let by_size = (len as u64).saturating_mul(LOAD_FUEL_PER_BYTE).saturating_add(LOAD_FUEL_BASE);
            by_size.max(per_call)
        });
        let ticks = self.config.deadline.map(|deadline| {
            let per_byte = LOAD_TIME_PER_BYTE.saturating_mul(u32::try_from(len).unwrap_or(u32::MAX));
            deadline_ticks(deadline.saturating_add(LOAD_TIME_BASE).saturating_add(per_byte))
        });
        Budget { fuel, ticks }
    }

    fn live_mut(&mut self) -> Result<&mut Live, GuestError> {
        self.live.as_mut().ok_or_else(unavailable)
    }

    /// Runs `f`; if it trapped, replaces the instance and re-loads the serving snapshot.
    fn with_recovery<T>(&mut self, f: impl FnOnce(&mut Guest) -> Result<T, GuestError>) -> Result<T, GuestError> {
        if self.live.is_none() {
            self.recover().map_err(|e| GuestError::Host(format!("guest unavailable: {e}")))?;
        }
        match f(self) {
            Err(GuestError::Trap(message)) => {
                self.traps += 1;
                match self.recover() {
                    Ok(()) => Err(GuestError::Trap(message)),
                    Err(e) => Err(GuestError::Trap(format!("{message}; re-instantiation failed: {e}"))),
                }
            }
            other => other,
        }
    }

    /// A fresh store and instance; the serving snapshot (if any) loaded into it.
    fn recover(&mut self) -> Result<(), GuestError> {
        self.live = None;
        self.shards.forget_held();
        let mut live = instantiate(&self.engine, &self.pre, &self.config, self.metered)
            .map_err(|e| GuestError::Host(format!("{e:#}")))?;
        let fuel = self.load_budget(self.current.as_ref().map_or(0, |c| c.bytes.len()));
        if let Some(current) = &mut self.current {
            let info = load_into(&mut live, &current.bytes, fuel, &mut self.answer_buf)?;
            current.info.handle = info.handle;
            // Revocations must survive a trap: an opt-out may never come undone. Throttle state
            // does not survive (it lived in the dead instance); the note in `state.rs` says why
            // that is acceptable.
            if let Some(delta) = &current.delta {
                state::reapply_delta(&mut live, info.handle, delta, fuel, &mut self.answer_buf)?;
            }
            // Shards do not survive: they lived in the dead instance. The host forgets them, so
            // the next request that needs one loads it again (`guest/shards.rs`).
            if self.shards.is_sharded() {
                shards::push_budget(&mut live, info.handle, self.shards.budget(), call_budget(&self.config))?;
            }
        }
        self.live = Some(live);
        Ok(())
    }
}

/// The budget of an ordinary call (decide, stats, eval, throttle import) under `config`.
fn call_budget(config: &GuestConfig) -> Budget {
    Budget { fuel: config.fuel_per_call, ticks: config.deadline.map(deadline_ticks) }
}

/// The sharding record of a sharded snapshot's head (format 3), decoded natively; `None` for
/// anything else (a whole snapshot, or bytes the guest will refuse anyway).
fn head_sharding(snapshot: &[u8]) -> Option<edgeseg::shard::Sharding> {
    let (header, _) = edgeseg::format::split(snapshot).ok()?;
    if header.version < edgeseg::format::HEAD_FORMAT_VERSION {
        return None;
    }
    edgeseg::snapshot::Snapshot::decode(snapshot).ok()?.sharding
}

fn unavailable() -> GuestError {
    GuestError::Host("the guest instance is unavailable".into())
}
