#!/usr/bin/env python3
"""Two small 4-stem separator packs for the bring-your-own separator tests (engine/tests/separate_byo.rs).

Built with onnx's helper API, with outputs anyone can check by hand:

- `byo-wave4`: waveform in (`mix`, [1, 2, samples]), one waveform output per stem: vocals, drums,
  bass and other are the input times 0.1, 0.2, 0.3 and 0.4 (they sum to the input).
- `byo-mask4`: STFT magnitudes in (`magnitude`, [1, 2, frames, 513] of a 1024-point STFT, hop 256),
  one output `masks` [1, 4, 2, frames, 513] with the stems on axis 1: stem k keeps bins
  128k .. 128(k+1) (the last one up to bin 512), so each stem is a band of the input and the four
  sum to it.
- `byo-conv4`: waveform in (`mix`, [1, 2, samples]), one output `stems` [1, 4, 2, samples] with the
  stems on axis 1, each a 33-tap non-causal convolution of its channel (a Hann smoothing, a 12-sample
  advance, a 12-sample delay and what is left of the input), so its output depends on time and
  chunked runs must match the graph run on the whole signal (no seams); the four sum to the input.

Writes model.onnx and model.toml (with SHA-256 digests) into engine/tests/fixtures/byo/<pack>/.

    .venv/bin/python scripts/separation/make_byo_model.py
"""

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pack_manifest  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "engine" / "tests" / "fixtures" / "byo"
STEMS = ["vocals", "drums", "bass", "other"]
GAINS = [0.1, 0.2, 0.3, 0.4]
N_FFT, HOP, BINS = 1024, 256, 513
TAPS = 33
CONV_CHUNK, CONV_CONTEXT = 4096, 256


def conv_kernels():
    """The four 33-tap kernels of byo-conv4 (centre tap at 16), summing to a unit impulse."""
    half = TAPS // 2
    kernels = np.zeros((4, TAPS), np.float32)
    kernels[0] = np.hanning(TAPS + 2)[1:-1] / np.hanning(TAPS + 2)[1:-1].sum() * 0.5
    kernels[1, half - 12] = 0.3
    kernels[2, half + 12] = 0.2
    kernels[3] = -kernels[:3].sum(axis=0)
    kernels[3, half] += 1.0
    return kernels


def save(model, pack, make_manifest):
    """Writes the pack's model.onnx, then the model.toml that `make_manifest` makes for its folder."""
    folder = OUT / pack
    folder.mkdir(parents=True, exist_ok=True)
    onnx.checker.check_model(model)
    path = folder / "model.onnx"
    onnx.save(model, str(path))
    (folder / "model.toml").write_text(make_manifest(folder))
    print(f"{pack}: {path.stat().st_size} bytes, sha256 {pack_manifest.sha256(path)}")


def manifest(folder, name, description, io, extra, inputs, outputs):
    """A 4-stem test pack's model.toml: `[separator]` with input and output io and the extra lines, then
    the tables with the digest of folder/model.onnx."""
    head = f'''# Test pack made by scripts/separation/make_byo_model.py
name = "{name}"
version = "1"
task = "separator"
license = "MIT"
sample_rate = 44100
description = "{description}"

[separator]
input = "{io[0]}"
output = "{io[1]}"
channels = 2
stems = {STEMS!r}
{extra}
'''.replace("'", '"')
    return head + pack_manifest.tail(folder, [], "separator", inputs, outputs)


def wave_manifest(folder):
    """byo-wave4's model.toml."""
    outputs = [pack_manifest.tensor(s, [1, 2, -1], f"{s}: the input times {g}") for s, g in zip(STEMS, GAINS)]
    description = "Test 4-stem waveform separator: fixed gains per stem"
    mix = [pack_manifest.tensor("mix", [1, 2, -1])]
    return manifest(folder, "byo-wave4", description, ("waveform", "waveform"), "chunk = 44100\n", mix, outputs)


def mask_manifest(folder):
    """byo-mask4's model.toml."""
    masks = [pack_manifest.tensor("masks", [1, 4, 2, -1, BINS], "one mask per stem on axis 1")]
    description = "Test 4-stem spectrogram separator: stem k keeps bins 128k..128(k+1)"
    magnitude = [pack_manifest.tensor("magnitude", [1, 2, -1, BINS])]
    extra = f"chunk = 64\nn_fft = {N_FFT}\nhop = {HOP}\nbins = {BINS}\n"
    return manifest(folder, "byo-mask4", description, ("magnitude", "mask"), extra, magnitude, masks)


def conv_manifest(folder):
    """byo-conv4's model.toml."""
    stems = [pack_manifest.tensor("stems", [1, 4, 2, -1], "the stems on axis 1")]
    description = "Test 4-stem waveform separator: 33-tap convolutions per stem"
    mix = [pack_manifest.tensor("mix", [1, 2, -1])]
    extra = f"chunk = {CONV_CHUNK}\ncontext = {CONV_CONTEXT}\n"
    return manifest(folder, "byo-conv4", description, ("waveform", "waveform"), extra, mix, stems)


def convolution():
    """byo-conv4: a grouped Conv (each channel through the four kernels), reshaped so the stems are on
    axis 1."""
    x = helper.make_tensor_value_info("mix", TensorProto.FLOAT, [1, 2, "samples"])
    # Grouped: output channels 0-3 read the left input, 4-7 the right.
    weights = np.concatenate([conv_kernels(), conv_kernels()])[:, None, ::-1].copy()
    inits = [
        numpy_helper.from_array(weights, "kernels"),
        numpy_helper.from_array(np.array([1, 2, 4, -1], np.int64), "split"),
    ]
    half = TAPS // 2
    nodes = [
        helper.make_node("Conv", ["mix", "kernels"], ["conv"], group=2, pads=[half, half]),
        helper.make_node("Reshape", ["conv", "split"], ["by_channel"]),
        helper.make_node("Transpose", ["by_channel"], ["stems"], perm=[0, 2, 1, 3]),
    ]
    out = helper.make_tensor_value_info("stems", TensorProto.FLOAT, [1, 4, 2, "samples"])
    graph = helper.make_graph(nodes, "byo_conv4", [x], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="counterpart")
    model.ir_version = 8
    save(model, "byo-conv4", conv_manifest)
    check_convolution(OUT / "byo-conv4" / "model.onnx")


def check_convolution(path):
    """Checks the saved graph against numpy's convolution on noise, so the kernels are what the
    docstring says."""
    import onnxruntime

    rng = np.random.default_rng(7)
    mix = rng.standard_normal((1, 2, 1000)).astype(np.float32)
    (got,) = onnxruntime.InferenceSession(str(path)).run(None, {"mix": mix})
    want = np.stack([[np.convolve(mix[0, c], k, mode="same") for c in range(2)] for k in conv_kernels()])
    assert got.shape == (1, 4, 2, 1000), got.shape
    assert np.abs(got[0] - want).max() < 1e-5, np.abs(got[0] - want).max()
    assert np.abs(got[0].sum(axis=0) - mix[0]).max() < 1e-5


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
    save(model, "byo-wave4", wave_manifest)


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
    save(model, "byo-mask4", mask_manifest)


if __name__ == "__main__":
    waveform()
    masks()
    convolution()
