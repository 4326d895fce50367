"""Writes the committed pack models/arranger-chorale/ from target/arranger/params.npz: model.onnx
authored directly with the onnx helper from the weight arrays (no exporter in the loop), the
arranger.json the Rust sampler reads, and model.toml with digests. Checks the graph against the
numpy reference forward pass with onnxruntime.

Usage: .venv/bin/python scripts/arranger/export_onnx.py
"""

import json
import pathlib
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import model as M

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))
import pack_manifest  # noqa: E402

PARAMS = ROOT / "target" / "arranger" / "params.npz"
PACK = ROOT / "models" / "arranger-chorale"
VERSION = "0.2.0"
NAMES = ["soprano", "alto", "tenor", "bass"]


def build(p):
    """The graph, batch dynamic, T fixed."""
    V, T, K, H = M.VOICES, M.T, M.K, M.HIDDEN
    inits = []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    nodes = [
        helper.make_node("Transpose", ["roll"], ["roll_t"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["roll_t", const("shape_in", np.array([0, T, V * K], np.int64))], ["roll_f"]),
        helper.make_node("Transpose", ["mask"], ["mask_t"], perm=[0, 2, 1]),
        helper.make_node("Concat", ["roll_f", "mask_t", "cond"], ["x"], axis=-1),
        helper.make_node("MatMul", ["x", const("w_in", p["w_in"])], ["x1"]),
        helper.make_node("Reshape", ["attr", const("shape_attr", np.array([0, V * M.A], np.int64))], ["attr_f"]),
        helper.make_node("MatMul", ["attr_f", const("w_attr", p["w_attr"])], ["attr_h"]),
        helper.make_node("Unsqueeze", ["attr_h", const("axis_t", np.array([1], np.int64))], ["attr_b"]),
        helper.make_node("Add", ["x1", "attr_b"], ["x1a"]),
        helper.make_node("Add", ["x1a", const("b_in", p["b_in"])], ["x2"]),
        helper.make_node("Relu", ["x2"], ["x3"]),
        helper.make_node("Transpose", ["x3"], ["h0"], perm=[0, 2, 1]),  # [B, H, T]
    ]
    h = "h0"
    for i, d in enumerate(M.DILATIONS):
        w = np.transpose(p[f"w{i}"], (2, 1, 0))  # [k, in, out] -> [out, in, k]
        nodes += [
            helper.make_node("Relu", [h], [f"a{i}"]),
            helper.make_node(
                "Conv",
                [f"a{i}", const(f"w{i}", w), const(f"b{i}", p[f"b{i}"])],
                [f"y{i}"],
                dilations=[d],
                pads=[d, d],
                kernel_shape=[M.KERNEL],
            ),
            helper.make_node("Add", [h, f"y{i}"], [f"h{i + 1}"]),
        ]
        h = f"h{i + 1}"
    nodes += [
        helper.make_node("Relu", [h], ["z0"]),
        helper.make_node("Transpose", ["z0"], ["z1"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["z1", const("w_out", p["w_out"])], ["z2"]),
        helper.make_node("Add", ["z2", const("b_out", p["b_out"])], ["z3"]),
        helper.make_node("Reshape", ["z3", const("shape_out", np.array([0, T, V, K], np.int64))], ["z4"]),
        helper.make_node("Transpose", ["z4"], ["logits"], perm=[0, 2, 1, 3]),
    ]
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "arranger_chorale",
        [
            helper.make_tensor_value_info("roll", f32, ["batch", V, T, K]),
            helper.make_tensor_value_info("mask", f32, ["batch", V, T]),
            helper.make_tensor_value_info("cond", f32, ["batch", T, M.C]),
            helper.make_tensor_value_info("attr", f32, ["batch", V, M.A]),
        ],
        [helper.make_tensor_value_info("logits", f32, ["batch", V, T, K])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="counterpart-arranger")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def registers():
    """Each voice's pitch range in the training split (untransposed): the sampler's default register."""
    import train

    pieces = train.load("train")
    allm = np.concatenate([p["midi"] for p in pieces], axis=1)
    return [(int(allm[v][allm[v] >= 0].min()), int(allm[v][allm[v] >= 0].max())) for v in range(M.VOICES)]


def manifest(log, parameters):
    """model.toml for the pack, with the digests of the files already in PACK."""
    head = f"""# Counterpart model pack, committed in the repository. Written by scripts/arranger/export_onnx.py.
name = "arranger-chorale"
version = "{VERSION}"
task = "arranger"
license = "MIT"
description = "Four-voice any-subset inpainting (Coconet-style) trained on Bach chorales, with per-voice density and register controls: fill a voice, regenerate bars"

[provenance]
data = "music21 10.5.1 corpus, Bach chorales (four-part, 4/4; public domain); split in scripts/arranger/split.json"
training = "scripts/arranger/prepare_data.py, train.py, export_onnx.py (own weights, MIT)"
train_seconds = "{log['total_seconds']}"
final_train_nll = "{log['train_nll'][-1]}"
final_valid_nll = "{log['valid_nll'][-1]}"
final_valid_nll_with_attributes = "{log['valid_nll_attr'][-1]}"
parameters = "{parameters}"

"""
    inputs = [
        pack_manifest.tensor(
            "roll",
            [-1, M.VOICES, M.T, M.K],
            "one-hot pitch class per (voice, step), zero where masked; last class = rest",
        ),
        pack_manifest.tensor("mask", [-1, M.VOICES, M.T], "1 where the cell is to be predicted"),
        pack_manifest.tensor(
            "cond", [-1, M.T, M.C], "per-step chord, key and bar phase features (layout in arranger.json)"
        ),
        pack_manifest.tensor(
            "attr",
            [-1, M.VOICES, M.A],
            "per-voice one-hot note density and register buckets, last class of each = unknown (arranger.json)",
        ),
    ]
    outputs = [pack_manifest.tensor("logits", [-1, M.VOICES, M.T, M.K], "pitch-class logits per (voice, step)")]
    return head + pack_manifest.tail(PACK, ["arranger.json", "LICENSE"], "inpaint", inputs, outputs)


def main():
    import onnxruntime as ort

    p = dict(np.load(PARAMS))
    PACK.mkdir(parents=True, exist_ok=True)
    onnx_path = PACK / "model.onnx"
    onnx.save(build(p), onnx_path)

    # Parity with the reference forward pass.
    rng = np.random.default_rng(0)
    cls = rng.integers(0, M.K, (2, M.VOICES, M.T))
    mask = (rng.random((2, M.VOICES, M.T)) < 0.4).astype(np.float32)
    roll = M.one_hot(cls, mask)
    cond = rng.random((2, M.T, M.C)).astype(np.float32)
    attr = M.attr_onehot(rng.integers(-1, M.N_DENS, (2, M.VOICES)), rng.integers(-1, M.N_REG, (2, M.VOICES)))
    ref = M.forward(p, roll, mask, cond, attr)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"roll": roll, "mask": mask, "cond": cond, "attr": attr})[0]
    err = float(np.abs(ref - got).max())
    print(f"onnx vs numpy max abs diff {err:.2e}")
    assert err < 1e-3

    config = {
        "window_steps": M.T,
        "steps_per_beat": M.STEPS_PER_BEAT,
        "steps_per_bar": M.STEPS_PER_BAR,
        "pitch_lo": M.PITCH_LO,
        "pitch_classes": M.N_PITCH,
        "rest_class": M.REST,
        "cond_channels": M.C,
        "cond_layout": {
            "chord_chroma": [0, 12],
            "chord_root": [12, 24],
            "chord_quality": [24, 32],
            "no_chord": [32, 33],
            "key_tonic": [33, 45],
            "key_minor": [45, 46],
            "bar_phase": [46, 54],
        },
        "attr_channels": M.A,
        "attr_layout": {
            "density": [0, M.N_DENS + 1],
            "density_edges": M.DENS_EDGES,
            "register": [M.N_DENS + 1, M.A],
            "register_low": M.REG_LO,
            "register_width": M.REG_WIDTH,
        },
        "qualities": [{"suffix": n, "intervals": list(iv)} for n, iv in zip(M.QUAL_NAMES, M.QUAL_INTERVALS)],
        "voices": [{"name": n, "low": lo, "high": hi} for n, (lo, hi) in zip(NAMES, registers())],
        "gibbs": {"iterations": 48, "mask_max": 0.9, "mask_min": 0.1, "anneal_share": 0.7, "temperature": 0.8, "guidance": 3.0},
    }
    (PACK / "arranger.json").write_text(json.dumps(config, indent=1) + "\n")
    log = json.loads((HERE / "train_log.json").read_text())
    (PACK / "LICENSE").write_text(
        "MIT License\n\nCopyright (c) 2026 The Counterpart authors\n\n"
        "Permission is hereby granted, free of charge, to any person obtaining a copy of these model weights and\n"
        "associated files (the \"Software\"), to deal in the Software without restriction, including without\n"
        "limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of\n"
        "the Software, and to permit persons to whom the Software is furnished to do so, subject to the following\n"
        "conditions:\n\nThe above copyright notice and this permission notice shall be included in all copies or\n"
        "substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, "
        "EXPRESS OR IMPLIED.\n"
    )
    (PACK / "model.toml").write_text(manifest(log, M.n_params(p)))
    print(f"wrote {PACK} (model.onnx {onnx_path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
