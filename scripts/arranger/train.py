"""Trains the arranger (model.py) on the chorale rolls from prepare_data.py with random
voice / time / cell masks, transposition to all 12 keys and chord/key dropout (optionally some
windows with the chords heard in the visible cells instead of the score's: --heard-share). Logs train and
validation NLL (nats per masked cell) and writes target/arranger/params.npz and
scripts/arranger/train_log.json.

Usage: nice -n 10 .venv/bin/python scripts/arranger/train.py [--steps 4000] [--batch 32]
"""

import argparse
import json
import pathlib
import time

import numpy as np

import model as M

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "target" / "arranger" / "chorales.npz"
PARAMS = ROOT / "target" / "arranger" / "params.npz"
LOG = HERE / "train_log.json"


def load(split_name):
    """Pieces of one split: list of dicts with roll (classes), root, qual, key, phase."""
    d = np.load(DATA)
    split = json.loads((HERE / "split.json").read_text())
    want = set(split[split_name])
    offs = np.concatenate([[0], np.cumsum(d["lengths"])])
    pieces = []
    for i, pid in enumerate(d["ids"]):
        if str(pid) not in want:
            continue
        a, b = offs[i], offs[i + 1]
        pieces.append(
            {
                "id": str(pid),
                "midi": d["roll"][:, a:b].astype(np.int32),
                "root": d["root"][a:b].astype(np.int32),
                "qual": d["qual"][a:b].astype(np.int32),
                "key": tuple(int(x) for x in d["key"][i]),
                "phase": int(d["phase"][i]),
            }
        )
    return pieces


def to_classes(midi, shift=0):
    """MIDI pitches (-1 rest) -> classes 0..K-1."""
    c = np.where(midi >= 0, midi + shift - M.PITCH_LO, M.REST)
    assert c.min() >= 0 and c.max() <= M.REST, "pitch outside the model's range"
    return c


def cond_batch(root, qual, tonic, minor, phase):
    """Vectorised cond_features: root/qual [B, T], tonic/minor [B], phase [B, T] -> [B, T, C]."""
    B, T_ = root.shape
    f = np.zeros((B, T_, M.C), np.float32)
    has = (root >= 0) & (qual >= 0)
    bi, ti = np.nonzero(has)
    r, q = root[bi, ti], qual[bi, ti]
    for qi, ivs in enumerate(M.QUAL_INTERVALS):
        sel = q == qi
        for iv in ivs:
            f[bi[sel], ti[sel], (r[sel] + iv) % 12] = 1
    f[bi, ti, 12 + r] = 1
    f[bi, ti, 24 + q] = 1
    f[..., 32] = ~has
    kb = np.nonzero(tonic >= 0)[0]
    f[kb, :, 33 + tonic[kb]] = 1
    f[..., 45] = minor[:, None]
    bb, tt = np.indices((B, T_))
    f[bb, tt, 46 + phase % M.STEPS_PER_BAR] = 1
    return f


def random_masks(rng, B, T_):
    """Training masks [B, V, T]: whole voices, time spans, random cells, or cells of one voice."""
    mask = np.zeros((B, M.VOICES, T_), np.float32)
    for b in range(B):
        mode = rng.random()
        if mode < 0.3:
            n = rng.choice([1, 2, 3], p=[0.6, 0.25, 0.15])
            mask[b, rng.choice(M.VOICES, n, replace=False)] = 1
        elif mode < 0.45:
            length = rng.integers(2, T_ + 1)
            start = rng.integers(0, T_ - length + 1)
            voices = rng.random(M.VOICES) < 0.5
            voices[rng.integers(M.VOICES)] = True
            mask[b, voices, start : start + length] = 1
        elif mode < 0.75:
            mask[b] = rng.random((M.VOICES, T_)) < rng.uniform(0.05, 1.0)
        else:
            mask[b, rng.integers(M.VOICES)] = rng.random(T_) < rng.uniform(0.05, 1.0)
        if mask[b].sum() == 0:
            mask[b, rng.integers(M.VOICES), rng.integers(T_)] = 1
    return mask


ATTR_DROP = 0.3  # chance that each attribute of each voice is given as unknown


def attr_batch(rng, cls, valid, drop=ATTR_DROP):
    """The true per-voice attributes of the windows, each dropped to unknown with chance drop."""
    dens, reg = M.voice_attrs(cls, valid)
    if drop > 0:
        dens = np.where(rng.random(dens.shape) < drop, -1, dens)
        reg = np.where(rng.random(reg.shape) < drop, -1, reg)
    return M.attr_onehot(dens, reg)


