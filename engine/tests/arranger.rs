//! The arranger with the real committed pack (`models/arranger-chorale`): fills the bass of a
//! held-out (test split) chorale excerpt and checks range, register, reproducibility and harmony;
//! then the whole job (`Arranger::arrange`: analysis, planner, model, rhythm lock) writes the
//! removed bass from the other three voices as audio, fitting the score's chord of each step and
//! about as busy as Bach's own bass.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use counterpart_engine::analysis::tempo::Meter;
use counterpart_engine::arrange::{Attributes, Chord, FillRequest, KeySig, Sampler};
use counterpart_engine::generate::{Arranger, SongInput, StemOverrides, StemRequest};
use counterpart_engine::packs::{PackRegistry, TaskKind, default_search_dirs};
use counterpart_engine::render::Renderer;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::stem::Note;
use counterpart_engine::transcribe::{self, TranscribeOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Bass.
const VOICE: usize = 3;
/// Seeds whose fills are scored.
const SEEDS: [u64; 4] = [1, 2, 3, 4];
/// How far the fills' mean harmonic fit must exceed the random in-key baseline's. Measured on this
/// excerpt (scripts/arranger/make_fixture.py and this test): see scripts/arranger/RESULTS.md.
const FIT_MARGIN: f64 = 0.3;
/// Fit floor of the job's line from audio against the score's chord of each step (see the job test;
/// measured 0.81 writing from the analysed chords, 0.78 when the model read the transcribed voices).
const FIT_FLOOR: f64 = 0.75;
/// Notes per bar of the job's line from audio, as a share of the true bass's: lowest and highest.
const DENSITY_BAND: (f64, f64) = (0.65, 1.15);
/// Quality suffixes of the vocabulary, as `&'static str` for [`Chord`].
const QUALITIES: [&str; 8] = ["", "m", "7", "maj7", "m7", "dim", "aug", "sus4"];
/// Intervals of each quality, for the harmonic fit.
const INTERVALS: [&[u8]; 8] =
    [&[0, 4, 7], &[0, 3, 7], &[0, 4, 7, 10], &[0, 4, 7, 11], &[0, 3, 7, 10], &[0, 3, 6], &[0, 4, 8], &[0, 5, 7]];

#[derive(serde::Deserialize)]
struct FixtureKey {
    tonic: u8,
    minor: bool,
}

#[derive(serde::Deserialize)]
struct FixtureChord {
    root: u8,
    quality: String,
}

#[derive(serde::Deserialize)]
struct Fixture {
    key: FixtureKey,
    steps_per_beat: usize,
    chords: Vec<Option<FixtureChord>>,
    voices: Vec<Vec<Note>>,
    fill_bars: [usize; 2],
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arranger/chorale_test.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The sampler from the repository's committed `models/` first (so a stale copy in
/// `target/models` cannot stand in for it), then the default pack folders.
fn sampler() -> Option<Sampler> {
    if !common::runtime_ready() {
        return None;
    }
    let mut dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models")];
    dirs.extend(default_search_dirs());
    let reg = PackRegistry::discover(&dirs, SessionSettings::default());
    match Sampler::from_registry(&reg, &SessionSettings::default()) {
        Ok(s) => Some(s),
        Err(e) if common::strict() => panic!("CI=true and the arranger pack is missing or broken: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: arranger pack not available ({e})");
            None
        }
    }
}

fn chords(f: &Fixture) -> Vec<Option<Chord>> {
    f.chords
        .iter()
        .map(|c| {
            c.as_ref().map(|c| Chord {
                root: c.root,
                quality: QUALITIES.iter().find(|q| **q == c.quality).expect("known quality"),
            })
        })
        .collect()
}

fn request(f: &Fixture, seed: u64) -> FillRequest {
    FillRequest {
        voices: f.voices.clone(),
        chords: chords(f),
        key: Some(KeySig { tonic: f.key.tonic, minor: f.key.minor }),
        voice: VOICE,
        bars: f.fill_bars[0]..f.fill_bars[1],
        register: None,
        seed,
        vary: None,
        attributes: Attributes::default(),
    }
}

/// Share of sounding grid steps in the fill range whose pitch class is in that step's chord.
fn harmonic_fit(notes: &[Note], f: &Fixture, steps: std::ops::Range<usize>) -> f64 {
    let spb = f.steps_per_beat as f64;
    let (mut hit, mut total) = (0, 0);
    for t in steps {
        let mid = (t as f64 + 0.5) / spb;
        let (Some(n), Some(Some(c))) = (notes.iter().find(|n| n.start <= mid && mid < n.end()), f.chords.get(t)) else {
            continue;
        };
        let q = QUALITIES.iter().position(|q| *q == c.quality).unwrap();
        total += 1;
        hit += usize::from(INTERVALS[q].contains(&((n.key + 12 - c.root % 12) % 12)));
    }
    hit as f64 / total.max(1) as f64
}

/// A random scale tone (harmonic minor adds the raised 7th) in the register on every beat.
fn random_in_key(f: &Fixture, steps: std::ops::Range<usize>, (lo, hi): (u8, u8), rng: &mut StdRng) -> Vec<Note> {
    let scale: &[u8] = if f.key.minor { &[0, 2, 3, 5, 7, 8, 10, 11] } else { &[0, 2, 4, 5, 7, 9, 11] };
    let keys: Vec<u8> = (lo..=hi).filter(|k| scale.contains(&((k + 12 - f.key.tonic) % 12))).collect();
    let spb = f.steps_per_beat;
    steps
        .step_by(spb)
        .map(|t| Note {
            start: (t / spb) as f64,
            length: 1.0,
            key: keys[rng.random_range(0..keys.len())],
            velocity: 80,
        })
        .collect()
}

#[test]
fn fills_the_bass_of_a_held_out_chorale() {
    let Some(mut sampler) = sampler() else { return };
    let f = fixture();
    let cfg = sampler.config().clone();
    let register = (cfg.voices[VOICE].low, cfg.voices[VOICE].high);
    let (b0, b1) = (f.fill_bars[0] as f64 * 4.0, f.fill_bars[1] as f64 * 4.0);
    let steps = f.fill_bars[0] * cfg.steps_per_bar..f.fill_bars[1] * cfg.steps_per_bar;

    let mut fits = Vec::new();
    let mut fills = Vec::new();
    for seed in SEEDS {
        let t = Instant::now();
        let notes = sampler.fill(&request(&f, seed)).expect("fill runs");
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        println!("seed {seed}: {} notes over {} bars in {ms:.1} ms", notes.len(), f.fill_bars[1] - f.fill_bars[0]);
        assert!(!notes.is_empty(), "the fill has notes");
        for n in &notes {
            assert!(n.start >= b0 - 1e-9 && n.end() <= b1 + 1e-9, "{n:?} leaves the bar range {b0}..{b1}");
            assert!((register.0..=register.1).contains(&n.key), "{n:?} leaves the bass register {register:?}");
        }
        fits.push(harmonic_fit(&notes, &f, steps.clone()));
        fills.push(notes);
    }
    assert_eq!(sampler.fill(&request(&f, SEEDS[0])).unwrap(), fills[0], "the same seed gives the same notes");
    assert!(fills.iter().skip(1).any(|n| *n != fills[0]), "different seeds give different notes");

    let mut rng = StdRng::seed_from_u64(99);
    let random: Vec<f64> = (0..50)
        .map(|_| harmonic_fit(&random_in_key(&f, steps.clone(), register, &mut rng), &f, steps.clone()))
        .collect();
    let truth = harmonic_fit(&f.voices[VOICE], &f, steps.clone());
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    println!(
        "harmonic fit: fills {:.3} (per seed {fits:.3?}), true bass {truth:.3}, random in-key {:.3}",
        mean(&fits),
        mean(&random)
    );
    assert!(
        mean(&fits) >= mean(&random) + FIT_MARGIN,
        "fills fit the chords ({:.3}) no better than random in-key notes ({:.3}) + {FIT_MARGIN}",
        mean(&fits),
        mean(&random)
    );
}

#[test]
fn fills_a_missing_voice_from_the_melody_alone_and_long_ranges() {
    let Some(mut sampler) = sampler() else { return };
    let f = fixture();
    // Only the soprano is given: alto and tenor are unknown to the model, the bass is generated
    // over all 12 bars (two chunks).
    let mut req = request(&f, 5);
    req.voices = vec![f.voices[0].clone(), Vec::new(), Vec::new(), Vec::new()];
    req.bars = 0..12;
    let notes = sampler.fill(&req).expect("fill runs");
    assert!(!notes.is_empty());
    assert!(notes.iter().all(|n| n.start >= 0.0 && n.end() <= 48.0 + 1e-9));
    assert!(sampler.fill(&FillRequest { bars: 3..3, ..req.clone() }).is_err(), "an empty range is refused");
}

#[test]
fn varies_a_take_keeping_most_of_it() {
    let Some(mut sampler) = sampler() else { return };
    let f = fixture();
    let cfg = sampler.config().clone();
    let steps = f.fill_bars[0] * cfg.steps_per_bar..f.fill_bars[1] * cfg.steps_per_bar;
    let spb = f.steps_per_beat as f64;
    let key_at = |notes: &[Note], t: usize| {
        let mid = (t as f64 + 0.5) / spb;
        notes.iter().find(|n| n.start <= mid && mid < n.end()).map(|n| n.key)
    };
    let req = FillRequest { vary: Some(0.25), ..request(&f, 7) };
    let varied = sampler.fill(&req).expect("variation runs");
    let same = steps.clone().filter(|&t| key_at(&varied, t) == key_at(&f.voices[VOICE], t)).count();
    let share = same as f64 / steps.len() as f64;
    println!("variation (25 % of beats redrawn) keeps {:.0} % of the steps", share * 100.0);
    assert!(share >= 0.6, "a 25 % variation keeps most of the take ({share:.2})");
    assert!(share < 1.0, "a variation changes something");
    assert_eq!(sampler.fill(&req).unwrap(), varied, "variations are reproducible per seed");
}

/// The job writes the bass of the excerpt from the soprano, alto and tenor as audio: rendered
/// through FluidR3 (drawbar organ, 90 BPM, as `cargo xtask evaluate-arranger` does), transcribed by
/// basic-pitch, analysed, planned, filled and locked to the context's rhythm (tempo and bar grid
/// given, as the plugin has them). Scored against the score: the share of sounding eighth steps in
/// the chord of that step, and notes per bar against Bach's bass. With one analysed chord per bar
/// given to the model and the bass struck on every context onset, the evaluation measured on this
/// chorale a fit of 0.60 and 1.25 times the true notes per bar (`scripts/arranger/RESULTS.md`).
#[test]
fn the_job_writes_a_removed_bass_from_audio_on_the_beat_s_harmony() {
    if sampler().is_none() {
        return;
    }
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    let (Ok(transcriber), Ok(_)) = (registry.find(TaskKind::Transcriber), registry.find(TaskKind::Embedder)) else {
        assert!(!common::strict(), "CI=true and the transcriber or embedder pack is missing");
        eprintln!("SKIPPED: the transcriber or embedder pack is missing; run `cargo xtask setup`");
        return;
    };
    let transcriber = transcriber.name().to_string();
    let Ok(renderer) = Renderer::open_default() else {
        assert!(!common::strict(), "CI=true and no SoundFont");
        eprintln!("SKIPPED: no SoundFont; run `cargo xtask setup`");
        return;
    };
    let f = fixture();
    let (bpm, lead, rate) = (90.0, 0.25, 22_050);
    let context: Vec<Note> = f.voices[..VOICE].iter().flatten().copied().collect();
    let audio = renderer.render(&context, Some(16), -lead * bpm / 60.0, bpm, rate, 1.0).expect("renders");
    let mono: Vec<f32> = audio.left.iter().zip(&audio.right).map(|(l, r)| 0.5 * (l + r)).collect();
    let session = &mut registry.session(&transcriber, transcribe::MODEL_KEY).expect("basic-pitch").session;
    let t = transcribe::transcribe_samples(session, &mono, &TranscribeOptions::default()).expect("transcribes");
    let input = SongInput {
        heard: t.notes,
        duration: t.duration,
        tempo: Some(bpm),
        meter: Meter::default(),
        origin: Some(lead),
        from_midi: false,
    };

    let mut arranger = Arranger::from_registry(&registry, &SessionSettings::default()).expect("the job's models load");
    let request = StemRequest { prompt: "add a bass line".into(), takes: SEEDS.len(), seed: SEEDS[0], bars: None };
    let a = arranger.arrange(&input, &request, &StemOverrides::default(), |_| {}).expect("the job runs");
    let bars = f.chords.len() / (4 * f.steps_per_beat);
    assert_eq!(a.bars, [1, bars], "the whole excerpt, and no bar of release tail");
    assert_eq!(a.beat_chords.len(), 4 * bars, "a chord per beat");
    let steps = 0..f.chords.len();
    let true_per_bar = f.voices[VOICE].len() as f64 / bars as f64;
    let fit: f64 = a.takes.iter().map(|t| harmonic_fit(&t.notes, &f, steps.clone())).sum::<f64>() / SEEDS.len() as f64;
    let per_bar = a.takes.iter().map(|t| t.notes_per_bar).sum::<f64>() / SEEDS.len() as f64;
    let truth = harmonic_fit(&f.voices[VOICE], &f, steps.clone());
    println!(
        "job from audio: fit vs the score's chords {fit:.3} (true bass {truth:.3}); notes per bar {per_bar:.2} \
         (true bass {true_per_bar:.2}); fit vs the analysed beat chords {:?}",
        a.takes.iter().map(|t| (t.harmonic_fit * 1000.0).round() / 1000.0).collect::<Vec<_>>()
    );
    assert!(fit >= FIT_FLOOR, "the line fits the beat's harmony: {fit:.3} < {FIT_FLOOR}");
    let ratio = per_bar / true_per_bar;
    assert!(
        (DENSITY_BAND.0..=DENSITY_BAND.1).contains(&ratio),
        "the line is about as busy as the true bass: {per_bar:.2} notes per bar vs {true_per_bar:.2}"
    );
}
/// The pack's attribute controls (with the pack's guidance) move the fill itself, no rhythm rules
/// in this path: asked for a mean pitch 6 semitones below the true bass's it sits lower than asked
/// 6 above on every seed, and asked for half the true notes per bar it writes fewer notes over the
/// seeds than asked for half again as many (the density control is weak on chorales, see
/// scripts/arranger/RESULTS.md; the job's rhythm rules make "sparser"/"busier" hold per case).
#[test]
fn density_and_register_controls_move_the_fill() {
    let Some(mut sampler) = sampler() else { return };
    assert!(sampler.config().attr_layout.is_some(), "the committed pack has attribute controls");
    let f = fixture();
    let bars = f.fill_bars[1] - f.fill_bars[0];
    let (start, end) = (4.0 * f.fill_bars[0] as f64, 4.0 * f.fill_bars[1] as f64);
    let inside: Vec<Note> = f.voices[VOICE].iter().filter(|n| n.start >= start && n.start < end).copied().collect();
    let truth = Attributes::of(&inside, bars);
    let (npb, mean) = (truth.notes_per_bar.unwrap(), truth.mean_key.unwrap());
    let fill = |sampler: &mut Sampler, seed: u64, attributes: Attributes| {
        let notes = sampler.fill(&FillRequest { attributes, ..request(&f, seed) }).expect("fill runs");
        Attributes::of(&notes, bars)
    };
    let (mut sparser, mut busier) = (0.0, 0.0);
    for seed in SEEDS {
        let sparse = fill(&mut sampler, seed, Attributes { notes_per_bar: Some(0.5 * npb), ..Attributes::default() });
        let busy = fill(&mut sampler, seed, Attributes { notes_per_bar: Some(1.5 * npb), ..Attributes::default() });
        let low = fill(&mut sampler, seed, Attributes { mean_key: Some(mean - 6.0), ..Attributes::default() });
        let high = fill(&mut sampler, seed, Attributes { mean_key: Some(mean + 6.0), ..Attributes::default() });
        let (s, b) = (sparse.notes_per_bar.unwrap(), busy.notes_per_bar.unwrap());
        let (l, h) = (low.mean_key.unwrap(), high.mean_key.unwrap());
        println!(
            "seed {seed}: notes/bar {s:.2} sparser vs {b:.2} busier (true {npb:.2}); mean key {l:.1} lower vs {h:.1} higher (true {mean:.1})"
        );
        assert!(h - l > 3.0, "seed {seed}: lower (mean key {l:.1}) is not 3 semitones below higher ({h:.1})");
        (sparser, busier) = (sparser + s, busier + b);
    }
    assert!(sparser < busier, "asked sparser: {sparser:.2} notes/bar over the seeds, busier {busier:.2}");
}
