//! The arranger job's speed from already-transcribed context: [`Arranger::arrange`] (analysis,
//! planning with the MiniLM planner, the arranger's Gibbs fill, rhythm lock) with the models built
//! once and kept, as the plugin's job thread and `cargo xtask evaluate-arranger` run it, on songs
//! of 8, 16 and 32 bars made by repeating the example song's transcription, writing a bass line
//! over the whole song (bars 1..N as a ruler selection). The target (issue #5): an 8-bar stem in
//! under 1 s on the 2-core CPU. Prints the median of 5 runs after a warm-up, ms per bar, the ratio
//! to the target, where the time goes (from the job's own progress steps), and as the reference in
//! the same run `arrange_song`, which builds the model sessions on every call, with the ratio of
//! the two. No assertions on time: `cargo bench -p counterpart-engine --bench arrange`.

use std::path::Path;
use std::time::Instant;

use counterpart_engine::analysis::tempo::Meter;
use counterpart_engine::analysis::{self, AnalyzeOptions};
use counterpart_engine::generate::{Arranger, SongInput, StemOverrides, StemRequest, arrange_song};
use counterpart_engine::packs::PackRegistry;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::transcribe::{self, TranscribeOptions};

/// The example song's tempo (`scripts/make_example_context.py`).
const BPM: f64 = 100.0;
/// Timed runs per size (after one warm-up).
const RUNS: usize = 5;
/// The target for an 8-bar stem, seconds.
const TARGET_8_BARS: f64 = 1.0;

/// Seconds spent in each step of one run: analysing, planning (model sessions included), writing.
struct Run {
    total: f64,
    analyse: f64,
    plan: f64,
    write: f64,
}

fn main() {
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/context.wav");
    let t = match transcribe::transcribe_with_registry(&mut registry, &example, &TranscribeOptions::default()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("SKIPPED: cannot transcribe the example song ({e}); run `cargo xtask setup`");
            return;
        }
    };
    // Eight bars of the example from its first downbeat, repeated to the length asked for.
    let a = analysis::analyze(&t.notes, t.duration, &AnalyzeOptions { tempo: Some(BPM), meter: Meter::default() });
    let origin = a.downbeats.first().copied().unwrap_or(0.0);
    let span = 8.0 * 4.0 * 60.0 / BPM;
    let phrase: Vec<transcribe::Note> =
        t.notes.iter().filter(|n| n.start >= origin - 0.05 && n.start < origin + span).cloned().collect();
    let song = |bars: usize| {
        let heard = (0..bars.div_ceil(8))
            .flat_map(|k| {
                phrase.iter().map(move |n| transcribe::Note {
                    start: n.start + k as f64 * span,
                    end: (n.end + k as f64 * span).min(origin + bars as f64 * span / 8.0),
                    ..n.clone()
                })
            })
            .filter(|n| n.start < origin + bars as f64 * span / 8.0)
            .collect();
        SongInput {
            heard,
            duration: origin + bars as f64 * span / 8.0,
            tempo: Some(BPM),
            meter: Meter::default(),
            ..SongInput::default()
        }
    };
    let mut arranger = match Arranger::from_registry(&registry, &SessionSettings::default()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("SKIPPED: the job's models do not load ({e}); run `cargo xtask setup`");
            return;
        }
    };
    println!("context: the example song's transcription ({} notes in 8 bars), repeated", phrase.len());
    println!(
        "bars | median ms | ms/bar | vs 1 s target (8 bars) | analyse ms | plan ms | write ms | runs (ms) | \
         arrange_song median ms (sessions built per call) | kept / per call"
    );
    for bars in [8, 16, 32] {
        let input = song(bars);
        let request = StemRequest { prompt: "add a bass line".into(), bars: Some([1, bars as u32]), takes: 1, seed: 1 };
        let mut runs = Vec::new();
        for run in 0..=RUNS {
            let start = Instant::now();
            let mut marks = Vec::new();
            let result = arranger.arrange(&input, &request, &StemOverrides::default(), |step| {
                marks.push((step.split_whitespace().next().unwrap_or("").to_string(), start.elapsed().as_secs_f64()))
            });
            let total = start.elapsed().as_secs_f64();
            let arrangement = match result {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("SKIPPED: the job failed ({e}); run `cargo xtask setup`");
                    return;
                }
            };
            assert_eq!(arrangement.bars, [1, bars], "the whole song is written");
            let at = |step: &str| marks.iter().find(|(s, _)| s == step).map_or(total, |m| m.1);
            if run > 0 {
                runs.push(Run {
                    total,
                    analyse: at("planning") - at("analysing"),
                    plan: at("writing") - at("planning"),
                    write: total - at("writing"),
                });
            }
        }
        runs.sort_by(|a, b| a.total.total_cmp(&b.total));
        // The reference: the same job building its sessions on every call.
        let mut per_call: Vec<f64> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let result = arrange_song(&mut registry, &input, &request, |_| {});
                assert!(result.is_ok(), "the reference job runs");
                start.elapsed().as_secs_f64()
            })
            .collect();
        per_call.sort_by(f64::total_cmp);
        let m = &runs[RUNS / 2];
        let ms = m.total * 1000.0;
        println!(
            "{bars:4} | {ms:9.0} | {:6.1} | {:22.2} | {:10.1} | {:7.0} | {:8.0} | {:?} | {:.0} | {:.2}",
            ms / bars as f64,
            m.total / (TARGET_8_BARS * bars as f64 / 8.0),
            m.analyse * 1000.0,
            m.plan * 1000.0,
            m.write * 1000.0,
            runs.iter().map(|r| (r.total * 1000.0).round() as u64).collect::<Vec<_>>(),
            per_call[RUNS / 2] * 1000.0,
            m.total / per_call[RUNS / 2],
        );
    }
    println!("(vs target: median time / (1 s x bars / 8); below 1.00 meets the target)");
}
