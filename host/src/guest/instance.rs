//! One guest instance and the ABI's calling convention (`edge/ABI.md`), step by step.
//!
//! Everything here distrusts the guest: lengths must fit the 32-bit ABI, answers must lie inside
//! the guest's memory, a zero pointer is the guest saying it is out of memory. A failed wasm call
//! becomes [`GuestError::Trap`]; deciding what to do about it (re-instantiate) is the caller's
//! business, in `guest.rs`.

use super::{GuestConfig, GuestError, LoadedSnapshot};
use anyhow::{Context, bail};
use edgeseg::abi::{AbiError, LoadInfo};
use std::time::Duration;
use wasmtime::{
    Engine, ExternType, Instance, InstancePre, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, TypedFunc,
};

/// What each store carries: its memory limiter.
pub(super) struct StoreState {
    limits: StoreLimits,
}

/// An export taking `(handle, ptr, len)` and answering a packed `len << 32 | ptr`.
pub(super) type HandleInputFunc = TypedFunc<(u32, u32, u32), u64>;

/// The ABI exports, typed once per instance.
pub(super) struct Exports {
    pub(super) memory: Memory,
    pub(super) alloc: TypedFunc<u32, u32>,
    pub(super) dealloc: TypedFunc<(u32, u32), ()>,
    pub(super) load: TypedFunc<(u32, u32), u64>,
    pub(super) decide: HandleInputFunc,
    pub(super) free: TypedFunc<u32, u32>,
    pub(super) apply_delta: HandleInputFunc,
    pub(super) stats: TypedFunc<u32, u64>,
    pub(super) throttle_import: HandleInputFunc,
    /// `edgeseg_identity_claim` (ABI 4): the identity token a request carries for the host.
    pub(super) identity_claim: HandleInputFunc,
    /// `edgeseg_shard_for` (ABI 3): the shard a request needs.
    pub(super) shard_for: HandleInputFunc,
    /// `edgeseg_load_shard` (ABI 3): takes the input buffer over, like `edgeseg_load_owned`.
    pub(super) load_shard: HandleInputFunc,
    /// `edgeseg_drop_shard` (ABI 3): `(handle, index) -> 1 if it was held`.
    pub(super) drop_shard: TypedFunc<(u32, u32), u32>,
    /// `edgeseg_shard_budget` (ABI 3): `(handle, bytes) -> 1 if the handle exists`.
    pub(super) shard_budget: TypedFunc<(u32, u64), u32>,
    /// `edgeseg_eval` (a rule over a data document); optional, so hosts keep loading modules
    /// built before it existed — only `edgeseg jsonlogic` needs it.
    pub(super) eval: Option<TypedFunc<(u32, u32), u64>>,
    /// `edgeseg_load_owned` (the guest keeps the snapshot buffer instead of copying it);
    /// optional: without it, loads copy inside the guest as before.
    pub(super) load_owned: Option<TypedFunc<(u32, u32), u64>>,
}

/// The exports the ABI requires, with their signatures as wasmtime prints them.
const EXPECTED_EXPORTS: [(&str, &str); 14] = [
    ("edgeseg_abi_version", "() -> (i32)"),
    ("edgeseg_alloc", "(i32) -> (i32)"),
    ("edgeseg_dealloc", "(i32, i32) -> ()"),
    ("edgeseg_load", "(i32, i32) -> (i64)"),
    ("edgeseg_decide", "(i32, i32, i32) -> (i64)"),
    ("edgeseg_free", "(i32) -> (i32)"),
    ("edgeseg_apply_delta", "(i32, i32, i32) -> (i64)"),
    ("edgeseg_stats", "(i32) -> (i64)"),
    ("edgeseg_throttle_import", "(i32, i32, i32) -> (i64)"),
    ("edgeseg_shard_for", "(i32, i32, i32) -> (i64)"),
    ("edgeseg_load_shard", "(i32, i32, i32) -> (i64)"),
    ("edgeseg_drop_shard", "(i32, i32) -> (i32)"),
    ("edgeseg_shard_budget", "(i32, i64) -> (i32)"),
    ("edgeseg_identity_claim", "(i32, i32, i32) -> (i64)"),
];

