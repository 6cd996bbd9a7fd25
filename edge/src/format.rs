//! The snapshot container: a fixed header that announces what follows, then a postcard payload.
//!
//! ```text
//! offset size  field
//!      0    8  magic            "EDGESEG\0"
//!      8    2  format version   u16 LE (this build reads MIN_FORMAT_VERSION..=FORMAT_VERSION)
//!     10    2  flags            u16 LE (bit 0: signed; unknown bits are refused)
//!     12    4  payload length   u32 LE
//!     16    4  payload checksum CRC-32C (Castagnoli) of the payload bytes, u32 LE
//!     20    …  payload          postcard `SnapshotPayload`, then (version 2) postcard `PayloadExt`
//!      …   64  signature        only with flag bit 0 ([`FLAG_SIGNED`]): Ed25519 over every byte
//!                               before it (header with the flag set, then the payload)
//! ```
//!
//! The module checks the signature's presence and length but not the signature itself: the host
//! or adapter that holds the public key verifies before handing bytes over (natively, or with
//! WebCrypto), which keeps elliptic-curve code out of the module. A module that predates the flag
//! refuses signed snapshots ([`ErrorKind::UnsupportedFlags`]), never misreads them.
//!
//! Version 2 appends an extension record after version 1's payload instead of changing it, so a
//! version-1 snapshot still decodes with the same code and gets the extension's defaults (see
//! `snapshot::PayloadExt`). Revocation deltas use the same container under their own magic
//! ([`DELTA_MAGIC`]).
//!
//! The header is checked before a single payload byte is interpreted: a truncated download, a
//! flipped bit or a file of another kind is refused with its own [`ErrorKind`]. Old snapshot files
//! are committed under `snapshots/data/compat/` with the command that made them, and a test keeps
//! reading them.

use crate::error::{Error, ErrorKind};
use alloc::format;
use alloc::vec::Vec;

/// The eight bytes every snapshot starts with.
pub const MAGIC: [u8; 8] = *b"EDGESEG\0";
/// The eight bytes every revocation delta starts with (see `delta`).
pub const DELTA_MAGIC: [u8; 8] = *b"EDGESRV\0";
/// The snapshot format version this build writes for a whole (unsharded) snapshot.
pub const FORMAT_VERSION: u16 = 2;
/// The format version of a sharded snapshot's head: format 2 plus a sharding record (see
/// `shard`). Written only for heads, so unsharded snapshots stay readable by older modules, and
/// an older module refuses a head (`UnsupportedVersion`) instead of deciding without its shards.
pub const HEAD_FORMAT_VERSION: u16 = 3;
/// The eight bytes every shard of a sharded snapshot starts with (see `shard`).
pub const SHARD_MAGIC: [u8; 8] = *b"EDGESHD\0";
/// The shard container version this build writes and reads.
pub const SHARD_VERSION: u16 = 1;
/// The oldest snapshot format version this build still reads.
pub const MIN_FORMAT_VERSION: u16 = 1;
/// The revocation delta format version this build writes and reads.
pub const DELTA_VERSION: u16 = 2;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 20;
/// Flags this build understands (none yet).
pub const KNOWN_FLAGS: u16 = FLAG_SIGNED;
/// Header flag: a [`SIGNATURE_LEN`]-byte Ed25519 signature follows the payload.
pub const FLAG_SIGNED: u16 = 1;
/// Bytes of the trailing signature of a signed container.
pub const SIGNATURE_LEN: usize = 64;

/// The decoded fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u16,
    pub flags: u16,
    pub payload_len: u32,
    pub checksum: u32,
}

/// Splits snapshot `bytes` into a checked header and the payload it announces.
pub fn split(bytes: &[u8]) -> Result<(Header, &[u8]), Error> {
    split_as(bytes, &MAGIC, MIN_FORMAT_VERSION, HEAD_FORMAT_VERSION)
}

