"""Shared fixtures for Counterpart's real-host VST3 tests (pedalboard, DawDreamer).

* ``COUNTERPART_VST3``: the bundle (default ``<repo>/target/bundled/Counterpart.vst3``).
* ``COUNTERPART_CACHE`` is pointed at a fresh temporary folder HERE, at import time, i.e. before
  any test module creates a plugin instance (the plugin reads it when an instance is created).
  One cache per pytest session; removed at the end.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import cpstate

REPO = Path(__file__).resolve().parents[2]
PLUGIN = os.environ.get("COUNTERPART_VST3") or str(REPO / "target" / "bundled" / "Counterpart.vst3")
CACHE_DIR = Path(tempfile.mkdtemp(prefix="counterpart-vst3-cache-"))
os.environ["COUNTERPART_CACHE"] = str(CACHE_DIR)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(CACHE_DIR, ignore_errors=True)


def pytest_report_header(config):
    return [f"Counterpart VST3: {PLUGIN}", f"COUNTERPART_CACHE: {CACHE_DIR}"]


@pytest.fixture(scope="session")
def plugin_path() -> str:
    if not os.path.isdir(PLUGIN):
        pytest.fail(f"VST3 bundle {PLUGIN} not found (build it or set COUNTERPART_VST3)")
    return PLUGIN


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return CACHE_DIR


# The audio stem used throughout: 0.25 s of deterministic 16-bit noise at 48 kHz.
STEM_RATE = 48000
STEM_FRAMES = 12000


@pytest.fixture(scope="session")
def stem_pcm() -> np.ndarray:
    return cpstate.stem_audio(STEM_FRAMES, seed=5)


@pytest.fixture(scope="session")
def stem_ref(stem_pcm, cache_dir) -> dict:
    """The project's audio reference for ``stem_pcm``, its WAV written into the cache."""
    return cpstate.write_cache_wav(cache_dir, stem_pcm, STEM_RATE)


def noise(sr: int, seconds: float, ch: int = 2, seed: int = 1) -> np.ndarray:
    n = int(round(sr * seconds))
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (ch, n)).astype(np.float32)


def first_difference(a: np.ndarray, b: np.ndarray) -> str:
    idx = np.nonzero(np.any(a != b, axis=0))[0]
    if not len(idx):
        return "identical"
    return (f"{len(idx)} differing frames, first at {idx[0]}, last at {idx[-1]}, "
            f"max |diff| {float(np.max(np.abs(a.astype(np.float64) - b))):.3g}")