/// One instance and its store. Replaced wholesale after a trap.
pub(super) struct Live {
    pub(super) store: Store<StoreState>,
    pub(super) instance: Instance,
    pub(super) exports: Exports,
    /// A guest buffer `(ptr, capacity)` kept for request messages.
    pub(super) input: Option<(u32, u32)>,
}

/// What one guest call may spend before it is stopped: fuel (wasm operations, deterministic)
/// and epoch ticks (wall-clock, see [`EPOCH_TICK`]); `None` where that kind is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Budget {
    pub(super) fuel: Option<u64>,
    pub(super) ticks: Option<u64>,
}

/// Period of the thread that advances a deadline engine's epoch: the resolution of
/// [`GuestConfig::deadline`] (a call is stopped between `deadline` and `deadline + EPOCH_TICK`).
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Epoch ticks that cover at least `deadline`: the epoch may advance just after the deadline is
/// set, so one tick more than the quotient.
pub(super) fn deadline_ticks(deadline: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos().max(1);
    u64::try_from(deadline.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX / 2).max(1).saturating_add(1)
}

/// Starts the thread that advances `engine`'s epoch every [`EPOCH_TICK`]; it ends once the engine
/// (every guest sharing it) is dropped.
pub(super) fn start_epoch_ticker(engine: &Engine) -> anyhow::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("edgeseg-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        })
        .context("starting the epoch ticker thread")?;
    Ok(())
}

pub(super) fn wt<T>(r: wasmtime::Result<T>) -> anyhow::Result<T> {
    r.map_err(anyhow::Error::from)
}

/// Classifies a failed wasm call. Every failure of a call into this import-free module is a trap
/// of some kind (fuel, memory, `unreachable` from an abort); the message keeps wasmtime's words.
pub(super) fn trap(e: wasmtime::Error) -> GuestError {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(t) => GuestError::Trap(format!("{t}")),
        None => GuestError::Trap(format!("{e:#}")),
    }
}

/// Refuses a module with imports or without the ABI's exports before anything runs.
pub(super) fn check_interface(module: &Module) -> anyhow::Result<()> {
    let imports: Vec<String> = module.imports().map(|i| format!("{}::{}", i.module(), i.name())).collect();
    if !imports.is_empty() {
        bail!("the module imports {} (an edgeseg module imports nothing)", imports.join(", "));
    }
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => {}
        _ => bail!("the module does not export its memory as `memory`"),
    }
    for (name, expected) in EXPECTED_EXPORTS {
        let Some(ExternType::Func(ty)) = module.get_export(name) else {
            bail!("the module does not export the function `{name}`");
        };
        let list = |types: Vec<String>| types.join(", ");
        let actual = format!(
            "({}) -> ({})",
            list(ty.params().map(|t| t.to_string()).collect()),
            list(ty.results().map(|t| t.to_string()).collect())
        );
        if actual != expected {
            bail!("export `{name}` has signature {actual}, the ABI says {expected}");
        }
    }
    Ok(())
}

pub(super) fn instantiate(
    engine: &Engine,
    pre: &InstancePre<StoreState>,
    config: &GuestConfig,
    metered: bool,
) -> anyhow::Result<Live> {
    let limits = StoreLimitsBuilder::new().memory_size(config.max_memory_bytes).instances(1).build();
    let mut store = Store::new(engine, StoreState { limits });
    store.limiter(|state| &mut state.limits);
    if metered {
        wt(store.set_fuel(config.fuel_per_call.unwrap_or(u64::MAX)))?;
    }
    if let Some(deadline) = config.deadline {
        // Epoch interruption compiled in: without a deadline set, the first check would trap.
        store.epoch_deadline_trap();
        store.set_epoch_deadline(deadline_ticks(deadline));
    }
    let instance = wt(pre.instantiate(&mut store)).context("instantiating the module")?;
    let exports = Exports::get(&instance, &mut store)?;
    Ok(Live { store, instance, exports, input: None })
}

