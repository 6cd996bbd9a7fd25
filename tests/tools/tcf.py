#!/usr/bin/env python3
"""Writes IAB TCF v2 consent strings field by field, for the spec files under tests/spec/.

Independent of the Rust decoder: fields and widths are taken from the IAB "TC String" format
(core segment: Version 6, Created 36, LastUpdated 36, CmpId 12, CmpVersion 12, ConsentScreen 6,
ConsentLanguage 12, VendorListVersion 12, TcfPolicyVersion 6, IsServiceSpecific 1,
UseNonStandardTexts 1, SpecialFeatureOptIns 12, PurposesConsent 24, PurposesLITransparency 24,
PurposeOneTreatment 1, PublisherCC 12, then vendor sections), packed most significant bit first
and written as base64url without padding.

    python3 tests/tools/tcf.py 1 5 6        # consent to TCF purposes 1, 5 and 6
"""
import sys


def tc_string(purposes, created_ds=17637000000):
    bits = []

    def put(value, width):
        bits.extend((value >> (width - 1 - i)) & 1 for i in range(width))

    letter = lambda c: ord(c) - ord("A")
    put(2, 6)                      # version
    put(created_ds, 36)            # created
    put(created_ds, 36)            # last updated
    put(300, 12)                   # CMP id
    put(2, 12)                     # CMP version
    put(1, 6)                      # consent screen
    put(letter("E"), 6); put(letter("N"), 6)
    put(48, 12)                    # vendor list version
    put(4, 6)                      # policy version
    put(1, 1); put(0, 1)           # service specific, non-standard texts
    put(0, 12)                     # special features
    for p in range(1, 25):         # PurposesConsent: purpose 1 first
        put(1 if p in purposes else 0, 1)
    put(0, 24)                     # PurposesLITransparency
    put(0, 1)                      # PurposeOneTreatment
    put(letter("D"), 6); put(letter("E"), 6)
    put(0, 16); put(0, 1)          # vendor consents: none
    put(0, 16); put(0, 1)          # vendor legitimate interests: none
    put(0, 12)                     # publisher restrictions: none
    while len(bits) % 6:
        bits.append(0)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(alphabet[int("".join(map(str, bits[i:i + 6])), 2)] for i in range(0, len(bits), 6))


if __name__ == "__main__":
    print(tc_string({int(a) for a in sys.argv[1:]}))
