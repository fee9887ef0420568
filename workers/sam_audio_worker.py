#!/usr/bin/env python3
"""samsep exec worker: Meta's official SAM-Audio (the `sam_audio` package) on your GPU.

    samsep -e exec -p "dog barking" recordings/ -o separated/ \\
        --worker "python3 workers/sam_audio_worker.py --model facebook/sam-audio-large"

Run it with the Python in which `sam_audio` is installed. The model is loaded
once (it counts against --worker-start-timeout) and kept for every chunk of
every file. samsep sends 10 s chunks of mono 48 kHz audio with 2 s of
overlap, crossfades the results and writes them at each file's own rate and
length; this worker returns the model's target and residual for each chunk.

Written against sam_audio 0.1.0 from github.com/facebookresearch/sam-audio
(processor.py of commit 9a497b0, README of commit f3b0502):
SAMAudio.from_pretrained, SAMAudioProcessor.from_pretrained and its
audio_sampling_rate, processor(descriptions=, audios=, anchors=), and
model.separate(batch, predict_spans=, reranking_candidates=) whose result has
.target and .residual. The protocol half lives in samsep_protocol.py, which
samsep's tests drive.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import samsep_protocol as sp  # noqa: E402

RATE = 48000


def parse_span(text):
    """'+START:END' or '-START:END' in seconds of the file -> (sign, start, end)."""
    if text[:1] not in "+-" or ":" not in text:
        raise argparse.ArgumentTypeError(f"span {text!r}: want +START:END or -START:END")
    start, end = (float(v) for v in text[1:].split(":", 1))
    if not 0 <= start < end:
        raise argparse.ArgumentTypeError(f"span {text!r}: want 0 <= START < END")
    return text[0], start, end


def arguments():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model name on Hugging Face or a folder "
                    "(default: samsep's --model, else facebook/sam-audio-large)")
    ap.add_argument("--device", help="cuda, cuda:N, cpu or mps (default: cuda when available)")
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                    help="bfloat16 runs the model under torch.autocast")
    ap.add_argument("--predict-spans", action="store_true",
                    help="let the model find where the sound is (slower, often better)")
    ap.add_argument("--reranking-candidates", type=int, default=1, metavar="N",
                    help="separate N candidates and keep the best ranked (slower)")
    ap.add_argument("--seed", type=int, help="seed of the model's noise (default: samsep's --seed)")
    ap.add_argument("--span", type=parse_span, action="append", default=[],
                    help="+START:END (the sound is there) or -START:END (it is not), "
                    "in seconds of the file; repeatable")
    ap.add_argument("--chunk", type=float, default=10.0, help="chunk seconds (default 10)")
    ap.add_argument("--overlap", type=float, default=2.0, help="overlap seconds (default 2)")
    return ap.parse_args()


def chunk_anchors(spans, chunk):
    """The file-time spans that fall in this chunk, in the chunk's own time."""
    t0 = chunk.start / chunk.rate
    t1 = t0 + chunk.frames / chunk.rate
    return [[sign, max(s, t0) - t0, min(e, t1) - t0] for sign, s, e in spans if s < t1 and e > t0]


def as_signal(out, frames):
    """One output of separate() as float32 [frames, 1], trimmed or padded to the chunk."""
    if isinstance(out, (list, tuple)):
        out = out[0]
    y = out.detach().float().cpu().numpy().reshape(-1)[:frames]
    return np.pad(y, (0, frames - y.size))[:, None].astype(np.float32)


def main():
    args = arguments()
    try:
        import torch
        from sam_audio import SAMAudio, SAMAudioProcessor
    except ImportError as e:
        sp.log(f"sam_audio_worker: cannot import the official sam_audio package ({e}); "
               "install it in this Python: pip install git+https://github.com/facebookresearch/sam-audio")
        return 1
    state = {}

    def setup(conf):
        name = args.model or conf.get("model") or "facebook/sam-audio-large"
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        sp.log(f"sam_audio_worker: loading {name} on {device} ({args.dtype})")
        try:
            model = SAMAudio.from_pretrained(name).eval().to(device)
            processor = SAMAudioProcessor.from_pretrained(name)
        except Exception as e:
            raise sp.WorkerError(f"cannot load {name}: {type(e).__name__}: {e}") from e
        if processor.audio_sampling_rate != RATE:
            raise sp.WorkerError(f"{name} works at {processor.audio_sampling_rate} Hz, not {RATE}")
        state.update(model=model, processor=processor, device=device, prompt=conf["prompt"],
                     seed=args.seed if args.seed is not None else int(conf.get("seed", 0)))

    def separate(x, chunk):
        anchors = chunk_anchors(args.span, chunk)
        batch = state["processor"](descriptions=[state["prompt"]],
                                   audios=[torch.from_numpy(x.T.copy())],
                                   anchors=[anchors] if anchors else None).to(state["device"])
        options = {}
        if args.predict_spans:
            options["predict_spans"] = True
        if args.reranking_candidates > 1:
            options["reranking_candidates"] = args.reranking_candidates
        # the same noise for the same chunk of the file, whatever ran before
        torch.manual_seed((state["seed"] * 1000003 + chunk.start) % 2**63)
        device_type = torch.device(state["device"]).type
        with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16,
                                                    enabled=args.dtype == "bfloat16"):
            result = state["model"].separate(batch, **options)
        return as_signal(result.target, chunk.frames), as_signal(result.residual, chunk.frames)

    return sp.serve({"name": "sam-audio", "sample_rate": RATE, "channels": 1,
                     "chunk_seconds": args.chunk, "overlap_seconds": args.overlap,
                     "residual": True}, setup, separate)


if __name__ == "__main__":
    sys.exit(main())
