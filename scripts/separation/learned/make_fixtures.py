#!/usr/bin/env python3
"""Fixtures for engine/tests/separate_learned.rs, from the committed pack and the corpus.

- `clip.flac`: 2 s of a validation mix (22.05 kHz, 16-bit), and `reference.json`: what the
  pack's graph gives on it through onnxruntime, with the engine's bring-your-own pipeline redone
  here in torch/numpy (centred periodic-Hann STFT, calls of `chunk` frames keeping the middle
  `chunk - 2 context`, masks on the complex spectrum, inverse STFT): per stem and channel the RMS
  and excerpts across the seams between calls. A small chunk (128) makes 2 s cross three seams.
- `heldout_mix.flac`, `heldout_drums.flac`, `heldout_bass.flac`: the first 8 s of the first held-out
  mix exactly as scripts/separation/evaluate.py renders it (fluidsynth + FluidR3_GM, peak 0.9),
  downmixed to mono and resampled to 22.05 kHz (16-bit, small enough to commit), and its drum and
  bass stems at the same scale.

    .venv/bin/python scripts/separation/learned/make_fixtures.py
"""

import json
import sys
import tomllib
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import model as net

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))
import evaluate  # noqa: E402

PACK = ROOT / "models" / "separator-learned"
OUT = ROOT / "engine" / "tests" / "fixtures" / "separator-learned"
DATA = ROOT / "target" / "tmp" / "separation-learned" / "data"
CHUNK = 128
CONTEXT = 32
EXCERPT = 64


def separate(audio, session, stems, chunk, context):
    """The engine's magnitude path (byo.rs) on `audio` `[2, samples]`: `{stem: [2, samples]}`."""
    n = audio.shape[1]
    window = torch.hann_window(net.N_FFT, periodic=True)
    x = torch.stft(torch.from_numpy(audio), net.N_FFT, net.HOP, window=window, center=True, pad_mode="constant",
                   return_complex=True)  # [2, 513, frames]
    spectrum = x.numpy()
    frames = spectrum.shape[2]
    magnitude = np.abs(spectrum[:, : net.BINS, :]).transpose(0, 2, 1)  # [2, frames, bins]
    keep = chunk - 2 * context
    masks = np.zeros((len(stems), 2, frames, net.BINS), np.float32)
    for first in range(0, frames, keep):
        count = min(keep, frames - first)
        window_in = np.zeros((1, 2, chunk, net.BINS), np.float32)
        for w in range(chunk):
            f = first + w - context
            if 0 <= f < frames:
                window_in[0, :, w] = magnitude[:, f]
        out = session.run(None, {"magnitude": window_in})[0]
        out = out.reshape(1, len(stems), 2, chunk, net.BINS)[0]
        masks[:, :, first : first + count] = out[:, :, context : context + count]
    result = {}
    for s, name in enumerate(stems):
        y = np.zeros_like(spectrum)
        y[:, : net.BINS, :] = spectrum[:, : net.BINS, :] * np.clip(masks[s], 0, 1).transpose(0, 2, 1)
        wave = torch.istft(torch.from_numpy(y), net.N_FFT, net.HOP, window=window, center=True, length=n)
        result[name] = wave.numpy()
    return result


def heldout_mix(seconds=8.0):
    """evaluate.py's first held-out mix (same parts, programs, groove and scale), mono 22.05 kHz."""
    from scipy.signal import resample_poly

    sf2 = evaluate.soundfont()
    work = ROOT / "target" / "tmp" / "separation-learned" / "heldout"
    work.mkdir(parents=True, exist_ok=True)
    name, parts = evaluate.chorales(1, 20.0)[0]
    s = 20.0
    bass = evaluate.render([(a, b, p - 12) for a, b, p in parts["bass"]], 33, False, work / "bass.wav", s, sf2)
    piano = evaluate.render(parts["alto"] + parts["tenor"], 0, False, work / "piano.wav", s, sf2)
    strings = evaluate.render(parts["soprano"], 48, False, work / "strings.wav", s, sf2)
    drums = evaluate.render(evaluate.groove(s), 0, True, work / "drums.wav", s, sf2)
    mix = bass + piano + strings + drums
    scale = 0.9 / max(1e-9, np.abs(mix).max())
    n = int(seconds * evaluate.RATE)
    for stem, audio in [("mix", mix), ("drums", drums), ("bass", bass)]:
        mono = resample_poly((audio[:n] * scale).mean(axis=1), net.RATE, evaluate.RATE)
        sf.write(str(OUT / f"heldout_{stem}.flac"), mono.astype(np.float32), net.RATE, subtype="PCM_16")
    print(f"held-out mix: {name}, {seconds:.0f} s")


def main():
    import onnxruntime as ort

    OUT.mkdir(parents=True, exist_ok=True)
    spec = tomllib.loads((PACK / "model.toml").read_text())["separator"]
    session = ort.InferenceSession(str(PACK / "model.onnx"), providers=["CPUExecutionProvider"])
    piece = np.load(sorted((DATA / "valid").glob("*.npz"))[0])
    start = 5 * net.RATE
    mix = sum(piece[k][:, start : start + 2 * net.RATE].astype(np.int32) for k in ("drums", "bass", "other"))
    mix = np.clip(mix, -32768, 32767).astype(np.int16)
    sf.write(str(OUT / "clip.flac"), mix.T, net.RATE, subtype="PCM_16")
    audio, _ = sf.read(str(OUT / "clip.flac"), dtype="float32", always_2d=True)
    stems = separate(np.ascontiguousarray(audio.T), session, spec["stems"], CHUNK, CONTEXT)
    seams = [(CHUNK - 2 * CONTEXT) * k * net.HOP for k in (1, 2, 3)]
    reference = {"chunk": CHUNK, "context": CONTEXT, "frames": len(audio), "stems": {}}
    for name, wave in stems.items():
        reference["stems"][name] = {
            "rms": [float(np.sqrt(np.mean(wave[c].astype(np.float64) ** 2))) for c in range(2)],
            "excerpts": [
                {"start": s - EXCERPT // 2, "left": wave[0, s - EXCERPT // 2 : s + EXCERPT // 2].tolist(),
                 "right": wave[1, s - EXCERPT // 2 : s + EXCERPT // 2].tolist()}
                for s in seams
            ],
        }
    (OUT / "reference.json").write_text(json.dumps(reference) + "\n")
    heldout_mix()
    print(f"{OUT}: clip.flac, reference.json ({', '.join(stems)}), heldout_mix.flac, heldout_drums.flac, heldout_bass.flac")


if __name__ == "__main__":
    main()
