//! Drums from the groove library: every style has sparser and busier variants and fills at phrase
//! ends; the seed varies ghost notes, velocities and fills but not the groove; the style comes
//! from the prompt or the context; the notes sound through the SoundFont's drum kit (channel 10,
//! bank 128); and `counterpart generate` writes them against the example song.

mod common;

use std::path::{Path, PathBuf};

use counterpart_engine::arrange::drums::{self, DrumRequest, DrumStyle, keys};
use counterpart_engine::generate::{GenerateOptions, generate};
use counterpart_engine::midi::read_midi_parts;
use counterpart_engine::packs::PackRegistry;
use counterpart_engine::render::Renderer;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::stem::Note;
use counterpart_engine::wav::read_wav;

fn write(style: DrumStyle, density: i8, bars: std::ops::Range<usize>, seed: u64) -> Vec<Note> {
    drums::write(&DrumRequest { style, density, bars, bar_beats: 4.0, seed }).expect("the library is complete")
}

/// (beat in bar, key) of the notes in `[from, to)` beats of bar `bar`.
fn cells(notes: &[Note], bar: usize, from: f64, to: f64) -> Vec<(i64, u8)> {
    let start = bar as f64 * 4.0;
    let mut out: Vec<(i64, u8)> = notes
        .iter()
        .filter(|n| n.start >= start + from - 1e-9 && n.start < start + to - 1e-9)
        .map(|n| (((n.start - start) * 12.0).round() as i64, n.key))
        .collect();
    out.sort_unstable();
    out
}

#[test]
fn every_style_has_sparser_and_busier_variants_and_fills_at_phrase_ends() {
    drums::check_library().unwrap();
    for style in DrumStyle::ALL {
        let counts: Vec<usize> = [-1, 0, 1].iter().map(|&d| write(style, d, 0..8, 1).len()).collect();
        assert!(counts[0] < counts[1] && counts[1] < counts[2], "{}: sparse < normal < busy: {counts:?}", style.name());
        for density in [-1i8, 0, 1] {
            let notes = write(style, density, 2..10, 3);
            assert!(notes.iter().all(|n| (35..=81).contains(&n.key)), "General MIDI drum keys only");
            assert!(notes.iter().all(|n| n.start >= 8.0 && n.start < 40.0), "inside bars 3-10");
            // The range's last bar ends with a fill, so its last beat differs from the groove's.
            assert_ne!(cells(&notes, 9, 3.0, 4.0), cells(&notes, 2, 3.0, 4.0), "{} {density}: a fill", style.name());
            // A crash marks the start of the range.
            assert!(notes.iter().any(|n| n.key == keys::CRASH && n.start == 8.0));
            if density >= 0 {
                // Every four bars a fill, then a crash on the next downbeat.
                assert_ne!(cells(&notes, 5, 3.0, 4.0), cells(&notes, 2, 3.0, 4.0), "{}: fill in bar 4", style.name());
                assert!(notes.iter().any(|n| n.key == keys::CRASH && n.start == 24.0), "{}: crash", style.name());
            }
        }
    }
    // Half-time puts its snare on beat 3 only, house its kick on every beat.
    let half = write(DrumStyle::HalfTime, 0, 0..2, 1);
    assert_eq!(cells(&half, 0, 0.0, 4.0).iter().filter(|c| c.1 == keys::SNARE).map(|c| c.0).collect::<Vec<_>>(), [24]);
    let house = write(DrumStyle::House, 0, 0..2, 1);
    assert_eq!(
        cells(&house, 0, 0.0, 4.0).iter().filter(|c| c.1 == keys::KICK).map(|c| c.0).collect::<Vec<_>>(),
        [0, 12, 24, 36]
    );
    // The shuffle's hats are on triplets: the off-beat ride hits two thirds into the beat.
    let shuffle = write(DrumStyle::Shuffle, 0, 0..2, 1);
    assert!(shuffle.iter().any(|n| n.key == keys::RIDE && (n.start - 2.0 / 3.0).abs() < 1e-9));
}

#[test]
fn the_seed_varies_ghosts_velocities_and_fills_but_not_the_groove() {
    let a = write(DrumStyle::Funk, 0, 0..8, 1);
    assert_eq!(a, write(DrumStyle::Funk, 0, 0..8, 1), "the same seed gives the same notes");
    let b = write(DrumStyle::Funk, 0, 0..8, 2);
    assert_ne!(a, b, "another seed gives other ghost notes, velocities or fills");
    // The backbone (accented kick and snare outside the fill bars) is the same.
    let accents = |notes: &[Note]| -> Vec<(i64, u8)> {
        (0..3)
            .flat_map(|bar| cells(notes, bar, 0.0, 4.0).into_iter().map(move |c| (c.0 + 48 * bar as i64, c.1)))
            .filter(|c| {
                notes.iter().any(|n| {
                    (n.key == keys::KICK || n.key == keys::SNARE)
                        && n.key == c.1
                        && n.velocity >= 100
                        && ((n.start * 12.0).round() as i64) == c.0
                })
            })
            .collect()
    };
    assert!(!accents(&a).is_empty());
    assert_eq!(accents(&a), accents(&b));
}

