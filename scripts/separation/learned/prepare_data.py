#!/usr/bin/env python3
"""Training data for the learned drums/bass mask network: multi-track mixes with known stems.

Pieces come from the music21 corpus and never from the held-out evaluation set: Bach chorales from
the arranger's train/valid split (scripts/arranger/split.json) minus the 10 chorales that
scripts/separation/evaluate.py renders, plus Monteverdi madrigals, Palestrina mass movements and
Haydn / Mozart quartet movements for variety. The split (which piece trains, which validates, which
are held out) is written to split.json beside this script and checked for overlap.

Per piece (fixed seed): a tempo in 70-160 BPM, an excerpt of up to 30 s; the lowest part on a
random GM bass (acoustic, finger, pick, fretless, slap, synth; an octave down where it fits),
every other part on a random program from piano / chromatic percussion / organ / guitar / strings
/ ensemble / brass / reed / pipe / synth lead / pad families; a GM drum groove in the same tempo
(rock, pop, funk, half-time, four-on-the-floor, hip-hop, ballad, disco, swing; fills every 4 or 8
bars, crashes after them, humanised timing and velocities, one of FluidR3's kits); random pans and
volumes. Each stem (drums, bass, other) is rendered alone by fluidsynth + FluidR3_GM at 22.05 kHz
and stored as int16 in target/tmp/separation-learned/data/<split>/<piece>.npz; the mix is their sum
(gains are jittered again at training time). A few pieces have no drums or no bass.

    .venv/bin/python scripts/separation/learned/prepare_data.py [--pieces 96] [--seconds 30]
"""

import argparse
import json
import random
import subprocess
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))
import evaluate  # noqa: E402  (the held-out set's own chooser)

DATA = ROOT / "target" / "tmp" / "separation-learned" / "data"
RATE = 22050
SEED = 2026

BASS_PROGRAMS = [32, 33, 34, 35, 36, 37, 38, 39]
OTHER_FAMILIES = [range(0, 8), range(8, 16), range(16, 24), range(24, 32), range(40, 52), range(52, 56),
                  range(56, 64), range(64, 72), range(72, 80), range(80, 88), range(88, 96)]
KITS = [0, 0, 0, 8, 16, 24, 25, 32, 40]

# 16-step bars: (instrument key, steps, velocity range)
KICK, SNARE, HAT, OPEN, RIDE, CLAP, STICK = 36, 38, 42, 46, 51, 39, 37
PATTERNS = {
    "rock": [(KICK, [0, 8], (95, 120)), (SNARE, [4, 12], (90, 115)), (HAT, range(0, 16, 2), (55, 85))],
    "pop": [(KICK, [0, 6, 8], (90, 115)), (SNARE, [4, 12], (90, 115)), (HAT, range(0, 16, 2), (50, 80))],
    "funk": [(KICK, [0, 3, 10], (95, 120)), (SNARE, [4, 12], (95, 120)), (SNARE, [7, 9, 14], (30, 50)),
             (HAT, range(16), (40, 75))],
    "halftime": [(KICK, [0, 10], (95, 120)), (SNARE, [8], (95, 120)), (HAT, range(0, 16, 2), (50, 80))],
    "four": [(KICK, [0, 4, 8, 12], (100, 120)), (CLAP, [4, 12], (80, 110)), (OPEN, [2, 6, 10, 14], (55, 80)),
             (HAT, [1, 3, 5, 7, 9, 11, 13, 15], (40, 65))],
    "hiphop": [(KICK, [0, 7, 10], (95, 120)), (SNARE, [4, 12], (95, 120)), (HAT, range(0, 16, 2), (50, 80))],
    "ballad": [(KICK, [0, 8], (80, 105)), (STICK, [4, 12], (70, 95)), (RIDE, range(0, 16, 4), (50, 75))],
    "disco": [(KICK, [0, 4, 8, 12], (95, 115)), (SNARE, [4, 12], (90, 110)), (OPEN, [2, 6, 10, 14], (60, 85)),
              (HAT, [0, 4, 8, 12], (45, 65))],
    "swing": [(KICK, [0, 8], (70, 95)), (SNARE, [4, 12], (60, 85)), (RIDE, [0, 4, 7, 8, 12, 15], (55, 85))],
}
TOMS = [50, 48, 47, 45, 43, 41]


