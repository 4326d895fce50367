#!/usr/bin/env python3
"""Trains the drums/bass mask network (model.py) on the stems prepare_data.py rendered.

Each step: 24 random excerpts of 128 frames (1.5 s) from the training pieces, each stem's gain
jittered (-6..+4 dB), its channels swapped half the time, and the whole mix scaled (-12..+3 dB);
the mix is the sum. Loss: L1 between the masked mix magnitude and each stem's magnitude, over the
mix's mean magnitude. Adam, learning rate on a cosine over the time budget. After every epoch
(60 steps) the validation pieces (fixed 1.5 s excerpts, no jitter) give the loss and, per stem, the
signal-to-error ratio of the masked complex spectrum against the stem's (dB, what a waveform SDR
would see); the best epoch by validation loss is kept. Per-epoch figures go to train_log.json.

    .venv/bin/python scripts/separation/learned/train.py [--minutes 25]
"""

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch

import model as net

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DATA = ROOT / "target" / "tmp" / "separation-learned" / "data"
CHECKPOINT = ROOT / "target" / "tmp" / "separation-learned" / "model.pt"
FRAMES = 128
SAMPLES = (FRAMES - 1) * net.HOP
SEED = 2026


def load(split):
    """The split's pieces as int16 arrays `[3 stems (drums, bass, other), 2, samples]`."""
    pieces = []
    for path in sorted((DATA / split).glob("*.npz")):
        z = np.load(path)
        pieces.append(np.stack([z["drums"], z["bass"], z["other"]]))
    return pieces


def batch(pieces, rng, size):
    """`size` jittered excerpts: (mix `[size, 2, SAMPLES]`, stems `[size, 3, 2, SAMPLES]`), float32."""
    lengths = np.array([p.shape[-1] - SAMPLES for p in pieces], np.float64)
    choice = rng.choice(len(pieces), size=size, p=lengths / lengths.sum())
    out = np.zeros((size, 3, 2, SAMPLES), np.float32)
    for i, k in enumerate(choice):
        start = rng.integers(0, lengths[k])
        seg = pieces[k][:, :, start : start + SAMPLES].astype(np.float32) / 32768.0
        gains = 10 ** (rng.uniform(-6, 4, size=3) / 20) * 10 ** (rng.uniform(-12, 3) / 20)
        for s in range(3):
            out[i, s] = seg[s, ::-1] * gains[s] if rng.random() < 0.5 else seg[s] * gains[s]
    stems = torch.from_numpy(out)
    return stems.sum(1), stems


def validation(pieces):
    """Fixed excerpts every 3 s of every validation piece, no jitter."""
    segs = []
    for p in pieces:
        for start in range(0, p.shape[-1] - SAMPLES, 3 * net.RATE):
            segs.append(p[:, :, start : start + SAMPLES].astype(np.float32) / 32768.0)
    stems = torch.from_numpy(np.stack(segs))
    return stems.sum(1), stems


def losses(model, mix, stems):
    """(loss, per-stem complex signal-to-error sums (signal, error)) for one batch."""
    x = net.stft(mix)
    magnitude = x.abs()
    masks = model(magnitude)
    scale = magnitude.mean() + 1e-8
    loss = 0.0
    energies = []
    for s in range(len(net.STEMS)):
        target = net.stft(stems[:, s])
        loss = loss + (masks[:, s] * magnitude - target.abs()).abs().mean() / scale
        error = (masks[:, s] * x - target).abs().pow(2).sum()
        energies.append((target.abs().pow(2).sum().item(), error.item()))
    return loss, energies


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=25.0)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--steps-per-epoch", type=int, default=60)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    random.seed(SEED)
    train, valid = load("train"), load("valid")
    minutes = lambda ps: sum(p.shape[-1] for p in ps) / net.RATE / 60  # noqa: E731
    print(f"train {len(train)} pieces {minutes(train):.1f} min, valid {len(valid)} pieces {minutes(valid):.1f} min")
    vmix, vstems = validation(valid)
    model = net.MaskNet()
    parameters = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    log = {
        "train_pieces": len(train),
        "train_minutes": round(minutes(train), 2),
        "valid_pieces": len(valid),
        "valid_minutes": round(minutes(valid), 2),
        "valid_excerpts": len(vmix),
        "parameters": parameters,
        "batch": args.batch,
        "excerpt_frames": FRAMES,
        "threads": args.threads,
        "epochs": [],
    }
    begin = time.time()
    budget = args.minutes * 60
    best = math.inf
    epoch = 0
    while time.time() - begin < budget:
        epoch += 1
        model.train()
        total = 0.0
        steps = 0
        for _ in range(args.steps_per_epoch):
            frac = (time.time() - begin) / budget
            if frac >= 1.0:
                break
            steps += 1
            for g in opt.param_groups:
                g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * frac))
            mix, stems = batch(train, rng, args.batch)
            loss, _ = losses(model, mix, stems)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        model.eval()
        sums = np.zeros((len(net.STEMS), 2))
        vloss = 0.0
        with torch.no_grad():
            for i in range(0, len(vmix), 32):
                loss, energies = losses(model, vmix[i : i + 32], vstems[i : i + 32])
                n = len(vmix[i : i + 32])
                vloss += loss.item() * n
                sums += np.array(energies)
        vloss /= len(vmix)
        snr = [10 * math.log10(s / max(e, 1e-12)) for s, e in sums]
        row = {
            "epoch": epoch,
            "seconds": round(time.time() - begin, 1),
            "steps": steps,
            "train_loss": round(total / max(1, steps), 5),
            "valid_loss": round(vloss, 5),
            **{f"valid_snr_db_{name}": round(v, 2) for name, v in zip(net.STEMS, snr)},
        }
        log["epochs"].append(row)
        if vloss < best:
            best = vloss
            torch.save(model.state_dict(), CHECKPOINT)
            log["best_epoch"] = epoch
        print(json.dumps(row), flush=True)
        log["train_seconds"] = round(time.time() - begin, 1)
        (HERE / "train_log.json").write_text(json.dumps(log, indent=1) + "\n")
    print(f"{epoch} epochs in {time.time() - begin:.0f} s; best valid loss {best:.4f} (epoch {log['best_epoch']})")


if __name__ == "__main__":
    main()
