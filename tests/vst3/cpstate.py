"""Counterpart state helpers for the VST3 host tests.

* JUCE host state blobs (pedalboard ``raw_state``, dawdreamer ``save_state``/``load_state``):
  ``b"VC2!" + <uint32 LE size> + XML`` with ``<IComponent>`` holding, in JUCE's own base64
  dialect (``MemoryBlock::toBase64Encoding``: ``"<byte count>." + 6-bit little-endian groups``),
  exactly the bytes the plugin writes in ``IComponent::getState``.
* Counterpart's component state: nice-plug JSON
  ``{"version": .., "params": {id: {"f32"|"bool"|"i32": v}}, "fields": {"project": "<JSON string>"}}``.
* The audio cache (``COUNTERPART_CACHE``): ``<sha256>.wav``, hash over ``struct.pack('<I', rate)``
  followed by the interleaved stereo float32 LE samples as the plugin reads them.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
import struct
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

# ------------------------------------------------------------------ JUCE state wrapper
_JUCE_B64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"
_JUCE_IDX = {c: i for i, c in enumerate(_JUCE_B64)}


def juce_b64_decode(s: str) -> bytes:
    size_str, _, body = s.strip().partition(".")
    size = int(size_str)
    value = 0
    for i, ch in enumerate(body):
        value |= _JUCE_IDX[ch] << (6 * i)
    return value.to_bytes(max(size, (6 * len(body) + 7) // 8), "little")[:size]


def juce_b64_encode(data: bytes) -> str:
    value = int.from_bytes(data, "little")
    n = (len(data) * 8 + 5) // 6
    return f"{len(data)}." + "".join(_JUCE_B64[(value >> (6 * i)) & 63] for i in range(n))


def parse_juce_state(blob: bytes) -> dict[str, bytes]:
    """{"IComponent": bytes, "IEditController": bytes, ...} from a JUCE VST3 state blob."""
    if blob[:4] == b"VC2!":
        (n,) = struct.unpack("<I", blob[4:8])
        xml = blob[8 : 8 + n]
    else:
        xml = blob
    root = ET.fromstring(xml.decode("utf-8").strip("\x00"))
    out = {}
    for child in root:
        text = (child.text or "").strip()
        out[child.tag] = juce_b64_decode(text) if re.match(r"^\d+\.", text) else text.encode()
    return out


def build_juce_state(component: bytes, controller: bytes = b"") -> bytes:
    """The blob JUCE's VST3 host writes (and reads back in setStateInformation)."""
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n\n<VST3PluginState>'
           f"<IComponent>{juce_b64_encode(component)}</IComponent>"
           f"<IEditController>{juce_b64_encode(controller)}</IEditController>"
           "</VST3PluginState>\n").encode() + b"\x00"
    return b"VC2!" + struct.pack("<I", len(xml)) + xml


def component_of(blob: bytes) -> bytes:
    return parse_juce_state(blob).get("IComponent", b"")


# ------------------------------------------------------------------ Counterpart state JSON
def decode_component(comp: bytes) -> tuple[dict, dict]:
    """(nice-plug state dict, parsed project dict) from the plugin's component chunk."""
    state = json.loads(comp.decode("utf-8"))
    project = json.loads(state["fields"]["project"])
    return state, project


def param_values(state: dict) -> dict:
    """{"gain_1": 1.0, "bypass": False, ...} (the typed {"f32": v} wrappers removed)."""
    return {k: next(iter(v.values())) if isinstance(v, dict) else v for k, v in state["params"].items()}


def default_params() -> dict:
    params = {"bypass": {"bool": False}}
    for n in range(1, 17):
        params[f"gain_{n}"] = {"f32": 1.0}
        params[f"mute_{n}"] = {"bool": False}
        params[f"solo_{n}"] = {"bool": False}
        params[f"route_{n}"] = {"i32": 0}
    return params


def make_component(stems: list[dict], params: dict | None = None, version: str = "0.1.0") -> bytes:
    """A Counterpart component chunk. ``params`` overrides defaults: {"gain_1": {"f32": 0.5}}."""
    project = {"version": 1, "stems": stems, "capture_rate": 0.0, "captured": [], "tempo_map": []}
    p = default_params()
    p.update(copy.deepcopy(params or {}))
    state = {"version": version, "params": p, "fields": {"project": json.dumps(project)}}
    return json.dumps(state).encode()


# ------------------------------------------------------------------ stems + audio cache
def stem_audio(frames: int, seed: int = 5, peak: int = 8000) -> np.ndarray:
    """Deterministic stereo int16 test audio, shape (2, frames)."""
    rng = np.random.default_rng(seed)
    return rng.integers(-peak, peak + 1, size=(2, frames), dtype=np.int16)


def as_float(pcm16: np.ndarray) -> np.ndarray:
    """What the plugin reads from a 16-bit WAV: int16 / 32768 (exact in float32)."""
    return (pcm16.astype(np.float32) / np.float32(32768.0)).astype(np.float32)


def audio_hash(samples: np.ndarray, sample_rate: int) -> str:
    """sha256(u32 LE rate + interleaved float32 LE L0,R0,L1,R1,...) for samples shape (2, N)."""
    inter = np.ascontiguousarray(samples.astype("<f4").T).tobytes()
    return hashlib.sha256(struct.pack("<I", sample_rate) + inter).hexdigest()


def write_cache_wav(cache_dir: Path, pcm16: np.ndarray, sample_rate: int) -> dict:
    """Writes the stem audio into the cache; returns the project's ``audio`` reference."""
    h = audio_hash(as_float(pcm16), sample_rate)
    path = Path(cache_dir) / f"{h}.wav"
    if not path.exists():
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(np.ascontiguousarray(pcm16.T).astype("<i2").tobytes())
    return {"hash": h, "sample_rate": sample_rate, "frames": int(pcm16.shape[1])}


def audio_stem(slot: int, name: str, start_beats: float, tempo: float, audio_ref: dict | None,
               output: str = "audio") -> dict:
    return {"slot": slot, "name": name, "start_beats": float(start_beats),
            "start_seconds": start_beats * 60.0 / tempo, "tempo": float(tempo),
            "audio": audio_ref, "notes": [], "output": output}


def midi_stem(slot: int, name: str, start_beats: float, tempo: float, keys=(36, 38, 42, 36)) -> dict:
    notes = [{"start": start_beats + i, "length": 0.5, "key": k, "velocity": 100}
             for i, k in enumerate(keys)]
    return {"slot": slot, "name": name, "start_beats": float(start_beats),
            "start_seconds": start_beats * 60.0 / tempo, "tempo": float(tempo),
            "audio": None, "notes": notes, "output": "midi"}


# Fields the plugin adds to every stem it stores, with the values they have for a stem that
# was never generated (no takes); dropped before comparing with the stems a test gave.
ADDED_DEFAULTS = {"takes": [], "active_take": 0}


def normalise_stems(project: dict) -> list[dict]:
    """Stems sorted by slot, without added default fields, for comparisons independent of key order."""
    stems = [
        {k: v for k, v in stem.items() if not (k in ADDED_DEFAULTS and v == ADDED_DEFAULTS[k])}
        for stem in project.get("stems", [])
    ]
    return sorted(stems, key=lambda s: s["slot"])
