"""Evaluates the committed pack (models/arranger-chorale/model.onnx, through onnxruntime) on the
TEST split: one voice (bass, then alto) is held out and filled by Gibbs sampling given the other
three, the chords and the key, and compared with the true voice and with baselines.

Metrics, per held-out voice:
  NLL        nats per eighth step of the true voice, chain rule left to right (step t predicted from
             the other voices and the voice's steps < t). Model vs an interpolated trigram over the
             voice's step-to-step intervals (trained on the train split; it sees no other voice).
  fit        harmonic fit: share of sounding steps whose pitch class is in the chord label there.
  pitches    distinct pitches per bar.
  TVD        total variation distance between the note-to-note interval histogram (+-12 semitones)
             of the line and that of the true voice (0 = same distribution).
  notes      notes per bar (equal consecutive steps merged into one note).
  durs       distinct note durations per bar (rhythmic variety).
  non-root   share of note time (sounding eighth steps with a chord label) whose pitch class is not
             the root of the chord label at that step.
  passing    share of notes that are passing notes: the pitch class at the note's onset is not in
             the chord label there, and the note is approached and left by step (1-2 semitones) in
             the same direction, from a note ending where it starts to one starting where it ends.
             Denominator: the notes with a chord label at their onset.
  onset H    rhythmic variety: entropy (bits) of the onset positions within the bar (8 eighth
             positions, histogram pooled over all notes of the line; 0-3 bits).
  mean pitch mean MIDI pitch of the line's sounding steps (register).
Chords: the model is given the chord of each beat labelled from the other three voices
(model.heard_labels, as the job's analysis hears the context without the part it writes), and
"root every beat" takes those roots; every line is scored (fit, non-root, passing) against the
labels of the whole four-voice score, the harmony that actually sounds. "model, told the score's
chords" is given those score labels instead (as with a chord override); "heard chords only" is
given the heard chords and the key with the other voices unknown (the job's path from audio,
where the transcribed voices are too noisy to show the model).
Attribute controls (rows "model, ..."): the filled voice's density / register attribute is set
from the true voice's (notes per bar x0.5 or x1.5, mean pitch -+6 semitones), all other attributes
unknown, with the same register mask; "model (Gibbs)" leaves every attribute unknown. Its NLL is
with all attributes unknown; "model, true attributes" NLL is given the true voice's two buckets.
Baselines: random in-key (a random scale tone in the voice's register on every beat) and the chord
root on every beat (in register). Prints a markdown table (copy it into RESULTS.md).

Usage: .venv/bin/python scripts/arranger/evaluate.py [--seeds 2] [--chords heard|score]
"""

import argparse
import json
import pathlib
import time

import numpy as np

import model as M
import train as TR

HERE = pathlib.Path(__file__).resolve().parent
PACK = HERE.parents[1] / "models" / "arranger-chorale"
REG_STEP = 6  # semitones the register controls ask below / above the true voice's mean pitch
SCALES = {0: (0, 2, 4, 5, 7, 9, 11), 1: (0, 2, 3, 5, 7, 8, 10, 11)}  # major; minor with both 7ths


def windows(p):
    """Full 64-step windows covering a piece: 0, 64, ... and a last one ending at the piece's end."""
    L = p["midi"].shape[1]
    if L < M.T:
        return []
    starts = list(range(0, L - M.T + 1, M.T))
    if starts[-1] + M.T < L:
        starts.append(L - M.T)
    return starts


def window_inputs(p, s):
    cls = TR.to_classes(p["midi"][:, s : s + M.T])
    root, qual = p["root"][s : s + M.T], p["qual"][s : s + M.T]
    cond = TR.cond_batch(
        root[None], qual[None], np.array([p["key"][0]]), np.array([p["key"][1]], np.float32),
        (p["phase"] + s + np.arange(M.T))[None],
    )[0]
    return cls, root, qual, cond


