#!/usr/bin/env python3
"""An exec worker that misbehaves on purpose, for samsep's fault tests.

It speaks the protocol with workers/samsep_protocol.py and returns, by
default, the chunk itself as the target (--mode pass) or, with --mode
position, each frame's position in the file ((start + i) mod 65536 / 65536)
so that a test can check the start frames samsep sends. On chunk --chunk K
of file --file N it does --fault KIND instead of answering:

  kill      SIGKILL itself              hang      sleep for an hour
  garbage   write text on stdout        short     answer with one frame too few
  truncate  half a RSLT frame, exit 3   nan       a NaN in the target
  error     an EROR frame              stop-reading  exit 5 before reading the samples

and the handshake faults (before any chunk): exit-handshake (exit 4 before
HELO), garbage-handshake, hang-handshake, version (HELO of protocol 99),
refuse (EROR in reply to CONF); and linger: at the end of its input, stay
(ignoring SIGTERM) instead of exiting. With --once PATH a fault fires only while
PATH does not exist, and creates it: the retry then succeeds.
"""

import argparse
import os
import signal
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "workers"))
import samsep_protocol as sp  # noqa: E402


def fire(args):
    if args.once:
        if os.path.exists(args.once):
            return False
        open(args.once, "w").close()
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fault", default="none")
    ap.add_argument("--file", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=0)
    ap.add_argument("--once")
    ap.add_argument("--tag", help="ignored: lets a test find its workers")
    ap.add_argument("--mode", default="pass", choices=["pass", "position"])
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--mono", action="store_true")
    ap.add_argument("--chunk-seconds", type=float, default=1.0)
    ap.add_argument("--overlap-seconds", type=float, default=0.25)
    ap.add_argument("--residual", action="store_true")
    args = ap.parse_args()
    chan = sp.Channel.from_stdio()
    sp.log(f"fault worker {os.getpid()} starting (fault {args.fault})")

    handshake = args.fault.endswith("-handshake") or args.fault in ("version", "refuse")
    if handshake and fire(args):
        if args.fault == "exit-handshake":
            sp.log("fault worker: exiting during the handshake")
            return 4
        if args.fault == "garbage-handshake":
            chan.write_all(b"Loading model... done\n" * 4)
            time.sleep(3600)
        if args.fault == "hang-handshake":
            time.sleep(3600)
    hello = {"name": "fault", "sample_rate": args.rate, "channels": 1 if args.mono else 0,
             "chunk_seconds": args.chunk_seconds, "overlap_seconds": args.overlap_seconds,
             "residual": args.residual}
    if args.fault == "version" and handshake:
        chan.write_frame("HELO", b'{"protocol": 99, "name": "fault"}')
    else:
        chan.write_frame("HELO", sp.hello_payload(hello))
    frame = chan.read_frame()
    if frame is None or frame[0] != "CONF":
        return 1
    if args.fault == "refuse" and handshake:
        sp.send_error(chan, "no such model: imaginary-large")
        return 1
    chan.write_frame("REDY")

    while True:
        # the frame header and the chunk's header first: a fault may stop there
        head = chan.read_exact(sp.HEADER.size + sp.CHUNK_HEADER.size)
        if head is None:
            if args.fault == "linger":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                sp.log("fault worker: lingering after the end of its input")
                time.sleep(3600)
            return 0
        f, k = sp.CHUNK_HEADER.unpack_from(head, sp.HEADER.size)[:2]
        if (args.fault == "stop-reading" and (f, k) == (args.file, args.chunk) and fire(args)):
            sp.log(f"fault worker: stop-reading at file {f} chunk {k}")
            return 5
        length = sp.HEADER.unpack_from(head)[1]
        payload = head[sp.HEADER.size:] + chan.read_exact(length - sp.CHUNK_HEADER.size)
        chunk, x = sp.parse_chunk(payload)
        sp.log(f"file {chunk.file} chunk {chunk.chunk} start {chunk.start} "
               f"{chunk.frames} frames at {chunk.rate} Hz")
        if args.mode == "position":
            pos = (chunk.start + np.arange(chunk.frames)) % 65536 / 65536.0
            target = np.repeat(pos[:, None], chunk.channels, axis=1).astype(np.float32)
        else:
            target = x.copy()
        residual = x - target if args.residual else None
        at = chunk.file == args.file and chunk.chunk == args.chunk
        if at and not handshake and args.fault != "none" and fire(args):
            sp.log(f"fault worker: {args.fault} at file {chunk.file} chunk {chunk.chunk}")
            if args.fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif args.fault == "hang":
                time.sleep(3600)
            elif args.fault == "garbage":
                chan.write_all(b"Traceback (most recent call last): oops\n" * 8)
                time.sleep(3600)
            elif args.fault == "short":
                sp.send_result(chan, chunk._replace(frames=chunk.frames - 1),
                               target[:-1], None if residual is None else residual[:-1])
                continue
            elif args.fault == "truncate":
                n = chunk.frames * chunk.channels * 4
                chan.write_all(sp.HEADER.pack(b"RSLT", 16 + n))
                chan.write_all(sp.RESULT_HEADER.pack(chunk.chunk, chunk.frames,
                                                     chunk.channels, 1))
                chan.write_all(target.tobytes()[: n // 2])
                return 3
            elif args.fault == "nan":
                target[chunk.frames // 2, 0] = np.nan
            elif args.fault == "error":
                sp.send_error(chan, "CUDA out of memory (simulated)")
                continue
        sp.send_result(chan, chunk, target, residual)


if __name__ == "__main__":
    sys.exit(main())
