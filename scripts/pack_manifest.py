"""The part of a model pack's `model.toml` every pack script writes alike: the `[[files]]` digests and
the `[[models]]` table with its `[[models.inputs]]` / `[[models.outputs]]`.

The scripts that write packs import it after putting `scripts/` on `sys.path`.
"""

import hashlib


def sha256(path):
    """The SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tensor(name, shape, role=None):
    """An f32 tensor for `tail`: its name, shape (-1 for a dynamic axis) and optional role."""
    return name, shape, role


def _table(header, pairs):
    return f"[[{header}]]\n" + "".join(f"{key} = {value}\n" for key, value in pairs)


def _tensor(kind, name, shape, role):
    pairs = [("name", f'"{name}"')] + ([("role", f'"{role}"')] if role is not None else [])
    return _table(f"models.{kind}", pairs + [("dtype", '"f32"'), ("shape", f"[{', '.join(map(str, shape))}]")])


def tail(folder, files, key, inputs, outputs):
    """`[[files]]` for each named file in folder, then `[[models]]` for folder/model.onnx under key and its
    tensors, the tables parted by blank lines."""
    tables = [_table("files", [("path", f'"{f}"'), ("sha256", f'"{sha256(folder / f)}"')]) for f in files]
    model = [("key", f'"{key}"'), ("file", '"model.onnx"'), ("sha256", f'"{sha256(folder / "model.onnx")}"')]
    tables.append(_table("models", model))
    tables += [_tensor("inputs", *t) for t in inputs] + [_tensor("outputs", *t) for t in outputs]
    return "\n".join(tables)
