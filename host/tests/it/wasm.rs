//! A tiny wasm binary writer for hand-made hostile modules (this wasmtime has no `wat` feature,
//! and a few dozen bytes of binary are easier to audit than a text-format dependency).

pub const I32: u8 = 0x7f;
pub const I64: u8 = 0x7e;

/// One exported function.
pub struct Func {
    pub name: &'static str,
    pub params: Vec<u8>,
    pub results: Vec<u8>,
    /// Instructions, without the final `end`.
    pub body: Vec<u8>,
}

fn uleb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn sleb(mut v: i64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            return;
        }
    }
}

fn name(s: &str, out: &mut Vec<u8>) {
    uleb(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

fn section(id: u8, items: &[Vec<u8>], out: &mut Vec<u8>) {
    let mut body = Vec::new();
    uleb(items.len() as u64, &mut body);
    for item in items {
        body.extend_from_slice(item);
    }
    out.push(id);
    uleb(body.len() as u64, out);
    out.extend_from_slice(&body);
}

pub fn i32_const(v: i32) -> Vec<u8> {
    let mut out = vec![0x41];
    sleb(i64::from(v), &mut out);
    out
}

pub fn i64_const(v: i64) -> Vec<u8> {
    let mut out = vec![0x42];
    sleb(v, &mut out);
    out
}

/// `loop br 0 end` — spins until fuel runs out.
pub fn spin() -> Vec<u8> {
    vec![0x03, 0x40, 0x0c, 0x00, 0x0b]
}

/// Grows memory by `pages` and traps (`unreachable`) if that failed.
pub fn grow_or_trap(pages: i32) -> Vec<u8> {
    let mut out = i32_const(pages);
    out.extend_from_slice(&[0x40, 0x00]); // memory.grow 0
    out.extend(i32_const(-1));
    out.extend_from_slice(&[0x46, 0x04, 0x40, 0x00, 0x0b]); // i32.eq, if, unreachable, end
    out
}

/// A module with one page of memory (exported as `memory` when `memory` is set), function
/// imports of type `() -> ()` named `module::name`, and `funcs` exported under their names.
pub fn module(imports: &[(&str, &str)], funcs: &[Func], memory: bool) -> Vec<u8> {
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    let mut types = vec![vec![0x60, 0, 0]];
    for f in funcs {
        let mut t = vec![0x60];
        uleb(f.params.len() as u64, &mut t);
        t.extend_from_slice(&f.params);
        uleb(f.results.len() as u64, &mut t);
        t.extend_from_slice(&f.results);
        types.push(t);
    }
    section(1, &types, &mut out);
    if !imports.is_empty() {
        let items: Vec<Vec<u8>> = imports
            .iter()
            .map(|(m, n)| {
                let mut item = Vec::new();
                name(m, &mut item);
                name(n, &mut item);
                item.extend_from_slice(&[0x00, 0x00]);
                item
            })
            .collect();
        section(2, &items, &mut out);
    }
    let indices: Vec<Vec<u8>> = (0..funcs.len()).map(|i| vec![(i + 1) as u8]).collect();
    section(3, &indices, &mut out);
    section(5, &[vec![0x00, 0x01]], &mut out);
    let mut exports = Vec::new();
    if memory {
        let mut e = Vec::new();
        name("memory", &mut e);
        e.extend_from_slice(&[0x02, 0x00]);
        exports.push(e);
    }
    for (i, f) in funcs.iter().enumerate() {
        let mut e = Vec::new();
        name(f.name, &mut e);
        e.push(0x00);
        uleb((imports.len() + i) as u64, &mut e);
        exports.push(e);
    }
    section(7, &exports, &mut out);
    let bodies: Vec<Vec<u8>> = funcs
        .iter()
        .map(|f| {
            let mut code = vec![0x00]; // no locals
            code.extend_from_slice(&f.body);
            code.push(0x0b);
            let mut sized = Vec::new();
            uleb(code.len() as u64, &mut sized);
            sized.extend_from_slice(&code);
            sized
        })
        .collect();
    section(10, &bodies, &mut out);
    out
}

/// The ABI's exports with well-behaved trivial bodies, except `load` and `decide`, which answer
/// with the given instructions (which must leave one i64).
pub fn fake_edgeseg(version: i32, load: Vec<u8>, decide: Vec<u8>) -> Vec<Func> {
    let f = |name, params: &[u8], results: &[u8], body| Func {
        name,
        params: params.to_vec(),
        results: results.to_vec(),
        body,
    };
    vec![
        f("edgeseg_abi_version", &[], &[I32], i32_const(version)),
        f("edgeseg_alloc", &[I32], &[I32], i32_const(1024)),
        f("edgeseg_dealloc", &[I32, I32], &[], vec![]),
        f("edgeseg_load", &[I32, I32], &[I64], load),
        f("edgeseg_decide", &[I32, I32, I32], &[I64], decide),
        f("edgeseg_free", &[I32], &[I32], i32_const(1)),
        f("edgeseg_apply_delta", &[I32, I32, I32], &[I64], i64_const(0)),
        f("edgeseg_stats", &[I32], &[I64], i64_const(0)),
        f("edgeseg_throttle_import", &[I32, I32, I32], &[I64], i64_const(0)),
        f("edgeseg_shard_for", &[I32, I32, I32], &[I64], i64_const(0)),
        f("edgeseg_load_shard", &[I32, I32, I32], &[I64], i64_const(0)),
        f("edgeseg_drop_shard", &[I32, I32], &[I32], i32_const(0)),
        f("edgeseg_shard_budget", &[I32, I64], &[I32], i32_const(1)),
        f("edgeseg_identity_claim", &[I32, I32, I32], &[I64], i64_const(0)),
    ]
}

#[test]
fn leb128_matches_the_spec_examples() {
    let mut out = Vec::new();
    uleb(624_485, &mut out);
    assert_eq!(out, [0xE5, 0x8E, 0x26]);
    out.clear();
    sleb(-123_456, &mut out);
    assert_eq!(out, [0xC0, 0xBB, 0x78]);
    out.clear();
    sleb(64, &mut out);
    assert_eq!(out, [0xC0, 0x00]);
}