def make_batch(rng, pieces, B, augment=True, masks=None, labels="score", heard_share=0.0):
    """Random windows: (roll, mask, cond, attr, target classes, valid [B, V, T]). Chords: the
    score's labels, or for a heard_share of augmented windows (all unaugmented ones with
    labels="heard") the chords heard in the visible cells."""
    T_ = M.T
    hearing = heard_share > 0 if augment else labels == "heard"
    lens = np.array([p["midi"].shape[1] for p in pieces], np.float64)
    idx = rng.choice(len(pieces), B, p=lens / lens.sum())
    cls = np.full((B, M.VOICES, T_), M.REST, np.int64)
    valid = np.zeros((B, M.VOICES, T_), np.float32)
    root = np.full((B, T_), -1, np.int64)
    qual = np.full((B, T_), -1, np.int64)
    tonic = np.zeros(B, np.int64)
    minor = np.zeros(B, np.float32)
    phase = np.zeros((B, T_), np.int64)
    dropped = np.zeros(B, bool)
    for b, i in enumerate(idx):
        p = pieces[i]
        L = p["midi"].shape[1]
        s = int(rng.integers(0, max(1, L - T_ + 1)))
        if hearing:
            s -= s % M.STEPS_PER_BEAT  # on a beat, so heard_labels' beats are the piece's
        n = min(T_, L - s)
        shift = int(rng.integers(-6, 6)) if augment else 0
        cls[b, :, :n] = to_classes(p["midi"][:, s : s + n], shift)
        valid[b, :, :n] = 1
        r = p["root"][s : s + n]
        root[b, :n] = np.where(r >= 0, (r + shift) % 12, -1)
        qual[b, :n] = p["qual"][s : s + n]
        tonic[b] = (p["key"][0] + shift) % 12
        minor[b] = p["key"][1]
        phase[b] = p["phase"] + s + np.arange(T_)
        if augment and rng.random() < 0.1:
            root[b] = -1
            qual[b] = -1
            dropped[b] = True
        if augment and rng.random() < 0.1:
            tonic[b] = -1
    mask = random_masks(rng, B, T_) if masks is None else masks
    if hearing:
        # Chords as a job hears them: labelled from the visible cells only (the context never
        # holds the part being written), instead of the score's (all four voices).
        heard = (rng.random(B) < heard_share) & ~dropped if augment else np.ones(B, bool)
        heard_root, heard_qual = M.heard_labels(cls, (mask == 0) & (valid > 0))
        root = np.where(heard[:, None], heard_root, root)
        qual = np.where(heard[:, None], heard_qual, qual)
    roll = M.one_hot(cls, mask)
    cond = cond_batch(root, qual, tonic, minor, phase)
    attr = attr_batch(rng, cls, valid) if augment else M.attr_onehot(*(np.full((B, M.VOICES), -1),) * 2)
    return roll, mask, cond, attr, cls, valid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--heard-share", type=float, default=0.0,
                    help="share of training windows given the chords heard in the visible cells (RESULTS.md: 0 ships)")
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp
    import optax

    train, valid = load("train"), load("valid")
    rng = np.random.default_rng(0)
    params = {k: jnp.asarray(v) for k, v in M.init_params(rng).items()}
    print(f"train {len(train)} pieces, valid {len(valid)}; params {M.n_params(params)}")

    def loss_fn(p, roll, mask, cond, attr, cls, valid):
        logits = M.forward(p, roll, mask, cond, attr, xp=jnp)
        logp = jax.nn.log_softmax(logits, axis=-1)
        nll = -jnp.take_along_axis(logp, cls[..., None], axis=-1)[..., 0]
        w = mask * valid
        return (nll * w).sum() / jnp.maximum(w.sum(), 1.0)

    warm = min(200, args.steps // 4)
    sched = optax.warmup_cosine_decay_schedule(0.0, args.lr, warm, args.steps, args.lr * 0.05)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, weight_decay=1e-4))
    state = opt.init(params)

    @jax.jit
    def step(p, s, *batch):
        l, g = jax.value_and_grad(loss_fn)(p, *batch)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, l

    eval_loss = jax.jit(loss_fn)
    # A fixed validation set: the same windows and masks every time, no augmentation.
    vrng = np.random.default_rng(1234)
    vbatches = [make_batch(vrng, valid, 64, augment=False) for _ in range(8)]
    # The same windows with the chords heard in the visible cells.
    vrng = np.random.default_rng(1234)
    vbatches_heard = [make_batch(vrng, valid, 64, augment=False, labels="heard") for _ in range(8)]
    # The same windows with the true attributes given: how much the controls tell the model.
    vbatches_attr = [b[:3] + (M.attr_onehot(*M.voice_attrs(b[4], b[5])),) + b[4:] for b in vbatches]

    log = {"steps": [], "train_nll": [], "valid_nll": [], "valid_nll_attr": [], "valid_nll_heard": [], "seconds": []}
    t0 = time.time()
    run = []
    for it in range(1, args.steps + 1):
        batch = make_batch(rng, train, args.batch, heard_share=args.heard_share)
        params, state, l = step(params, state, *batch)
        run.append(float(l))
        if it % args.eval_every == 0 or it == args.steps:
            v = float(np.mean([float(eval_loss(params, *b)) for b in vbatches]))
            va = float(np.mean([float(eval_loss(params, *b)) for b in vbatches_attr]))
            vh = float(np.mean([float(eval_loss(params, *b)) for b in vbatches_heard]))
            tr = float(np.mean(run))
            run = []
            el = time.time() - t0
            log["steps"].append(it)
            log["train_nll"].append(round(tr, 4))
            log["valid_nll"].append(round(v, 4))
            log["valid_nll_attr"].append(round(va, 4))
            log["valid_nll_heard"].append(round(vh, 4))
            log["seconds"].append(round(el, 1))
            print(f"step {it:5d}  train {tr:.4f}  valid {v:.4f}  valid+attr {va:.4f}  heard chords {vh:.4f}  ({el:.0f} s)", flush=True)
    PARAMS.parent.mkdir(parents=True, exist_ok=True)
    np.savez(PARAMS, **{k: np.asarray(v) for k, v in params.items()})
    log["total_seconds"] = round(time.time() - t0, 1)
    log["args"] = vars(args)
    LOG.write_text(json.dumps(log, indent=1) + "\n")
    print(f"saved {PARAMS} after {log['total_seconds']} s")


if __name__ == "__main__":
    main()