/// Splits a container with the given magic whose version lies in `min..=max`.
pub fn split_as<'b>(bytes: &'b [u8], magic: &[u8; 8], min: u16, max: u16) -> Result<(Header, &'b [u8]), Error> {
    let Some((head, payload)) = bytes.split_at_checked(HEADER_LEN) else {
        return Err(Error::new(
            ErrorKind::Truncated,
            format!("{} bytes, the header alone is {HEADER_LEN}", bytes.len()),
        ));
    };
    if head.get(..8) != Some(&magic[..]) {
        return Err(Error::new(ErrorKind::BadMagic, ""));
    }
    let header = Header {
        version: u16::from_le_bytes(take(head, 8)),
        flags: u16::from_le_bytes(take(head, 10)),
        payload_len: u32::from_le_bytes(take(head, 12)),
        checksum: u32::from_le_bytes(take(head, 16)),
    };
    if !(min..=max).contains(&header.version) {
        return Err(Error::new(
            ErrorKind::UnsupportedVersion,
            format!("version {}, this build reads {min} to {max}", header.version),
        ));
    }
    if header.flags & !KNOWN_FLAGS != 0 {
        return Err(Error::new(ErrorKind::UnsupportedFlags, format!("flags {:#06x}", header.flags)));
    }
    let announced = header.payload_len as usize;
    let trailer = if header.flags & FLAG_SIGNED != 0 { SIGNATURE_LEN } else { 0 };
    let expected = announced.saturating_add(trailer);
    if payload.len() < expected {
        return Err(Error::new(
            ErrorKind::Truncated,
            format!("{} bytes after the header, it announces {announced} + {trailer} of signature", payload.len()),
        ));
    }
    if payload.len() > expected {
        return Err(Error::new(
            ErrorKind::LengthMismatch,
            format!("{} bytes after the announced payload and signature", payload.len() - expected),
        ));
    }
    let payload = payload.get(..announced).unwrap_or_default();
    let actual = crc32c(payload);
    if actual != header.checksum {
        return Err(Error::new(
            ErrorKind::ChecksumMismatch,
            format!("header says {:#010x}, payload hashes to {actual:#010x}", header.checksum),
        ));
    }
    Ok((header, payload))
}

/// Wraps a snapshot payload in a header. Used by the builder and by tests that forge snapshots.
pub fn wrap(payload: &[u8]) -> Result<Vec<u8>, Error> {
    wrap_as(payload, &MAGIC, FORMAT_VERSION)
}

/// Wraps a payload in a header with the given magic and version.
pub fn wrap_as(payload: &[u8], magic: &[u8; 8], version: u16) -> Result<Vec<u8>, Error> {
    let len = u32::try_from(payload.len()).map_err(|_| Error::new(ErrorKind::Invalid, "payload larger than 4 GiB"))?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// [`wrap`] in place: `buf` holds [`HEADER_LEN`] bytes of room, then the payload; the header is
/// written over the room (no second copy of the payload).
pub fn wrap_reserved(buf: Vec<u8>) -> Result<Vec<u8>, Error> {
    wrap_reserved_as(buf, &MAGIC, FORMAT_VERSION)
}

/// [`wrap_reserved`] with the given magic and version (a sharded head, a shard).
pub fn wrap_reserved_as(mut buf: Vec<u8>, magic: &[u8; 8], version: u16) -> Result<Vec<u8>, Error> {
    let payload = buf.get(HEADER_LEN..).unwrap_or_default();
    let len = u32::try_from(payload.len()).map_err(|_| Error::new(ErrorKind::Invalid, "payload larger than 4 GiB"))?;
    let crc = crc32c(payload);
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(magic);
    header[8..10].copy_from_slice(&version.to_le_bytes());
    header[12..16].copy_from_slice(&len.to_le_bytes());
    header[16..20].copy_from_slice(&crc.to_le_bytes());
    match buf.get_mut(..HEADER_LEN) {
        Some(room) => room.copy_from_slice(&header),
        None => return Err(Error::new(ErrorKind::Invalid, "no room for the header")),
    }
    Ok(buf)
}

/// `(signed message, signature)`.
pub type SignedParts<'b> = (&'b [u8], &'b [u8]);

/// A signed container's two parts: the signed message (header and payload) and the signature;
/// `None` for an unsigned container. The container is checked as [`split`] checks it.
pub fn signed_parts(bytes: &[u8]) -> Result<Option<SignedParts<'_>>, Error> {
    let (header, payload) = split(bytes)?;
    if header.flags & FLAG_SIGNED == 0 {
        return Ok(None);
    }
    Ok(bytes.split_at_checked(HEADER_LEN + payload.len()))
}

/// Signs an unsigned container: sets [`FLAG_SIGNED`] in its header and appends
/// `sign(header and payload)`. The builder passes its Ed25519 signer; no crypto lives here.
pub fn sign_with(unsigned: &[u8], sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE_LEN]) -> Result<Vec<u8>, Error> {
    let (header, _) = split(unsigned)?;
    if header.flags & FLAG_SIGNED != 0 {
        return Err(Error::new(ErrorKind::Invalid, "the container is signed already"));
    }
    let mut out = Vec::with_capacity(unsigned.len() + SIGNATURE_LEN);
    out.extend_from_slice(unsigned);
    if let Some(flags) = out.get_mut(10..12) {
        flags.copy_from_slice(&(header.flags | FLAG_SIGNED).to_le_bytes());
    }
    let signature = sign(&out);
    out.extend_from_slice(&signature);
    Ok(out)
}