#[test]
fn the_style_comes_from_the_prompt_else_from_tempo_and_onsets() {
    let none: Vec<String> = Vec::new();
    let cases = [
        ("add a rock beat", DrumStyle::Rock),
        ("add a pop groove", DrumStyle::Pop),
        ("funky drums", DrumStyle::Funk),
        ("boom bap drums", DrumStyle::HipHop),
        ("four on the floor", DrumStyle::House),
        ("half-time drums", DrumStyle::HalfTime),
        ("a shuffle", DrumStyle::Shuffle),
        ("ballad drums", DrumStyle::Ballad),
    ];
    for (prompt, style) in cases {
        assert_eq!(DrumStyle::from_words(prompt, &none), Some(style), "{prompt}");
    }
    // Without words: the example song's pattern (onsets on 1, 2, 2-and, 3, 4) at 100 BPM is pop;
    // the same with sixteenth syncopation is funk; steady quarters at 124 BPM are house.
    let mut pattern = [0.0f32; 16];
    for s in [0, 4, 6, 8, 12] {
        pattern[s] = 0.9;
    }
    assert_eq!(DrumStyle::from_context(100.0, &pattern), DrumStyle::Pop);
    assert_eq!(DrumStyle::from_context(66.0, &pattern), DrumStyle::Ballad);
    assert_eq!(DrumStyle::from_context(176.0, &pattern), DrumStyle::HalfTime);
    let mut quarters = [0.0f32; 16];
    for s in [0, 4, 8, 12] {
        quarters[s] = 1.0;
    }
    assert_eq!(DrumStyle::from_context(124.0, &quarters), DrumStyle::House);
    pattern[3] = 0.8;
    assert_eq!(DrumStyle::from_context(100.0, &pattern), DrumStyle::Funk);
}

/// Zero crossings per second of the left channel where it is not silent.
fn crossings_per_second(audio: &counterpart_engine::stem::StereoAudio) -> f64 {
    let loud: Vec<f32> = audio.left.iter().copied().filter(|v| v.abs() > 1e-4).collect();
    let zc = loud.windows(2).filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0)).count();
    zc as f64 / (loud.len().max(1) as f64 / audio.sample_rate as f64)
}

#[test]
fn drums_sound_through_the_soundfont_drum_kit() {
    let Ok(renderer) = Renderer::open_default() else {
        assert!(!common::strict(), "CI=true and no SoundFont");
        eprintln!("SKIPPED: no SoundFont");
        return;
    };
    let hit = |key| [Note { start: 0.0, length: 0.25, key, velocity: 110 }];
    let hat_kit = renderer.render(&hit(keys::HAT), None, 0.0, 120.0, 44_100, 0.3).unwrap();
    let hat_piano = renderer.render(&hit(keys::HAT), Some(0), 0.0, 120.0, 44_100, 0.3).unwrap();
    let kick_kit = renderer.render(&hit(keys::KICK), None, 0.0, 120.0, 44_100, 0.3).unwrap();
    let (hat, piano, kick) =
        (crossings_per_second(&hat_kit), crossings_per_second(&hat_piano), crossings_per_second(&kick_kit));
    println!("zero crossings/s: kit hi-hat {hat:.0}, piano key 42 {piano:.0}, kit kick {kick:.0}");
    // Key 42 on channel 10 is a noisy hi-hat, on a piano an F#2 (92 Hz); the kick is low.
    assert!(hat > 5000.0 && piano < 1500.0 && kick < 1500.0);
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

#[test]
fn generate_writes_drums_on_channel_10_against_the_example_song() {
    if common::embedder().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("cp-drums-{}", std::process::id()));
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    let mut run = |prompt: &str, out: &str| {
        let opts = GenerateOptions {
            context_midi: Some(example("context.mid")),
            prompt: prompt.into(),
            takes: 1,
            seed: 4,
            out: dir.join(out),
            ..GenerateOptions::default()
        };
        generate(&mut registry, &opts, |_| {}).expect("drums are written")
    };
    let report = run("add funky drums under bars 3-6", "funk");
    assert_eq!((report.role, report.drum_style.as_deref(), report.bars), ("drums", Some("funk"), [3, 6]));
    let take = &report.takes[0];
    assert!(take.harmonic_fit.is_nan(), "drums have no harmonic fit");
    let midi = read_midi_parts(&take.midi).unwrap();
    assert!(midi.pitched.is_empty() && !midi.drums.is_empty(), "every note on channel 10");
    assert!(midi.drums.iter().all(|n| n.start >= 8.0 && n.start < 24.0), "inside bars 3-6");
    let stem = read_wav(&take.wav).unwrap();
    let at = |s: f64| (s * 44_100.0) as usize; // 100 BPM: bar 3 starts at 4.8 s
    assert!(stem.left[..at(4.75)].iter().all(|v| v.abs() < 1e-4));
    assert!(stem.left[at(4.8)..at(14.4)].iter().any(|v| v.abs() > 1e-2));
    // No style words: the context (100 BPM, straight eighths and quarters) picks pop.
    assert_eq!(run("add drums", "plain").drum_style.as_deref(), Some("pop"));
    // The density words pick the variant.
    let sparse = run("add a sparser drum beat", "sparse").takes[0].notes_per_bar;
    let busy = run("add a busier drum beat", "busy").takes[0].notes_per_bar;
    assert!(sparse < busy, "{sparse} < {busy}");
    std::fs::remove_dir_all(&dir).ok();
}
