//! The `counterpart` command line run as a real child process, offline and with no environment
//! variables pointing at the runtime or the packs (`ORT_DYLIB_PATH` and `COUNTERPART_MODELS`
//! removed): `analyze`, `transcribe` and `plan` write what they promise, and bad arguments get a
//! clear message and a non-zero exit, never a panic. Needs the runtime and the packs; skipped
//! without them unless CI=true.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use counterpart_engine::packs::PackRegistry;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::transcribe::{self, TranscribeOptions};
use serde_json::Value;

/// The example song: C Am F G C Am F G at 100 BPM in 4/4 (`examples/context.mid`, rendered).
fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/context.wav")
}

/// The example song's chords, one per bar.
const PROGRESSION: [&str; 8] = ["C", "Am", "F", "G", "C", "Am", "F", "G"];

/// Runs `counterpart <args>` with no runtime or pack variables; (success, stdout, stderr).
fn counterpart(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_counterpart"))
        .args(args)
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("COUNTERPART_MODELS")
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!stderr.contains("panicked"), "counterpart {args:?} panicked: {stderr}");
    (out.status.success(), stdout, stderr)
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("counterpart-cli-{name}")).tempdir().unwrap()
}

/// Runs `counterpart analyze` on the example with `extra` arguments and reads its JSON.
fn analyze(dir: &Path, name: &str, extra: &[&str]) -> Value {
    let json = dir.join(format!("{name}.json"));
    let example = example();
    let mut args = vec!["analyze", example.to_str().unwrap(), "--json", json.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (ok, _, err) = counterpart(&args);
    assert!(ok, "analyze {extra:?}: {err}");
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

/// The `chords` list of an analysis.
fn chords(a: &Value) -> Vec<&str> {
    a["chords"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect()
}

#[test]
fn analyze_writes_chords_key_grid_and_features() {
    if common::basic_pitch().is_none() {
        return;
    }
    let dir = scratch("analyze");

    // Tempo and meter given: one label per bar, the known progression.
    let a = analyze(dir.path(), "given", &["--tempo", "100", "--meter", "4/4"]);
    println!("given: chords {:?}, key {}", chords(&a), a["key"]["name"]);
    assert_eq!(chords(&a), PROGRESSION);
    assert_eq!(a["key"]["name"], "C major");
    assert_eq!(a["tempo"]["bpm"], 100.0);
    assert_eq!(a["tempo"]["estimated"], false);
    assert_eq!(a["tempo"]["meter"], "4/4");
    // The grid: beats 0.6 s apart, a downbeat every fourth beat, one per bar.
    let beats: Vec<f64> = a["beats"].as_array().unwrap().iter().map(|b| b.as_f64().unwrap()).collect();
    let downbeats: Vec<f64> = a["downbeats"].as_array().unwrap().iter().map(|b| b.as_f64().unwrap()).collect();
    assert!(beats.len() >= 32, "{} beats", beats.len());
    assert!(beats.windows(2).all(|w| (w[1] - w[0] - 0.6).abs() < 1e-9), "{beats:?}");
    assert_eq!(downbeats.len(), 8);
    assert!(downbeats.windows(2).all(|w| (w[1] - w[0] - 2.4).abs() < 1e-9), "{downbeats:?}");
    assert!(downbeats[0] < 0.3, "first downbeat at {} s", downbeats[0]);
    assert_eq!(a["bars"].as_array().unwrap().len(), 8);
    // The track's features agree with its notes, and its range is the score's (MIDI 29-79).
    let notes = a["notes"].as_array().unwrap();
    let pitches: Vec<u64> = notes.iter().map(|n| n["pitch"].as_u64().unwrap()).collect();
    let f = &a["features"];
    println!("features: {f}");
    assert_eq!(f["note_count"].as_u64().unwrap() as usize, notes.len());
    assert_eq!(f["pitch_min"].as_u64(), pitches.iter().min().copied());
    assert_eq!(f["pitch_max"].as_u64(), pitches.iter().max().copied());
    assert!((27..=31).contains(&pitches.iter().min().copied().unwrap()), "lowest {pitches:?}");
    assert!((77..=84).contains(&pitches.iter().max().copied().unwrap()), "highest {pitches:?}");
    assert_eq!(f["onset_pattern"].as_array().unwrap().len(), 16);
    // Every bar of music starts with the chord (piano and bass on the downbeat; the pattern
    // also counts the grid's bar of release tail after the last chord, 8 of 9).
    assert!(f["onset_pattern"][0].as_f64().unwrap() > 0.85, "{}", f["onset_pattern"]);
    let per_bar = f["notes_per_bar"].as_f64().unwrap();
    assert!((per_bar - notes.len() as f64 / 8.0).abs() < 0.5 + 0.1 * per_bar, "{per_bar} notes per bar");

    // 2/4: two bars per chord, each chord's first half labelled with it. (Measured: the second
    // half of the second F reads Csus4 from the flute's C and G over it, and a 17th bar of release
    // tail reads D.)
    let halves = analyze(dir.path(), "two-four", &["--tempo", "100", "--meter", "2/4"]);
    let labels = chords(&halves);
    println!("2/4: {labels:?}");
    assert!((16..=17).contains(&labels.len()), "{labels:?}");
    assert_eq!(labels.iter().step_by(2).take(8).copied().collect::<Vec<_>>(), PROGRESSION, "{labels:?}");
    assert_eq!(halves["tempo"]["meter"], "2/4");
    let bar = &halves["bars"][1];
    assert!((bar["end"].as_f64().unwrap() - bar["start"].as_f64().unwrap() - 1.2).abs() < 1e-9, "{bar}");

    // Nothing given: the tempo is estimated near 100 BPM and the same chords come out.
    let guessed = analyze(dir.path(), "estimated", &[]);
    let bpm = guessed["tempo"]["bpm"].as_f64().unwrap();
    println!("estimated: {bpm:.1} BPM, chords {:?}", chords(&guessed));
    assert_eq!(guessed["tempo"]["estimated"], true);
    assert!((bpm - 100.0).abs() < 3.0, "estimated {bpm} BPM");
    assert_eq!(chords(&guessed), PROGRESSION);
    assert_eq!(guessed["key"]["name"], "C major");
}

/// A MIDI note: start tick, end tick, pitch, velocity.
type MidiNote = (u64, u64, u8, u8);

/// Ticks per quarter, tempo (µs per quarter) and every note of a MIDI file, in start order.
fn midi_notes(bytes: &[u8]) -> (u16, u32, Vec<MidiNote>) {
    use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
    let smf = Smf::parse(bytes).unwrap();
    let Timing::Metrical(ppq) = smf.header.timing else { panic!("timecode timing") };
    let mut tempo = 0;
    let mut notes = Vec::new();
    for track in &smf.tracks {
        let (mut tick, mut open) = (0u64, std::collections::HashMap::<u8, (u64, u8)>::new());
        for event in track {
            tick += event.delta.as_int() as u64;
            match event.kind {
                TrackEventKind::Meta(MetaMessage::Tempo(t)) => tempo = t.as_int(),
                TrackEventKind::Midi { message: MidiMessage::NoteOn { key, vel }, .. } if vel > 0 => {
                    assert!(open.insert(key.as_int(), (tick, vel.as_int())).is_none(), "overlapping {key}");
                }
                TrackEventKind::Midi { message: MidiMessage::NoteOff { key, .. }, .. }
                | TrackEventKind::Midi { message: MidiMessage::NoteOn { key, .. }, .. } => {
                    let (start, vel) = open.remove(&key.as_int()).expect("note-off without note-on");
                    notes.push((start, tick, key.as_int(), vel));
                }
                _ => {}
            }
        }
        assert!(open.is_empty(), "notes left open");
    }
    notes.sort();
    (ppq.as_int(), tempo, notes)
}

#[test]
fn transcribe_writes_the_library_notes_as_midi() {
    if common::basic_pitch().is_none() {
        return;
    }
    let dir = scratch("transcribe");
    let mid = dir.path().join("notes.mid");
    let (ok, _, err) = counterpart(&["transcribe", example().to_str().unwrap(), "--midi", mid.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ppq, tempo, from_cli) = midi_notes(&std::fs::read(&mid).unwrap());

    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    let t = transcribe::transcribe_with_registry(&mut registry, &example(), &TranscribeOptions::default()).unwrap();
    // basic-pitch's layout: 120 BPM; ticks are the note times rounded.
    assert_eq!(tempo, 500_000);
    let ticks_per_s = ppq as f64 * 2.0;
    let tick = |s: f64| (s * ticks_per_s).round() as u64;
    let mut expected: Vec<MidiNote> =
        t.notes.iter().map(|n| (tick(n.start), tick(n.end).max(tick(n.start) + 1), n.pitch, n.velocity())).collect();
    expected.sort();
    println!("{} notes from the library, {} in the MIDI file", expected.len(), from_cli.len());
    assert!(expected.len() > 50, "{} notes", expected.len());
    assert_eq!(from_cli, expected);
}

#[test]
fn plan_prints_the_job_as_json() {
    if common::embedder().is_none() {
        return;
    }
    let (ok, out, err) = counterpart(&[
        "plan",
        "--prompt",
        "add a busier walking upright bass in bars 9-16 with kazoo",
        "--bars",
        "16",
        "--json",
    ]);
    assert!(ok, "{err}");
    let job: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    println!("{job}");
    assert_eq!(job["action"], "add");
    assert_eq!(job["role"], "bass");
    assert_eq!(job["program"], 32);
    assert_eq!(job["bars"], serde_json::json!([9, 16]));
    assert_eq!(job["density"], 1);
    assert_eq!(job["register"], 0);
    let unparsed: Vec<&str> = job["unparsed"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert!(unparsed.contains(&"kazoo"), "{unparsed:?}");

    // Bars past the song's end: still JSON, with the problem in `errors`.
    let (ok, out, err) =
        counterpart(&["plan", "--prompt", "make the drums higher in bars 20-24", "--bars", "16", "--json"]);
    assert!(ok, "{err}");
    let job: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((job["role"].as_str(), job["register"].as_i64()), (Some("drums"), Some(1)));
    assert!(!job["errors"].as_array().unwrap().is_empty(), "{job}");
}

#[test]
fn bad_arguments_get_a_message_not_a_panic() {
    let dir = scratch("bad");
    let json = dir.path().join("out.json");
    let json = json.to_str().unwrap();
    let example = example();
    let example = example.to_str().unwrap();
    let missing = dir.path().join("missing.wav");
    let missing = missing.to_str().unwrap();
    let garbage = dir.path().join("garbage.wav");
    std::fs::write(&garbage, b"RIFF\x10\x00\x00\x00WAVEnot really").unwrap();
    let garbage = garbage.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["analyze", example, "--json", json, "--tempo", "-5"], "--tempo wants BPM, got `-5`"),
        (&["analyze", example, "--json", json, "--tempo", "0"], "--tempo wants BPM, got `0`"),
        (&["analyze", example, "--json", json, "--tempo", "fast"], "--tempo wants BPM, got `fast`"),
        (&["analyze", example, "--json", json, "--tempo", "inf"], "--tempo wants BPM, got `inf`"),
        (&["analyze", example, "--json", json, "--meter", "7/0"], "meter must look like 4/4 or 6/8, got `7/0`"),
        (&["analyze", example, "--json", json, "--meter", "waltz"], "meter must look like 4/4 or 6/8"),
        (&["analyze", example], "analyze needs --json <file>"),
        (&["analyze", example, "--json"], "--json needs a value"),
        (&["analyze", example, "--json", json, "--tempo"], "--tempo needs a value"),
        (&["analyze", missing, "--json", json], "missing.wav"),
        (&["analyze", garbage, "--json", json], "garbage.wav"),
        (&["transcribe", missing, "--midi", json], "missing.wav"),
        (&["transcribe", example, "--batch", "many"], "--batch wants a number"),
        (&["transcribe", example, "--provider", "abacus"], "abacus"),
        (&["transcribe"], "usage:"),
        (&["plan", "--json"], "plan needs --prompt"),
        (&["plan", "--prompt", "add bass", "--bars", "-3"], "--bars wants the song length in bars, got `-3`"),
        (&["generate", "--prompt", "add bass", "--out", json, "--tempo", "-5"], "--tempo wants BPM, got `-5`"),
        (&["generate", "--prompt", "add bass", "--out", json, "--meter", "7/0"], "meter must look like"),
        (&["frobnicate"], "usage:"),
        (&[], "usage:"),
    ];
    for (args, expected) in cases {
        let (ok, _, err) = counterpart(args);
        println!("{args:?}: {}", err.trim());
        assert!(!ok, "{args:?} succeeded: {err}");
        assert!(err.contains("error: ") && err.contains(expected), "{args:?}: wanted `{expected}` in: {err}");
    }
    assert!(!Path::new(json).exists(), "a failed analyze wrote its output");
}

#[test]
fn analyze_gives_features_per_track() {
    let Some(renderer) = common::renderer() else { return };
    if common::basic_pitch().is_none() {
        return;
    }
    let dir = scratch("tracks");
    // The example song's bass (MIDI 29-43) and its piano and flute (53-79) as two files.
    let (notes, tempo) =
        counterpart_engine::midi::read_midi(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/context.mid"))
            .unwrap();
    let tempo = tempo.unwrap_or(100.0);
    let (bass, keys): (Vec<_>, Vec<_>) = notes.into_iter().partition(|n| n.key < 48);
    let mut files = Vec::new();
    for (name, notes, program) in [("bass", &bass, 33), ("keys", &keys, 0)] {
        let audio = renderer.render(notes, Some(program), 0.0, tempo, 22_050, 1.0).unwrap();
        let path = dir.path().join(format!("{name}.wav"));
        counterpart_engine::wav::write_wav(&path, &audio).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    let json = dir.path().join("tracks.json");
    let (ok, _, err) =
        counterpart(&["analyze", &files[0], &files[1], "--tempo", "100", "--json", json.to_str().unwrap()]);
    assert!(ok, "{err}");
    let a: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // The song is both files heard together: its chords; one feature block per file.
    assert_eq!(chords(&a), PROGRESSION);
    let tracks = a["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 2);
    let (b, k) = (&tracks[0]["features"], &tracks[1]["features"]);
    println!("bass {b}\nkeys {k}");
    assert_eq!((tracks[0]["name"].as_str(), tracks[1]["name"].as_str()), (Some(&*files[0]), Some(&*files[1])));
    let count = |f: &Value| f["note_count"].as_u64().unwrap();
    assert_eq!(count(b) + count(k), a["notes"].as_array().unwrap().len() as u64);
    assert_eq!(count(b) + count(k), count(&a["features"]));
    // Each block is its own part: the bass low and mostly one note at a time, the keys above it in
    // chords. (The transcriber also hears the bass's overtones, up to MIDI 60 here, and 79 notes for
    // its 32, so the ranges overlap; their weighted means do not.)
    let mean = |f: &Value| f["pitch_mean"].as_f64().unwrap();
    let low = |f: &Value| f["pitch_min"].as_u64().unwrap();
    assert!(mean(b) < 45.0 && mean(k) > 55.0, "mean pitch: bass {} keys {}", mean(b), mean(k));
    assert!((27..=31).contains(&low(b)) && low(k) > low(b), "lowest: bass {} keys {}", low(b), low(k));
    assert!((74..=84).contains(&k["pitch_max"].as_u64().unwrap()), "{k}");
    let poly = |f: &Value| f["polyphony"].as_f64().unwrap();
    assert!(poly(k) > 2.0 * poly(b), "polyphony: bass {} keys {}", poly(b), poly(k));
}
