//! The client address a per-IP throttle keys by: where it comes from and how it is keyed.
//!
//! It comes from the host (`Request::client_ip`: the platform's own field). Only when the host
//! supplies none, and the snapshot names a header a trusted proxy in front of the host sets
//! ([`ClientIpConfig::trusted_header`]), is that header read — its last copy's last
//! comma-separated entry, the one the proxy nearest the host appended (entries to its left are
//! the client's own claims). A header is never read otherwise: it is the client's to forge.

use serde::{Deserialize, Serialize};

use crate::request::Request;

/// Bits of an IPv6 address that key a per-IP throttle bucket by default: the /64 a subscriber is
/// given (RFC 6177); rotating addresses inside it stays one client.
pub const IPV6_THROTTLE_PREFIX_BITS: u32 = 64;

/// The snapshot's client-address settings (a record of its own after the limits, written only
/// when not the default, so snapshots without it are unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientIpConfig {
    /// Bits of an IPv6 address that key one bucket, 16 to 128 (`0`: the default, 64).
    pub ipv6_prefix_bits: u8,
    /// A header a trusted proxy in front of the host sets (`x-forwarded-for`, `true-client-ip`),
    /// read when the host supplies no `client_ip`.
    pub trusted_header: Option<alloc::string::String>,
}

impl ClientIpConfig {
    /// The IPv6 prefix length in force.
    pub fn ipv6_bits(&self) -> u32 {
        if self.ipv6_prefix_bits == 0 { IPV6_THROTTLE_PREFIX_BITS } else { u32::from(self.ipv6_prefix_bits) }
    }

    /// The request's client address, per the rules above.
    pub fn client_ip<'r>(&self, req: &Request<'r>) -> Option<&'r str> {
        if req.client_ip.is_some() {
            return req.client_ip;
        }
        let name = self.trusted_header.as_deref()?;
        let last = req.header_values(name).last()?;
        last.rsplit(',').next().map(str::trim).filter(|v| !v.is_empty())
    }
}

/// [`ip_key_prefix`] with the default /64.
pub fn ip_key(ip: &str) -> ([u8; 64], usize) {
    ip_key_prefix(ip, IPV6_THROTTLE_PREFIX_BITS)
}

/// A client IP as the bytes that key its throttle bucket: IPv4 as its four octets (IPv4-mapped
/// and -compatible IPv6 spellings included), IPv6 as its first `v6_bits` bits (the rest zeroed);
/// brackets, a port and surrounding space are ignored, so every spelling of one address is one
/// key. Text that is no IP address keys by its trimmed, lower-cased bytes (at most 64): hosts
/// supply the address, so this is their own odd value, not a client's choice.
pub fn ip_key_prefix(ip: &str, v6_bits: u32) -> ([u8; 64], usize) {
    let mut out = [0u8; 64];
    let t = ip.trim();
    let unbracketed = match t.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        // `a.b.c.d:port`: one colon means a port (an IPv6 address has at least two).
        None if t.bytes().filter(|&b| b == b':').count() == 1 => t.split(':').next().unwrap_or(t),
        None => t,
    };
    let parsed = unbracketed.parse::<core::net::IpAddr>().ok().map(|a| match a {
        core::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(core::net::IpAddr::V6(v6), core::net::IpAddr::V4),
        v4 => v4,
    });
    match parsed {
        Some(core::net::IpAddr::V4(v4)) => {
            if let Some(dst) = out.get_mut(..4) {
                dst.copy_from_slice(&v4.octets());
            }
            (out, 4)
        }
        Some(core::net::IpAddr::V6(v6)) => {
            let bits = v6_bits.clamp(1, 128);
            let masked = u128::from(v6) & (u128::MAX << (128 - bits));
            if let Some(dst) = out.get_mut(..16) {
                dst.copy_from_slice(&masked.to_be_bytes());
            }
            // The prefix length and a marker keep an IPv6 prefix apart from an IPv4 address.
            if let Some(b) = out.get_mut(16..18) {
                b.copy_from_slice(&[6, bits as u8]);
            }
            (out, 18)
        }
        None => {
            let n = t.len().min(out.len());
            for (d, s) in out.iter_mut().zip(t.bytes().take(n)) {
                *d = s.to_ascii_lowercase();
            }
            (out, n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn key(ip: &str, bits: u32) -> alloc::vec::Vec<u8> {
        let (k, n) = ip_key_prefix(ip, bits);
        k[..n].to_vec()
    }

    #[test]
    fn the_ipv6_prefix_decides_what_rotation_stays_one_client() {
        // Same /56, different /64s.
        let (a, b) = ("2001:db8:1:200::1", "2001:db8:1:2ff::9");
        assert_ne!(key(a, 64), key(b, 64));
        assert_eq!(key(a, 56), key(b, 56));
        assert_ne!(key(a, 56), key("2001:db8:1:300::1", 56));
        assert_eq!(key(a, 64), key("[2001:DB8:1:200:ffff::]:443", 64));
        // One prefix length never collides with another, nor with IPv4.
        assert_ne!(key("2001:db8::", 48), key("2001:db8::", 64));
        assert_eq!(key("::ffff:198.51.100.7", 56), key("198.51.100.7", 64));
        assert_eq!(key("198.51.100.7", 56), vec![198, 51, 100, 7]);
        assert_eq!(ip_key("2001:db8:1:200::1"), ip_key_prefix("2001:db8:1:200::1", 64));
    }

    #[test]
    fn a_header_is_read_only_when_trusted_and_the_host_gave_no_address() {
        let req = |ip: Option<&'static str>| Request {
            client_ip: ip,
            headers: vec![("X-Forwarded-For", "6.6.6.6, 10.0.0.1"), ("x-forwarded-for", "1.2.3.4, 203.0.113.9 ")],
            ..Request::default()
        };
        let none = ClientIpConfig::default();
        let xff = ClientIpConfig { trusted_header: Some("x-forwarded-for".into()), ..ClientIpConfig::default() };
        assert_eq!(none.client_ip(&req(None)), None);
        assert_eq!(none.client_ip(&req(Some("192.0.2.1"))), Some("192.0.2.1"));
        // The proxy nearest the host appended the last entry of the last copy.
        assert_eq!(xff.client_ip(&req(None)), Some("203.0.113.9"));
        assert_eq!(xff.client_ip(&req(Some("192.0.2.1"))), Some("192.0.2.1"));
        assert_eq!(xff.ipv6_bits(), 64);
    }
}