fn take<const N: usize>(head: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = head.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

/// CRC-32C (Castagnoli, reflected, polynomial 0x82F63B78), table-driven.
///
/// Written here rather than pulled in: twenty lines, no_std, and the check value below pins it.
/// Large inputs (a snapshot with millions of members) take the slicing-by-8 path, about four
/// times faster than the byte-wise loop (natively the CPU's CRC-32C instruction when it has one).
/// The wasm modules derive its 8 KiB of tables at run time, for inputs of 64 KiB and more, rather
/// than carry them in the module.
pub fn crc32c(bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() >= 4096 && sse42() {
        // SAFETY: the CPU has SSE4.2 (checked just above).
        return !unsafe { crc32c_sse42(!0, bytes) };
    }
    #[cfg(not(target_arch = "wasm32"))]
    if bytes.len() >= 4096 {
        return !crc32c_slice8(!0, bytes, &CRC32C_SLICE8);
    }
    #[cfg(target_arch = "wasm32")]
    if bytes.len() >= 1 << 16 {
        return !crc32c_slice8(!0, bytes, &alloc::boxed::Box::new(slice8_tables()));
    }
    !crc32c_bytewise(!0, bytes)
}

/// Does this x86-64 CPU have SSE4.2 (and so the CRC-32C instruction)? CPUID leaf 1, ECX bit 20;
/// no std, so no `is_x86_feature_detected!`.
#[cfg(target_arch = "x86_64")]
fn sse42() -> bool {
    #[allow(unused_unsafe)]
    // SAFETY: CPUID leaf 1 exists on every x86-64 CPU.
    let leaf1 = unsafe { core::arch::x86_64::__cpuid(1) };
    leaf1.ecx & (1 << 20) != 0
}

/// The CPU's CRC-32C instruction, eight bytes a step (same polynomial, same reflected state as
/// the table).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(crc: u32, bytes: &[u8]) -> u32 {
    use core::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u64};
    let mut chunks = bytes.chunks_exact(8);
    let mut wide = u64::from(crc);
    for c in &mut chunks {
        let word = <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes);
        wide = _mm_crc32_u64(wide, word);
    }
    let mut crc = wide as u32;
    for &b in chunks.remainder() {
        crc = _mm_crc32_u8(crc, b);
    }
    crc
}

fn crc32c_bytewise(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        let idx = ((crc ^ u32::from(b)) & 0xff) as usize;
        crc = (crc >> 8) ^ CRC32C_TABLE.get(idx).copied().unwrap_or(0);
    }
    crc
}

/// Slicing-by-8 (Kounavis & Berry): eight bytes a step through eight derived tables.
// Every index is masked to 0..=255 (or is a u32's top byte) into 256-entry tables.
#[allow(clippy::indexing_slicing)]
fn crc32c_slice8(mut crc: u32, bytes: &[u8], t: &[[u32; 256]; 8]) -> u32 {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    crc32c_bytewise(crc, chunks.remainder())
}

// Evaluated at compile time natively, like the table it extends.
#[cfg(not(target_arch = "wasm32"))]
const CRC32C_SLICE8: [[u32; 256]; 8] = slice8_tables();