impl Exports {
    fn get(instance: &Instance, store: &mut Store<StoreState>) -> anyhow::Result<Exports> {
        let memory = instance.get_memory(&mut *store, "memory").context("export `memory`")?;
        Ok(Exports {
            memory,
            alloc: wt(instance.get_typed_func(&mut *store, "edgeseg_alloc"))?,
            dealloc: wt(instance.get_typed_func(&mut *store, "edgeseg_dealloc"))?,
            load: wt(instance.get_typed_func(&mut *store, "edgeseg_load"))?,
            decide: wt(instance.get_typed_func(&mut *store, "edgeseg_decide"))?,
            free: wt(instance.get_typed_func(&mut *store, "edgeseg_free"))?,
            apply_delta: wt(instance.get_typed_func(&mut *store, "edgeseg_apply_delta"))?,
            stats: wt(instance.get_typed_func(&mut *store, "edgeseg_stats"))?,
            throttle_import: wt(instance.get_typed_func(&mut *store, "edgeseg_throttle_import"))?,
            identity_claim: wt(instance.get_typed_func(&mut *store, "edgeseg_identity_claim"))?,
            shard_for: wt(instance.get_typed_func(&mut *store, "edgeseg_shard_for"))?,
            load_shard: wt(instance.get_typed_func(&mut *store, "edgeseg_load_shard"))?,
            drop_shard: wt(instance.get_typed_func(&mut *store, "edgeseg_drop_shard"))?,
            shard_budget: wt(instance.get_typed_func(&mut *store, "edgeseg_shard_budget"))?,
            eval: instance.get_typed_func(&mut *store, "edgeseg_eval").ok(),
            load_owned: instance.get_typed_func(&mut *store, "edgeseg_load_owned").ok(),
        })
    }
}

/// Loads snapshot `bytes` into `live`, following the calling convention.
pub(super) fn load_into(
    live: &mut Live,
    bytes: &[u8],
    fuel: Budget,
    answer: &mut Vec<u8>,
) -> Result<LoadedSnapshot, GuestError> {
    let (ptr, len) = live.write_fresh(bytes, fuel)?;
    live.arm(fuel);
    let packed = match live.exports.load_owned.clone() {
        // The guest takes the buffer over (and frees it itself): one copy of the snapshot less,
        // and the engine probes its sets in place there.
        Some(load_owned) if len > 0 => load_owned.call(&mut live.store, (ptr, len)),
        _ => {
            let packed = live.exports.load.call(&mut live.store, (ptr, len));
            live.dealloc(ptr, len, fuel)?;
            packed
        }
    };
    live.take_answer(packed.map_err(trap)?, fuel, answer)?;
    let decoded: Result<LoadInfo<'_>, AbiError> = postcard::from_bytes(answer)
        .map_err(|e| GuestError::Host(format!("undecodable load answer ({} bytes): {e}", answer.len())))?;
    match decoded {
        Ok(info) => Ok(LoadedSnapshot::from(&info)),
        Err(e) => Err(GuestError::from(e)),
    }
}

impl Live {
    /// Refills the fuel tank and sets the epoch deadline before a call (each a no-op when its
    /// kind of interruption is off).
    pub(super) fn arm(&mut self, budget: Budget) {
        if let Some(fuel) = budget.fuel {
            // Fails only when metering is off, which `fuel: Some` rules out.
            let _ = self.store.set_fuel(fuel);
        }
        if let Some(ticks) = budget.ticks {
            self.store.set_epoch_deadline(ticks);
        }
    }

    /// Calls `edgeseg_abi_version` (looked up here: it runs once per guest, not worth a field).
    pub(super) fn version(&mut self) -> wasmtime::Result<u32> {
        let f = self.instance.get_typed_func::<(), u32>(&mut self.store, "edgeseg_abi_version")?;
        f.call(&mut self.store, ())
    }

    fn len_u32(bytes: &[u8]) -> Result<u32, GuestError> {
        u32::try_from(bytes.len())
            .map_err(|_| GuestError::Host(format!("{} bytes do not fit the 32-bit ABI", bytes.len())))
    }

