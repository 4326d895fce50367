//! Instruction following of the whole arranger job (`arrange_song`: analysis, the real MiniLM
//! planner, the real arranger pack, density shaping) over a table of prompts and three contexts:
//! a synthetic 16-bar chord progression, 12 bars of a TEST-split Bach chorale as score notes, and
//! a rendered chorale fixture transcribed once by the real basic-pitch model.
//!
//! Every case asserts: the planned role and bar range; 100 % of the notes start and end inside the
//! bars; 100 % lie inside the role's register (see [`register`]: read from the pack's
//! `arranger.json`, shifted an octave per "higher"/"lower"); takes are one seed each. Drums are
//! skipped, and counted as such, while the job refuses them. Cases paired with a plain case of the
//! same seed assert the direction: "sparser"/"busier" move notes per bar, "higher"/"lower" the mean
//! pitch. Run with `--nocapture` for the summary table. A second test gives key and chord
//! overrides and checks the takes fit the given chords better than the analysed ones and sit in
//! the given key.

mod common;

use std::path::PathBuf;

use counterpart_engine::analysis::chords;
use counterpart_engine::analysis::tempo::Meter;
use counterpart_engine::arrange::{ArrangerConfig, Chord, KeySig, Sampler};
use counterpart_engine::generate::harmony::{self, BeatClock};
use counterpart_engine::generate::{
    Arrangement, SongInput, StemOverrides, StemRequest, arrange_song, arrange_song_with, harmonic_fit,
};
use counterpart_engine::packs::PackRegistry;
use counterpart_engine::plan::Role;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::stem::Note;
use counterpart_engine::transcribe::{self, TranscribeOptions};

/// Tempo of the synthetic and score contexts.
const BPM: f64 = 100.0;
/// Seconds of silence before the first downbeat of the synthetic and score contexts.
const LEAD: f64 = 0.5;

/// A note heard in the context, as the transcriber would report it.
/// A heard note, as the transcriber reports it.
fn heard(start: f64, end: f64, pitch: u8) -> transcribe::Note {
    common::heard_note(start, end, pitch)
}

/// Notes in beats from the first downbeat as heard notes at [`BPM`] after [`LEAD`].
fn song_from_beats(notes: impl IntoIterator<Item = (f64, f64, u8)>) -> SongInput {
    let spb = 60.0 / BPM;
    let heard: Vec<transcribe::Note> =
        notes.into_iter().map(|(start, end, key)| heard(LEAD + start * spb, LEAD + end * spb, key)).collect();
    let duration = heard.iter().map(|n| n.end).fold(0.0, f64::max) + 1.0;
    SongInput { heard, duration, tempo: Some(BPM), meter: Meter::default(), ..SongInput::default() }
}

/// 16 bars of I-vi-IV-V-style harmony in C: a bass on beats 1 and 3, a held close triad and a
/// melody of chord tones in quarters.
fn progression() -> SongInput {
    const CHORDS: [(u8, bool); 16] = [
        (0, false),
        (9, true),
        (5, false),
        (7, false),
        (0, false),
        (5, false),
        (2, true),
        (7, false),
        (4, true),
        (9, true),
        (5, false),
        (7, false),
        (0, false),
        (9, true),
        (7, false),
        (0, false),
    ];
    let mut notes = Vec::new();
    for (bar, &(root, minor)) in CHORDS.iter().enumerate() {
        let b = bar as f64 * 4.0;
        let third = if minor { 3 } else { 4 };
        notes.push((b, b + 2.0, 36 + root));
        notes.push((b + 2.0, b + 4.0, 36 + root));
        for interval in [0, third, 7] {
            notes.push((b, b + 4.0, 60 + (root + interval) % 12));
        }
        for (beat, interval) in [third, 7, 12, 7].into_iter().enumerate() {
            notes.push((b + beat as f64, b + beat as f64 + 1.0, 72 + root % 12 + interval));
        }
    }
    song_from_beats(notes)
}

