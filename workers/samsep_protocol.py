"""The worker side of samsep's exec protocol, version 1 (doc/exec-protocol.md).

A worker is a program that samsep starts with ``samsep -e exec --worker
"COMMAND ARGS..."``. It talks to samsep in binary frames on its stdin and
stdout; what it writes on stderr goes to samsep's run log. This module does
the talking, so that a worker is three functions::

    import samsep_protocol as sp

    def setup(conf):                 # the CONF JSON: prompt, model, seed, ...
        ...                          # load the model; raise sp.WorkerError to refuse
    def separate(x, chunk):          # x: float32 array [frames, channels]
        return target, residual      # same shape; residual None if not promised

    sp.serve({"name": "mine", "sample_rate": 48000, "channels": 1,
              "chunk_seconds": 10, "overlap_seconds": 2, "residual": True},
             setup, separate)

``serve`` sends the HELO, answers the CONF with REDY (or EROR), then answers
every CHNK with a RSLT (or, when ``separate`` raises, an EROR naming the
exception), until samsep closes the worker's stdin. It needs numpy only.

Before anything else it moves the protocol off file descriptors 0 and 1 and
points them at /dev/null and stderr, so a library that prints (or reads)
cannot corrupt the frames.
"""

import json
import os
import struct
import sys
from collections import namedtuple

import numpy as np

PROTOCOL = 1
HEADER = struct.Struct("<4sI")                 # type, payload length
CHUNK_HEADER = struct.Struct("<IIqIIII")       # file, chunk, start, rate, channels, frames, 0
RESULT_HEADER = struct.Struct("<IIII")         # chunk, frames, channels, parts
TEXT_MAX = 65536

Chunk = namedtuple("Chunk", "file chunk start rate channels frames")


class WorkerError(Exception):
    """Raised by setup() or separate(): samsep receives the message in an EROR frame."""


class ProtocolError(Exception):
    """samsep sent something this module does not understand."""


class Channel:
    """The two protocol streams, as unbuffered binary files."""

    def __init__(self, rfile, wfile):
        self.r = rfile
        self.w = wfile

    @classmethod
    def from_stdio(cls):
        rfd, wfd = os.dup(0), os.dup(1)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        return cls(os.fdopen(rfd, "rb", buffering=0), os.fdopen(wfd, "wb", buffering=0))

    def read_exact(self, n):
        """n bytes, or None at a clean end of input before the first of them."""
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.r.readinto(view[got:])
            if not k:
                if got == 0:
                    return None
                raise ProtocolError(f"input ended inside a frame ({got} of {n} bytes)")
            got += k
        return buf

    def read_frame(self):
        """(type, payload) of the next frame, or None when samsep has closed our input."""
        head = self.read_exact(HEADER.size)
        if head is None:
            return None
        tag, length = HEADER.unpack(head)
        payload = self.read_exact(length) if length else bytearray()
        if payload is None:
            raise ProtocolError("input ended inside a frame")
        return tag.decode("ascii", "replace"), payload

    def write_frame(self, tag, *parts):
        """One frame: tag (4 ASCII characters) and the payload's parts, in order."""
        views = [memoryview(p).cast("B") for p in parts]
        self.write_all(HEADER.pack(tag.encode("ascii"), sum(len(v) for v in views)))
        for v in views:
            self.write_all(v)

    def write_all(self, data):
        view = memoryview(data)
        while len(view):
            k = self.w.write(view)
            view = view[k:]


def hello_payload(fields):
    """The HELO JSON: the worker's fields, with the protocol version."""
    hello = {"protocol": PROTOCOL}
    hello.update(fields)
    return json.dumps(hello).encode()


def parse_chunk(payload):
    """A CHNK payload as (Chunk, float32 array [frames, channels])."""
    if len(payload) < CHUNK_HEADER.size:
        raise ProtocolError("CHNK frame shorter than its header")
    f, k, start, rate, ch, frames, _ = CHUNK_HEADER.unpack_from(payload)
    if len(payload) != CHUNK_HEADER.size + 4 * frames * ch:
        raise ProtocolError("CHNK payload length does not match its header")
    x = np.frombuffer(payload, dtype="<f4", offset=CHUNK_HEADER.size).reshape(frames, ch)
    return Chunk(f, k, start, rate, ch, frames), x


def send_result(chan, chunk, target, residual):
    """A RSLT frame: target (and residual) as float32 [frames, channels]."""
    shape = (chunk.frames, chunk.channels)
    parts = [np.ascontiguousarray(target, dtype="<f4").reshape(shape)]
    if residual is not None:
        parts.append(np.ascontiguousarray(residual, dtype="<f4").reshape(shape))
    chan.write_frame("RSLT", RESULT_HEADER.pack(chunk.chunk, chunk.frames,
                                                chunk.channels, len(parts)), *parts)


def send_error(chan, message):
    chan.write_frame("EROR", str(message).encode("utf-8", "replace")[:TEXT_MAX])


def log(*words):
    """A line on stderr, which samsep copies into its run log."""
    print(*words, file=sys.stderr, flush=True)


def serve(fields, setup, separate, chan=None):
    """Run the protocol until samsep closes our input. Returns 0 (an exit status)."""
    chan = chan or Channel.from_stdio()
    chan.write_frame("HELO", hello_payload(fields))
    frame = chan.read_frame()
    if frame is None:
        return 0
    tag, payload = frame
    if tag != "CONF":
        raise ProtocolError(f"expected CONF, got {tag!r}")
    try:
        setup(json.loads(payload))
    except WorkerError as e:
        send_error(chan, e)
        return 1
    chan.write_frame("REDY")
    residual = bool(fields.get("residual"))
    while True:
        frame = chan.read_frame()
        if frame is None:
            return 0
        tag, payload = frame
        if tag != "CHNK":
            raise ProtocolError(f"expected CHNK, got {tag!r}")
        chunk, x = parse_chunk(payload)
        try:
            target, res = separate(x, chunk)
            if residual and res is None:
                raise WorkerError("separate() returned no residual, but the HELO promised one")
            send_result(chan, chunk, target, res if residual else None)
        except Exception as e:  # the worker stays usable; samsep decides what to do
            log(f"chunk {chunk.chunk} of file {chunk.file}: {type(e).__name__}: {e}")
            send_error(chan, f"{type(e).__name__}: {e}")
