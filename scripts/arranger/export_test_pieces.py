"""Writes the TEST-split chorales for `cargo xtask evaluate-arranger` (the end-to-end-from-audio
evaluation in xtask/src/evaluate.rs): target/arranger/test_pieces.json.

Per piece, from the first downbeat on (a pickup is dropped, so beat 0 is a downbeat): the four
voices' MIDI pitch per eighth step (-1 = rest; soprano, alto, tenor, bass), the per-beat chord
labels of prepare_data.py (root pitch class and quality suffix, the labels the model was trained
and evaluated with; derived from the true four voices) and the key. Reads
target/arranger/chorales.npz (run prepare_data.py first, ~45 s); the split is split.json's.

Usage: .venv/bin/python scripts/arranger/export_test_pieces.py
"""

import json
import pathlib

import model as M
import train as TR

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parents[1] / "target" / "arranger" / "test_pieces.json"


def main():
    pieces = []
    for p in TR.load("test"):
        s = (-p["phase"]) % M.STEPS_PER_BAR  # first downbeat
        midi = p["midi"][:, s:]
        root, qual = p["root"][s:], p["qual"][s:]
        pieces.append(
            {
                "id": p["id"],
                "key": {"tonic": p["key"][0], "minor": bool(p["key"][1])},
                "steps_per_beat": M.STEPS_PER_BEAT,
                "voices": [[int(x) for x in v] for v in midi],
                "chords": [
                    None if r < 0 or q < 0 else {"root": int(r), "quality": M.QUAL_NAMES[q]}
                    for r, q in zip(root, qual)
                ],
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"source": "music21 Bach chorales, TEST split of split.json", "pieces": pieces}))
    print(f"wrote {OUT}: {len(pieces)} pieces, {sum(len(p['chords']) for p in pieces) // M.STEPS_PER_BAR} bars")


if __name__ == "__main__":
    main()
