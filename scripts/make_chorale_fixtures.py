#!/usr/bin/env python3
"""Render Bach chorale excerpts with known harmony for the chord/key accuracy test
(engine/tests/chorales.rs).

The set is fixed (CHORALES below, music21 corpus ids; no randomness). For each chorale:

* Excerpt: BARS full 4/4 bars starting at the first downbeat. A pickup (anacrusis) is dropped, so
  the audio starts on a downbeat; notes crossing the excerpt's edges are clipped to it. The script
  checks that the bar lines from the first downbeat on are regular (split measures at phrase ends
  add up to whole bars), so bar k of the labels is [k * 4, k * 4 + 4) beats of the audio.
* Chord labels: music21 `chordify()` of the excerpt (ties stripped); each vertical slice is named
  by music21 (`root()` and its quality predicates) in the engine's vocabulary: root + "", "m",
  "7", "maj7", "m7", "dim", "aug", "sus4" (diminished and half-diminished sevenths -> "dim";
  incomplete triads -> the triad music21 names; other sonorities, e.g. passing-tone clusters,
  stay unlabelled). The bar's label is the one covering the most duration (ties: the earlier
  onset). Every labelled chord of the bar is stored too, with its duration in beats.
* Key: music21 `analyze('key')` of the excerpt.
* Audio: the four voices as separate MIDI channels of one General MIDI program at a fixed tempo
  (TEMPO BPM, so bars are known in seconds: bar k starts at LEAD + k * 4 * 60 / TEMPO s), notes
  held for 92% of their written length so repeated notes re-attack, rendered with fluidsynth
  (FluidR3_GM, no reverb/chorus) at 22050 Hz, downmixed to mono, peak-normalised and stored as
  8-bit FLAC. 8 bits (about 48 dB SNR, well under what the transcriber needs) and the drawbar
  organ keep the eight clips under 1 MB together; 16-bit organ would be about 5 MB.

Chord roots are spelled with flats when the key's signature has flats (the engine's rule); the
test compares pitch classes, not spellings.

Needs: Debian `fluidsynth` + `fluid-soundfont-gm`, and `pip install music21 pretty_midi numpy
soundfile` in the .venv.

Writes engine/tests/fixtures/chorales/<id>.flac and labels.json.
"""
import argparse
import json
import pathlib

import numpy as np
import pretty_midi
import soundfile as sf
from music21 import chord as m21chord
from music21 import corpus, meter

from fluid_render import render_mono

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "engine" / "tests" / "fixtures" / "chorales"
SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SR = 22050
TEMPO = 90.0
BARS = 8
BEATS = 4
LEAD = 0.25  # seconds of silence before the first downbeat
TAIL = 0.75  # seconds after the last bar (release)
PROGRAM = 16  # General MIDI Drawbar Organ (0-based); few partials, so small FLACs

# music21 corpus ids (bach/<id>): 4/4, four voices, regular bar lines over the first BARS bars;
# major and minor keys, with and without a pickup.
CHORALES = [
    "bwv10.7",
    "bwv26.6",
    "bwv40.8",
    "bwv66.6",
    "bwv153.1",
    "bwv180.7",
    "bwv262",
    "bwv194.6",
]

FLAT_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
SHARP_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def prefers_flats(tonic: int, mode: str) -> bool:
    """The engine's rule (analysis::Key::prefers_flats)."""
    major_tonic = (tonic + 3) % 12 if mode == "minor" else tonic
    return major_tonic in (1, 3, 5, 8, 10)


def quality_of(c: m21chord.Chord):
    """(root pitch class, engine quality suffix) as music21 names the slice, or None."""
    pcs = sorted(set(c.pitchClasses))
    if len(pcs) < 2:
        return None
    for r in pcs:  # sus4: {r, r+5, r+7} (music21 has no sus predicate)
        if set(pcs) == {r, (r + 5) % 12, (r + 7) % 12}:
            return r, "sus4"
    checks = [
        (c.isDominantSeventh, "7"),
        (c.isMajorTriad, ""),
        (c.isMinorTriad, "m"),
        (c.isDiminishedTriad, "dim"),
        (c.isAugmentedTriad, "aug"),
        (c.isDiminishedSeventh, "dim"),
        (c.isHalfDiminishedSeventh, "dim"),
        (c.isIncompleteMajorTriad, ""),
        (c.isIncompleteMinorTriad, "m"),
    ]
    for pred, q in checks:
        if pred():
            return c.root().pitchClass, q
    if c.isSeventh():
        root = c.root().pitchClass
        iv = {(p - root) % 12 for p in pcs}
        if iv == {0, 4, 7, 11}:
            return root, "maj7"
        if iv == {0, 3, 7, 10}:
            return root, "m7"
    return None


