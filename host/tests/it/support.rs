//! Shared fixtures: the guest module, the hand-made snapshot (`edgeseg_snapshots::fixture`), requests.

use edgeseg::snapshot::SnapshotPayload;
use edgeseg::{AttrValue, Request};
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_snapshots::fixture::Fixture;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The raw-ABI module: `EDGESEG_WASM` when set, else the workspace's wasm-profile build.
///
/// Without `EDGESEG_WASM` the module is (re)built by cargo once per test process — a no-op when
/// it is fresh, and the only way to be sure a module left over from an older `edge/` is not
/// what these tests compare against the native engine. The tests never skip for want of it.
pub fn wasm_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(given) = std::env::var_os("EDGESEG_WASM").filter(|v| !v.is_empty()) {
            let given = PathBuf::from(given);
            assert!(given.is_file(), "EDGESEG_WASM={} is not a file", given.display());
            return given;
        }
        let root = workspace();
        let target = root.join("target");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "-p", "edgeseg", "--target", "wasm32-unknown-unknown", "--profile", "wasm"])
            .arg("--target-dir")
            .arg(&target)
            // Settings meant for the outer (native, test) build would break or slow this one.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build the guest module: {e}"));
        assert!(status.success(), "building the guest module failed ({status}); is wasm32-unknown-unknown installed?");
        let module = target.join("wasm32-unknown-unknown").join("wasm").join("edgeseg.wasm");
        assert!(module.is_file(), "{} missing after the build", module.display());
        module
    })
}

pub fn guest() -> Guest {
    guest_with(GuestConfig::default())
}

/// A fresh guest of the real module. The module is compiled once per test process (compiling
/// dominates the cost of a guest in a debug build) and every test gets a sibling instance.
pub fn guest_with(config: GuestConfig) -> Guest {
    static TEMPLATE: OnceLock<Mutex<Guest>> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        Mutex::new(Guest::from_file(wasm_path(), GuestConfig::default()).unwrap_or_else(|e| panic!("{e:#}")))
    });
    let template = template.lock().unwrap_or_else(PoisonError::into_inner);
    template.sibling(config).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The shared fixture snapshot at `version` (its table is in [`edgeseg_snapshots::fixture`]).
pub fn payload(version: u64) -> SnapshotPayload {
    Fixture::small(version).payload().unwrap()
}

pub fn snapshot(version: u64) -> Vec<u8> {
    payload(version).encode().unwrap()
}

/// Owned parts of a request, so tests can build many and borrow them as [`Request`]s.
#[derive(Clone, Debug, Default)]
pub struct Req {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub country: Option<String>,
    pub device: Option<String>,
}

impl Req {
    pub fn request(&self) -> Request<'_> {
        Request {
            method: "GET",
            host: "shop.example",
            path: &self.path,
            headers: self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            country: self.country.as_deref(),
            client_ip: None,
            now_ms: 1_763_719_200_000,
            attributes: self.device.iter().map(|d| ("device", AttrValue::String(d))).collect(),
            verified_id: None,
        }
    }
}

/// A spread of requests over every identity, country, device and path the fixture cares about.
pub fn request_matrix() -> Vec<Req> {
    let identities: [Option<(&str, &str)>; 8] = [
        None,
        Some(("cookie", "edgeseg_uid=u1")),
        Some(("cookie", "theme=dark; edgeseg_uid=u2")),
        Some(("Cookie", "edgeseg_uid=\"u3\"")),
        Some(("x-customer-id", "u4")),
        Some(("X-Customer-Id", "u5")),
        Some(("cookie", "edgeseg_uid=")),
        Some(("baggage", "a=1,edgeseg.tier=free")),
    ];
    let mut out = Vec::new();
    for identity in identities {
        for country in [None, Some("DE"), Some("FR")] {
            for device in [None, Some("mobile"), Some("desktop")] {
                for path in ["/", "/checkout/cart"] {
                    out.push(Req {
                        path: path.into(),
                        headers: identity.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
                        country: country.map(Into::into),
                        device: device.map(Into::into),
                    });
                }
            }
        }
    }
    out
}
