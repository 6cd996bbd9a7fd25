#!/usr/bin/env python3
"""Independent reference for flagd's `fractional` bucketing, used to pin edgeseg's table test.

MurmurHash3 x86_32 (seed 0) over the UTF-8 bytes of the bucketing key;
bucket = (hash * total_weight) >> 32; the first variant whose cumulative weight exceeds the
bucket wins. Written from the algorithm's description (Appleby's reference C), not from edgeseg's
Rust. Run: python3 tests/spec/tools/fractional.py  — prints Rust tuples for
edge/src/rule/flagd.rs's `fractional_matches_the_reference_table`.
"""


def murmur3_32(data: bytes, seed: int = 0) -> int:
    c1, c2 = 0xCC9E2D51, 0x1B873593
    mask = 0xFFFFFFFF
    h = seed
    n = len(data) // 4 * 4
    for i in range(0, n, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    tail = data[n:]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h


def fractional(key: str, variants):
    total = sum(w for _, w in variants)
    bucket = (murmur3_32(key.encode("utf-8")) * total) >> 32
    cumulative = 0
    for name, w in variants:
        cumulative += w
        if bucket < cumulative:
            return name
    return None


assert murmur3_32(b"") == 0
assert murmur3_32(b"hello") == 0x248BFA47
assert murmur3_32(b"Hello, world!", 0x9747B28C) == 0x24884CBA

WEIGHTS = {
    "even": [("red", 1), ("blue", 1)],
    "thirds": [("a", 1), ("b", 1), ("c", 1)],
    "canary": [("canary", 5), ("rest", 95)],
    "skewed": [("one", 10), ("two", 20), ("three", 70)],
    "zero-first": [("never", 0), ("always", 1)],
}
KEYS = ["", "alice", "bob", "carol", "user-1", "user-2", "user-42", "flagkeyuser-7", "ünïcödé", "premium-canaryc-1234", "user-28", "user-87"]

for wname, variants in WEIGHTS.items():
    for key in KEYS:
        print(f'    ("{wname}", {key!r}, "{fractional(key, variants)}"),'.replace("'", '"'))
for key in KEYS:
    print(f'    // murmur3({key!r}) = {murmur3_32(key.encode()):#010x}')
