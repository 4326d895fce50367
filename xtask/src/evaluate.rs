//! `cargo xtask evaluate-arranger`: the arranger end to end from audio on held-out chorales.
//!
//! For each TEST-split chorale of `scripts/arranger/split.json` (exported by
//! `scripts/arranger/export_test_pieces.py`) and each of the bass and the alto: the voice is
//! removed, the other three are rendered through FluidR3 (the engine's renderer, drawbar organ as
//! in the chord/key fixtures, 90 BPM), transcribed by basic-pitch, analysed, and the missing voice
//! is written by `arrange_song` (the job the plugin and `counterpart generate` run) with tempo and
//! meter given, as a host gives them. The generated voice, the true removed voice and a random
//! in-key line are scored the same way:
//!
//! - fit (score): share of sounding eighth steps whose pitch class is in the true chord of that
//!   beat (labels of `prepare_data.py`, from the full four-voice score; what `evaluate.py` uses);
//! - fit (analysed): the engine's `harmonic_fit` against the chords the analysis heard in the
//!   three rendered voices, one per beat (what the model is given and the job reports per take);
//! - notes per bar and distinct pitches per bar over the bars written;
//! - musical interest ([`interest`], as `evaluate.py`, against the score's chords): distinct note
//!   lengths per bar, non-root share of note time, passing-note share, total variation distance of
//!   the interval histogram from the true voice's, entropy of the onset positions in the bar.
//!
//! The job writes from the analysed chords and key alone (the transcribed notes are too noisy to
//! be read as voices); "reading the transcribed voices as parts" is the same job with the model
//! shown them, as it reads a MIDI context.
//!
//! Besides the random in-key line, a "root every beat" line (the analysed chord's root on every
//! beat, in the voice's register) shows what fits every chord and still fails the interest figures.

mod interest;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use counterpart_engine::analysis::chords::ChordLabel;
use counterpart_engine::analysis::tempo::Meter;
use counterpart_engine::arrange::{Chord, Sampler};
use counterpart_engine::generate::{Arrangement, Arranger, SongInput, StemOverrides, StemRequest, harmonic_fit};
use counterpart_engine::packs::{PackRegistry, TaskKind};
use counterpart_engine::render::Renderer;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::stem::Note;
use counterpart_engine::transcribe::{self, TranscribeOptions};
use interest::Counts;

/// Tempo the context is rendered at (and given to the job, as a host would).
const BPM: f64 = 90.0;
/// Silence before the first downbeat, seconds.
const LEAD: f64 = 0.25;
/// General MIDI program of the rendered voices (Drawbar Organ, as `make_chorale_fixtures.py`).
const PROGRAM: u8 = 16;
/// Sample rate of the transcriber.
const RATE: u32 = 22_050;
/// The voices removed and regenerated, with the prompt that asks for them.
const TARGETS: [(usize, &str, &str); 2] = [(3, "bass", "add a bass line"), (1, "alto", "add a counter-melody")];
/// The lines scored, in the order of the table.
const LINES: [&str; 6] = [
    "generated (from audio)",
    "generated, reading the transcribed voices as parts",
    "generated, told the score's chord per bar",
    "true voice",
    "random in-key",
    "root every beat",
];
/// Index of the true voice in [`LINES`] (the interval histograms are compared with it).
const TRUE_LINE: usize = 3;
/// Scale degrees of major and (harmonic + natural) minor keys, for the random baseline.
const SCALES: [&[u8]; 2] = [&[0, 2, 4, 5, 7, 9, 11], &[0, 2, 3, 5, 7, 8, 10, 11]];

#[derive(serde::Deserialize)]
struct Pieces {
    pieces: Vec<Piece>,
}

#[derive(serde::Deserialize)]
struct Piece {
    id: String,
    key: PieceKey,
    steps_per_beat: usize,
    /// MIDI pitch per eighth step per voice (S, A, T, B), -1 = rest.
    voices: Vec<Vec<i32>>,
    /// True chord per step.
    chords: Vec<Option<PieceChord>>,
}

#[derive(serde::Deserialize)]
struct PieceKey {
    tonic: u8,
    minor: bool,
}

