"""Counterpart through DawDreamer 0.9.0 (a JUCE VST3 host with an offline graph renderer).

What DawDreamer does, determined on this build: ``render()`` drives a PLAYING transport that
starts at song position 0 with the tempo from ``engine.set_bpm()``; the plugin gets 2+2 inputs
(main, sidechain "Context") and 10 outputs (main + 4 stereo groups: channels 2-3 = slots 1-4,
4-5 = slots 5-8, ...). So a stem placed through the state at beat 8 plays from sample
round(8 * 60 / bpm * sr) in the output. ``save_state``/``load_state`` use JUCE's "VC2!"+XML
wrapper, the same format as pedalboard's ``raw_state``. (DawDreamer does not record a plugin's
MIDI output, so the MIDI stem is only checked through the state.)
"""
from __future__ import annotations

import numpy as np
import pytest

import cpstate as cs
from conftest import STEM_FRAMES, STEM_RATE, first_difference, noise

daw = pytest.importorskip("dawdreamer")

BPM = 240.0  # beat 8 = 2.0 s
BEAT = 8.0
TOL = 1e-6


def param_index(proc) -> dict[str, int]:
    return {proc.get_parameter_name(i): i for i in range(proc.get_plugin_parameter_size())}


def make(plugin_path, sr, bs, state: bytes | None = None, tmp_path=None):
    eng = daw.RenderEngine(sr, bs)
    eng.set_bpm(BPM)
    proc = eng.make_plugin_processor("counterpart", plugin_path)
    if state is not None:
        f = tmp_path / "in.state"
        f.write_bytes(state)
        proc.load_state(str(f))
    return eng, proc


def run(eng, proc, sr, x, side=None) -> np.ndarray:
    """Playback(x) [+ playback(side) on the sidechain] -> Counterpart; all output channels."""
    graph = [(eng.make_playback_processor("main", x), [])]
    inputs = ["main"]
    if side is not None:
        graph.append((eng.make_playback_processor("side", side), []))
        inputs.append("side")
    graph.append((proc, inputs))
    assert eng.load_graph(graph), "load_graph failed"
    eng.render(x.shape[1] / sr)
    y = eng.get_audio()
    assert y.shape[1] >= x.shape[1], (y.shape, x.shape)
    return y[:, : x.shape[1]]


def saved_state(proc, tmp_path, name="out.state") -> bytes:
    f = tmp_path / name
    proc.save_state(str(f))
    return f.read_bytes()


def start_sample(sr: int) -> int:
    return int(round(BEAT * 60.0 / BPM * sr))


@pytest.fixture(scope="module")
def stems(stem_ref):
    return [cs.audio_stem(0, "bass", BEAT, BPM, stem_ref), cs.midi_stem(1, "drums", BEAT, BPM)]


def test_layout_and_parameters(plugin_path):
    eng, p = make(plugin_path, 48000, 480)
    assert p.get_num_input_channels() == 4, p.get_num_input_channels()  # main + "Context"
    assert p.get_num_output_channels() in (2, 10), p.get_num_output_channels()
    assert p.get_latency_samples() == 0
    idx = param_index(p)
    expected = ["Bypass", "Edit A/B"] + [f"Stem {n} {k}" for n in range(1, 17) for k in ("Gain", "Mute", "Solo", "Route")]
    assert not [n for n in expected if n not in idx], sorted(idx)


@pytest.mark.parametrize("bs", [64, 480, 4096])
@pytest.mark.parametrize("sr", [44100, 48000])
def test_passthrough(plugin_path, sr, bs):
    eng, p = make(plugin_path, sr, bs)
    x = noise(sr, 0.5)
    y = run(eng, p, sr, x)
    assert np.array_equal(y[:2], x), f"sr={sr} bs={bs}: {first_difference(y[:2], x)}"
    assert not np.any(y[2:]), "group outputs not silent without stems"


def test_sidechain_does_not_leak(plugin_path):
    eng, p = make(plugin_path, 48000, 480)
    x, side = noise(48000, 0.5, seed=2), noise(48000, 0.5, seed=3)
    y = run(eng, p, 48000, x, side)
    assert np.array_equal(y[:2], x), f"main output changed by the sidechain: {first_difference(y[:2], x)}"