def excerpt_start(score) -> float:
    """Offset (quarters) of the first downbeat; asserts regular 4/4 bars from there."""
    part = score.parts[0]
    sigs = {ts.ratioString for ts in part.recurse().getElementsByClass(meter.TimeSignature)}
    assert sigs == {"4/4"}, sigs
    measures = list(part.getElementsByClass("Measure"))
    start = next(m.offset for m in measures if m.duration.quarterLength == BEATS and m.number >= 1)
    seen = set()
    for m in measures:
        if m.offset >= start + BARS * BEATS:
            break
        if m.offset >= start and m.number not in seen:
            seen.add(m.number)
            assert (m.offset - start) % BEATS == 0, (m.number, m.offset, start)
    assert part.highestTime >= start + BARS * BEATS, "chorale too short"
    return float(start)


def analyse(cid: str):
    score = corpus.parse(f"bach/{cid}").stripTies()
    assert len(score.parts) == 4, cid
    start = excerpt_start(score)
    end = start + BARS * BEATS
    notes = []  # (part index, onset beats from the first downbeat, end beats, midi pitch)
    for i, part in enumerate(score.parts):
        for n in part.flatten().notes:
            on, off = float(n.offset), float(n.offset + n.quarterLength)
            if off <= start or on >= end:
                continue
            for p in n.pitches:
                notes.append((i, max(on, start) - start, min(off, end) - start, p.midi))
    # Chordify the whole score (keeps voice-leading context) and read the excerpt's slices.
    chords = score.chordify().flatten().getElementsByClass(m21chord.Chord)
    bars = [dict() for _ in range(BARS)]
    for c in chords:
        on, off = float(c.offset), float(c.offset + c.quarterLength)
        if off <= start or on >= end:
            continue
        lab = quality_of(c)
        if lab is None:
            continue
        # Split the slice over the bars it covers.
        t = max(on, start)
        while t < min(off, end) - 1e-9:
            b = int((t - start) // BEATS)
            bar_end = start + (b + 1) * BEATS
            seg_end = min(off, end, bar_end)
            d = bars[b].setdefault(lab, [0.0, t])
            d[0] += seg_end - t
            t = seg_end
    # Key of the excerpt: analyse a copy limited to the excerpt's notes.
    from music21 import note as m21note
    from music21 import stream

    ex = stream.Stream()
    for _, on, off, p in notes:
        n = m21note.Note(p)
        n.quarterLength = off - on
        ex.insert(on, n)
    k = ex.analyze("key")
    tonic, mode = k.tonic.pitchClass, k.mode
    names = FLAT_NAMES if prefers_flats(tonic, mode) else SHARP_NAMES
    key_name = f"{names[tonic]} {mode}"

    def name(lab):
        return f"{names[lab[0]]}{lab[1]}"

    labels, detail = [], []
    for bar in bars:
        if not bar:
            labels.append("N")
            detail.append([])
            continue
        best = max(bar.items(), key=lambda kv: (kv[1][0], -kv[1][1]))[0]
        labels.append(name(best))
        detail.append([[name(lab), round(v[0], 3)] for lab, v in sorted(bar.items(), key=lambda kv: kv[1][1])])
    return notes, key_name, labels, detail


def render(notes, seconds: float, program: int) -> np.ndarray:
    spb = 60.0 / TEMPO
    pm = pretty_midi.PrettyMIDI(initial_tempo=TEMPO)
    insts = [pretty_midi.Instrument(program=program, name=f"voice{i}") for i in range(4)]
    for i, on, off, p in notes:
        s = LEAD + on * spb
        e = LEAD + (on + 0.92 * (off - on)) * spb
        insts[i].notes.append(pretty_midi.Note(velocity=80, pitch=p, start=s, end=e))
    pm.instruments.extend(insts)
    return render_mono(pm, SR, int(round(seconds * SR)), "0.5", SF2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=OUT)
    ap.add_argument("--program", type=int, default=PROGRAM, help="General MIDI program (0-based)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seconds = LEAD + BARS * BEATS * 60.0 / TEMPO + TAIL
    entries = []
    for cid in CHORALES:
        notes, key_name, labels, detail = analyse(cid)
        y = render(notes, seconds, args.program)
        path = args.out / f"{cid}.flac"
        sf.write(str(path), y, SR, format="FLAC", subtype="PCM_S8")
        entries.append(
            {
                "id": cid,
                "file": path.name,
                "tempo": TEMPO,
                "meter": f"{BEATS}/4",
                "lead": LEAD,
                "key": key_name,
                "chords": labels,
                "bar_chords": detail,
            }
        )
        print(f"{cid:10} {key_name:10} {' '.join(f'{c:5}' for c in labels)}  {path.stat().st_size // 1024} KiB")
    doc = {
        "source": "music21 corpus Bach chorales; scripts/make_chorale_fixtures.py",
        "program": args.program,
        "sample_rate": SR,
        "chorales": entries,
    }
    (args.out / "labels.json").write_text(json.dumps(doc, indent=1) + "\n")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"total {total / 1024:.0f} KiB in {args.out}")


if __name__ == "__main__":
    main()
