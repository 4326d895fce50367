"""The arranger model, shared by train.py, export_onnx.py and evaluate.py.

A Coconet-style any-subset inpainting net over a four-voice piano roll at eighth-note resolution:
every (voice, step) cell is a pitch class over PITCHES (+ rest) or masked; the net sees the known
cells, the mask and per-step conditioning (chord, key, bar phase) and predicts a distribution over
pitches for every cell. It is a residual stack of dilated 1-D convolutions over time whose channels
are the four voices' one-hot pitches, so it stays small (about 0.5 M weights) and fast on a CPU.

Tensors (batch B, voices V=4, steps T, pitch classes K = N_PITCH + 1, the last one a rest):
  roll   f32 [B, V, T, K]  one-hot of known cells, all zero where masked
  mask   f32 [B, V, T]     1 where the cell is unknown (to be predicted)
  cond   f32 [B, T, C]     conditioning features, see cond_features()
  attr   f32 [B, V, A]     per-voice attribute controls (MuseCoco-style), see attr_onehot()
  logits f32 [B, V, T, K]  unnormalised log-probabilities for every cell
"""

import numpy as np

STEPS_PER_BEAT = 2
STEPS_PER_BAR = 8
VOICES = 4
T = 64  # the exported graph's window: 8 bars of 4/4
PITCH_LO = 30  # MIDI pitch of class 0; the data (36-81) transposed by -6..+5 stays inside
N_PITCH = 58  # classes 0..57 = MIDI 30..87
K = N_PITCH + 1  # + rest
REST = N_PITCH
N_QUAL = 8
# chord chroma 12 + root 12 + quality 8 + no-chord 1 + key tonic 12 + minor 1 + bar phase 8
C = 12 + 12 + N_QUAL + 1 + 12 + 1 + STEPS_PER_BAR
QUAL_INTERVALS = [(0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 4, 7, 11), (0, 3, 7, 10), (0, 3, 6), (0, 4, 8), (0, 5, 7)]
QUAL_NAMES = ["", "m", "7", "maj7", "m7", "dim", "aug", "sus4"]

# Per-voice attributes of the window, each a one-hot with a last "unknown" class (dropped out in
# training, so a caller may leave any of them open): note density = notes (onsets) per bar, and
# register = mean MIDI pitch of the sounding steps.
DENS_EDGES = [1.5, 2.5, 3.5, 4.5, 5.5]  # notes per bar -> buckets 0..5
N_DENS = len(DENS_EDGES) + 1
REG_LO, REG_WIDTH, N_REG = 30, 4, 14  # mean pitch -> (mean - 30) // 4, clipped to 0..13
A = (N_DENS + 1) + (N_REG + 1)

HIDDEN = 128
DILATIONS = [1, 2, 4, 8, 16, 1, 2, 4]
KERNEL = 3


def cond_features(root, qual, key_tonic, key_minor, phase0, T_=None):
    """Conditioning [T, C] for one window. root/qual: [T] ints (-1 = no chord); key as ints;
    phase0: bar phase (in steps) of the window's first step."""
    root = np.asarray(root)
    qual = np.asarray(qual)
    T_ = len(root) if T_ is None else T_
    f = np.zeros((T_, C), np.float32)
    for t in range(T_):
        r, q = int(root[t]), int(qual[t])
        if r >= 0 and q >= 0:
            for iv in QUAL_INTERVALS[q]:
                f[t, (r + iv) % 12] = 1
            f[t, 12 + r] = 1
            f[t, 24 + q] = 1
        else:
            f[t, 32] = 1
        if key_tonic >= 0:
            f[t, 33 + key_tonic] = 1
        f[t, 45] = key_minor
        f[t, 46 + (phase0 + t) % STEPS_PER_BAR] = 1
    return f


QUAL_PRIORS = [0.02, 0.02, 0.0, 0.0, 0.0, 0.0, -0.02, -0.01]  # engine/src/analysis/chords.rs


def _templates():
    """[12, 12 * N_QUAL] chord templates, column root * N_QUAL + quality, scaled by 1/sqrt(tones)."""
    t = np.zeros((12, 12 * N_QUAL))
    for r in range(12):
        for q, ivs in enumerate(QUAL_INTERVALS):
            for iv in ivs:
                t[(r + iv) % 12, r * N_QUAL + q] = 1 / np.sqrt(len(ivs))
    return t


TEMPLATES = _templates()


