"""Counterpart through pedalboard 0.9.26 (a JUCE VST3 host).

What pedalboard does, determined on this build: it hands the plugin NO playing transport (no
play head), so Counterpart's stems are silent even when a state with stems is loaded, and the
main output must equal the input bit for bit. ``raw_state`` get/set is JUCE's "VC2!"+XML wrapper
around the plugin's own component chunk (see cpstate.py). Setting a garbage ``raw_state`` never
raises in pedalboard; whether the plugin took it can only be seen in the state it reports back.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import cpstate as cs
from conftest import first_difference, noise

pedalboard = pytest.importorskip("pedalboard")

SLOT_PARAMS = ("Gain", "Mute", "Solo", "Route")


def load(path):
    return pedalboard.load_plugin(path)


def by_name(plugin) -> dict:
    """Parameters by display name (pedalboard's own keys are python-ised, e.g. 'stem_1_gain_db')."""
    return {p.name: p for p in plugin.parameters.values()}


def state_of(plugin) -> tuple[dict, dict]:
    return cs.decode_component(cs.component_of(plugin.raw_state))


@pytest.fixture(scope="module")
def plugin(plugin_path):
    return load(plugin_path)


@pytest.fixture(scope="module")
def stems(stem_ref):
    # audio stem at 0.25 s, inside the 0.5 s test signal: heard if the host were playing
    return [cs.audio_stem(0, "bass", 0.5, 120.0, stem_ref), cs.midi_stem(1, "drums", 0.5, 120.0)]


def test_loads_and_describes(plugin):
    assert isinstance(plugin, pedalboard.VST3Plugin), type(plugin)
    assert plugin.name == "Counterpart"
    assert plugin.is_effect
    assert plugin.reported_latency_samples == 0


def test_parameter_listing(plugin):
    names = by_name(plugin)
    expected = ["Bypass", "Edit A/B"] + [f"Stem {n} {k}" for n in range(1, 17) for k in SLOT_PARAMS]
    missing = [n for n in expected if n not in names]
    assert not missing, f"missing parameters {missing}; plugin has {sorted(names)}"
    assert len(names) == len(expected), sorted(set(names) - set(expected))
    assert names["Stem 1 Gain"].string_value.strip() in ("0.0", "0.0 dB", "+0.0", "+0.0 dB")
    assert names["Stem 1 Route"].string_value == "Main"
    assert names["Bypass"].raw_value == 0.0


@pytest.fixture(scope="module")
def stems_plugin(plugin_path, stems):
    p = load(plugin_path)
    p.raw_state = cs.build_juce_state(cs.make_component(stems))
    _, project = state_of(p)
    assert [s["slot"] for s in project["stems"]] == [0, 1], "stems did not load"
    return p


@pytest.mark.parametrize("with_stems", [False, True], ids=["empty", "stems-in-state"])
@pytest.mark.parametrize("bs", [64, 480, 4096])
@pytest.mark.parametrize("sr", [44100, 48000])
def test_passthrough(plugin, stems_plugin, sr, bs, with_stems):
    p = stems_plugin if with_stems else plugin
    x = noise(sr, 0.5, seed=sr + bs)
    y = p.process(x, sr, buffer_size=bs, reset=True)
    assert y.shape == x.shape, (y.shape, x.shape)
    # pedalboard gives no playing transport -> stems silent -> exact pass-through. (The audio
    # stem sits at 0.25 s: with a playing transport it would show up as output - input.)
    assert np.array_equal(y, x), f"sr={sr} bs={bs}: output != input: {first_difference(y, x)}"
    if with_stems:  # the stems are still loaded after processing (not silently dropped)
        _, project = state_of(p)
        assert [s["slot"] for s in project["stems"]] == [0, 1]


def test_bypass(plugin_path):
    p = load(plugin_path)
    bypass = by_name(p)["Bypass"]
    bypass.raw_value = 1.0
    x = noise(48000, 0.25, seed=3)
    y = p.process(x, 48000, buffer_size=480, reset=True)
    assert bypass.raw_value == 1.0
    assert np.array_equal(y, x), first_difference(y, x)
    state, _ = state_of(p)
    assert cs.param_values(state)["bypass"] is True, "bypass not in the plugin's state"
    q = load(plugin_path)
    q.raw_state = p.raw_state
    assert by_name(q)["Bypass"].raw_value == 1.0, "bypass did not come back through the state"
    bypass.raw_value = 0.0
    p.process(x, 48000, buffer_size=480, reset=True)
    assert cs.param_values(state_of(p)[0])["bypass"] is False


def test_state_roundtrip(plugin_path, stems):
    params = {"gain_1": {"f32": 0.5}, "mute_2": {"bool": True}, "route_3": {"i32": 1}, "solo_4": {"bool": True}}
    a = load(plugin_path)
    a.raw_state = cs.build_juce_state(cs.make_component(stems, params))
    blob_a = a.raw_state
    state_a, project_a = cs.decode_component(cs.component_of(blob_a))
    assert cs.normalise_stems(project_a) == cs.normalise_stems({"stems": stems}), \
        f"loaded stems differ from the state given:\n{json.dumps(project_a['stems'])}"
    va = cs.param_values(state_a)
    assert (va["gain_1"], va["mute_2"], va["route_3"], va["solo_4"]) == (0.5, True, 1, True), va
    names_a = by_name(a)
    assert names_a["Stem 1 Gain"].string_value.strip().startswith("-6.0"), names_a["Stem 1 Gain"].string_value

    b = load(plugin_path)
    assert cs.param_values(state_of(b)[0])["gain_1"] == 1.0, "fresh instance not at defaults"
    b.raw_state = blob_a
    state_b, project_b = state_of(b)
    assert project_b == project_a, f"project differs:\n a={project_a}\n b={project_b}"
    assert cs.param_values(state_b) == va
    names_b = by_name(b)
    diffs = {n: (names_a[n].raw_value, names_b[n].raw_value) for n in names_a
             if names_a[n].raw_value != names_b[n].raw_value}
    assert not diffs, f"host-visible parameter values differ after the round trip: {diffs}"
    x = noise(48000, 0.25, seed=7)
    assert np.array_equal(b.process(x, 48000, buffer_size=480, reset=True), x)


def test_missing_cache_file_drops_only_that_stem(plugin_path, stems):
    gone = dict(stems[0], slot=2, name="gone",
                audio={"hash": "0" * 64, "sample_rate": 48000, "frames": 100})
    p = load(plugin_path)
    p.raw_state = cs.build_juce_state(cs.make_component(stems + [gone], {"gain_1": {"f32": 0.5}}))
    state, project = state_of(p)
    assert [s["slot"] for s in cs.normalise_stems(project)] == [0, 1], project["stems"]
    assert cs.param_values(state)["gain_1"] == 0.5
    x = noise(48000, 0.25, seed=9)
    assert np.array_equal(p.process(x, 48000, buffer_size=480, reset=True), x)


def _variant(base: dict, edit) -> bytes:
    d = json.loads(json.dumps(base))
    edit(d)
    return cs.build_juce_state(json.dumps(d).encode())


def garbage_states(stems) -> dict[str, bytes]:
    base = json.loads(cs.make_component(stems))
    bad_project = {"version": 1, "stems": [
        {"slot": "x"},
        {"slot": 99, "name": "a", "start_beats": 1, "start_seconds": 1, "tempo": 120, "audio": None},
        {"slot": 3, "name": "t", "start_beats": 1, "start_seconds": 1, "tempo": -1, "audio": None},
        "nonsense"], "captured": "nonsense", "tempo_map": 5}
    hostile = {"version": 1, "stems": [{"slot": 2, "name": "h", "start_beats": 1, "start_seconds": 0.5,
                                        "tempo": 120, "audio": {"hash": "../../etc/passwd",
                                                                "sample_rate": 0, "frames": 10**12}}]}
    rng = np.random.default_rng(0)
    return {
        "random-bytes": rng.integers(0, 256, 600, dtype=np.uint8).tobytes(),
        "empty": b"",
        "vc2-bad-length": b"VC2!\xff\xff\xff\xff<xml",
        "vc2-broken-xml": b"VC2!\x10\x00\x00\x00<VST3PluginSta",
        "component-not-json": cs.build_juce_state(b"not json at all"),
        "component-random": cs.build_juce_state(rng.integers(0, 256, 400, dtype=np.uint8).tobytes()),
        "component-truncated": cs.build_juce_state(cs.make_component(stems)[:300]),
        "component-empty": cs.build_juce_state(b""),
        "param-wrong-types": _variant(base, lambda d: d["params"].update({"gain_1": {"f32": "loud"}, "bypass": 7})),
        "project-not-json": _variant(base, lambda d: d["fields"].update({"project": "[1,2"})),
        "project-not-string": _variant(base, lambda d: d["fields"].update({"project": {"stems": 5}})),
        "project-bad-stems": _variant(base, lambda d: d["fields"].update({"project": json.dumps(bad_project)})),
        "project-hostile-audio": _variant(base, lambda d: d["fields"].update({"project": json.dumps(hostile)})),
        "future-version": _variant(base, lambda d: d.update({"version": "99.0.0"})),
    }


def test_garbage_state_is_survived(plugin_path, stems):
    """Each garbage state is rejected (raises / keeps the old state) or read leniently; the plugin
    never crashes, still reports a decodable Counterpart state and still passes audio through."""
    p = load(plugin_path)
    good = cs.build_juce_state(cs.make_component(stems, {"gain_1": {"f32": 0.5}}))
    x = noise(48000, 0.1, seed=11)
    outcomes = {}
    for name, blob in garbage_states(stems).items():
        p.raw_state = good
        try:
            p.raw_state = blob
            outcome = "accepted"
        except Exception as e:  # noqa: BLE001 - a host-side rejection is fine
            outcome = f"raised {type(e).__name__}"
        y = p.process(x, 48000, buffer_size=480, reset=True)
        assert np.array_equal(y, x), f"{name}: pass-through broken after garbage state: {first_difference(y, x)}"
        try:
            state, project = state_of(p)
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{name}: plugin state undecodable after garbage state ({e})")
        slots = [s["slot"] for s in project["stems"]]
        assert all(0 <= s < 16 for s in slots) and len(set(slots)) == len(slots), (name, project["stems"])
        outcomes[name] = (outcome, slots, cs.param_values(state)["gain_1"])
    print("\n" + "\n".join(f"  {k:24} {v}" for k, v in outcomes.items()))
    # State that is not even JSON must leave the previous state alone.
    for name in ("random-bytes", "empty", "component-not-json", "component-random", "component-truncated"):
        assert outcomes[name][1:] == ([0, 1], 0.5), f"{name}: previous state not kept: {outcomes[name]}"
