#!/usr/bin/env python3
"""Exports the trained mask network (train.py's best epoch) as the committed `separator-learned` pack.

Writes models/separator-learned/{model.onnx, model.toml, LICENSE}: the graph takes magnitudes
`[batch, 2, frames, 512]` and gives masks for the stems named with --stems (both: one output
`masks` `[batch, stems, 2, frames, 512]`; one: `[batch, 2, frames, 512]`), so the engine's
bring-your-own runner (engine/src/separate/byo.rs) drives it from the manifest's `[separator]`
section. The weights are stored as float16 (cast to float32 when the graph loads); onnxruntime is
checked against torch on a random input.

    .venv/bin/python scripts/separation/learned/export_onnx.py [--stems drums,bass]
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

import model as net

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parents[1]))
import pack_manifest  # noqa: E402

CHECKPOINT = ROOT / "target" / "tmp" / "separation-learned" / "model.pt"
PACK = ROOT / "models" / "separator-learned"
CHUNK = 512
CONTEXT = 32


class Selected(torch.nn.Module):
    """The network with only the chosen stems' masks as its output."""

    def __init__(self, inner, stems):
        super().__init__()
        self.inner = inner
        self.index = [net.STEMS.index(s) for s in stems]

    def forward(self, magnitude):
        masks = self.inner(magnitude)
        if len(self.index) == 1:
            return masks[:, self.index[0]]
        return masks[:, self.index]


def halve_weights(path):
    """Stores the float32 weights as float16 behind Cast nodes: half the file, and ONNX Runtime folds
    the casts at load, so the arithmetic stays float32."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = onnx.load(str(path))
    casts = []
    for init in graph.graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= 256:
            name = init.name
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), name + "_f16"))
            casts.append(helper.make_node("Cast", [name + "_f16"], [name], to=TensorProto.FLOAT))
    nodes = casts + list(graph.graph.node)
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)
    onnx.save(graph, str(path))


def out_shape(stems):
    """The graph's output axes, named where dynamic."""
    return ["batch", len(stems), 2, "frames", net.BINS] if len(stems) > 1 else ["batch", 2, "frames", net.BINS]


def manifest(stems, log, best, parameters):
    """model.toml for the pack, with the digests of the files already in PACK."""
    names = ", ".join(f'"{s}"' for s in stems)
    head = f'''# Counterpart model pack, committed in the repository. Written by scripts/separation/learned/export_onnx.py.
name = "separator-learned"
version = "0.1.0"
task = "separator"
license = "MIT"
description = "Drums / bass mask network (temporal convolutions over STFT frames) trained on rendered multi-track stems"
sample_rate = {net.RATE}

[provenance]
data = "music21 corpus pieces (Bach chorales, Monteverdi, Palestrina, Haydn, Mozart; public domain) rendered through FluidR3_GM with fluidsynth; split in scripts/separation/learned/split.json (the evaluation's held-out chorales excluded)"
training = "scripts/separation/learned/prepare_data.py, train.py, export_onnx.py (own weights, MIT)"
train_seconds = "{log['train_seconds']}"
best_epoch = "{log['best_epoch']}"
final_train_loss = "{best['train_loss']}"
final_valid_loss = "{best['valid_loss']}"
parameters = "{parameters}"

[separator]
input = "magnitude"
output = "mask"
channels = 2
stems = [{names}]
chunk = {CHUNK}
context = {CONTEXT}
n_fft = {net.N_FFT}
hop = {net.HOP}
bins = {net.BINS}
description = "learned mask network trained on rendered stems (pack separator-learned, scripts/separation/learned)"

'''
    role = f"STFT magnitudes (periodic Hann {net.N_FFT}, hop {net.HOP}, centred) of bins 0..{net.BINS - 1}, per channel"
    inputs = [pack_manifest.tensor("magnitude", [-1, 2, -1, net.BINS], role)]
    on_axis = " (stems on axis 1)" if len(stems) > 1 else ""
    shape = [-1 if isinstance(d, str) else d for d in out_shape(stems)]
    outputs = [pack_manifest.tensor("masks", shape, f"masks in 0..1 for {', '.join(stems)}{on_axis}")]
    return head + pack_manifest.tail(PACK, ["LICENSE"], "masks", inputs, outputs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stems", default="drums,bass")
    args = ap.parse_args()
    stems = args.stems.split(",")
    assert stems and all(s in net.STEMS for s in stems), stems
    assert net.CONTEXT <= CONTEXT, "the manifest's context must cover the network's reach"
    inner = net.MaskNet()
    inner.load_state_dict(torch.load(CHECKPOINT, map_location="cpu"))
    model = Selected(inner, stems).eval()
    PACK.mkdir(parents=True, exist_ok=True)
    onnx_path = PACK / "model.onnx"
    example = torch.rand(1, 2, CHUNK, net.BINS) * 20
    shape = out_shape(stems)
    torch.onnx.export(
        model,
        (example,),
        str(onnx_path),
        input_names=["magnitude"],
        output_names=["masks"],
        dynamic_axes={"magnitude": {0: "batch", 2: "frames"}, "masks": {0: "batch", len(shape) - 2: "frames"}},
        opset_version=17,
        dynamo=False,
    )
    halve_weights(onnx_path)
    import onnx
    import onnxruntime as ort

    graph = onnx.load(str(onnx_path))
    onnx.checker.check_model(graph)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    probe = (torch.rand(2, 2, 200, net.BINS) ** 3 * 50).numpy()
    with torch.no_grad():
        expected = model(torch.from_numpy(probe)).numpy()
    got = session.run(None, {"magnitude": probe})[0]
    worst = float(np.abs(got - expected).max())
    print(f"onnxruntime vs torch: max mask difference {worst:.2e}")
    assert worst < 5e-3, "float16 weights moved the masks too far"
    shutil.copy(ROOT / "models" / "arranger-chorale" / "LICENSE", PACK / "LICENSE")
    log = json.loads((HERE / "train_log.json").read_text())
    best = next(e for e in log["epochs"] if e["epoch"] == log["best_epoch"])
    parameters = sum(p.numel() for p in inner.parameters())
    (PACK / "model.toml").write_text(manifest(stems, log, best, parameters))
    print(f"{PACK}: {onnx_path.stat().st_size / 1024:.0f} kB graph, {parameters} parameters, stems {stems}")


if __name__ == "__main__":
    main()
