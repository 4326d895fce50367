//! The arranger job (`arrange_song`, every real model) on bad input: empty, silent and keyless
//! contexts, one-bar and 300-bar songs, impossible and unknown requests, a 10 kB prompt and
//! broken notes. Each gets a message that says what happened (an error, or a note through
//! `progress` plus the planned job's errors, warnings and unparsed words) and, where a stem can
//! still be written, a sensible fallback whose notes stay inside the bars and the register.
//! Never a panic.

mod common;

use std::time::Instant;

use counterpart_engine::analysis::chords::ChordLabel;
use counterpart_engine::analysis::tempo::Meter;
use counterpart_engine::arrange::{Chord, Sampler};
use counterpart_engine::generate::{
    Arrangement, SongInput, StemOverrides, StemRequest, arrange_song, arrange_song_with, harmonic_fit,
};
use counterpart_engine::packs::{PackRegistry, TaskKind};
use counterpart_engine::plan::Role;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::transcribe::{self, TranscribeOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Tempo of the synthetic songs.
const BPM: f64 = 120.0;

/// A heard note, as the transcriber reports it.
fn heard(start: f64, end: f64, pitch: u8) -> transcribe::Note {
    common::heard_note(start, end, pitch)
}

/// Notes given in beats as a song at [`BPM`] in 4/4, lasting exactly `bars` bars.
fn song(bars: usize, notes: impl IntoIterator<Item = (f64, f64, u8)>) -> SongInput {
    let spb = 60.0 / BPM;
    SongInput {
        heard: notes.into_iter().map(|(a, b, k)| heard(a * spb, b * spb, k)).collect(),
        duration: bars as f64 * 4.0 * spb,
        tempo: Some(BPM),
        meter: Meter::default(),
        ..SongInput::default()
    }
}

/// `bars` bars cycling I-vi-IV-V in C: bass on beats 1 and 3, a held triad, a melody in quarters.
fn progression(bars: usize) -> SongInput {
    const CHORDS: [(u8, bool); 4] = [(0, false), (9, true), (5, false), (7, false)];
    let mut notes = Vec::new();
    for bar in 0..bars {
        let (root, minor) = CHORDS[bar % 4];
        let b = bar as f64 * 4.0;
        let third = if minor { 3 } else { 4 };
        notes.extend([(b, b + 2.0, 36 + root), (b + 2.0, b + 4.0, 36 + root)]);
        notes.extend([0, third, 7].map(|i| (b, b + 4.0, 60 + (root + i) % 12)));
        notes.extend(
            [third, 7, 12, 7].into_iter().enumerate().map(|(k, i)| (b + k as f64, b + k as f64 + 1.0, 72 + root + i)),
        );
    }
    song(bars, notes)
}

/// The installed packs the job needs; `None` (printed) when one is missing outside CI.
fn registry() -> Option<PackRegistry> {
    common::arranger_registry()
}

/// Runs the job, returning its result and everything `progress` heard.
fn run(registry: &mut PackRegistry, input: &SongInput, prompt: &str) -> (Result<Arrangement, String>, Vec<String>) {
    run_with(registry, input, StemRequest { prompt: prompt.into(), takes: 1, seed: 1, ..StemRequest::default() })
}

fn run_with(
    registry: &mut PackRegistry,
    input: &SongInput,
    request: StemRequest,
) -> (Result<Arrangement, String>, Vec<String>) {
    let mut heard = Vec::new();
    let result = arrange_song(registry, input, &request, |m| heard.push(m.to_string()));
    (result, heard)
}

/// The notes of every take lie inside the arrangement's bars and the voice's register (shifted
/// an octave per register step, clipped to the model's range), and there are some.
fn assert_sensible(registry: &PackRegistry, a: &Arrangement, what: &str) {
    let cfg = Sampler::from_registry(registry, &SessionSettings::default()).expect("arranger pack").config().clone();
    let v = &cfg.voices[a.voice];
    let shift = 12 * a.job.register as i16;
    let lo = ((v.low as i16 + shift).clamp(0, 127) as u8).max(cfg.pitch_lo);
    let hi = ((v.high as i16 + shift).clamp(0, 127) as u8).min(cfg.pitch_hi());
    let (start, end) = ((a.bars[0] - 1) as f64 * a.bar_beats, a.bars[1] as f64 * a.bar_beats);
    assert!(a.bars[0] >= 1 && a.bars[0] <= a.bars[1], "{what}: bars {:?}", a.bars);
    for t in &a.takes {
        assert!(!t.notes.is_empty(), "{what}: no notes");
        for n in &t.notes {
            assert!(n.start >= start - 1e-9 && n.end() <= end + 1e-9, "{what}: {n:?} outside bars {:?}", a.bars);
            assert!((lo..=hi).contains(&n.key), "{what}: {n:?} outside the register {lo}-{hi}");
            assert!(n.start.is_finite() && n.length > 0.0, "{what}: broken note {n:?}");
        }
    }
}

/// Whether one of `messages` contains every one of `words` (case-insensitive).
fn says(messages: &[String], words: &[&str]) -> bool {
    messages.iter().any(|m| words.iter().all(|w| m.to_lowercase().contains(w)))
}

/// An empty context with no length is refused in words. Ten seconds of digital silence through
/// the real transcriber hear nothing, yet have bars at the given tempo: drums are written over all
/// of them, a bass line is refused unless chords are given, and then it sounds their tones.
#[test]
fn empty_contexts_are_refused_and_silent_ones_get_drums_or_follow_given_chords() {
    let Some(mut registry) = registry() else { return };
    let (result, _) = run(&mut registry, &SongInput::default(), "add a bass line");
    let e = result.expect_err("nothing to write against");
    assert!(e.contains("no notes were heard"), "{e}");

    let pack = registry.find(TaskKind::Transcriber).unwrap().name().to_string();
    let session = &mut registry.session(&pack, transcribe::MODEL_KEY).unwrap().session;
    let t = transcribe::transcribe_samples(session, &vec![0.0; 10 * 22_050], &TranscribeOptions::default()).unwrap();
    assert!(t.notes.is_empty(), "silence is heard as silence");
    let input = SongInput { heard: t.notes, duration: t.duration, tempo: Some(BPM), ..SongInput::default() };
    let bars = (t.duration / (4.0 * 60.0 / BPM)).ceil() as usize;

    let (result, _) = run(&mut registry, &input, "add a bass line");
    let e = result.expect_err("a bass line needs chords over silence");
    assert!(e.contains("silent") && e.contains("chords"), "{e}");
    println!("silent, bass: {e}");

    let (result, heard_drums) = run(&mut registry, &input, "add drums");
    let a = result.expect("drums over silence");
    assert_eq!((a.role, a.bars), (Role::Drums, [1, bars]), "drums over every bar of the silence");
    assert!(says(&heard_drums, &["no notes were heard", "drums"]), "{heard_drums:?}");
    let last_bar = (bars - 1) as f64 * a.bar_beats;
    assert!(a.takes[0].notes.iter().any(|n| n.start >= last_bar), "drums reach the last bar");

    // G major, E minor, C major, D major, one per bar.
    let chords: Vec<Chord> =
        [(7, ""), (4, "m"), (0, ""), (2, "")].map(|(root, quality)| Chord { root, quality }).into();
    let overrides = StemOverrides { chords: chords.clone(), ..StemOverrides::default() };
    let request = StemRequest { prompt: "add a bass line".into(), takes: 1, seed: 1, ..StemRequest::default() };
    let a = arrange_song_with(&mut registry, &input, &request, &overrides, |_| {}).expect("bass over given chords");
    assert_eq!((a.role, a.bars), (Role::Bass, [1, bars]));
    assert_sensible(&registry, &a, "silent context, chords given");
    let labels: Vec<Option<ChordLabel>> = a.beat_chords.iter().map(|c| c.map(|c| c.label())).collect();
    let fit = harmonic_fit(&a.takes[0].notes, &labels);
    println!("silent context, chords given: bass fits them at {fit:.2}");
    assert!(fit >= 0.6, "the bass follows the given chords ({fit:.2})");
    for (bar, chord) in a.chords.iter().enumerate().take(bars) {
        assert_eq!(*chord, Some(chords[bar % chords.len()]), "bar {bar} uses the given chord");
    }
}

#[test]
fn keyless_contexts_still_get_a_line_in_range() {
    let Some(mut registry) = registry() else { return };
    // All twelve pitch classes held through eight bars.
    let cluster = song(8, (0..8).flat_map(|bar| (60..72).map(move |k| (bar as f64 * 4.0, bar as f64 * 4.0 + 4.0, k))));
    // Atonal: 200 random pitches at random eighth-note onsets.
    let mut rng = StdRng::seed_from_u64(5);
    let atonal = song(
        8,
        (0..200)
            .map(|_| {
                let start = rng.random_range(0..64) as f64 * 0.5;
                (start, start + rng.random_range(1..4) as f64 * 0.5, rng.random_range(40..90))
            })
            .collect::<Vec<_>>(),
    );
    let (result, heard) = run(&mut registry, &progression(8), "add a melody in bars 2-5");
    let tonal = result.expect("a tonal song");
    let clear = tonal.analysis.key.confidence;
    assert!(tonal.analysis.key.is_clear(), "{:?}", tonal.analysis.key);
    assert!(!says(&tonal.job.warnings, &["key is unclear"]) && !says(&heard, &["key is unclear"]), "{heard:?}");
    for (name, input) in [("chromatic cluster", cluster), ("atonal", atonal)] {
        let (result, heard) = run(&mut registry, &input, "add a melody in bars 2-5");
        let a = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        // The key's confidence is low, and the job says so in its warnings and its progress.
        assert!(!a.analysis.key.is_clear(), "{name}: key {:?} (a clear key: {clear:.2})", a.analysis.key);
        let guess = a.analysis.key.name.to_lowercase();
        assert!(says(&a.job.warnings, &["key is unclear", &guess]), "{name}: {:?}", a.job.warnings);
        assert!(says(&heard, &["key is unclear"]), "{name}: {heard:?}");
        assert_eq!(a.bars, [2, 5], "{name}");
        assert_sensible(&registry, &a, name);
        println!(
            "{name}: key {} (confidence {:.2}; a clear key: {clear:.2}), chords {:?}, fit {:.2}, progress {heard:?}",
            a.analysis.key.name, a.analysis.key.confidence, a.analysis.chords, a.takes[0].harmonic_fit
        );
    }
}

/// 4/4 is all the model was trained on; a 3/4 song still gets its notes inside its own bars.
#[test]
fn a_three_four_song_keeps_its_bars() {
    let Some(mut registry) = registry() else { return };
    let chords = [48, 53, 55, 48, 45, 53, 55, 48];
    let mut input = song(
        8,
        chords.iter().enumerate().flat_map(|(bar, &root)| {
            let b = bar as f64 * 3.0;
            [(b, b + 3.0, root), (b, b + 3.0, root + 12), (b, b + 3.0, root + 16), (b, b + 3.0, root + 19)]
        }),
    );
    input.meter = Meter { beats: 3, unit: 4 };
    input.duration = 8.0 * 3.0 * 60.0 / BPM;
    let (result, _) = run(&mut registry, &input, "add a melody in bars 2-4");
    let a = result.expect("a 3/4 song");
    assert_eq!((a.bars, a.bar_beats), ([2, 4], 3.0));
    assert_sensible(&registry, &a, "3/4");
}

#[test]
fn one_bar_songs_are_written_and_halves_explained() {
    let Some(mut registry) = registry() else { return };
    let input = song(1, [(0.0, 4.0, 60), (0.0, 4.0, 64), (0.0, 4.0, 67), (0.0, 2.0, 72), (2.0, 4.0, 74)]);
    let (result, _) = run(&mut registry, &input, "add a bass line");
    let a = result.expect("a one-bar song gets a one-bar line");
    assert_eq!(a.bars, [1, 1]);
    assert_sensible(&registry, &a, "one bar");

    let (result, heard) = run(&mut registry, &input, "add a bass line in the second half");
    let a = result.expect("falls back to the whole song");
    assert_eq!(a.bars, [1, 1]);
    assert!(says(&heard, &["one-bar song has no halves"]), "{heard:?}");
    assert!(a.job.errors.iter().any(|e| e.contains("no halves")), "{:?}", a.job.errors);
}

#[test]
fn a_300_bar_song_is_written_whole() {
    let Some(mut registry) = registry() else { return };
    let input = progression(300);
    let t = Instant::now();
    let (result, _) = run(&mut registry, &input, "add a bass line");
    let seconds = t.elapsed().as_secs_f64();
    let a = result.expect("300 bars");
    println!("300 bars ({} context notes): {seconds:.1} s, {} notes", input.heard.len(), a.takes[0].notes.len());
    assert_eq!(a.bars, [1, 300]);
    assert_sensible(&registry, &a, "300 bars");
    // Notes reach the last bars: the long range is filled chunk after chunk to its end.
    assert!(a.takes[0].notes.iter().any(|n| n.start >= 296.0 * a.bar_beats), "the end of the song is filled");
}

#[test]
fn impossible_bar_ranges_are_explained_and_fall_back() {
    let Some(mut registry) = registry() else { return };
    let input = progression(16);
    // (prompt, words the note must contain, bars used)
    let cases: [(&str, &[&str], [usize; 2]); 5] = [
        ("add a bass line in bars 90-80", &["backwards", "outside the song"], [1, 16]),
        ("add a bass line in bar 500", &["bar 500", "past the end", "16-bar song"], [1, 16]),
        ("add a bass line in bars 12-20", &["past the end", "cut to bars 12-16"], [12, 16]),
        ("add a bass line in bars 12-8", &["backwards", "8-12"], [8, 12]),
        ("add a bass line in bar 0", &["counted from 1"], [1, 16]),
    ];
    for (prompt, words, bars) in cases {
        let (result, heard) = run(&mut registry, &input, prompt);
        let a = result.unwrap_or_else(|e| panic!("{prompt}: {e}"));
        let job_says: Vec<String> = a.job.errors.iter().chain(&a.job.warnings).cloned().collect();
        println!("{prompt}: bars {:?}; progress {heard:?}; job {job_says:?}", a.bars);
        assert!(says(&job_says, words), "{prompt}: {job_says:?} should say {words:?}");
        if !a.job.errors.is_empty() {
            assert!(says(&heard, words), "{prompt}: the error reaches progress: {heard:?}");
        }
        assert_eq!(a.bars, bars, "{prompt}");
        assert_sensible(&registry, &a, prompt);
    }
    // A ruler selection is checked as a range in the prompt is: upside down is turned round,
    // past the end is cut, wholly outside the song is the whole song; each said in the job's
    // warnings (or errors) and through progress.
    let cases: [([u32; 2], &[&str], [usize; 2]); 5] = [
        ([9, 3], &["selection", "backwards", "bars 3-9"], [3, 9]),
        ([40, 50], &["selection", "past the end", "16-bar song", "whole song"], [1, 16]),
        ([12, 20], &["selection", "past the end", "cut to bars 12-16"], [12, 16]),
        ([30, 20], &["selection", "backwards", "outside"], [1, 16]),
        ([0, 0], &["selection", "counted from 1"], [1, 16]),
    ];
    for (bars, words, used) in cases {
        let request =
            StemRequest { prompt: "add a bass line".into(), bars: Some(bars), takes: 1, ..Default::default() };
        let (result, heard) = run_with(&mut registry, &input, request);
        let a = result.unwrap_or_else(|e| panic!("selection {bars:?}: {e}"));
        let job_says: Vec<String> = a.job.errors.iter().chain(&a.job.warnings).cloned().collect();
        println!("selection {bars:?}: bars {:?}; job {job_says:?}", a.bars);
        assert_eq!(a.bars, used, "selection {bars:?}");
        assert!(says(&job_says, words), "selection {bars:?}: {job_says:?} should say {words:?}");
        assert!(says(&heard, words), "selection {bars:?}: progress says it too: {heard:?}");
        assert_sensible(&registry, &a, &format!("selection {bars:?}"));
    }
    // A selection inside the song is taken as it is, silently.
    let request = StemRequest { prompt: "add a bass line".into(), bars: Some([5, 8]), takes: 1, ..Default::default() };
    let a = run_with(&mut registry, &input, request).0.expect("a plain selection");
    assert_eq!(a.bars, [5, 8]);
    assert!(a.job.warnings.is_empty() && a.job.errors.is_empty(), "{:?} {:?}", a.job.warnings, a.job.errors);
}

#[test]
fn unknown_and_unwritable_parts_are_named() {
    let Some(mut registry) = registry() else { return };
    let input = progression(8);

    // Instruments the planner does not know: the words are reported as unparsed (shown with the
    // job) and the part is written with the role's default sound, or the default role.
    let (result, _) = run(&mut registry, &input, "add a melody on the glorbophone in bars 1-4");
    let a = result.expect("falls back to the role's sound");
    assert!(a.job.unparsed.iter().any(|w| w == "glorbophone"), "{:?}", a.job.unparsed);
    assert_eq!((a.role, a.bars, a.program), (Role::Melody, [1, 4], Some(0)));
    assert_sensible(&registry, &a, "glorbophone");
    // A part the planner does not know at all: a bass line is written, and the job says so,
    // naming the word.
    for word in ["didgeridoo", "zanzithophone"] {
        let (result, heard) = run(&mut registry, &input, &format!("add a {word} part in bars 1-4"));
        let a = result.expect("falls back to a bass line");
        println!("{word}: role {:?}, instrument {:?}, warnings {:?}", a.role, a.job.instrument, a.job.warnings);
        assert!(a.job.unparsed.iter().any(|w| w == word), "{word}: {:?}", a.job.unparsed);
        assert_eq!((a.role, a.bars), (Role::Bass, [1, 4]));
        assert!(a.job.instrument.is_none(), "{word}: no instrument is guessed from the sound of the word");
        assert!(says(&a.job.warnings, &[word, "wrote a bass line instead"]), "{word}: {:?}", a.job.warnings);
        assert!(says(&heard, &[word, "bass line"]), "{word}: {heard:?}");
        assert_sensible(&registry, &a, word);
    }
    // A name close to a known one is read as it, and the guess is said.
    let (result, _) = run(&mut registry, &input, "add a glock melody in bars 1-4");
    let a = result.expect("a glockenspiel melody");
    assert_eq!((a.role, a.program), (Role::Melody, Some(9)));
    assert!(says(&a.job.warnings, &["\"glock\"", "read as", "glockenspiel"]), "{:?}", a.job.warnings);

    // Vocals are planned as a choir melody with a warning; removing them is not this job.
    let (result, _) = run(&mut registry, &input, "add vocals in bars 1-4");
    let a = result.expect("a choir melody");
    assert_eq!(a.role, Role::Melody);
    assert!(says(&a.job.warnings, &["vocals", "choir"]), "{:?}", a.job.warnings);
    let (result, _) = run(&mut registry, &input, "remove the vocals");
    let e = result.expect_err("not a writing job");
    assert!(e.contains("vocals cannot be written"), "{e}");

    // An empty or meaningless prompt: said so, and the default part (bass, whole song) is written.
    for prompt in ["", "   ", "qwzx plorf"] {
        let (result, heard) = run(&mut registry, &input, prompt);
        let a = result.unwrap_or_else(|e| panic!("{prompt:?}: {e}"));
        assert!(
            says(&heard, &["empty"]) || says(&heard, &["nothing to do"]),
            "{prompt:?}: progress says what happened: {heard:?}"
        );
        assert_eq!((a.role, a.bars), (Role::Bass, [1, 8]), "{prompt:?}");
    }
}

#[test]
fn a_10_kb_prompt_is_read_and_its_request_kept() {
    let Some(mut registry) = registry() else { return };
    let input = progression(8);
    let mut prompt = String::from("add a busier bass line in bars 2-5, ");
    let mut k = 0;
    while prompt.len() < 10_000 {
        prompt.push_str(&format!("with the feel of place {k} and mood {} ", k * 7 % 13));
        k += 1;
    }
    let t = Instant::now();
    let (result, _) = run(&mut registry, &input, &prompt);
    let a = result.expect("a long prompt is still a job");
    println!("10 kB prompt: {:.1} s, warnings {:?}", t.elapsed().as_secs_f64(), a.job.warnings);
    assert_eq!((a.role, a.bars, a.job.density), (Role::Bass, [2, 5], 1));
    assert!(!a.job.unparsed.is_empty(), "the filler is reported as unparsed");
    assert_sensible(&registry, &a, "10 kB prompt");
}

#[test]
fn broken_notes_and_tempi_never_panic() {
    let Some(mut registry) = registry() else { return };
    let good = progression(4);
    // Notes a buggy caller might send: NaN times, backwards, before the audio, zero length,
    // pitches off the piano and off MIDI.
    for bad in [
        heard(f64::NAN, 1.0, 60),
        heard(1.0, f64::NAN, 60),
        heard(3.0, 2.0, 64),
        heard(-5.0, -4.0, 65),
        heard(2.0, 2.0, 127),
        heard(2.0, 3.0, 0),
        heard(2.0, 3.0, 200),
    ] {
        let what = format!("{bad:?}");
        let mut broken = good.clone();
        broken.heard.push(bad);
        let (result, _) = run(&mut registry, &broken, "add a bass line");
        match result {
            Ok(a) => assert_sensible(&registry, &a, &what),
            Err(e) => assert!(!e.is_empty(), "{what}: an empty message"),
        }
    }
    // Tempi a host never sends are clamped by the analysis into its range.
    for tempo in [0.0, -90.0, f64::NAN, 1e9] {
        let input = SongInput { tempo: Some(tempo), ..good.clone() };
        let (result, _) = run(&mut registry, &input, "add a bass line");
        let a = result.unwrap_or_else(|e| panic!("tempo {tempo}: {e}"));
        println!("tempo {tempo}: analysed at {} BPM, bars {:?}", a.analysis.tempo.bpm, a.bars);
        assert!(a.analysis.tempo.bpm.is_finite() && a.analysis.tempo.bpm > 0.0);
        assert_sensible(&registry, &a, &format!("tempo {tempo}"));
    }
}

/// Infinite note times once overflowed the polyphony grid of the analysis in debug builds
/// (`engine/src/analysis/features.rs`); the analysis now leaves such notes out and says how many.
#[test]
fn infinite_note_times_never_panic() {
    let Some(mut registry) = registry() else { return };
    for bad in [heard(1.0, f64::INFINITY, 62), heard(f64::NEG_INFINITY, 1.0, 62)] {
        let what = format!("{bad:?}");
        let mut broken = progression(4);
        broken.heard.push(bad);
        let (result, heard) = run(&mut registry, &broken, "add a bass line");
        let a = result.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(a.bars, [1, 4], "{what}");
        assert!(says(&a.job.warnings, &["1 note(s)", "infinite"]), "{what}: {:?}", a.job.warnings);
        assert!(says(&heard, &["1 note(s)"]), "{what}: {heard:?}");
        assert_sensible(&registry, &a, &what);
    }
    // Every note broken: nothing was heard.
    let input = SongInput { heard: vec![heard(f64::INFINITY, f64::INFINITY, 60)], ..progression(4) };
    let e = run(&mut registry, &input, "add a bass line").0.expect_err("nothing to write against");
    assert!(e.contains("no notes were heard"), "{e}");
}
