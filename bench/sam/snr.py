#!/usr/bin/env python3
"""SNR in dB of bench_sam --save outputs: snr.py REF.f32 TEST.f32

Each file holds a chunk's target then its residual (raw float32, equal
halves); prints the SNR of each half of TEST against REF.
"""
import array
import math
import sys


def halves(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    n = len(a) // 2
    return a[:n], a[n:]


def snr(ref, test):
    s = sum(r * r for r in ref)
    e = sum((t - r) * (t - r) for r, t in zip(ref, test))
    return 10 * math.log10(s / e) if e > 0 else float("inf")


ref, test = halves(sys.argv[1]), halves(sys.argv[2])
print("target SNR %.1f dB, residual SNR %.1f dB" % (snr(ref[0], test[0]), snr(ref[1], test[1])))
