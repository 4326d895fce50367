//! The prompt's instrument picker, a failing job and a long queue, driven headlessly
//! (egui_kittest) against the real engine with the default packs: the picker mirrors the
//! instrument the prompt named, a picked one reaches the preview and the takes the engine writes;
//! a job with nothing captured fails with the engine's sentence and what to do about it; and
//! 300 queued jobs draw only the rows on screen.
//!
//! Needs the ONNX Runtime and the packs (`cargo xtask setup`); without them the tests say why and
//! pass, unless `CI=true`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Controls, TestEngine, capture_example, prompt_box, ready, run_until, started_engine, stem};
use counterpart_engine::job::{CaptureSource, GenerateStem};
use counterpart_gui::{EditorApp, Outcome};
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;

/// Jobs queued at once in the long-queue check.
const MANY: usize = 300;

/// Types `text` into the prompt box in place of what is there.
fn retype(harness: &mut egui_kittest::Harness<'_, EditorApp>, text: &str) {
    prompt_box(harness).focus();
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.event(egui::Event::Text(text.into()));
    harness.step();
    assert_eq!(prompt_box(harness).value().as_deref(), Some(text));
}

/// The mean time of a few editor frames.
fn frame_time(harness: &mut egui_kittest::Harness<'_, EditorApp>) -> Duration {
    let frames = 20;
    let started = Instant::now();
    for _ in 0..frames {
        harness.step();
    }
    started.elapsed() / frames
}

#[test]
fn a_picked_instrument_is_previewed_and_written_and_hundreds_of_jobs_draw_a_few_rows() {
    if !ready() {
        return;
    }
    let TestEngine { dir: _dir, cache, engine, mut audio } = started_engine();
    capture_example(&engine, &mut audio);
    let mut harness = common::harness(EditorApp::new(Arc::new(Controls::new()), engine.clone(), cache));
    harness.step();

    // The picker mirrors the instrument the prompt names until the producer picks one.
    retype(&mut harness, "add a flute melody under bars 2-3");
    run_until(&mut harness, "the flute in the preview", |h| {
        h.query_by_label_contains("add · melody · Flute").is_some()
    });
    let picker = |h: &egui_kittest::Harness<'_, EditorApp>| h.get_by_label("Instrument").value();
    assert_eq!(picker(&harness).as_deref(), Some("Auto (Flute)"), "the picker shows what the prompt named");

    // Pick the cello from the list, found by its search field.
    retype(&mut harness, "add a melody under bars 2-3");
    harness.get_by_label("Instrument").click();
    harness.step();
    harness.step();
    let fields = harness.query_all_by_role(Role::TextInput).count();
    assert_eq!(fields, 3, "the prompt, the export folder and the picker's search field");
    harness.query_all_by_role(Role::TextInput).find(|f| f.value().as_deref() == Some("")).unwrap().focus();
    harness.step();
    harness.event(egui::Event::Text("cel".into()));
    harness.step();
    assert!(harness.query_by_label("Flute").is_none(), "the search narrows the list");
    harness.get_by_label("Cello").click();
    harness.step();
    run_until(&mut harness, "the cello in the preview", |h| {
        h.query_by_label_contains("add · melody · Cello").is_some()
    });
    assert!(harness.query_by_label_contains("bars 2-3").is_some());
    assert_eq!(picker(&harness).as_deref(), Some("Cello"));

    // The job the engine gets asks for the cello, and the takes are rendered with its program.
    harness.get_by_label("Generate").click();
    run_until(&mut harness, "the takes", |h| h.query_by_label("B").is_some());
    let melody = stem(&engine, 0).expect("a stem in slot 1");
    assert_eq!(melody.takes.len(), 2);
    for take in &melody.takes {
        assert_eq!(take.program, Some(42), "Cello is General MIDI program 42");
        assert!(take.prompt.ends_with(", cello"), "{}", take.prompt);
    }

    // Hundreds of queued jobs: the queue says how many, draws only the rows that fit, and a frame
    // stays cheap.
    // The first job runs (and takes the machine's cores) while the frame is timed with it alone,
    // so the comparison is about the queue's length, not about the job running.
    let bass = |seed: u64| GenerateStem {
        id: 0,
        prompt: "add a bass line under bars 2-3".into(),
        source: CaptureSource::Sidechain,
        bars: None,
        takes: 1,
        seed,
        slot: None,
    };
    let mut ids = vec![engine.generate(bass(0))];
    run_until(&mut harness, "one job queued", |_| engine.status().queue.len() == 1);
    let one = frame_time(&mut harness);
    ids.extend((1..MANY as u64).map(|seed| engine.generate(bass(seed))));
    run_until(&mut harness, "the long queue", |_| engine.status().queue.len() == MANY);
    harness.step();
    assert!(harness.query_by_label_contains(&format!("JOBS ({MANY} QUEUED")).is_some());
    let rows = harness.query_all_by_label("Cancel").count();
    assert!((1..=12).contains(&rows), "{rows} of {MANY} rows drawn");
    let per_frame = frame_time(&mut harness);
    println!(
        "editor frame with {MANY} queued jobs (debug build, headless): {per_frame:.2?}, {rows} rows drawn; \
         {:.2}x the frame with one ({one:.2?})",
        per_frame.as_secs_f64() / one.as_secs_f64()
    );
    for id in ids {
        engine.cancel(id);
    }
    run_until(&mut harness, "an empty queue", |_| engine.status().queue.is_empty());
}

#[test]
fn a_job_with_nothing_captured_fails_in_words_with_what_to_do() {
    if !ready() {
        return;
    }
    let TestEngine { dir: _dir, cache, engine, audio: _audio } = started_engine();
    let mut harness = common::harness(EditorApp::new(Arc::new(Controls::new()), engine.clone(), cache));
    harness.event(egui::Event::Text("add a bass line".into()));
    harness.step();
    harness.key_press(Key::Enter);
    let mut failure = None;
    run_until(&mut harness, "the failure", |h| {
        failure = h.state().recent_jobs().iter().find_map(|f| match &f.outcome {
            Outcome::Failed { message, advice } => Some((message.clone(), *advice)),
            _ => None,
        });
        failure.is_some()
    });
    let (message, advice) = failure.unwrap();
    let advice = advice.unwrap_or_else(|| panic!("no advice for {message:?}"));
    harness.step();
    assert!(harness.query_by_label(&format!("failed: {message}")).is_some(), "the engine's sentence is drawn");
    assert!(advice.contains("press play"), "{advice}");
    assert!(harness.query_by_label(advice).is_some(), "what to do is drawn under it");
    assert!(engine.status().stems.is_empty());
}
