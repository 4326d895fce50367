#!/usr/bin/env python3
"""Speed of the Rust port vs the Python reference on the same 60 s clip.

Builds a 60 s 22050 Hz clip by looping the fixture clips (or takes --wav), runs basic-pitch's
`predict` (ONNX backend, model loaded once, timed over the call) and the Rust CLI
(`counterpart transcribe`, which reports its own transcription time, excluding process start and
runtime loading), and prints both times and the ratio.

    cargo build --release -p counterpart-engine
    python scripts/bench_transcription.py [--bin target/release/counterpart] [--batch 1]
"""
import argparse
import pathlib
import re
import resource
import subprocess
import tempfile
import time

import numpy as np
import soundfile as sf

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "engine" / "tests" / "fixtures" / "transcription"


def make_clip(path, seconds=60.0):
    parts = [sf.read(str(FIX / f"{c}.wav"), dtype="float32")[0] for c in ["piano_melody", "piano_chords", "bass_flute"]]
    loop = np.concatenate(parts)
    n = int(seconds * 22050)
    y = np.tile(loop, n // len(loop) + 1)[:n]
    sf.write(str(path), y, 22050, subtype="PCM_16")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "counterpart"))
    ap.add_argument("--model", default=str(ROOT / "target" / "models" / "basic-pitch" / "nmp.onnx"))
    ap.add_argument("--wav")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from basic_pitch.inference import Model, predict

    with tempfile.TemporaryDirectory() as tmp:
        wav = pathlib.Path(args.wav) if args.wav else pathlib.Path(tmp) / "bench60.wav"
        if not args.wav:
            make_clip(wav)
        model = Model(args.model)
        predict(str(wav), model)  # warm-up
        py, rs = [], []
        out = pathlib.Path(tmp) / "n.json"
        cmd = [args.bin, "transcribe", str(wav), "--json", str(out), "--batch", args.batch]
        for _ in range(args.runs):
            # Interleaved, so load from other work on the machine hits both sides alike.
            w0, c0 = time.perf_counter(), time.process_time()
            predict(str(wav), model)
            py.append((time.perf_counter() - w0, time.process_time() - c0))
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            w0 = time.perf_counter()
            res = subprocess.run(cmd, check=True, capture_output=True, text=True)
            wall = time.perf_counter() - w0
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            m = re.search(r"in ([0-9.]+) s", res.stderr)
            rs.append((float(m.group(1)) if m else wall, cpu))
        med = lambda xs: sorted(xs)[len(xs) // 2]
        py_wall, py_cpu = med([p[0] for p in py]), med([p[1] for p in py])
        rs_wall, rs_cpu = med([r[0] for r in rs]), med([r[1] for r in rs])
        print(f"60 s clip, median of {args.runs} interleaved runs, batch {args.batch}")
        print(f"python reference: wall {py_wall:.2f} s, cpu {py_cpu:.2f} s")
        print(f"rust port:        wall {rs_wall:.2f} s (transcription only), cpu {rs_cpu:.2f} s (whole process)")
        print(f"speed ratio python/rust: wall {py_wall / rs_wall:.2f}x, cpu {py_cpu / rs_cpu:.2f}x")


if __name__ == "__main__":
    main()