    /// Allocates a guest buffer for `bytes` and writes them. `(0, 0)` for empty input, which the
    /// ABI reads as an empty message.
    pub(super) fn write_fresh(&mut self, bytes: &[u8], fuel: Budget) -> Result<(u32, u32), GuestError> {
        let len = Live::len_u32(bytes)?;
        if len == 0 {
            return Ok((0, 0));
        }
        self.arm(fuel);
        let ptr = self.exports.alloc.call(&mut self.store, len).map_err(trap)?;
        if ptr == 0 {
            return Err(GuestError::out_of_memory("the input buffer"));
        }
        self.write(ptr, bytes)?;
        Ok((ptr, len))
    }

    /// Writes `request` into the kept request buffer, growing it when too small. Returns the
    /// `(ptr, len)` to pass; the buffer itself stays allocated for the next call.
    pub(super) fn request_buffer(&mut self, request: &[u8], fuel: Budget) -> Result<(u32, u32), GuestError> {
        let len = Live::len_u32(request)?;
        if len == 0 {
            return Ok((0, 0));
        }
        let ptr = match self.input {
            Some((ptr, cap)) if cap >= len => ptr,
            other => {
                if let Some((ptr, cap)) = other {
                    self.input = None;
                    self.dealloc(ptr, cap, fuel)?;
                }
                let cap = len.max(1024).checked_next_power_of_two().unwrap_or(len);
                self.arm(fuel);
                let ptr = self.exports.alloc.call(&mut self.store, cap).map_err(trap)?;
                if ptr == 0 {
                    return Err(GuestError::out_of_memory("the request buffer"));
                }
                self.input = Some((ptr, cap));
                ptr
            }
        };
        self.write(ptr, request)?;
        Ok((ptr, len))
    }

    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), GuestError> {
        self.exports
            .memory
            .write(&mut self.store, ptr as usize, bytes)
            .map_err(|_| GuestError::Host(format!("guest buffer {ptr:#x}+{} lies outside its memory", bytes.len())))
    }

    pub(super) fn dealloc(&mut self, ptr: u32, len: u32, fuel: Budget) -> Result<(), GuestError> {
        if ptr == 0 {
            return Ok(());
        }
        self.arm(fuel);
        self.exports.dealloc.call(&mut self.store, (ptr, len)).map_err(trap)
    }

    /// Copies the answer named by `packed` into `out` and frees it in the guest. The pointer and
    /// length come from the guest and are checked against its memory before anything is read.
    pub(super) fn take_answer(&mut self, packed: u64, fuel: Budget, out: &mut Vec<u8>) -> Result<(), GuestError> {
        if packed == 0 {
            return Err(GuestError::out_of_memory("its answer"));
        }
        let ptr = (packed & 0xffff_ffff) as u32;
        let len = (packed >> 32) as u32;
        let data = self.exports.memory.data(&self.store);
        let range = (ptr as usize)..(ptr as usize).saturating_add(len as usize);
        let Some(bytes) = data.get(range) else {
            return Err(GuestError::Host(format!(
                "guest answer {ptr:#x}+{len} lies outside its {} bytes of memory",
                data.len()
            )));
        };
        out.clear();
        out.extend_from_slice(bytes);
        self.dealloc(ptr, len, fuel)
    }
}

/// Calls a `(handle, ptr, len) -> answer` export with `input` written into a fresh guest buffer,
/// leaving the raw answer in `answer`.
pub(super) fn call_with_input(
    live: &mut Live,
    func: fn(&Exports) -> &HandleInputFunc,
    handle: u32,
    input: &[u8],
    fuel: Budget,
    answer: &mut Vec<u8>,
) -> Result<(), GuestError> {
    let (ptr, len) = live.write_fresh(input, fuel)?;
    live.arm(fuel);
    let packed = func(&live.exports).call(&mut live.store, (handle, ptr, len));
    live.dealloc(ptr, len, fuel)?;
    live.take_answer(packed.map_err(trap)?, fuel, answer)
}
