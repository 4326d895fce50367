#!/usr/bin/env python3
"""The Python reference side of the transcription speed benchmark.

The benchmark itself is `cargo bench -p counterpart-engine --bench transcribe`
(engine/benches/transcribe.rs): it writes the 60 s clip, starts this script with `--serve` and
times basic-pitch's `predict` (ONNX backend, model loaded once) and the Rust pipeline in the same
process pair, interleaved, with medians.

    --serve       load the model, warm up, print one `ready {json}` line (or `skip <reason>` and
                  exit 0 when basic-pitch or onnxruntime is missing), then for every `run` line on
                  stdin run `predict` once and print one JSON line: wall and CPU seconds, notes
    (no --serve)  standalone: Python `predict` vs the `counterpart transcribe` CLI, interleaved

    .venv/bin/python scripts/bench_transcription.py [--bin target/release/counterpart] [--runs 3]
"""
import argparse
import json
import pathlib
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "engine" / "tests" / "fixtures" / "transcription"


def make_clip(path, seconds=60.0):
    """The three fixture clips looped to `seconds` at 22050 Hz, 16-bit (the Rust bench's clip)."""
    import numpy as np
    import soundfile as sf

    parts = [sf.read(str(FIX / f"{c}.wav"), dtype="float32")[0] for c in ["piano_melody", "piano_chords", "bass_flute"]]
    loop = np.concatenate(parts)
    n = int(seconds * 22050)
    y = np.tile(loop, n // len(loop) + 1)[:n]
    sf.write(str(path), y, 22050, subtype="PCM_16")


def load_reference(model_path):
    """basic-pitch's `predict` and a loaded model, or the reason they are unavailable."""
    try:
        import logging

        logging.disable(logging.WARNING)  # basic-pitch warns about its unused TF / CoreML backends
        import onnxruntime
        from basic_pitch import inference
    except Exception as e:  # noqa: BLE001 - any import failure means "no reference here"
        return None, None, f"basic-pitch is not importable ({type(e).__name__}: {e})"
    if not pathlib.Path(model_path).is_file():
        return None, None, f"{model_path} is missing (run `cargo xtask setup`)"
    from importlib.metadata import version

    info = {"basic_pitch": version("basic-pitch"), "onnxruntime": onnxruntime.__version__, "python": sys.version.split()[0]}
    return inference, inference.Model(model_path), info


def timed_predict(inference, model, wav):
    """One `predict` call: wall and CPU seconds (all threads of this process) and the notes."""
    import contextlib
    import io

    w0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):  # predict prints a progress line
        _, _, events = inference.predict(str(wav), model)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    notes = sorted([float(s), float(e), int(p)] for s, e, p, *_ in events)
    return {"wall": wall, "cpu": cpu, "notes": notes}


def serve(args):
    inference, model, info = load_reference(args.model)
    if inference is None:
        print(f"skip {info}", flush=True)
        return
    timed_predict(inference, model, args.wav)  # warm-up
    print("ready " + json.dumps(info), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        print(json.dumps(timed_predict(inference, model, args.wav)), flush=True)


def standalone(args):
    inference, model, info = load_reference(args.model)
    if inference is None:
        sys.exit(f"no Python reference: {info}")
    with tempfile.TemporaryDirectory() as tmp:
        wav = pathlib.Path(args.wav) if args.wav else pathlib.Path(tmp) / "bench60.wav"
        if not args.wav:
            make_clip(wav)
        timed_predict(inference, model, wav)  # warm-up
        py, rs = [], []
        out = pathlib.Path(tmp) / "n.json"
        cmd = [args.bin, "transcribe", str(wav), "--json", str(out), "--batch", args.batch, "--sessions", args.sessions]
        for _ in range(args.runs):
            # Interleaved, so load from other work on the machine hits both sides alike.
            r = timed_predict(inference, model, wav)
            py.append((r["wall"], r["cpu"]))
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
        print(f"60 s clip, median of {args.runs} interleaved runs, batch {args.batch}, sessions {args.sessions}")
        print(f"python reference: wall {py_wall:.2f} s, cpu {py_cpu:.2f} s")
        print(f"rust CLI:         wall {rs_wall:.2f} s (transcription only), cpu {rs_cpu:.2f} s (whole process)")
        print(f"speed ratio python/rust: wall {py_wall / rs_wall:.2f}x, cpu {py_cpu / rs_cpu:.2f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "counterpart"))
    ap.add_argument("--model", default=str(ROOT / "target" / "models" / "basic-pitch" / "nmp.onnx"))
    ap.add_argument("--wav")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--sessions", default="0")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.serve:
        if not args.wav:
            sys.exit("--serve needs --wav")
        serve(args)
    else:
        standalone(args)


if __name__ == "__main__":
    main()