def held_out():
    """The chorales evaluate.py renders (its own chooser, same seed and count)."""
    return sorted(name for name, _ in evaluate.chorales(10, 20.0))


def make_split(pieces):
    """Train / valid / held-out piece lists; written to split.json and checked for overlap."""
    arranger = json.loads((ROOT / "scripts" / "arranger" / "split.json").read_text())
    heldout = held_out()
    rng = random.Random(SEED)
    chorales = [p for p in arranger["train"] + arranger["valid"] if p.split("/")[-1] not in heldout]
    rng.shuffle(chorales)
    from music21 import corpus

    def pick(composer, suffix, count):
        paths = sorted(str(p) for p in corpus.getComposer(composer) if str(p).endswith(suffix))
        rng.shuffle(paths)
        return [str(Path(p).relative_to(Path(p).parents[1])) for p in paths[:count]]

    extra = pick("monteverdi", ".mxl", 10) + pick("palestrina", ".krn", 10) + pick("haydn", ".mxl", 3)
    extra += pick("mozart", ".mxl", 3)
    chosen = chorales[: pieces - len(extra)] + extra
    rng.shuffle(chosen)
    valid = sorted(chosen[: max(4, pieces // 12)])
    train = sorted(chosen[len(valid) :])
    assert not set(train) & set(valid)
    assert not {p.split("/")[-1] for p in train + valid} & set(heldout), "a held-out chorale would be trained on"
    return {"seed": SEED, "train": train, "valid": valid, "heldout_evaluate_py": heldout}


def parts_of(name, rng, seconds):
    """The piece's parts as [(start s, end s, pitch)] at a random tempo, an excerpt of <= seconds."""
    from music21 import corpus

    score = corpus.parse(name)
    bpm = rng.uniform(70, 160)
    spq = 60.0 / bpm
    parts = []
    for part in score.parts:
        notes = []
        for n in part.flatten().notes:
            start = float(n.getOffsetInHierarchy(score)) * spq
            end = start + max(0.05, float(n.quarterLength) * spq)
            for p in n.pitches:
                notes.append((start, end, int(p.midi)))
        if notes:
            parts.append(notes)
    length = max(e for part in parts for _, e, _ in part)
    offset = rng.uniform(0, max(0.0, length - seconds - 1)) if length > seconds + 8 else 0.0
    out = []
    for part in parts:
        cut = [(s - offset, min(e - offset, seconds), p) for s, e, p in part if offset <= s < offset + seconds]
        if cut:
            out.append(cut)
    return out, bpm, min(seconds, length - offset)


def groove(rng, bpm, seconds):
    """A humanised GM groove: pattern, fills every 4 or 8 bars, crash after each fill."""
    style = rng.choice(sorted(PATTERNS))
    step = 60.0 / bpm / 4
    swing = rng.uniform(0.15, 0.33) if style in ("swing", "hiphop") or rng.random() < 0.15 else 0.0
    every = rng.choice([4, 8])
    hits = []
    bar = 0
    while bar * 16 * step < seconds:
        fill = bar % every == every - 1
        for key, steps, (lo, hi) in PATTERNS[style]:
            for s in steps:
                if fill and s >= 8:
                    continue
                if key in (HAT, OPEN, RIDE) and rng.random() < 0.05:
                    continue
                hits.append((bar * 16 + s, key, rng.randint(lo, hi)))
        if fill:
            toms = rng.sample(TOMS, 3)
            for s in range(8, 16):
                key = SNARE if rng.random() < 0.4 else toms[(s - 8) * 3 // 8]
                if rng.random() < 0.85:
                    hits.append((bar * 16 + s, key, rng.randint(80, 120)))
        if bar % every == 0 and bar > 0 or bar == 0 and rng.random() < 0.5:
            hits.append((bar * 16, rng.choice([49, 57]), rng.randint(90, 120)))
        bar += 1
    out = []
    for s, key, vel in hits:
        t = s * step + (swing * step if s % 2 == 1 else 0.0) + rng.gauss(0, 0.006)
        if 0 <= t < seconds:
            out.append((max(0.0, t), min(t + 0.25, seconds), key, vel))
    return out, style


def render(instruments, path, seconds, sf2):
    """fluidsynth renders the instruments (pretty_midi.Instrument) alone; int16 [frames, 2]."""
    frames = int(seconds * RATE)
    if not instruments:
        return np.zeros((frames, 2), np.int16)
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    pm.instruments.extend(instruments)
    mid = path.with_suffix(".mid")
    pm.write(str(mid))
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(RATE), "-F", str(path), str(sf2), str(mid)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    audio, rate = sf.read(str(path), dtype="int16", always_2d=True)
    assert rate == RATE, rate
    out = np.zeros((frames, 2), np.int16)
    out[: min(frames, len(audio))] = audio[:frames]
    path.unlink()
    mid.unlink()
    return out


def instrument(program, notes, rng, is_drum=False, transpose=0):
    inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
    inst.control_changes.append(pretty_midi.ControlChange(10, rng.randint(20, 108), 0.0))
    inst.control_changes.append(pretty_midi.ControlChange(7, rng.randint(80, 127), 0.0))
    base = rng.randint(70, 110)
    for n in notes:
        vel = n[3] if len(n) > 3 else max(1, min(127, base + rng.randint(-12, 12)))
        if n[1] > n[0] + 0.01:
            inst.notes.append(pretty_midi.Note(velocity=vel, pitch=n[2] + transpose, start=n[0], end=n[1]))
    return inst


def piece(job):
    """Renders one piece's three stems; returns a summary line."""
    index, name, split, seconds = job
    rng = random.Random(f"{SEED}-{name}")
    parts, bpm, length = parts_of(name, rng, seconds)
    sf2 = evaluate.soundfont()
    folder = DATA / split
    stem = f"{index:03d}-{name.replace('/', '_')}"
    low = parts[-1]
    transpose = -12 if min(p for _, _, p in low) - 12 >= 28 else 0
    bass_program = rng.choice(BASS_PROGRAMS)
    has_bass = rng.random() > 0.06
    has_drums = rng.random() > 0.1
    others = [instrument(rng.choice(rng.choice(OTHER_FAMILIES)), p, rng) for p in parts[:-1]]
    beats, style = groove(rng, bpm, length)
    kit = rng.choice(KITS)
    bass = render([instrument(bass_program, low, rng, transpose=transpose)] if has_bass else [],
                  folder / f"{stem}-bass.wav", length, sf2)
    drums = render([instrument(kit, beats, rng, is_drum=True)] if has_drums else [],
                   folder / f"{stem}-drums.wav", length, sf2)
    other = render(others, folder / f"{stem}-other.wav", length, sf2)
    np.savez(folder / f"{stem}.npz", drums=drums.T, bass=bass.T, other=other.T)
    return (f"{split} {name}: {length:.1f} s, {bpm:.0f} BPM, {style} kit {kit}, bass {bass_program}"
            f"{'' if has_bass else ' (none)'}{'' if has_drums else ', no drums'}, {len(others)} other parts")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pieces", type=int, default=96)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    split_path = HERE / "split.json"
    if split_path.exists():
        split = json.loads(split_path.read_text())
        assert not {p.split("/")[-1] for p in split["train"] + split["valid"]} & set(held_out())
    else:
        split = make_split(args.pieces)
        split_path.write_text(json.dumps(split, indent=1) + "\n")
    jobs = []
    for name in ("train", "valid"):
        (DATA / name).mkdir(parents=True, exist_ok=True)
        jobs += [(i, p, name, args.seconds) for i, p in enumerate(split[name])]
    total = 0.0
    with Pool(args.jobs) as pool:
        for line in pool.imap_unordered(piece, jobs):
            print(line, flush=True)
            total += float(line.split(": ")[1].split(" s")[0])
    print(f"{len(jobs)} pieces, {total / 60:.1f} min of audio at {RATE} Hz in {DATA}")


if __name__ == "__main__":
    main()