/// The slicing-by-8 tables: table k advances table k − 1 by one more zero byte.
#[allow(clippy::indexing_slicing)]
const fn slice8_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    t[0] = CRC32C_TABLE;
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ CRC32C_TABLE[(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

// Evaluated at compile time: an out-of-range index here would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value for CRC-32C (RFC 3720 appendix, "123456789").
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // The slicing-by-8 path agrees with the byte-wise loop at every alignment and remainder.
        let data: alloc::vec::Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in [4096, 4097, 4103, 8191, 20_000] {
            for start in 0..9 {
                let d = &data[start..(start + len).min(data.len())];
                assert_eq!(crc32c(d), !crc32c_bytewise(!0, d), "len {} start {start}", d.len());
                assert_eq!(
                    !crc32c_slice8(!0, d, &slice8_tables()),
                    !crc32c_bytewise(!0, d),
                    "len {} start {start}",
                    d.len()
                );
            }
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Each of the three code paths (byte-wise, slicing-by-8, the SSE4.2 instruction where
        /// the CPU has it) and the dispatcher agree with the `crc` crate's CRC-32C on random
        /// inputs of every length class, at random offsets (alignment).
        #[test]
        fn crc32c_is_the_crc_crates(data in proptest::collection::vec(proptest::num::u8::ANY, 0..20_000), start in 0usize..8) {
            let d = data.get(start..).unwrap_or_default();
            let reference = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(d);
            proptest::prop_assert_eq!(!crc32c_bytewise(!0, d), reference);
            proptest::prop_assert_eq!(!crc32c_slice8(!0, d, &slice8_tables()), reference);
            #[cfg(target_arch = "x86_64")]
            if sse42() {
                // SAFETY: the CPU has SSE4.2 (checked just above).
                proptest::prop_assert_eq!(!unsafe { crc32c_sse42(!0, d) }, reference);
            }
            proptest::prop_assert_eq!(crc32c(d), reference);
        }
    }

    #[test]
    fn wrap_reserved_writes_what_wrap_writes() {
        for payload in [&b""[..], b"hello", &[7u8; 70_000]] {
            let mut room = alloc::vec![0xAA; HEADER_LEN];
            room.extend_from_slice(payload);
            assert_eq!(wrap_reserved(room).unwrap(), wrap(payload).unwrap());
        }
        assert!(wrap_reserved(alloc::vec![0; 5]).is_err());
    }

    #[test]
    fn wrap_then_split_round_trips() {
        let bytes = wrap(b"hello").unwrap();
        let (h, p) = split(&bytes).unwrap();
        assert_eq!(p, b"hello");
        assert_eq!(h.payload_len, 5);
    }

    #[test]
    fn each_corruption_has_its_kind() {
        let good = wrap(b"payload").unwrap();
        assert_eq!(split(&good[..10]).unwrap_err().kind(), ErrorKind::Truncated);
        assert_eq!(split(&good[..good.len() - 1]).unwrap_err().kind(), ErrorKind::Truncated);
        let mut long = good.clone();
        long.push(0);
        assert_eq!(split(&long).unwrap_err().kind(), ErrorKind::LengthMismatch);
        let mut magic = good.clone();
        magic[0] = b'X';
        assert_eq!(split(&magic).unwrap_err().kind(), ErrorKind::BadMagic);
        let mut version = good.clone();
        version[8] = 9;
        assert_eq!(split(&version).unwrap_err().kind(), ErrorKind::UnsupportedVersion);
        let mut flags = good.clone();
        flags[10] = 2;
        assert_eq!(split(&flags).unwrap_err().kind(), ErrorKind::UnsupportedFlags);
        // The signed flag without a signature after the payload.
        flags[10] = 1;
        assert_eq!(split(&flags).unwrap_err().kind(), ErrorKind::Truncated);
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x10;
        assert_eq!(split(&flipped).unwrap_err().kind(), ErrorKind::ChecksumMismatch);
    }

    #[test]
    fn a_signed_container_carries_its_signature_after_the_payload() {
        let unsigned = wrap(b"payload").unwrap();
        assert_eq!(signed_parts(&unsigned).unwrap(), None);
        let mut seen = Vec::new();
        let signed = sign_with(&unsigned, |message| {
            seen = message.to_vec();
            [7u8; SIGNATURE_LEN]
        })
        .unwrap();
        assert_eq!(signed.len(), unsigned.len() + SIGNATURE_LEN);
        // The signature covers the header with the flag set, and the payload.
        assert_eq!(seen.len(), unsigned.len());
        assert_eq!(u16::from_le_bytes([seen[10], seen[11]]), FLAG_SIGNED);
        let (header, payload) = split(&signed).unwrap();
        assert_eq!((header.flags, payload), (FLAG_SIGNED, &b"payload"[..]));
        assert_eq!(signed_parts(&signed).unwrap(), Some((&seen[..], &[7u8; SIGNATURE_LEN][..])));
        assert_eq!(sign_with(&signed, |_| [0; SIGNATURE_LEN]).unwrap_err().kind(), ErrorKind::Invalid);
        // A signature cut short, or bytes after it.
        assert_eq!(split(&signed[..signed.len() - 1]).unwrap_err().kind(), ErrorKind::Truncated);
        let mut long = signed.clone();
        long.push(0);
        assert_eq!(split(&long).unwrap_err().kind(), ErrorKind::LengthMismatch);
    }
}
