#!/usr/bin/env python3
"""Renders the example context song: 8 bars at 100 BPM in C major (C Am F G, twice) played by
piano chords, a fingered bass and a flute melody, through the General MIDI SoundFont FluidR3
(Debian `fluid-soundfont-gm`, MIT). Writes examples/context.mid (the score) and
examples/context.wav (mono, 44.1 kHz, 16-bit).

Needs: `apt-get install fluidsynth fluid-soundfont-gm` and `pip install pretty_midi`.
"""
import pathlib
import subprocess
import tempfile
import wave

import numpy as np
import pretty_midi

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
BPM = 100.0
BEAT = 60.0 / BPM
BAR = 4 * BEAT
PROGRESSION = [(60, [0, 4, 7]), (57, [0, 3, 7]), (53, [0, 4, 7]), (55, [0, 4, 7])] * 2
MELODY = [  # (beat in bar, length in beats, pitch) for each bar
    [(0, 1, 76), (1, 1, 74), (2, 2, 72)],
    [(0, 1.5, 72), (1.5, 0.5, 71), (2, 2, 69)],
    [(0, 1, 69), (1, 1, 72), (2, 1, 77), (3, 1, 76)],
    [(0, 2, 74), (2, 1, 71), (3, 1, 67)],
    [(0, 1, 72), (1, 0.5, 74), (1.5, 0.5, 76), (2, 2, 79)],
    [(0, 1, 76), (1, 1, 72), (2, 2, 69)],
    [(0, 1, 77), (1, 1, 76), (2, 1, 74), (3, 1, 72)],
    [(0, 3, 71), (3, 1, 74)],
]


def score() -> pretty_midi.PrettyMIDI:
    pm = pretty_midi.PrettyMIDI(initial_tempo=BPM)
    piano = pretty_midi.Instrument(program=0, name="piano")
    bass = pretty_midi.Instrument(program=33, name="bass")
    flute = pretty_midi.Instrument(program=73, name="flute")
    for bar, (root, shape) in enumerate(PROGRESSION):
        start = bar * BAR
        for beat in (0, 2):
            for interval in shape:
                t = start + beat * BEAT
                piano.notes.append(pretty_midi.Note(velocity=70, pitch=root + interval, start=t, end=t + 1.8 * BEAT))
        for beat, length in ((0, 1.5), (1.5, 0.5), (2, 1), (3, 1)):
            t = start + beat * BEAT
            pitch = root - 24 + (7 if beat == 3 else 0)
            bass.notes.append(pretty_midi.Note(velocity=95, pitch=pitch, start=t, end=t + 0.9 * length * BEAT))
        for beat, length, pitch in MELODY[bar]:
            t = start + beat * BEAT
            flute.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=t, end=t + 0.95 * length * BEAT))
    pm.instruments.extend([piano, bass, flute])
    return pm


def main() -> None:
    out = ROOT / "examples"
    out.mkdir(exist_ok=True)
    pm = score()
    pm.write(str(out / "context.mid"))
    with tempfile.TemporaryDirectory() as tmp:
        raw = pathlib.Path(tmp) / "context.wav"
        subprocess.run(
            ["fluidsynth", "-ni", "-g", "0.6", "-r", "44100", "-F", str(raw), SOUNDFONT, str(out / "context.mid")],
            check=True, capture_output=True,
        )
        with wave.open(str(raw)) as w:
            frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, w.getnchannels())
    mono = frames.astype(np.float32).mean(axis=1)
    length = int((len(PROGRESSION) * BAR + 1.0) * 44100)
    mono = mono[:length]
    peak = np.abs(mono).max()
    mono = (mono / peak * 0.8 * 32767).astype(np.int16)
    with wave.open(str(out / "context.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(mono.tobytes())
    print(f"wrote {out / 'context.mid'} and {out / 'context.wav'} ({len(mono) / 44100:.1f} s)")


if __name__ == "__main__":
    main()
