"""Bach chorales (music21 corpus, public domain) -> four-voice piano rolls with chord and key labels.

Output: target/arranger/chorales.npz (not committed) holding, per piece, a (4, T) int16 roll of MIDI
pitches at eighth-note resolution (-1 = rest; voices S, A, T, B), a per-step chord label (root 0-11,
quality index into QUALITIES, -1 = none), the key (tonic pitch class, 0 major / 1 minor) and the bar
phase of step 0. The train/validation/test split is by piece id and fixed in split.json (committed);
it is written once and then only read, so re-running never reshuffles it.

Usage: .venv/bin/python scripts/arranger/prepare_data.py
"""

import hashlib
import json
import pathlib
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "target" / "arranger" / "chorales.npz"
SPLIT = HERE / "split.json"

# Eighth notes: chorales move in quarters and eighths; sixteenths are rare ornaments.
STEPS_PER_BEAT = 2
STEPS_PER_BAR = 4 * STEPS_PER_BEAT
VOICES = ["soprano", "alto", "tenor", "bass"]

# Our chord vocabulary, the same order, intervals and priors as engine/src/analysis/chords.rs.
QUALITIES = [
    ("", (0, 4, 7), 0.02),
    ("m", (0, 3, 7), 0.02),
    ("7", (0, 4, 7, 10), 0.0),
    ("maj7", (0, 4, 7, 11), 0.0),
    ("m7", (0, 3, 7, 10), 0.0),
    ("dim", (0, 3, 6), 0.0),
    ("aug", (0, 4, 8), -0.02),
    ("sus4", (0, 5, 7), -0.01),
]


def label_profile(pcp, bass):
    """Best (root, quality index) for a 12-bin profile; mirrors chords.rs label_profile_with_bass."""
    norm = float(np.sqrt((pcp**2).sum()))
    if norm <= 0:
        return -1, -1
    best, arg = -1e9, (-1, -1)
    for root in range(12):
        for qi, (_, ivs, prior) in enumerate(QUALITIES):
            cos = sum(pcp[(root + i) % 12] for i in ivs) / (norm * np.sqrt(len(ivs)))
            score = cos + prior + (0.1 if bass == root else 0.0)
            if score > best:
                best, arg = score, (root, qi)
    return arg


def chord_labels(roll):
    """One label per beat (both of its steps): the duration-weighted pitch classes of all four
    voices in the beat, bass pitch class weighted up as chords.rs does (what chordify would hand a
    per-beat labeller)."""
    T = roll.shape[1]
    root = np.full(T, -1, np.int16)
    qual = np.full(T, -1, np.int16)
    for b0 in range(0, T, STEPS_PER_BEAT):
        seg = roll[:, b0 : b0 + STEPS_PER_BEAT]
        pcp = np.zeros(12)
        for p in seg[seg >= 0]:
            pcp[p % 12] += 1
        if pcp.sum() == 0:
            continue
        basses = seg[3][seg[3] >= 0]
        bass = int(basses.min() % 12) if len(basses) else None
        if bass is not None:
            pcp[bass] += 0.35 * pcp.sum()
        r, q = label_profile(pcp, bass)
        root[b0 : b0 + STEPS_PER_BEAT] = r
        qual[b0 : b0 + STEPS_PER_BEAT] = q
    return root, qual


def parse(path):
    """One chorale -> dict, or None when it is not a plain four-part 4/4 chorale."""
    from music21 import corpus

    s = corpus.parse(path)
    if len(s.parts) != 4:
        return None
    ts = s.recurse().getElementsByClass("TimeSignature")
    if not ts or ts[0].ratioString != "4/4":
        return None
    measures = s.parts[0].getElementsByClass("Measure")
    pickup = float(measures[0].paddingLeft) if measures else 0.0
    length = float(s.highestTime)
    T = int(round(length * STEPS_PER_BEAT))
    roll = np.full((4, T), -1, np.int16)
    for v, part in enumerate(s.parts):
        for n in part.flatten().notes:
            start = int(round(float(n.offset) * STEPS_PER_BEAT))
            end = int(round(float(n.offset + n.quarterLength) * STEPS_PER_BEAT))
            if end <= start:
                continue  # grace notes and sixteenth ornaments shorter than a step
            roll[v, start:end] = max(p.midi for p in n.pitches)
    k = s.analyze("key")
    root, qual = chord_labels(roll)
    return {
        "roll": roll,
        "root": root,
        "qual": qual,
        "key": (k.tonic.pitchClass, 0 if k.mode == "major" else 1),
        "phase": int(round(pickup * STEPS_PER_BEAT)) % STEPS_PER_BAR,
    }


def make_split(ids):
    """80/10/10 by a hash of the piece id: deterministic and independent of corpus order."""
    split = {"train": [], "valid": [], "test": []}
    for i in sorted(ids):
        h = int(hashlib.sha256(i.encode()).hexdigest()[:8], 16) % 10
        split["test" if h == 0 else "valid" if h == 1 else "train"].append(i)
    return split


def main():
    from music21 import corpus

    paths = [str(p) for p in corpus.chorales.Iterator(returnType="filename")]
    t0 = time.time()
    pieces = {}
    for i, p in enumerate(paths):
        if p in pieces:
            continue
        d = parse(p)
        if d is not None:
            pieces[p] = d
        if i % 50 == 0:
            print(f"  parsed {i}/{len(paths)} ({time.time() - t0:.0f} s)", file=sys.stderr)
    if SPLIT.exists():
        split = json.loads(SPLIT.read_text())
    else:
        split = make_split(pieces)
        split["note"] = (
            "Fixed split of music21 Bach chorales (four parts, 4/4) by corpus id; written once by "
            "prepare_data.py, never regenerated."
        )
        SPLIT.write_text(json.dumps(split, indent=1) + "\n")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    ids = sorted(pieces)
    np.savez_compressed(
        OUT,
        ids=np.array(ids),
        lengths=np.array([pieces[i]["roll"].shape[1] for i in ids]),
        roll=np.concatenate([pieces[i]["roll"] for i in ids], axis=1),
        root=np.concatenate([pieces[i]["root"] for i in ids]),
        qual=np.concatenate([pieces[i]["qual"] for i in ids]),
        key=np.array([pieces[i]["key"] for i in ids]),
        phase=np.array([pieces[i]["phase"] for i in ids]),
    )
    # Stats.
    print(f"chorales in corpus: {len(paths)}, kept (4 parts, 4/4): {len(pieces)}, parse {time.time() - t0:.0f} s")
    for name in ("train", "valid", "test"):
        sel = [i for i in split[name] if i in pieces]
        steps = sum(pieces[i]["roll"].shape[1] for i in sel)
        print(f"  {name:5s}: {len(sel):3d} pieces, {steps:6d} eighth steps ({steps / STEPS_PER_BAR:.0f} bars)")
    allroll = np.concatenate([pieces[i]["roll"] for i in ids], axis=1)
    for v, name in enumerate(VOICES):
        r = allroll[v][allroll[v] >= 0]
        print(f"  {name:7s}: MIDI {r.min()}-{r.max()}, mean {r.mean():.1f}, rest share {(allroll[v] < 0).mean():.3f}")
    q = np.concatenate([pieces[i]["qual"] for i in ids])
    names = [n or "maj" for n, _, _ in QUALITIES]
    counts = {names[k]: round(float((q == k).mean()), 3) for k in range(len(QUALITIES))}
    print(f"  chord qualities (share of steps): {counts}, none {float((q < 0).mean()):.3f}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
