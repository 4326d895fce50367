#!/usr/bin/env python3
"""Note-level P/R/F1 of the Python reference and the Rust port against the known MIDI of the
fixture clips (mir_eval, onset tolerance 50 ms, offsets ignored), printed side by side.

Run after `cargo xtask setup` and `cargo build --release -p counterpart-engine`:
    python scripts/eval_transcription.py [--bin target/release/counterpart]
"""
import argparse
import json
import pathlib
import subprocess
import tempfile

import mir_eval
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "engine" / "tests" / "fixtures" / "transcription"
CLIPS = ["piano_melody", "piano_chords", "bass_flute"]


def intervals_pitches(notes):
    if not notes:
        return np.zeros((0, 2)), np.zeros(0)
    iv = np.array([[n["start"], max(n["end"], n["start"] + 1e-3)] for n in notes])
    hz = np.array([440.0 * 2 ** ((n["pitch"] - 69) / 12) for n in notes])
    return iv, hz


def prf(est, truth):
    ri, rp = intervals_pitches(truth)
    ei, ep = intervals_pitches(est)
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=None)
    return p, r, f


def python_notes(wav, model):
    from basic_pitch.inference import predict

    _, _, notes = predict(str(wav), str(model))
    return [{"start": float(s), "end": float(e), "pitch": int(p)} for s, e, p, _a, _b in notes]


def rust_notes(wav, binary):
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "notes.json"
        subprocess.run([str(binary), "transcribe", str(wav), "--json", str(out)], check=True, capture_output=True)
        return json.loads(out.read_text())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "counterpart"))
    ap.add_argument("--model", default=str(ROOT / "target" / "models" / "basic-pitch" / "nmp.onnx"))
    args = ap.parse_args()
    print(f"{'clip':14} {'python P/R/F1':>22} {'rust P/R/F1':>22}")
    for clip in CLIPS:
        wav = FIX / f"{clip}.wav"
        truth = json.loads((FIX / f"{clip}.truth.json").read_text())
        py = prf(python_notes(wav, args.model), truth)
        rs = prf(rust_notes(wav, args.bin), truth)
        fmt = lambda t: "/".join(f"{x:.3f}" for x in t)
        print(f"{clip:14} {fmt(py):>22} {fmt(rs):>22}")


if __name__ == "__main__":
    main()
