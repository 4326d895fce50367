"""Writes engine/tests/fixtures/arranger/chorale_test.json: 12 bars of a TEST-split chorale (all
four voices as notes in beats, a chord per eighth step, the key), shifted so bar 0 starts on a
downbeat at beat 0, and prints the harmonic fit of the true bass, of Gibbs fills of bars 2..10 and
of the random in-key baseline, from which the Rust test's margin is set.

Usage: .venv/bin/python scripts/arranger/make_fixture.py
"""

import json
import pathlib

import numpy as np

import evaluate as E
import model as M
import train as TR

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parents[1] / "engine" / "tests" / "fixtures" / "arranger" / "chorale_test.json"
BARS = 12
FILL = (2, 10)


def main():
    test = TR.load("test")
    p = next(p for p in test if p["midi"].shape[1] >= BARS * M.STEPS_PER_BAR + M.STEPS_PER_BAR)
    s = (-p["phase"]) % M.STEPS_PER_BAR  # first downbeat
    n = BARS * M.STEPS_PER_BAR
    midi = p["midi"][:, s : s + n]
    root, qual = p["root"][s : s + n], p["qual"][s : s + n]
    voices = []
    for v in range(M.VOICES):
        cls = TR.to_classes(midi[v])
        voices.append(
            [
                {"start": a / M.STEPS_PER_BEAT, "length": ln / M.STEPS_PER_BEAT, "key": c + M.PITCH_LO, "velocity": 80}
                for a, ln, c in E.notes_of(cls)
            ]
        )
    fixture = {
        "source": f"music21 corpus {p['id']} (test split), steps {s}..{s + n} at eighth notes; public domain",
        "key": {"tonic": p["key"][0], "minor": bool(p["key"][1])},
        "steps_per_beat": M.STEPS_PER_BEAT,
        "chords": [None if r < 0 else {"root": int(r), "quality": M.QUAL_NAMES[q]} for r, q in zip(root, qual)],
        "voices": voices,
        "fill_bars": list(FILL),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} from {p['id']}")

    # Harmonic fit over the fill range, as the Rust test measures it.
    cfg = json.loads((E.PACK / "arranger.json").read_text())["gibbs"]
    a, b = FILL[0] * M.STEPS_PER_BAR, FILL[1] * M.STEPS_PER_BAR
    cls = TR.to_classes(midi)
    w0 = a  # the Rust sampler centres an 8-bar range in the 64-step window: start = a
    win = cls[:, w0 : w0 + M.T]
    cond = TR.cond_batch(root[None, w0 : w0 + M.T], qual[None, w0 : w0 + M.T], np.array([p["key"][0]]),
                         np.array([p["key"][1]], np.float32), np.arange(M.T)[None])[0]
    lo, hi = 36, 64
    allowed = np.ones((M.VOICES, M.K), bool)
    allowed[3] = E.allowed_classes(lo, hi)
    target = np.zeros((M.VOICES, M.T), bool)
    target[3] = True
    model = E.Model()
    rng = np.random.default_rng(0)

    def fit(line):
        h, t, *_ = E.line_stats(line, root[w0 : w0 + M.T], qual[w0 : w0 + M.T], 0)
        return h / t

    fills = [fit(E.gibbs(model, win, target, cond, E.voice_attr(3), allowed, rng, cfg)[3]) for _ in range(8)]
    rand = [fit(E.baseline_line("random in-key", root[w0 : w0 + M.T], p["key"], lo, hi, rng)) for _ in range(50)]
    print(f"harmonic fit over bars {FILL}: true bass {fit(win[3]):.3f}; Gibbs fills min {min(fills):.3f} "
          f"mean {np.mean(fills):.3f}; random in-key mean {np.mean(rand):.3f} max {max(rand):.3f}")


if __name__ == "__main__":
    main()