@pytest.mark.parametrize("bs", [64, 480, 4096])
def test_stem_plays_at_its_beat_48k(plugin_path, stems, stem_pcm, tmp_path, bs):
    """At the stem's own rate: output - input == stem audio from exactly round(start_seconds*sr)."""
    sr = 48000
    eng, p = make(plugin_path, sr, bs, cs.build_juce_state(cs.make_component(stems)), tmp_path)
    x = noise(sr, 2.5)
    y = run(eng, p, sr, x)
    d = y[:2].astype(np.float64) - x
    s = cs.as_float(stem_pcm).astype(np.float64)
    st = start_sample(sr)
    assert st == 96000
    active = np.nonzero(np.any(d != 0, axis=0))[0]
    assert len(active), "stem not heard at all (transport not playing? stem dropped?)"
    assert active[0] == st, f"stem starts at sample {active[0]}, expected {st}"
    assert not np.any(d[:, :st]), "not silent before the stem"
    err = float(np.max(np.abs(d[:, st : st + STEM_FRAMES] - s)))
    assert err <= TOL, f"output - input differs from the stem by {err:g}"
    assert not np.any(d[:, st + STEM_FRAMES :]), "not silent after the stem ends"
    assert not np.any(y[2:]), "group outputs not silent with every slot routed to Main"