/// The arranger test's excerpt: 12 bars of bach/bwv144.6 (TEST split) as score notes.
fn chorale_score() -> SongInput {
    #[derive(serde::Deserialize)]
    struct Fixture {
        voices: Vec<Vec<Note>>,
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arranger/chorale_test.json");
    let f: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    song_from_beats(f.voices.iter().flatten().map(|n| (n.start, n.end(), n.key)))
}

/// bwv66.6 as rendered by `scripts/make_chorale_fixtures.py` (8 bars, 90 BPM), transcribed.
fn chorale_transcribed(registry: &mut PackRegistry) -> SongInput {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chorales/bwv66.6.flac");
    let t = transcribe::transcribe_with_registry(registry, &path, &TranscribeOptions::default()).expect("transcribes");
    assert!(t.notes.len() > 40, "the fixture is heard: {} notes", t.notes.len());
    SongInput { heard: t.notes, duration: t.duration, tempo: Some(90.0), meter: Meter::default(), ..Default::default() }
}

/// What a case asks to be checked against its plain twin (same context, bars and seed).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Versus {
    /// Fewer notes per bar.
    Sparser,
    /// More notes per bar.
    Busier,
    /// Higher mean pitch.
    Higher,
    /// Lower mean pitch.
    Lower,
}

/// The bars a case expects, 1-based inclusive.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Exactly these.
    Bars(usize, usize),
    /// The whole song.
    Whole,
    /// The song's last N bars.
    Last(usize),
}

impl Want {
    fn resolve(self, song_bars: usize) -> [usize; 2] {
        match self {
            Want::Bars(a, b) => [a, b],
            Want::Whole => [1, song_bars],
            Want::Last(k) => [song_bars + 1 - k, song_bars],
        }
    }
}

/// One row of the table.
struct Case {
    /// Index into the contexts.
    context: usize,
    prompt: &'static str,
    /// A ruler selection overriding the prompt's bars.
    bars_override: Option<[u32; 2]>,
    takes: usize,
    seed: u64,
    role: Role,
    /// Expected bars.
    bars: Want,
    /// Index of the plain case this one is compared with.
    versus: Option<(usize, Versus)>,
}

const fn case(context: usize, prompt: &'static str, role: Role, bars: Want, seed: u64) -> Case {
    Case { context, prompt, bars_override: None, takes: 1, seed, role, bars, versus: None }
}

const fn versus(mut c: Case, plain: usize, v: Versus) -> Case {
    c.versus = Some((plain, v));
    c
}

/// The table. Contexts: 0 synthetic progression (16 bars), 1 chorale score (12 bars),
/// 2 transcribed chorale (8 bars).
fn cases() -> Vec<Case> {
    use Role::*;
    use Versus::*;
    use Want::*;
    vec![
        // 0..: synthetic progression.
        case(0, "add a bass line under bars 3-6", Bass, Bars(3, 6), 7),
        versus(case(0, "add a sparser bass line under bars 3-6", Bass, Bars(3, 6), 7), 0, Sparser),
        versus(case(0, "add a busier bass line under bars 3-6", Bass, Bars(3, 6), 7), 0, Busier),
        versus(case(0, "add a lower bass line under bars 3-6", Bass, Bars(3, 6), 7), 0, Lower),
        versus(case(0, "add a higher bass line under bars 3-6", Bass, Bars(3, 6), 7), 0, Higher),
        case(0, "write a melody for bars 9-12", Melody, Bars(9, 12), 3),
        versus(case(0, "write a higher melody for bars 9-12", Melody, Bars(9, 12), 3), 5, Higher),
        versus(case(0, "write a sparser melody for bars 9-12", Melody, Bars(9, 12), 3), 5, Sparser),
        versus(case(0, "write a busier melody for bars 9-12", Melody, Bars(9, 12), 3), 5, Busier),
        case(0, "add a counter-melody in the last 4 bars", CounterMelody, Last(4), 11),
        versus(case(0, "add a busier counter-melody in the last 4 bars", CounterMelody, Last(4), 11), 9, Busier),
        case(0, "add chords for bars 1-8", Chords, Bars(1, 8), 5),
        case(0, "add an arpeggio in bars 5-8", Arpeggio, Bars(5, 8), 2),
        case(0, "add a bass line", Bass, Whole, 1),
        Case { bars_override: Some([7, 10]), ..case(0, "add a bass line", Bass, Bars(7, 10), 4) },
        Case { takes: 3, ..case(0, "give me a bass line for the first 4 bars", Bass, Bars(1, 4), 20) },
        case(0, "add some drums in bars 1-4", Drums, Bars(1, 4), 1),
        versus(case(0, "add some sparser drums in bars 1-4", Drums, Bars(1, 4), 1), 16, Sparser),
        versus(case(0, "add some busier drums in bars 1-4", Drums, Bars(1, 4), 1), 16, Busier),
        // 19..: the chorale as score notes.
        case(1, "add a bass line", Bass, Whole, 1),
        case(1, "add a bass line in bars 2-9", Bass, Bars(2, 9), 2),
        versus(case(1, "add a sparser bass line in bars 2-9", Bass, Bars(2, 9), 2), 20, Sparser),
        versus(case(1, "add a busier bass line in bars 2-9", Bass, Bars(2, 9), 2), 20, Busier),
        case(1, "add a melody in the last 4 bars", Melody, Last(4), 3),
        versus(case(1, "add a lower melody in the last 4 bars", Melody, Last(4), 3), 23, Lower),
        case(1, "add a counter-melody under bars 3-6", CounterMelody, Bars(3, 6), 4),
        versus(case(1, "add a sparser counter-melody under bars 3-6", CounterMelody, Bars(3, 6), 4), 25, Sparser),
        case(1, "add an arpeggio in bars 1-4", Arpeggio, Bars(1, 4), 5),
        case(1, "add chords in bars 5-8", Chords, Bars(5, 8), 6),
        Case { takes: 2, ..case(1, "add a bass line from bar 7 to bar 12", Bass, Bars(7, 12), 30) },
        // 30..: the transcribed chorale.
        case(2, "add a bass line", Bass, Whole, 1),
        versus(case(2, "add a sparser bass line", Bass, Whole, 1), 30, Sparser),
        versus(case(2, "add a busier bass line", Bass, Whole, 1), 30, Busier),
        case(2, "add a melody over bars 1-4", Melody, Bars(1, 4), 2),
        versus(case(2, "add a higher melody over bars 1-4", Melody, Bars(1, 4), 2), 33, Higher),
        case(2, "add a counter-melody in the last 4 bars", CounterMelody, Last(4), 3),
        case(2, "add an arpeggio in bars 3-6", Arpeggio, Bars(3, 6), 4),
        case(2, "add chords in bars 2-5", Chords, Bars(2, 5), 5),
        versus(case(2, "add busier chords in bars 2-5", Chords, Bars(2, 5), 5), 37, Busier),
    ]
}

