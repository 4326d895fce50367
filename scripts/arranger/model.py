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


def one_hot(classes, mask):
    """classes [..., V, T] ints in 0..K-1, mask [..., V, T] -> one-hot [..., V, T, K] zeroed where masked."""
    oh = np.eye(K, dtype=np.float32)[classes]
    return oh * (1 - mask[..., None])


def init_params(rng):
    """He-initialised weights; residual branches scaled down so the stack starts near identity."""
    cin = VOICES * K + VOICES + C
    p = {}
    p["w_in"] = rng.normal(0, np.sqrt(2 / cin), (cin, HIDDEN)).astype(np.float32)
    p["b_in"] = np.zeros(HIDDEN, np.float32)
    for i, _ in enumerate(DILATIONS):
        p[f"w{i}"] = rng.normal(0, np.sqrt(2 / (KERNEL * HIDDEN)) / np.sqrt(len(DILATIONS)), (KERNEL, HIDDEN, HIDDEN)).astype(np.float32)
        p[f"b{i}"] = np.zeros(HIDDEN, np.float32)
    p["w_out"] = rng.normal(0, np.sqrt(1 / HIDDEN), (HIDDEN, VOICES * K)).astype(np.float32)
    p["b_out"] = np.zeros(VOICES * K, np.float32)
    return p


def forward(p, roll, mask, cond, xp=np):
    """Reference forward pass; xp is numpy or jax.numpy (convolutions written as shifted matmuls
    so the same code runs in both)."""
    B, V, T_, K_ = roll.shape
    x = xp.concatenate(
        [xp.transpose(roll, (0, 2, 1, 3)).reshape(B, T_, V * K_), xp.transpose(mask, (0, 2, 1)), cond], axis=-1
    )
    h = xp.maximum(x @ p["w_in"] + p["b_in"], 0)
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