class Model:
    def __init__(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(str(PACK / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        self.calls, self.seconds = 0, 0.0

    def __call__(self, cls, mask, cond, attr):
        t = time.perf_counter()
        feeds = {"roll": M.one_hot(cls, mask), "mask": mask, "cond": cond, "attr": attr}
        out = self.sess.run(["logits"], feeds)[0]
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return out


def allowed_classes(lo, hi):
    ok = np.zeros(M.K, bool)
    ok[lo - M.PITCH_LO : hi - M.PITCH_LO + 1] = True
    ok[M.REST] = True
    return ok


def voice_attr(v, notes_per_bar=None, mean_pitch=None):
    """attr [V, A]: the asked density (notes per bar) and register (mean MIDI pitch) for voice v,
    every other attribute unknown (what engine/src/arrange/attrs.rs sends)."""
    dens = np.full(M.VOICES, -1)
    reg = np.full(M.VOICES, -1)
    if notes_per_bar is not None:
        dens[v] = np.digitize(notes_per_bar, M.DENS_EDGES)
    if mean_pitch is not None:
        reg[v] = int(np.clip((mean_pitch - M.REG_LO) // M.REG_WIDTH, 0, M.N_REG - 1))
    return M.attr_onehot(dens, reg)


def gibbs(model, cls, target, cond, attr, allowed, rng, cfg, hidden=None):
    """Coconet's annealed blocked Gibbs: sample every target cell independently, then repeatedly
    re-mask a shrinking random share of them and resample from the model. The Rust sampler
    (engine/src/arrange/) runs the same schedule. `hidden` cells stay masked (unknown voices)."""
    cls = cls.copy()
    n, pmax, pmin, share, temp = (cfg[k] for k in ("iterations", "mask_max", "mask_min", "anneal_share", "temperature"))

    guidance = cfg.get("guidance", 1.0)
    unknown = voice_attr(0)

    def resample(mask):
        m = (mask if hidden is None else mask | hidden)[None].astype(np.float32)
        logits = model(cls[None], m, cond[None], attr[None])[0]
        if guidance != 1.0 and not np.array_equal(attr, unknown):
            # Classifier-free guidance: push away from the attribute-free prediction.
            free = model(cls[None], m, cond[None], unknown[None])[0]
            logits = free + guidance * (logits - free)
        logits = logits / temp
        logits = np.where(allowed[:, None, :], logits, -1e9)
        pr = np.exp(logits - logits.max(-1, keepdims=True))
        pr /= pr.sum(-1, keepdims=True)
        cdf = pr.cumsum(-1)
        u = rng.random(cdf.shape[:2])[..., None]
        draw = np.minimum((cdf < u).sum(-1), M.K - 1)
        cls[mask] = draw[mask]

    resample(target)
    for i in range(n):
        pm = max(pmin, pmax - (pmax - pmin) * i / (share * n))
        mask = target & (rng.random(target.shape) < pm)
        if not mask.any():
            continue
        resample(mask)
    return cls


def chain_nll(model, cls, v, cond, attr):
    """-log p of voice v's steps in order, each given the other voices and the earlier steps (one
    batched call of T masked copies)."""
    mask = np.zeros((M.T, M.VOICES, M.T), np.float32)
    for t in range(M.T):
        mask[t, v, t:] = 1
    logits = model(np.repeat(cls[None], M.T, 0), mask, np.repeat(cond[None], M.T, 0), np.repeat(attr[None], M.T, 0))
    lp = logits[np.arange(M.T), v, np.arange(M.T)]
    lp = lp - np.log(np.exp(lp - lp.max(-1, keepdims=True)).sum(-1, keepdims=True)) - lp.max(-1, keepdims=True)
    return -lp[np.arange(M.T), cls[v]]


class Trigram:
    """Interpolated trigram over interval tokens (rest = its own token); the first step is a
    unigram over pitch classes of the voice."""

    def __init__(self, pieces, v):
        self.tok = lambda a, b: 100 if (a == M.REST or b == M.REST) else int(np.clip(b - a, -12, 12))
        self.uni, self.bi, self.tri, self.p0 = {}, {}, {}, np.ones(M.K)
        for p in pieces:
            c = TR.to_classes(p["midi"])[v]
            self.p0[c[0]] += 1
            toks = [self.tok(c[i - 1], c[i]) for i in range(1, len(c))]
            for i, t in enumerate(toks):
                self.uni[t] = self.uni.get(t, 0) + 1
                if i >= 1:
                    self.bi.setdefault(toks[i - 1], {}).setdefault(t, 0)
                    self.bi[toks[i - 1]][t] += 1
                if i >= 2:
                    self.tri.setdefault((toks[i - 2], toks[i - 1]), {}).setdefault(t, 0)
                    self.tri[(toks[i - 2], toks[i - 1])][t] += 1
        self.vocab = list(range(-12, 13)) + [100]
        self.p0 /= self.p0.sum()
        self.nuni = sum(self.uni.values())

    def prob(self, t, h1, h2):
        pu = (self.uni.get(t, 0) + 1) / (self.nuni + len(self.vocab))
        d = self.bi.get(h1, {})
        pb = (d.get(t, 0) + pu) / (sum(d.values()) + 1)
        d = self.tri.get((h2, h1), {}) if h2 is not None else {}
        return (d.get(t, 0) + pb) / (sum(d.values()) + 1)

    def nll(self, c):
        out = [-np.log(self.p0[c[0]])]
        toks = []
        for i in range(1, len(c)):
            t = self.tok(c[i - 1], c[i])
            h1 = toks[-1] if toks else None
            h2 = toks[-2] if len(toks) > 1 else None
            p = self.prob(t, h1, h2)
            if t != 100:  # an interval from a pitch names one pitch; spread a rest-jump over the range
                out.append(-np.log(p))
            else:
                out.append(-np.log(p / (M.N_PITCH if c[i] != M.REST else 1)))
            toks.append(t)
        return np.array(out)


def notes_of(line):
    """Merged notes (start, length, class) of one voice's step classes, rests dropped."""
    out, i = [], 0
    while i < len(line):
        j = i
        while j + 1 < len(line) and line[j + 1] == line[i]:
            j += 1
        if line[i] != M.REST:
            out.append((i, j - i + 1, int(line[i])))
        i = j + 1
    return out


def in_chord(c, root, qual, t):
    """Whether class c (not a rest) is a tone of the chord label at step t (which must have one)."""
    return ((c + M.PITCH_LO - root[t]) % 12) in M.QUAL_INTERVALS[qual[t]]


def passing_counts(notes, root, qual):
    """(passing notes, notes with a chord label at their onset) of one line's merged notes."""
    passing = labelled = 0
    for i, (s, length, c) in enumerate(notes):
        if root[s] < 0:
            continue
        labelled += 1
        if in_chord(c, root, qual, s) or i == 0 or i + 1 == len(notes):
            continue
        (ps, pl, pc), (ns, _, nc) = notes[i - 1], notes[i + 1]
        if ps + pl != s or s + length != ns:
            continue  # a rest before or after: not approached / left by step
        d_in, d_out = c - pc, nc - c
        passing += 1 <= abs(d_in) <= 2 and 1 <= abs(d_out) <= 2 and d_in * d_out > 0
    return passing, labelled


def line_stats(line, root, qual, phase0):
    """(fit numerator, fit denominator, per-bar distinct pitches, per-bar notes, per-bar durations, intervals,
    non-root steps, passing notes, labelled notes, onset positions in the bar, sounding MIDI pitches)."""
    hit = tot = non_root = 0
    for t, c in enumerate(line):
        if c == M.REST or root[t] < 0:
            continue
        tot += 1
        hit += in_chord(c, root, qual, t)
        non_root += (c + M.PITCH_LO - root[t]) % 12 != 0
    notes = notes_of(line)
    passing, labelled = passing_counts(notes, root, qual)
    onsets = [(s + phase0) % M.STEPS_PER_BAR for s, _, _ in notes]
    bars = {}
    for s, length, c in notes:
        bars.setdefault((s + phase0) // M.STEPS_PER_BAR, []).append((length, c))
    pitches = [len({c for _, c in b}) for b in bars.values()]
    counts = [len(b) for b in bars.values()]
    durs = [len({d for d, _ in b}) for b in bars.values()]
    ivs = [int(np.clip(notes[i][2] - notes[i - 1][2], -12, 12)) for i in range(1, len(notes))]
    sounding = [int(c) + M.PITCH_LO for c in line if c != M.REST]
    return hit, tot, pitches, counts, durs, ivs, non_root, passing, labelled, onsets, sounding


def entropy_bits(positions):
    """Entropy in bits of the histogram of onset positions (0..STEPS_PER_BAR-1)."""
    h = np.bincount(np.array(positions, int), minlength=M.STEPS_PER_BAR) / max(1, len(positions))
    h = h[h > 0]
    return float(-(h * np.log2(h)).sum())


def baseline_line(kind, root, key, lo, hi, rng):
    line = np.full(M.T, M.REST, np.int64)
    scale = [(key[0] + d) % 12 for d in SCALES[key[1]]]
    for b0 in range(0, M.T, M.STEPS_PER_BEAT):
        if kind == "random in-key":
            pcs = scale
        else:
            r = root[b0]
            pcs = [r] if r >= 0 else scale
        cands = [m for m in range(lo, hi + 1) if m % 12 in pcs]
        line[b0 : b0 + M.STEPS_PER_BEAT] = rng.choice(cands) - M.PITCH_LO
    return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--split", default="test", help="`valid` to tune the schedule without touching test")
    ap.add_argument("--temperature", type=float, help="override arranger.json's Gibbs temperature")
    ap.add_argument("--iterations", type=int, help="override arranger.json's Gibbs iterations")
    ap.add_argument("--guidance", type=float, help="override arranger.json's attribute guidance weight")
    ap.add_argument("--chords", choices=["heard", "score"], default="heard",
                    help="chords the model is given: heard in the other voices (as a job), or the score's (before 2026-12-06)")
    args = ap.parse_args()
    cfg = json.loads((PACK / "arranger.json").read_text())
    if args.temperature is not None:
        cfg["gibbs"]["temperature"] = args.temperature
    if args.iterations is not None:
        cfg["gibbs"]["iterations"] = args.iterations
    if args.guidance is not None:
        cfg["gibbs"]["guidance"] = args.guidance
    print(f"split {args.split}, chords {args.chords}, Gibbs {cfg['gibbs']}")
    test, train = TR.load(args.split), TR.load("train")
    model = Model()
    rows = []
    gibbs_ms = []
    for v, vname in [(3, "bass"), (1, "alto")]:
        lo, hi = cfg["voices"][v]["low"], cfg["voices"][v]["high"]
        allowed = np.ones((M.VOICES, M.K), bool)
        allowed[v] = allowed_classes(lo, hi)
        tri = Trigram(train, v)
        acc = {}
        nll_model, nll_attr, nll_tri = [], [], []

        def add(name, line, root, qual, phase0):
            a = acc.setdefault(name, [0, 0, [], [], [], [], 0, 0, 0, [], []])
            for k, x in enumerate(line_stats(line, root, qual, phase0)):
                a[k] += x

        rng = np.random.default_rng(7)
        n_windows = 0
        for p in test:
            # The chords the job hears: labelled from the other three voices (the context never
            # holds the part being written), over the whole piece so beats stay the piece's.
            whole = TR.to_classes(p["midi"])[None]
            visible = np.ones_like(whole, bool)
            visible[0, v] = False
            heard_root, heard_qual = (x[0] for x in M.heard_labels(whole, visible))
            for s in windows(p):
                n_windows += 1
                cls, root, qual, score_cond = window_inputs(p, s)
                phase0 = (p["phase"] + s) % M.STEPS_PER_BAR
                h_root, h_qual = heard_root[s : s + M.T], heard_qual[s : s + M.T]
                cond = TR.cond_batch(
                    h_root[None], h_qual[None], np.array([p["key"][0]]), np.array([p["key"][1]], np.float32),
                    (p["phase"] + s + np.arange(M.T))[None],
                )[0]
                if args.chords == "score":
                    cond, h_root = score_cond, root
                unknown = voice_attr(v)
                true_npb = np.mean(line_stats(cls[v], root, qual, phase0)[3])
                true_mean = float(np.mean([c + M.PITCH_LO for c in cls[v] if c != M.REST]))
                nll_model.append(chain_nll(model, cls, v, cond, unknown))
                nll_attr.append(chain_nll(model, cls, v, cond, voice_attr(v, true_npb, true_mean)))
                nll_tri.append(tri.nll(cls[v]))
                add("true voice", cls[v], root, qual, phase0)
                target = np.zeros((M.VOICES, M.T), bool)
                target[v] = True
                for _ in range(args.seeds):
                    t0 = time.perf_counter()
                    out = gibbs(model, cls, target, cond, unknown, allowed, rng, cfg["gibbs"])
                    gibbs_ms.append(1000 * (time.perf_counter() - t0))
                    add("model (Gibbs)", out[v], root, qual, phase0)
                out = gibbs(model, cls, target, score_cond, unknown, allowed, rng, cfg["gibbs"])
                add("model, told the score's chords", out[v], root, qual, phase0)
                # The job's path from audio: the heard chords and the key, the other voices unknown.
                others = ~target
                out = gibbs(model, cls, target, cond, unknown, allowed, rng, cfg["gibbs"], hidden=others)
                add("model, heard chords only (other voices unknown)", out[v], root, qual, phase0)
                # Attribute controls, asked relative to the true voice, register mask unchanged.
                controls = {
                    "model, true attributes": voice_attr(v, true_npb, true_mean),
                    "model, sparser (x0.5 notes/bar)": voice_attr(v, 0.5 * true_npb),
                    "model, busier (x1.5 notes/bar)": voice_attr(v, 1.5 * true_npb),
                    f"model, lower (-{REG_STEP} semitones)": voice_attr(v, mean_pitch=true_mean - REG_STEP),
                    f"model, higher (+{REG_STEP} semitones)": voice_attr(v, mean_pitch=true_mean + REG_STEP),
                }
                for name, attr in controls.items():
                    out = gibbs(model, cls, target, cond, attr, allowed, rng, cfg["gibbs"])
                    add(name, out[v], root, qual, phase0)
                for kind in ("random in-key", "root every beat"):
                    add(kind, baseline_line(kind, h_root, p["key"], lo, hi, rng), root, qual, phase0)
        true_iv = np.bincount(np.array(acc["true voice"][5]) + 12, minlength=25) / max(1, len(acc["true voice"][5]))
        for name, (hit, tot, pitches, counts, durs, ivs, non_root, passing, labelled, onsets, sounding) in acc.items():
            h = np.bincount(np.array(ivs, int) + 12, minlength=25) / max(1, len(ivs))
            nll = ""
            if name == "model (Gibbs)":
                nll = f"{np.concatenate(nll_model).mean():.3f}"
            if name == "model, true attributes":
                nll = f"{np.concatenate(nll_attr).mean():.3f}"
            rows.append((vname, name, nll, hit / max(tot, 1), np.mean(pitches), 0.5 * np.abs(h - true_iv).sum(),
                         np.mean(counts), np.mean(durs), non_root / max(tot, 1), passing / max(labelled, 1),
                         entropy_bits(onsets), np.mean(sounding)))
            if name == "random in-key":
                rows.append((vname, "trigram (intervals)", f"{np.concatenate(nll_tri).mean():.3f}", *[None] * 9))
        print(f"{vname}: {n_windows} {args.split} windows of {M.T} steps")
    print()
    print("| voice | line | NLL (nats/step) | harmonic fit | pitches/bar | interval TVD vs true | notes/bar | durations/bar"
          " | non-root share | passing-note share | onset entropy (bits) | mean pitch (MIDI) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [r[0], r[1], r[2] or "-"] + ["-" if x is None else f"{x:.3f}" for x in r[3:]]
        print("| " + " | ".join(cells) + " |")
    print()
    print(f"Gibbs fill of one voice over 8 bars ({cfg['gibbs']['iterations'] + 1} model calls, onnxruntime, 1 thread): "
          f"median {np.median(gibbs_ms):.0f} ms")


if __name__ == "__main__":
    main()