/// The register a job's notes must stay in. Parts the model writes (bass, melody,
/// counter-melody): the voice's training register in the pack's `arranger.json`, shifted an octave
/// per register step and clipped to the model's pitch range, as the sampler clips it. Parts written
/// by rule (chords, arpeggio; their registers are not exposed by the job): the ensemble's register,
/// the union of the pack's voices, shifted the same way. Drums: the General MIDI percussion keys.
fn register(cfg: &ArrangerConfig, a: &Arrangement) -> (u8, u8) {
    let shift = 12 * a.job.register as i16;
    let shifted = |lo: u8, hi: u8| ((lo as i16 + shift).clamp(0, 127) as u8, (hi as i16 + shift).clamp(0, 127) as u8);
    match a.role {
        Role::Drums => (27, 87),
        Role::Chords | Role::Arpeggio => {
            let lo = cfg.voices.iter().map(|v| v.low).min().unwrap_or(0);
            let hi = cfg.voices.iter().map(|v| v.high).max().unwrap_or(127);
            shifted(lo, hi)
        }
        _ => {
            let v = &cfg.voices[a.voice];
            let (lo, hi) = shifted(v.low, v.high);
            (lo.max(cfg.pitch_lo), hi.min(cfg.pitch_hi()))
        }
    }
}

fn mean_key(notes: &[Note]) -> f64 {
    notes.iter().map(|n| n.key as f64).sum::<f64>() / notes.len().max(1) as f64
}

/// The installed packs the job needs; `None` (printed) when one is missing outside CI.
fn registry() -> Option<PackRegistry> {
    common::arranger_registry()
}

