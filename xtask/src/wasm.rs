//! Just enough of the WebAssembly binary format for xtask: a module's imports — an independent check
//! (beside wasmtime's own in tests/suite/abi.rs) that the raw module imports nothing — and its
//! function bodies with their names from the `name` section (`cargo xtask size`'s top contributors).
//! Hand-rolled rather than `wasmparser`: three section kinds are all we read, and xtask should
//! build in seconds.

fn uleb(bytes: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut result = 0u64;
    let mut shift = 0;
    loop {
        let b = *bytes.get(*pos).ok_or("wasm: truncated LEB128")?;
        *pos += 1;
        result |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(result);
        }
        shift += 7;
        if shift > 63 {
            return Err("wasm: LEB128 too long".into());
        }
    }
}

fn name(bytes: &[u8], pos: &mut usize) -> Result<String, String> {
    let len = uleb(bytes, pos)? as usize;
    let s = bytes.get(*pos..*pos + len).ok_or("wasm: truncated name")?;
    *pos += len;
    Ok(String::from_utf8_lossy(s).into_owned())
}

fn limits(bytes: &[u8], pos: &mut usize) -> Result<(), String> {
    let flags = *bytes.get(*pos).ok_or("wasm: truncated limits")?;
    *pos += 1;
    uleb(bytes, pos)?;
    if flags & 1 != 0 {
        uleb(bytes, pos)?;
    }
    Ok(())
}

/// The sections of a module, in order: id and contents.
fn sections(bytes: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    if bytes.get(..4) != Some(b"\0asm") {
        return Err("not a wasm module".into());
    }
    let mut pos = 8;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let id = bytes[pos];
        pos += 1;
        let size = uleb(bytes, &mut pos)? as usize;
        let end = pos.checked_add(size).filter(|&e| e <= bytes.len());
        let end = end.ok_or_else(|| format!("wasm: section {id} announces {size} bytes past the end of the module"))?;
        out.push((id, &bytes[pos..end]));
        pos = end;
    }
    Ok(out)
}

/// `(module::name, kind)` of every import (kind 0 = function).
fn import_entries(section: &[u8]) -> Result<Vec<(String, u8)>, String> {
    let mut p = 0;
    let mut out = Vec::new();
    for _ in 0..uleb(section, &mut p)? {
        let module = name(section, &mut p)?;
        let field = name(section, &mut p)?;
        let kind = *section.get(p).ok_or("wasm: truncated import")?;
        p += 1;
        match kind {
            0 => drop(uleb(section, &mut p)?),
            1 => {
                p += 1;
                limits(section, &mut p)?;
            }
            2 => limits(section, &mut p)?,
            3 => p += 2,
            4 => {
                p += 1;
                uleb(section, &mut p)?;
            }
            k => return Err(format!("wasm: unknown import kind {k}")),
        }
        out.push((format!("{module}::{field}"), kind));
    }
    Ok(out)
}

/// `module::name` of every import.
pub fn imports(bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (id, section) in sections(bytes)? {
        if id == 2 {
            out.extend(import_entries(section)?.into_iter().map(|(n, _)| n));
        }
    }
    Ok(out)
}

/// The size of the data section (static data: strings, tables), which no function list shows.
pub fn data_bytes(bytes: &[u8]) -> Result<u64, String> {
    Ok(sections(bytes)?.iter().filter(|(id, _)| *id == 11).map(|(_, s)| s.len() as u64).sum())
}

/// One defined function: its name (from the `name` section, else `func[index]`) and the size of
/// its body in the code section (locals and instructions, without the size prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub body_bytes: u64,
}

/// The module's defined functions, in index order.
pub fn functions(bytes: &[u8]) -> Result<Vec<Function>, String> {
    let mut imported = 0u64;
    let mut bodies = Vec::new();
    let mut names = std::collections::HashMap::new();
    for (id, section) in sections(bytes)? {
        match id {
            2 => imported = import_entries(section)?.iter().filter(|(_, kind)| *kind == 0).count() as u64,
            10 => {
                let mut p = 0;
                for _ in 0..uleb(section, &mut p)? {
                    let size = uleb(section, &mut p)?;
                    bodies.push(size);
                    p += size as usize;
                }
                if p > section.len() {
                    return Err("wasm: code section truncated".into());
                }
            }
            0 => {
                let mut p = 0;
                if name(section, &mut p)? != "name" {
                    continue;
                }
                while p < section.len() {
                    let sub = section[p];
                    p += 1;
                    let size = uleb(section, &mut p)? as usize;
                    let end = p + size;
                    if sub == 1 {
                        let mut q = p;
                        for _ in 0..uleb(section, &mut q)? {
                            let index = uleb(section, &mut q)?;
                            names.insert(index, name(section, &mut q)?);
                        }
                    }
                    p = end;
                }
            }
            _ => {}
        }
    }
    Ok(bodies
        .into_iter()
        .enumerate()
        .map(|(i, body_bytes)| {
            let index = imported + i as u64;
            let name = names.remove(&index).unwrap_or_else(|| format!("func[{index}]"));
            Function { name, body_bytes }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_imports_of_each_kind() {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        // Import section: 3 entries: func env.f (type 0), memory env.mem (min 1, max 2), global env.g (i32, const).
        let body: Vec<u8> = [
            &[3u8][..],
            &[3, b'e', b'n', b'v', 1, b'f', 0, 0],
            &[3, b'e', b'n', b'v', 3, b'm', b'e', b'm', 2, 1, 1, 2],
            &[3, b'e', b'n', b'v', 1, b'g', 3, 0x7f, 0],
        ]
        .concat();
        m.push(2);
        m.push(body.len() as u8);
        m.extend_from_slice(&body);
        // A custom section after it, skipped.
        m.extend_from_slice(&[0, 2, 1, b'x']);
        assert_eq!(super::imports(&m).unwrap(), ["env::f", "env::mem", "env::g"]);
        assert!(super::imports(b"nope").is_err());
        assert!(super::imports(&m[..m.len() - 6]).is_err());
    }

    #[test]
    fn names_function_bodies() {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        // Import section: one function import (index 0), so defined functions start at 1.
        let imports = [&[1u8][..], &[1, b'e', 1, b'f', 0, 0]].concat();
        m.extend_from_slice(&[2, imports.len() as u8]);
        m.extend_from_slice(&imports);
        // Code section: two bodies of 2 and 4 bytes.
        let code = [2u8, 2, 0, 0x0b, 4, 0, 0x41, 0, 0x0b];
        m.extend_from_slice(&[10, code.len() as u8]);
        m.extend_from_slice(&code);
        // Name section naming function 2 only.
        let names = [&[4u8][..], b"name", &[1, 6, 1, 2, 3, b'f', b'o', b'o']].concat();
        m.extend_from_slice(&[0, names.len() as u8]);
        m.extend_from_slice(&names);
        let f = super::functions(&m).unwrap();
        assert_eq!(super::data_bytes(&m).unwrap(), 0);
        assert_eq!(
            f,
            [
                super::Function { name: "func[1]".into(), body_bytes: 2 },
                super::Function { name: "foo".into(), body_bytes: 4 }
            ]
        );
    }
}
