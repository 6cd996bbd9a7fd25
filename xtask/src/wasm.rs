//! Just enough of the WebAssembly binary format to list a module's imports — an independent check
//! (beside wasmtime's own in tests/suite/abi.rs) that the raw module imports nothing.

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

/// `module::name` of every import.
pub fn imports(bytes: &[u8]) -> Result<Vec<String>, String> {
    if bytes.get(..4) != Some(b"\0asm") {
        return Err("not a wasm module".into());
    }
    let mut pos = 8;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let id = bytes[pos];
        pos += 1;
        let size = uleb(bytes, &mut pos)? as usize;
        let end = pos + size;
        if end > bytes.len() {
            return Err(format!("wasm: section {id} announces {size} bytes past the end of the module"));
        }
        if id == 2 {
            let mut p = pos;
            for _ in 0..uleb(bytes, &mut p)? {
                let module = name(bytes, &mut p)?;
                let field = name(bytes, &mut p)?;
                let kind = *bytes.get(p).ok_or("wasm: truncated import")?;
                p += 1;
                match kind {
                    0 => drop(uleb(bytes, &mut p)?),
                    1 => {
                        p += 1;
                        limits(bytes, &mut p)?;
                    }
                    2 => limits(bytes, &mut p)?,
                    3 => p += 2,
                    4 => {
                        p += 1;
                        uleb(bytes, &mut p)?;
                    }
                    k => return Err(format!("wasm: unknown import kind {k}")),
                }
                out.push(format!("{module}::{field}"));
            }
        }
        pos = end;
    }
    Ok(out)
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
}