def heard_labels(classes, visible):
    """The chord label of each beat from the cells a caller hears: classes [B, V, T], visible
    [B, V, T] bool -> root, qual [B, T] (-1 where nothing visible sounds in the beat). Template
    matching over the beat's pitch-class counts with the lowest visible pitch weighted up and its
    root favoured, as engine/src/analysis/chords.rs labels a span (and prepare_data.py the score):
    the chords a job hears in the context, which never holds the part being written."""
    B, V, T_ = classes.shape
    J = T_ // STEPS_PER_BEAT
    sounding = visible & (classes != REST)
    midi = np.where(sounding, classes + PITCH_LO, 10_000)[..., : J * STEPS_PER_BEAT]
    midi = midi.reshape(B, V, J, STEPS_PER_BEAT).transpose(0, 2, 1, 3).reshape(B, J, -1)
    pcp = np.zeros((B, J, 12))
    for k in range(midi.shape[-1]):
        m = midi[..., k]
        bi, ji = np.nonzero(m < 10_000)
        np.add.at(pcp, (bi, ji, m[bi, ji] % 12), 1.0)
    total = pcp.sum(-1)
    low = midi.min(-1)
    has = total > 0
    bass = np.where(has, low % 12, -1)
    bi, ji = np.nonzero(has)
    pcp[bi, ji, bass[bi, ji]] += 0.35 * total[bi, ji]
    norm = np.sqrt((pcp**2).sum(-1, keepdims=True))
    score = (pcp @ TEMPLATES) / np.maximum(norm, 1e-9)
    score += np.tile(QUAL_PRIORS, 12)
    roots = np.repeat(np.arange(12), N_QUAL)
    score += 0.1 * (bass[..., None] == roots)
    best = score.argmax(-1)
    root = np.where(has, best // N_QUAL, -1)
    qual = np.where(has, best % N_QUAL, -1)
    root = np.repeat(root, STEPS_PER_BEAT, axis=1)
    qual = np.repeat(qual, STEPS_PER_BEAT, axis=1)
    pad = T_ - root.shape[1]
    if pad:
        root = np.pad(root, ((0, 0), (0, pad)), constant_values=-1)
        qual = np.pad(qual, ((0, 0), (0, pad)), constant_values=-1)
    return root, qual


def one_hot(classes, mask):
    """classes [..., V, T] ints in 0..K-1, mask [..., V, T] -> one-hot [..., V, T, K] zeroed where masked."""
    oh = np.eye(K, dtype=np.float32)[classes]
    return oh * (1 - mask[..., None])


def voice_attrs(cls, valid):
    """Density and register buckets of every voice: cls [..., V, T] classes, valid [..., V, T] ->
    (dens, reg) ints [..., V]; reg is -1 (unknown) for a voice that never sounds."""
    sounding = (cls != REST) & (valid > 0)
    prev = np.concatenate([np.full(cls.shape[:-1] + (1,), REST), cls[..., :-1]], axis=-1)
    onsets = (sounding & (cls != prev)).sum(-1)
    bars = np.maximum((valid > 0).sum(-1) / STEPS_PER_BAR, 1e-9)
    dens = np.digitize(onsets / bars, DENS_EDGES)
    n = sounding.sum(-1)
    mean = np.where(sounding, cls + PITCH_LO, 0).sum(-1) / np.maximum(n, 1)
    reg = np.where(n > 0, np.clip((mean - REG_LO) // REG_WIDTH, 0, N_REG - 1), -1).astype(np.int64)
    return dens.astype(np.int64), reg


def attr_onehot(dens, reg):
    """dens, reg ints [..., V] (-1 = unknown) -> attr [..., V, A]."""
    dens, reg = np.asarray(dens), np.asarray(reg)
    f = np.zeros(dens.shape + (A,), np.float32)
    d = np.where(dens >= 0, dens, N_DENS)
    r = np.where(reg >= 0, reg, N_REG)
    np.put_along_axis(f, d[..., None], 1.0, axis=-1)
    np.put_along_axis(f, (N_DENS + 1 + r)[..., None], 1.0, axis=-1)
    return f


def init_params(rng):
    """He-initialised weights; residual branches scaled down so the stack starts near identity."""
    cin = VOICES * K + VOICES + C
    p = {}
    p["w_in"] = rng.normal(0, np.sqrt(2 / cin), (cin, HIDDEN)).astype(np.float32)
    p["b_in"] = np.zeros(HIDDEN, np.float32)
    p["w_attr"] = rng.normal(0, np.sqrt(2 / (VOICES * A)), (VOICES * A, HIDDEN)).astype(np.float32)
    for i, _ in enumerate(DILATIONS):
        p[f"w{i}"] = rng.normal(0, np.sqrt(2 / (KERNEL * HIDDEN)) / np.sqrt(len(DILATIONS)), (KERNEL, HIDDEN, HIDDEN)).astype(np.float32)
        p[f"b{i}"] = np.zeros(HIDDEN, np.float32)
    p["w_out"] = rng.normal(0, np.sqrt(1 / HIDDEN), (HIDDEN, VOICES * K)).astype(np.float32)
    p["b_out"] = np.zeros(VOICES * K, np.float32)
    return p


def forward(p, roll, mask, cond, attr, xp=np):
    """Reference forward pass; xp is numpy or jax.numpy (convolutions written as shifted matmuls
    so the same code runs in both). The attributes are constant over the window, so they enter as
    a per-window bias of the input projection."""
    B, V, T_, K_ = roll.shape
    x = xp.concatenate(
        [xp.transpose(roll, (0, 2, 1, 3)).reshape(B, T_, V * K_), xp.transpose(mask, (0, 2, 1)), cond], axis=-1
    )
    a = attr.reshape(B, -1) @ p["w_attr"]
    h = xp.maximum(x @ p["w_in"] + p["b_in"] + a[:, None, :], 0)
    for i, d in enumerate(DILATIONS):
        a = xp.maximum(h, 0)
        pad = xp.pad(a, ((0, 0), (d, d), (0, 0)))
        y = p[f"b{i}"]
        for k in range(KERNEL):
            y = y + pad[:, k * d : k * d + T_] @ p[f"w{i}"][k]
        h = h + y
    out = xp.maximum(h, 0) @ p["w_out"] + p["b_out"]
    return xp.transpose(out.reshape(B, T_, V, K_), (0, 2, 1, 3))


def n_params(p):
    return int(sum(v.size for v in p.values()))
