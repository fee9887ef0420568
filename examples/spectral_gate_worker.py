#!/usr/bin/env python3
"""A small exec worker in plain Python and numpy: a spectral gate.

Each chunk is taken to the frequency domain whole (one real FFT per
channel); the bins louder than THRESHOLD times the chunk's median bin
magnitude are the target, the rest is the residual, so target + residual is
the mixture (to float rounding). Crude as a separator, it shows everything a
worker does (doc/exec-protocol.md) and the tests drive it end to end:

    samsep -e exec --worker "python3 examples/spectral_gate_worker.py --rate 16000 --mono" \\
        in.wav -o out/

--rate and --mono ask samsep for 16 kHz mono chunks (samsep converts, and
converts the results back to the file's rate); the worker checks it gets
what it asked for and reports an error otherwise.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workers"))
import samsep_protocol as sp  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=0, help="sample rate to ask for (0: the file's)")
    ap.add_argument("--mono", action="store_true", help="ask for mono chunks")
    ap.add_argument("--chunk", type=float, default=5.0, help="chunk seconds")
    ap.add_argument("--overlap", type=float, default=0.5, help="overlap seconds")
    ap.add_argument("--threshold", type=float, default=2.0,
                    help="bins above THRESHOLD x the median magnitude are the target")
    ap.add_argument("--no-residual", action="store_true",
                    help="return the target only (samsep computes mixture - target)")
    args = ap.parse_args()

    def setup(conf):
        sp.log(f"spectral gate: prompt {conf['prompt']!r} (ignored), threshold {args.threshold}")

    def separate(x, chunk):
        if args.rate and chunk.rate != args.rate:
            raise sp.WorkerError(f"asked for {args.rate} Hz, got {chunk.rate} Hz")
        if args.mono and chunk.channels != 1:
            raise sp.WorkerError(f"asked for mono, got {chunk.channels} channels")
        spec = np.fft.rfft(x, axis=0)
        mag = np.abs(spec)
        keep = mag > args.threshold * np.median(mag, axis=0, keepdims=True)
        target = np.fft.irfft(spec * keep, n=chunk.frames, axis=0).astype(np.float32)
        return target, x - target

    return sp.serve({"name": "spectral-gate", "sample_rate": args.rate,
                     "channels": 1 if args.mono else 0, "chunk_seconds": args.chunk,
                     "overlap_seconds": args.overlap, "residual": not args.no_residual},
                    setup, separate)


if __name__ == "__main__":
    sys.exit(main())
