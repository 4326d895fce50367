#!/usr/bin/env python3
"""Tiny encoded clips (FLAC, Ogg Vorbis, MP3; 1 s, A4 piano-like tone) for the decoder tests.
Written with soundfile/libsndfile to engine/tests/fixtures/formats/."""
import pathlib

import numpy as np
import soundfile as sf

OUT = pathlib.Path(__file__).resolve().parents[1] / "engine" / "tests" / "fixtures" / "formats"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    sr = 44100
    t = np.arange(sr) / sr
    env = np.exp(-3 * t) * (t < 0.8)
    y = sum(0.3 / h * np.sin(2 * np.pi * 440 * h * t) for h in range(1, 4)) * env
    stereo = np.stack([y, y], axis=1).astype(np.float32)
    sf.write(str(OUT / "a4.flac"), stereo, sr, format="FLAC", subtype="PCM_16")
    sf.write(str(OUT / "a4.ogg"), stereo, sr, format="OGG", subtype="VORBIS")
    sf.write(str(OUT / "a4.mp3"), stereo, sr, format="MP3", subtype="MPEG_LAYER_III")


if __name__ == "__main__":
    main()
