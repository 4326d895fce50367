#!/usr/bin/env python3
"""Two small 4-stem separator packs for the bring-your-own separator tests (engine/tests/separate_byo.rs).

Built with onnx's helper API, with outputs anyone can check by hand:

- `byo-wave4`: waveform in (`mix`, [1, 2, samples]), one waveform output per stem: vocals, drums,
  bass and other are the input times 0.1, 0.2, 0.3 and 0.4 (they sum to the input).
- `byo-mask4`: STFT magnitudes in (`magnitude`, [1, 2, frames, 513] of a 1024-point STFT, hop 256),
  one output `masks` [1, 4, 2, frames, 513] with the stems on axis 1: stem k keeps bins
  128k .. 128(k+1) (the last one up to bin 512), so each stem is a band of the input and the four
  sum to it.

Writes model.onnx and model.toml (with SHA-256 digests) into engine/tests/fixtures/byo/<pack>/.

    .venv/bin/python scripts/separation/make_byo_model.py
"""

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parents[2] / "engine" / "tests" / "fixtures" / "byo"
STEMS = ["vocals", "drums", "bass", "other"]
GAINS = [0.1, 0.2, 0.3, 0.4]
N_FFT, HOP, BINS = 1024, 256, 513


def save(model, pack, manifest):
    folder = OUT / pack
    folder.mkdir(parents=True, exist_ok=True)
    onnx.checker.check_model(model)
    path = folder / "model.onnx"
    onnx.save(model, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "model.toml").write_text(manifest.replace("@SHA@", digest))
    print(f"{pack}: {path.stat().st_size} bytes, sha256 {digest}")


def waveform():
    x = helper.make_tensor_value_info("mix", TensorProto.FLOAT, [1, 2, "samples"])
    outs, nodes, inits = [], [], []
    for stem, gain in zip(STEMS, GAINS):
        inits.append(numpy_helper.from_array(np.array(gain, np.float32), f"{stem}_gain"))
        nodes.append(helper.make_node("Mul", ["mix", f"{stem}_gain"], [stem]))
        outs.append(helper.make_tensor_value_info(stem, TensorProto.FLOAT, [1, 2, "samples"]))
    graph = helper.make_graph(nodes, "byo_wave4", [x], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="counterpart")
    model.ir_version = 8
    outputs = "".join(
        f'\n[[models.outputs]]\nname = "{s}"\nrole = "{s}: the input times {g}"\ndtype = "f32"\nshape = [1, 2, -1]\n'
        for s, g in zip(STEMS, GAINS)
    )
    manifest = f'''# Test pack made by scripts/separation/make_byo_model.py
name = "byo-wave4"
version = "1"
task = "separator"
license = "MIT"
sample_rate = 44100
description = "Test 4-stem waveform separator: fixed gains per stem"

[separator]
input = "waveform"
output = "waveform"
channels = 2
stems = {STEMS!r}
chunk = 44100

[[models]]
key = "separator"
file = "model.onnx"
sha256 = "@SHA@"

[[models.inputs]]
name = "mix"
dtype = "f32"
shape = [1, 2, -1]
{outputs}'''.replace("'", '"')
    save(model, "byo-wave4", manifest)


def masks():
    x = helper.make_tensor_value_info("magnitude", TensorProto.FLOAT, [1, 2, "frames", BINS])
    band = np.zeros((1, 4, 1, 1, BINS), np.float32)
    for k in range(4):
        band[0, k, 0, 0, 128 * k : (128 * (k + 1) if k < 3 else BINS)] = 1.0
    inits = [
        numpy_helper.from_array(band, "bands"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
    ]
    nodes = [
        helper.make_node("Mul", ["magnitude", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "one"], ["ones"]),
        helper.make_node("Unsqueeze", ["ones", "axis1"], ["ones5"]),
        helper.make_node("Mul", ["ones5", "bands"], ["masks"]),
    ]
    out = helper.make_tensor_value_info("masks", TensorProto.FLOAT, [1, 4, 2, "frames", BINS])
    graph = helper.make_graph(nodes, "byo_mask4", [x], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="counterpart")
    model.ir_version = 8
    manifest = f'''# Test pack made by scripts/separation/make_byo_model.py
name = "byo-mask4"
version = "1"
task = "separator"
license = "MIT"
sample_rate = 44100
description = "Test 4-stem spectrogram separator: stem k keeps bins 128k..128(k+1)"

[separator]
input = "magnitude"
output = "mask"
channels = 2
stems = {STEMS!r}
chunk = 64
n_fft = {N_FFT}
hop = {HOP}
bins = {BINS}

[[models]]
key = "separator"
file = "model.onnx"
sha256 = "@SHA@"

[[models.inputs]]
name = "magnitude"
dtype = "f32"
shape = [1, 2, -1, {BINS}]

[[models.outputs]]
name = "masks"
role = "one mask per stem on axis 1"
dtype = "f32"
shape = [1, 4, 2, -1, {BINS}]
'''.replace("'", '"')
    save(model, "byo-mask4", manifest)


if __name__ == "__main__":
    waveform()
    masks()