def test_stem_plays_at_its_beat_44k1_resampled(plugin_path, cache_dir, tmp_path):
    """At 44.1 kHz a 48 kHz stem is resampled: starts at round(start_seconds*44100), keeps
    its length and pitch (a 441 Hz sine compared with the ideal one)."""
    sr, n48 = 44100, 12000
    t = np.arange(n48) / STEM_RATE
    pcm = np.round(np.sin(2 * np.pi * 441.0 * t) * 16000).astype(np.int16)
    pcm = np.stack([pcm, pcm // 2])
    ref = cs.write_cache_wav(cache_dir, pcm, STEM_RATE)
    state = cs.build_juce_state(cs.make_component([cs.audio_stem(0, "sine", BEAT, BPM, ref)]))
    eng, p = make(plugin_path, sr, 480, state, tmp_path)
    x = noise(sr, 2.5)
    y = run(eng, p, sr, x)
    d = y[:2].astype(np.float64) - x
    st, n = start_sample(sr), n48 * sr // STEM_RATE
    assert st == 88200
    active = np.nonzero(np.any(np.abs(d) > 1e-6, axis=0))[0]
    assert len(active), "stem not heard"
    assert active[0] == st, f"stem starts at sample {active[0]}, expected {st}"
    assert abs((active[-1] + 1 - st) - n) <= 2, f"stem is {active[-1] + 1 - st} frames, expected {n}"
    ideal = np.sin(2 * np.pi * 441.0 * np.arange(n) / sr) * 16000 / 32768
    mid = slice(st + 1000, st + n - 1000)
    err = float(np.max(np.abs(d[0, mid] - ideal[1000 : n - 1000])))
    assert err < 1e-2, f"resampled stem deviates from the ideal sine by {err:g}"


@pytest.mark.parametrize("case", ["gain-6dB", "mute", "bypass-param", "bypass-state", "route-group"])
def test_stem_controls(plugin_path, stems, stem_pcm, tmp_path, case):
    sr = 48000
    params = {"gain-6dB": {"gain_1": {"f32": 0.5}}, "mute": {"mute_1": {"bool": True}},
              "bypass-state": {"bypass": {"bool": True}}, "route-group": {"route_1": {"i32": 1}}}.get(case, {})
    eng, p = make(plugin_path, sr, 480, cs.build_juce_state(cs.make_component(stems, params)), tmp_path)
    if case == "bypass-param":
        p.set_parameter(param_index(p)["Bypass"], 1.0)  # reaches the plugin during render
    x = noise(sr, 2.5)
    y = run(eng, p, sr, x)
    d = y[:2].astype(np.float64) - x
    s = cs.as_float(stem_pcm).astype(np.float64)
    st = start_sample(sr)
    seg = slice(st, st + STEM_FRAMES)
    if case == "gain-6dB":
        assert float(np.max(np.abs(d[:, seg] - 0.5 * s))) <= TOL
    elif case == "route-group":
        assert np.array_equal(y[:2], x), f"main out with the stem on its group: {first_difference(y[:2], x)}"
        assert p.get_num_output_channels() == 10
        assert float(np.max(np.abs(y[2:4, seg] - s))) <= TOL, "stem missing from group 1 (channels 3-4)"
        assert not np.any(y[2:4, :st]) and not np.any(y[4:]), "group outputs carry more than the stem"
    else:  # mute / bypass: the stem falls silent, the input passes through untouched
        assert np.array_equal(y[:2], x), f"{case}: {first_difference(y[:2], x)}"
        assert not np.any(y[2:])


def test_state_roundtrip(plugin_path, stems, stem_pcm, tmp_path):
    sr = 48000
    params = {"gain_1": {"f32": 0.5}, "mute_2": {"bool": True}, "route_5": {"i32": 1}}
    eng, a = make(plugin_path, sr, 480, cs.build_juce_state(cs.make_component(stems, params)), tmp_path)
    ia = param_index(a)
    x = noise(sr, 2.5, seed=7)
    ya = run(eng, a, sr, x)
    blob = saved_state(a, tmp_path, "a.state")
    state_a, project_a = cs.decode_component(cs.component_of(blob))
    assert cs.normalise_stems(project_a) == cs.normalise_stems({"stems": stems}), project_a["stems"]
    va = cs.param_values(state_a)
    assert (va["gain_1"], va["mute_2"], va["route_5"]) == (0.5, True, 1), va

    eng2, b = make(plugin_path, sr, 480, blob, tmp_path)
    ib = param_index(b)
    diffs = {n: (a.get_parameter(i), b.get_parameter(ib[n])) for n, i in ia.items()
             if a.get_parameter(i) != b.get_parameter(ib[n])}
    assert not diffs, f"host-visible parameters differ after load_state: {diffs}"
    state_b, project_b = cs.decode_component(cs.component_of(saved_state(b, tmp_path, "b.state")))
    # "captured"/"tempo_map" record what a's render captured (filled asynchronously); stems and
    # params must come back exactly.
    assert cs.normalise_stems(project_b) == cs.normalise_stems(project_a)
    assert cs.param_values(state_b) == va
    yb = run(eng2, b, sr, x)
    assert np.array_equal(ya, yb), f"output differs after the state round trip: {first_difference(ya, yb)}"
    # and what b played is the stem at -6 dB from its beat
    d = yb[:2].astype(np.float64) - x
    st = start_sample(sr)
    assert not np.any(d[:, :st])
    assert float(np.max(np.abs(d[:, st : st + STEM_FRAMES] - 0.5 * cs.as_float(stem_pcm)))) <= TOL


@pytest.mark.parametrize("value", [100.0, 1e30, -3.0])
def test_out_of_range_gain_in_state_is_clamped(plugin_path, stems, stem_pcm, tmp_path, value):
    """A state whose gain_1 lies outside the parameter's range (0 .. +12 dB) must not make the
    stem louder than +12 dB (or polarity-inverted); what the host displays must match."""
    sr = 48000
    eng, p = make(plugin_path, sr, 480,
                  cs.build_juce_state(cs.make_component(stems, {"gain_1": {"f32": value}})), tmp_path)
    x = np.zeros((2, int(sr * 2.5)), np.float32)
    y = run(eng, p, sr, x)
    s = cs.as_float(stem_pcm).astype(np.float64)
    seg = y[:2, start_sample(sr) : start_sample(sr) + STEM_FRAMES].astype(np.float64)
    applied = float(np.dot(seg.ravel(), s.ravel()) / np.dot(s.ravel(), s.ravel()))
    shown = p.get_parameter_text(param_index(p)["Stem 1 Gain"])
    max_gain = 10 ** (12 / 20)
    assert -TOL <= applied <= max_gain * (1 + 1e-5), (
        f"state gain_1={value}: the stem plays at linear gain {applied:g} "
        f"(host shows '{shown}' dB; range is 0 .. {max_gain:.4f})")