#[test]
fn every_instruction_case_is_followed() {
    let Some(mut registry) = registry() else { return };
    let cfg = Sampler::from_registry(&registry, &SessionSettings::default()).expect("arranger pack").config().clone();
    let contexts = [progression(), chorale_score(), chorale_transcribed(&mut registry)];
    let names = ["progression", "score", "transcribed"];
    // Each context's length in bars: the release tail after the last chord adds no bar.
    let lengths = [16, 12, 8];
    let cases = cases();
    assert!(cases.len() >= 30);

    let mut results: Vec<Option<Arrangement>> = Vec::new();
    let (mut notes_total, mut in_range, mut in_register) = (0usize, 0usize, 0usize);
    let (mut compared, mut direction_hits, mut skipped) = (0usize, 0usize, Vec::new());
    let mut failures = Vec::new();
    println!(
        "{:>2} | {:11} | {:48} | {:13} | {:7} | {:5} | {:9} | {:8} | {:8} | direction",
        "#", "context", "prompt", "role", "bars", "notes", "register", "in range", "in reg."
    );
    for (i, c) in cases.iter().enumerate() {
        let request = StemRequest { prompt: c.prompt.into(), bars: c.bars_override, takes: c.takes, seed: c.seed };
        let a = match arrange_song(&mut registry, &contexts[c.context], &request, |_| {}) {
            Ok(a) => a,
            Err(e) if c.role == Role::Drums && e.contains("drums") => {
                // Drums are refused with a message until the pattern library lands.
                println!("{i:>2} | {:11} | {:48} | drums refused: {e}", names[c.context], c.prompt);
                skipped.push(i);
                results.push(None);
                continue;
            }
            Err(e) => panic!("case {i} ({}): {e}", c.prompt),
        };
        assert_eq!(a.role, c.role, "case {i} ({}): role", c.prompt);
        let song_bars = a.analysis.bars.len().max(1);
        assert_eq!(song_bars, lengths[c.context], "case {i} ({}): the song's length", c.prompt);
        let bars = c.bars.resolve(song_bars);
        assert_eq!(a.bars, bars, "case {i} ({}): bars", c.prompt);
        assert_eq!(a.takes.len(), c.takes, "case {i}: one take per seed");
        assert!(a.takes.iter().enumerate().all(|(k, t)| t.seed == c.seed + k as u64), "case {i}: seeds");
        if c.takes > 1 {
            assert!(a.takes.iter().any(|t| t.notes != a.takes[0].notes), "case {i}: takes differ");
        }
        let (lo, hi) = register(&cfg, &a);
        let (start, end) = ((bars[0] - 1) as f64 * a.bar_beats, bars[1] as f64 * a.bar_beats);
        let (mut n, mut r, mut k) = (0, 0, 0);
        for t in &a.takes {
            assert!(!t.notes.is_empty(), "case {i} ({}): seed {} wrote no notes", c.prompt, t.seed);
            for note in &t.notes {
                n += 1;
                r += usize::from(note.start >= start - 1e-9 && note.end() <= end + 1e-9);
                k += usize::from((lo..=hi).contains(&note.key));
            }
        }
        (notes_total, in_range, in_register) = (notes_total + n, in_range + r, in_register + k);
        let mut direction = String::new();
        if let Some((plain, v)) = c.versus {
            let p = &cases[plain];
            assert!(p.versus.is_none() && (p.context, p.seed, p.role) == (c.context, c.seed, c.role), "case {i}: twin");
            let base = results[plain].as_ref().expect("the plain case ran");
            let (ours, theirs) = (&a.takes[0], &base.takes[0]);
            let (hit, what) = match v {
                Versus::Sparser => (ours.notes_per_bar < theirs.notes_per_bar, "notes/bar"),
                Versus::Busier => (ours.notes_per_bar > theirs.notes_per_bar, "notes/bar"),
                Versus::Higher => (mean_key(&ours.notes) > mean_key(&theirs.notes), "mean key"),
                Versus::Lower => (mean_key(&ours.notes) < mean_key(&theirs.notes), "mean key"),
            };
            let (x, y) = match what {
                "notes/bar" => (ours.notes_per_bar, theirs.notes_per_bar),
                _ => (mean_key(&ours.notes), mean_key(&theirs.notes)),
            };
            direction = format!("{v:?} vs #{plain}: {what} {x:.2} vs {y:.2} {}", if hit { "ok" } else { "WRONG" });
            compared += 1;
            direction_hits += usize::from(hit);
            if !hit {
                failures.push(format!("case {i} ({}): {direction}", c.prompt));
            }
        }
        if r < n || k < n {
            failures.push(format!("case {i} ({}): {r}/{n} in bars {bars:?}, {k}/{n} in {lo}-{hi}", c.prompt));
        }
        println!(
            "{i:>2} | {:11} | {:48} | {:13} | {:>3}-{:<3} | {n:5} | {lo:>3}-{hi:<5} | {:7.1}% | {:7.1}% | {direction}",
            names[c.context],
            c.prompt,
            format!("{:?}", a.role),
            bars[0],
            bars[1],
            100.0 * r as f64 / n as f64,
            100.0 * k as f64 / n as f64,
        );
        results.push(Some(a));
    }
    let pct = |x: usize, of: usize| 100.0 * x as f64 / of.max(1) as f64;
    println!(
        "summary: {} cases ({} run, {} skipped: drums refused), {notes_total} notes: {:.1} % inside the bars, \
         {:.1} % inside the register; direction {direction_hits}/{compared}",
        cases.len(),
        cases.len() - skipped.len(),
        skipped.len(),
        pct(in_range, notes_total),
        pct(in_register, notes_total),
    );
    assert!(failures.is_empty(), "instructions not followed:\n{}", failures.join("\n"));
    assert!(compared >= 15 && notes_total > 0);
}