#[derive(serde::Deserialize)]
struct PieceChord {
    root: u8,
    quality: String,
}

/// Scores of one line.
#[derive(Default, Clone, Copy)]
struct Scores {
    fit_score: f64,
    fit_analysed: f64,
    notes_per_bar: f64,
    pitches_per_bar: f64,
    /// Interest counts, summed (not weighted) over takes and pieces.
    counts: Counts,
}

impl Scores {
    fn add(&mut self, o: &Scores, weight: f64) {
        self.fit_score += o.fit_score * weight;
        self.fit_analysed += o.fit_analysed * weight;
        self.notes_per_bar += o.notes_per_bar * weight;
        self.pitches_per_bar += o.pitches_per_bar * weight;
        self.counts.add(&o.counts);
    }
}

/// Options: `--pieces N` (default all), `--seeds K` (default 2).
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut pieces_wanted = usize::MAX;
    let mut seeds = 2;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse::<usize>().ok()).context(format!("{a} needs a number"));
        match a.as_str() {
            "--pieces" => pieces_wanted = value()?,
            "--seeds" => seeds = value()?.max(1),
            other => bail!("unknown option `{other}` (evaluate-arranger [--pieces N] [--seeds K])"),
        }
    }
    let pieces = load_pieces(root)?;
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    let transcriber = registry.find(TaskKind::Transcriber).map_err(|e| anyhow::anyhow!("{e}"))?.name().to_string();
    let renderer = Renderer::open_default().map_err(anyhow::Error::msg)?;
    let voices = Sampler::from_registry(&registry, &SessionSettings::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .config()
        .voices
        .clone();
    // The job's models, built once for all the pieces (as the plugin keeps them).
    let mut arranger = Arranger::from_registry(&registry, &SessionSettings::default()).map_err(anyhow::Error::msg)?;
    let started = Instant::now();

    println!("fit: vs the score's chords, vs the analysed chords; lines: {}", LINES.join(" | "));
    println!(
        "piece          | voice | bars | key, downbeat right | fit per line (6 pairs)                           | \
         notes/bar gen / true | pitches/bar gen / true"
    );
    // Per target: sums of each line's scores weighted by bars, bars, pieces, keys right, downbeats right.
    let mut totals = [([Scores::default(); 6], 0.0, 0usize, 0usize, 0usize); 2];
    for piece in pieces.iter().take(pieces_wanted) {
        for (t, &(voice, name, prompt)) in TARGETS.iter().enumerate() {
            let context = context_notes(piece, voice);
            let audio = renderer
                .render(&context, Some(PROGRAM), -LEAD * BPM / 60.0, BPM, RATE, 1.0)
                .map_err(anyhow::Error::msg)?;
            let mut mono: Vec<f32> = audio.left.iter().zip(&audio.right).map(|(l, r)| 0.5 * (l + r)).collect();
            let peak = mono.iter().fold(0.0f32, |p, s| p.max(s.abs()));
            mono.iter_mut().for_each(|s| *s *= 0.9 / peak.max(1e-6));
            let session =
                &mut registry.session(&transcriber, transcribe::MODEL_KEY).map_err(anyhow::Error::msg)?.session;
            let heard = transcribe::transcribe_samples(session, &mono, &TranscribeOptions::default())
                .map_err(|e| anyhow::anyhow!("{}: {e}", piece.id))?;
            let input = SongInput {
                heard: heard.notes,
                duration: heard.duration,
                tempo: Some(BPM),
                meter: Meter::default(),
                ..SongInput::default()
            };
            let request = StemRequest { prompt: prompt.into(), takes: seeds, seed: 1, ..StemRequest::default() };
            let a = arranger
                .arrange(&input, &request, &StemOverrides::default(), |_| {})
                .map_err(|e| anyhow::anyhow!("{} ({name}): {e}", piece.id))?;
            if a.voice != voice {
                bail!("`{prompt}` was written as arranger voice {}, not the removed {name}", a.voice);
            }
            let bars = (a.bars[1] + 1 - a.bars[0]) as f64;
            // The chords the analysis heard, per beat: what the job wrote the generated line against.
            let analysed: Vec<Option<ChordLabel>> = a.beat_chords.iter().map(|c| c.map(|c| c.label())).collect();
            let mean_of = |a: &Arrangement| {
                let mut mean = Scores::default();
                for take in &a.takes {
                    mean.add(&score(piece, a, &analysed, &take.notes), 1.0 / a.takes.len() as f64);
                }
                mean
            };
            let generated = mean_of(&a);
            // The same job with the model reading the transcribed notes as the other voices, as
            // a MIDI context is read (what the job did before 2026-12-06).
            let as_parts = SongInput { from_midi: true, ..input.clone() };
            let read = arranger
                .arrange(&as_parts, &request, &StemOverrides::default(), |_| {})
                .map_err(|e| anyhow::anyhow!("{} ({name}, voices read): {e}", piece.id))?;
            let read = mean_of(&read);
            // The same job told the score's chord of each bar (the most frequent one): separates
            // what one chord per bar costs from what the analysis gets wrong.
            let overrides = StemOverrides { chords: bar_chords(piece, a.bars[1]), ..StemOverrides::default() };
            let told = arranger
                .arrange(&input, &request, &overrides, |_| {})
                .map_err(|e| anyhow::anyhow!("{} ({name}, chords given): {e}", piece.id))?;
            let told = mean_of(&told);
            let truth = score(piece, &a, &analysed, &in_song_beats(&a, &score_notes(&piece.voices[voice])));
            let mut random = Scores::default();
            let spec = &voices[voice];
            for seed in 0..10 {
                let line = random_in_key(&a, (spec.low, spec.high), seed);
                random.add(&score(piece, &a, &analysed, &line), 0.1);
            }
            let roots = score(piece, &a, &analysed, &root_every_beat(&a, (spec.low, spec.high)));
            let key_ok = a.analysis.key.tonic == piece.key.tonic && (a.analysis.key.mode == "minor") == piece.key.minor;
            let downbeat_ok = (a.origin - LEAD).abs() < 0.25 * 60.0 / BPM;
            let lines = [generated, read, told, truth, random, roots];
            let fits: Vec<String> = lines.iter().map(|l| format!("{:.2} {:.2}", l.fit_score, l.fit_analysed)).collect();
            println!(
                "{:14} | {name:5} | {bars:4} | {key_ok:5} {downbeat_ok:5} | {} | {:.1} / {:.1} | {:.1} / {:.1}",
                piece.id.trim_start_matches("bach/"),
                fits.join(" | "),
                generated.notes_per_bar,
                truth.notes_per_bar,
                generated.pitches_per_bar,
                truth.pitches_per_bar,
            );
            let total = &mut totals[t];
            for (sum, s) in total.0.iter_mut().zip(lines) {
                sum.add(&s, bars);
            }
            total.1 += bars;
            total.2 += 1;
            total.3 += usize::from(key_ok);
            total.4 += usize::from(downbeat_ok);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!();
    println!(
        "| voice | line | fit vs score chords | fit vs analysed chords | notes/bar | pitches/bar | durations/bar \
         | non-root share | passing-note share | interval TVD vs true | onset entropy (bits) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (t, (sums, bars, _, _, _)) in totals.iter().enumerate() {
        for (line, s) in LINES.iter().zip(sums) {
            let c = &s.counts;
            println!(
                "| {} | {line} | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {:.2} |",
                TARGETS[t].1,
                s.fit_score / bars,
                s.fit_analysed / bars,
                s.notes_per_bar / bars,
                s.pitches_per_bar / bars,
                c.durations_per_bar(),
                c.non_root_share(),
                c.passing_share(),
                c.interval_tvd(&sums[TRUE_LINE].counts),
                c.onset_entropy(),
            );
        }
    }
    for (t, (_, bars, n, keys, downbeats)) in totals.iter().enumerate() {
        println!(
            "{}: {n} pieces, {bars} bars written; analysed key right {keys}/{n}, first downbeat right {downbeats}/{n}",
            TARGETS[t].1
        );
    }
    println!("{seeds} seeds per piece and voice; {seconds:.0} s in all (render, transcribe, analyse, plan, write)");
    Ok(())
}

/// Reads `target/arranger/test_pieces.json`, writing it first with the Python scripts if needed.
fn load_pieces(root: &Path) -> Result<Vec<Piece>> {
    let data = root.join("target/arranger");
    let path = data.join("test_pieces.json");
    if !path.is_file() {
        let python = root.join(".venv/bin/python");
        let scripts = root.join("scripts/arranger");
        let mut steps = Vec::new();
        if !data.join("chorales.npz").is_file() {
            steps.push("prepare_data.py");
        }
        steps.push("export_test_pieces.py");
        for script in steps {
            let status = Command::new(&python).arg(script).current_dir(&scripts).status();
            if !status.is_ok_and(|s| s.success()) {
                bail!("`{} {script}` failed (needs the .venv with music21 and numpy, see .ci/setup)", python.display());
            }
        }
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let pieces: Pieces = serde_json::from_str(&text).with_context(|| format!("{} is malformed", path.display()))?;
    if pieces.pieces.is_empty() {
        bail!("{} holds no pieces", path.display());
    }
    Ok(pieces.pieces)
}

/// One voice's steps as notes in score beats (equal consecutive steps merged, as the model's grid).
fn score_notes(steps: &[i32]) -> Vec<Note> {
    let mut notes: Vec<Note> = Vec::new();
    for (t, &key) in steps.iter().enumerate() {
        let start = t as f64 / 2.0;
        match notes.last_mut() {
            Some(last) if key >= 0 && last.key as i32 == key && (last.end() - start).abs() < 1e-9 => last.length += 0.5,
            _ if key >= 0 => notes.push(Note { start, length: 0.5, key: key as u8, velocity: 80 }),
            _ => {}
        }
    }
    notes
}

/// Every voice but `removed`, in score beats.
fn context_notes(piece: &Piece, removed: usize) -> Vec<Note> {
    (0..piece.voices.len()).filter(|&v| v != removed).flat_map(|v| score_notes(&piece.voices[v])).collect()
}

/// Score beats (0 = first downbeat of the rendered audio) to the arrangement's beats.
fn in_song_beats(a: &Arrangement, notes: &[Note]) -> Vec<Note> {
    let (spb, spb_a) = (60.0 / BPM, a.seconds_per_beat());
    notes
        .iter()
        .map(|n| Note { start: (LEAD + n.start * spb - a.origin) / spb_a, length: n.length * spb / spb_a, ..*n })
        .filter(|n| n.start >= (a.bars[0] - 1) as f64 * a.bar_beats - 1e-9 && n.start < a.bars[1] as f64 * a.bar_beats)
        .collect()
}

/// A random scale tone of the analysed key in `register` on every beat of the bars written.
fn random_in_key(a: &Arrangement, (lo, hi): (u8, u8), seed: u64) -> Vec<Note> {
    let scale = SCALES[usize::from(a.analysis.key.mode == "minor")];
    let keys: Vec<u8> = (lo..=hi).filter(|k| scale.contains(&((k + 12 - a.analysis.key.tonic) % 12))).collect();
    // splitmix64: reproducible without another dependency.
    let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let beats = (a.bars[0] - 1) * a.bar_beats as usize..a.bars[1] * a.bar_beats as usize;
    beats
        .map(|b| Note { start: b as f64, length: 1.0, key: keys[next() as usize % keys.len()], velocity: 80 })
        .collect()
}

/// The analysed chord's root on every beat of the bars written, the octave nearest the middle of
/// `register` (a beat without a chord keeps the previous root; none yet: the key's tonic).
fn root_every_beat(a: &Arrangement, (lo, hi): (u8, u8)) -> Vec<Note> {
    let centre = (i16::from(lo) + i16::from(hi)) / 2;
    let mut root = a.analysis.key.tonic;
    let beats = (a.bars[0] - 1) * a.bar_beats as usize..a.bars[1] * a.bar_beats as usize;
    beats
        .map(|b| {
            root = a.beat_chords.get(b).copied().flatten().map_or(root, |c| c.root);
            let key = (lo..=hi).filter(|k| k % 12 == root).min_by_key(|&k| (i16::from(k) - centre).abs());
            Note { start: b as f64, length: 1.0, key: key.unwrap_or(lo), velocity: 80 }
        })
        .collect()
}

/// The score's chord at `beat` of the arrangement, if that eighth step has one.
fn score_chord_at(piece: &Piece, a: &Arrangement, beat: f64) -> Option<ChordLabel> {
    let (spb, spb_a) = (60.0 / BPM, a.seconds_per_beat());
    let score_beat = (beat * spb_a + a.origin - LEAD) / spb;
    let step = (score_beat * piece.steps_per_beat as f64).floor();
    let chord = piece.chords.get(usize::try_from(step as i64).ok()?)?.as_ref()?;
    Some(ChordLabel { root: chord.root, quality: quality(&chord.quality), score: 1.0 })
}

/// Scores a line given in the arrangement's beats; `analysed` holds the analysed chord of each beat.
fn score(piece: &Piece, a: &Arrangement, analysed: &[Option<ChordLabel>], notes: &[Note]) -> Scores {
    let bars = (a.bars[1] + 1 - a.bars[0]) as f64;
    let mut distinct = std::collections::HashSet::new();
    for n in notes {
        distinct.insert(((n.start / a.bar_beats).floor() as i64, n.key));
    }
    Scores {
        fit_score: fit_against_score(piece, a, notes),
        fit_analysed: harmonic_fit(notes, analysed),
        notes_per_bar: notes.len() as f64 / bars,
        pitches_per_bar: distinct.len() as f64 / bars,
        counts: Counts::of(notes, a.bar_beats, |beat| score_chord_at(piece, a, beat)),
    }
}

/// Share of the score's eighth steps, inside the written bars, where the line sounds a pitch class
/// of the true chord.
fn fit_against_score(piece: &Piece, a: &Arrangement, notes: &[Note]) -> f64 {
    let (spb, spb_a) = (60.0 / BPM, a.seconds_per_beat());
    let (mut hit, mut total) = (0usize, 0usize);
    for (t, chord) in piece.chords.iter().enumerate() {
        let Some(chord) = chord else { continue };
        // The step's middle in the arrangement's beats.
        let mid = (LEAD + (t as f64 + 0.5) / piece.steps_per_beat as f64 * spb - a.origin) / spb_a;
        let Some(n) = notes.iter().find(|n| n.start <= mid && mid < n.end()) else { continue };
        let label = ChordLabel { root: chord.root, quality: quality(&chord.quality), score: 1.0 };
        total += 1;
        hit += usize::from(label.pitch_classes().contains(&(n.key % 12)));
    }
    hit as f64 / total.max(1) as f64
}

/// The score's most frequent chord in each of the first `bars` bars (bar 1 = the first downbeat);
/// a bar without a chord repeats the previous one.
fn bar_chords(piece: &Piece, bars: usize) -> Vec<Chord> {
    let steps = 4 * piece.steps_per_beat;
    let mut out: Vec<Chord> = Vec::new();
    for bar in 0..bars {
        let mut counts: Vec<(Chord, usize)> = Vec::new();
        for c in piece.chords.iter().skip(bar * steps).take(steps).flatten() {
            let chord = Chord { root: c.root, quality: quality(&c.quality) };
            match counts.iter_mut().find(|(x, _)| *x == chord) {
                Some((_, n)) => *n += 1,
                None => counts.push((chord, 1)),
            }
        }
        let best = counts.iter().max_by_key(|(_, n)| *n).map(|(c, _)| *c);
        let fallback = out.last().copied().unwrap_or(Chord { root: piece.key.tonic, quality: "" });
        out.push(best.unwrap_or(fallback));
    }
    out
}

/// The analysis vocabulary's `&'static str` for a quality suffix.
fn quality(suffix: &str) -> &'static str {
    ["", "m", "7", "maj7", "m7", "dim", "aug", "sus4"].into_iter().find(|q| *q == suffix).unwrap_or("")
}
