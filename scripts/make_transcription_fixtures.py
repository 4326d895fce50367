#!/usr/bin/env python3
"""Render short known MIDI clips through a General MIDI SoundFont and store the basic-pitch
reference outputs as fixtures for the Rust parity and accuracy tests.

Needs: Debian `fluidsynth` and `fluid-soundfont-gm` (FluidR3_GM.sf2, MIT), and a Python with
`pip install --no-deps basic-pitch==0.4.0` plus onnxruntime==1.31.1 numpy scipy librosa resampy
pretty_midi mir_eval soundfile (see scripts/README.md).

Writes to engine/tests/fixtures/transcription/:
  <clip>.mid        the known notes (truth)
  <clip>.truth.json the same notes as JSON [{start, end, pitch, velocity}]
  <clip>.wav        22050 Hz mono 16-bit rendering (<= 2.5 s)
  <clip>.ref.json   reference run: frame count and notes (start, end, pitch, amplitude, pitch_bends)
  <clip>.pg.bin     reference posteriorgram, little-endian f32: onset (T x 88), note (T x 88),
                    contour (T x 264)
"""
import argparse
import json
import pathlib
import sys

import numpy as np
import pretty_midi
import soundfile as sf

from fluid_render import render_mono

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "engine" / "tests" / "fixtures" / "transcription"
SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SR = 22050
CLIP_SECONDS = 2.5


def clip_piano_melody():
    """Acoustic piano, a C major line in eighths at 120 BPM."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(program=0)
    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 71]
    for i, p in enumerate(pitches):
        start = 0.1 + i * 0.25
        inst.notes.append(pretty_midi.Note(velocity=96, pitch=p, start=start, end=start + 0.22))
    pm.instruments.append(inst)
    return pm


def clip_piano_chords():
    """Acoustic piano, Eb - Cm - Bb7 block chords with a bass note."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(program=0)
    chords = [(0.1, [51, 63, 67, 70]), (0.9, [48, 63, 67, 72]), (1.7, [46, 62, 65, 68])]
    for start, ps in chords:
        for p in ps:
            inst.notes.append(pretty_midi.Note(velocity=90, pitch=p, start=start, end=start + 0.7))
    pm.instruments.append(inst)
    return pm


def clip_bass_flute():
    """Fingered bass and flute duet (two instruments, different registers)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    bass = pretty_midi.Instrument(program=33)
    for i, p in enumerate([40, 40, 43, 45]):
        start = 0.1 + i * 0.5
        bass.notes.append(pretty_midi.Note(velocity=100, pitch=p, start=start, end=start + 0.45))
    flute = pretty_midi.Instrument(program=73)
    for i, p in enumerate([76, 79, 81, 79, 76]):
        start = 0.1 + i * 0.4
        flute.notes.append(pretty_midi.Note(velocity=90, pitch=p, start=start, end=start + 0.35))
    pm.instruments.extend([bass, flute])
    return pm


CLIPS = {
    "piano_melody": clip_piano_melody,
    "piano_chords": clip_piano_chords,
    "bass_flute": clip_bass_flute,
}


def render(pm, wav_path, seconds, sf2=SF2):
    """Render with the fluidsynth CLI at 22050 Hz, no reverb/chorus, then downmix to mono int16."""
    y = render_mono(pm, SR, int(seconds * SR), "0.7", sf2)
    sf.write(str(wav_path), y.astype(np.float32), SR, subtype="PCM_16")


def truth_notes(pm):
    notes = [n for inst in pm.instruments for n in inst.notes]
    notes.sort(key=lambda n: (n.start, n.pitch))
    return [{"start": n.start, "end": n.end, "pitch": n.pitch, "velocity": n.velocity} for n in notes]


def reference(wav_path, model_path):
    """Run basic-pitch's own `predict` (ONNX backend) and return its outputs and notes."""
    from basic_pitch.inference import predict

    out, _midi, notes = predict(str(wav_path), str(model_path))
    ref_notes = [
        {
            "start": float(s),
            "end": float(e),
            "pitch": int(p),
            "amplitude": float(a),
            "pitch_bends": [int(b) for b in bends] if bends is not None else None,
        }
        for s, e, p, a, bends in notes
    ]
    return out, ref_notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "target" / "models" / "basic-pitch" / "nmp.onnx"))
    ap.add_argument("--sf2", default=SF2)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in CLIPS.items():
        pm = make()
        pm.write(str(OUT / f"{name}.mid"))
        (OUT / f"{name}.truth.json").write_text(json.dumps(truth_notes(pm), indent=1))
        wav = OUT / f"{name}.wav"
        render(pm, wav, CLIP_SECONDS, args.sf2)
        out, notes = reference(wav, args.model)
        frames = out["note"].shape[0]
        pg = np.concatenate([out["onset"].ravel(), out["note"].ravel(), out["contour"].ravel()]).astype("<f4")
        pg.tofile(OUT / f"{name}.pg.bin")
        (OUT / f"{name}.ref.json").write_text(json.dumps({"frames": frames, "notes": notes}, indent=1))
        print(f"{name}: {frames} frames, {len(notes)} reference notes, {len(truth_notes(pm))} true notes", file=sys.stderr)


if __name__ == "__main__":
    main()