/// The chords the analysis hears on each beat of the song (what the job writes against when
/// nothing overrides them).
fn analysed_chords(input: &SongInput, a: &Arrangement) -> Vec<Option<chords::ChordLabel>> {
    let beats = input.meter.beats.max(1) as usize;
    let bars: Vec<Option<chords::ChordLabel>> =
        a.analysis.bars.iter().map(|b| chords::label_bar(&input.heard, b.start, b.end, beats)).collect();
    let clock = BeatClock { origin: a.origin, seconds_per_beat: a.seconds_per_beat(), bar_beats: a.bar_beats };
    harmony::beat_chords(&input.heard, clock, &bars)
}

/// Share of the notes' time whose pitch class is in `scale`.
fn scale_fit(notes: &[Note], scale: &[u8]) -> f64 {
    let total: f64 = notes.iter().map(|n| n.length).sum();
    notes.iter().filter(|n| scale.contains(&(n.key % 12))).map(|n| n.length).sum::<f64>() / total.max(1e-9)
}

#[test]
fn key_and_chord_overrides_are_honoured() {
    let Some(mut registry) = registry() else { return };
    let song = progression();
    // (prompt, chords per bar from bar 1 (repeating), key)
    let cases: [(&str, &str, Option<&str>); 6] = [
        ("add a bass line in bars 1-8", "Am F C G", None),
        ("add a melody in bars 1-8", "Am F C G", None),
        ("add a counter-melody in bars 5-12", "Dm G C Am", None),
        ("add a bass line in bars 1-8", "D Bm G A", Some("D major")),
        ("add a melody in bars 9-16", "Cm Ab Eb Bb", Some("C minor")),
        ("add chords in bars 1-8", "F Dm Bb C", Some("F major")),
    ];
    println!("{:34} | {:18} | fit: override / analysed | in key: override / analysed", "prompt", "override");
    for (prompt, chord_list, key) in cases {
        let overrides = StemOverrides {
            chords: Chord::parse_list(chord_list).unwrap(),
            key: key.map(|k| KeySig::parse(k).unwrap()),
            ..StemOverrides::default()
        };
        let request = StemRequest { prompt: prompt.into(), takes: 2, seed: 3, ..StemRequest::default() };
        let a = arrange_song_with(&mut registry, &song, &request, &overrides, |_| {}).expect(prompt);
        let analysed = analysed_chords(&song, &a);
        let given = &overrides.chords;
        for (bar, chord) in a.chords.iter().enumerate().take(16) {
            assert_eq!(
                *chord,
                Some(given[bar % given.len()]),
                "{prompt}: bar {} is written against the override",
                bar + 1
            );
        }
        if let Some(k) = overrides.key {
            assert_eq!(a.key, k, "{prompt}: the key override is the key written in");
        }
        let analysed_key = KeySig { tonic: a.analysis.key.tonic, minor: a.analysis.key.mode == "minor" };
        for t in &a.takes {
            let theirs = harmonic_fit(&t.notes, &analysed);
            let (in_key, in_analysed_key) =
                (scale_fit(&t.notes, &a.key.scale()), scale_fit(&t.notes, &analysed_key.scale()));
            println!(
                "{prompt:34} | {chord_list:10} {:7} | {:.2} / {:.2}              | {in_key:.2} / {in_analysed_key:.2}",
                key.unwrap_or("-"),
                t.harmonic_fit,
                theirs
            );
            assert!(
                t.harmonic_fit > theirs,
                "{prompt} (seed {}): fits the overriding chords ({:.2}) no better than the analysed ones ({theirs:.2})",
                t.seed,
                t.harmonic_fit
            );
            if key.is_some() {
                // A line on the override's chord roots can sit in both keys (D Bm G A: all in C
                // major too), so the song's key may tie; it must never win.
                assert!(
                    in_key >= 0.9 && in_key >= in_analysed_key,
                    "{prompt}: in the overriding key {in_key:.2} vs {in_analysed_key:.2}"
                );
            }
        }
    }
}
