"""Rendering a PrettyMIDI through the fluidsynth CLI to a mono clip, shared by the fixture scripts."""

import pathlib
import subprocess
import tempfile

import numpy as np
import soundfile as sf


def render_mono(pm, rate, samples, gain, sf2):
    """pm rendered at rate with no reverb or chorus and the given gain, downmixed to mono, padded or cut to
    samples, peak 0.8."""
    with tempfile.TemporaryDirectory() as tmp:
        mid = pathlib.Path(tmp) / "in.mid"
        raw = pathlib.Path(tmp) / "out.wav"
        pm.write(str(mid))
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", gain, "-r", str(rate), "-F", str(raw), sf2, str(mid)],
            check=True,
        )
        y, sr = sf.read(str(raw), dtype="float32", always_2d=True)
    assert sr == rate, sr
    y = y.mean(axis=1)
    y = np.pad(y, (0, max(0, samples - len(y))))[:samples]
    peak = float(np.max(np.abs(y))) or 1.0
    return y / peak * 0.8
