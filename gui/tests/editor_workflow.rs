//! The editor driven headlessly (egui_kittest) against the real engine with the default packs:
//! the example song is captured on the sidechain, a prompt is typed into the focused box, the
//! planner's preview appears, Enter runs it, the job shows in the queue with its progress, its
//! takes appear in a lane, the lane is muted through the plugin parameter, takes are switched,
//! the stem is exported (WAV + MIDI checked on disk), and a queued job is cancelled.
//!
//! Needs the ONNX Runtime and the packs (`cargo xtask setup`); without them the test says why
//! and passes, unless `CI=true`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Controls, Host, RATE, TestEngine, capture_example, prompt_box, ready, run_until, started_engine, stem};
use counterpart_engine::midi::read_midi;
use counterpart_engine::wav::read_wav;
use counterpart_gui::{EditorApp, Outcome};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use nice_plug::context::gui::GuiContext;

#[test]
fn a_prompt_typed_in_the_editor_becomes_takes_that_are_muted_switched_exported_and_cancelled() {
    if !ready() {
        return;
    }
    let TestEngine { dir, cache, engine, mut audio } = started_engine();
    capture_example(&engine, &mut audio);

    let controls = Arc::new(Controls::new());
    let host = Arc::new(Host::default());
    let mut app = EditorApp::new(controls.clone(), engine.clone(), cache.clone());
    app.attach(GuiContext::new(host.clone()));
    let mut harness = common::harness(app);
    let ctx = harness.ctx.clone();
    harness.step();

    // The prompt box has the keyboard focus when the editor opens: typing goes straight in, and
    // egui claims the keys (so the window does not pass them on to the host's shortcuts).
    let prompt = "add a bass line under bars 2-5";
    harness.event(egui::Event::Text(prompt.into()));
    harness.step();
    assert_eq!(prompt_box(&harness).value().as_deref(), Some(prompt));
    assert!(ctx.egui_wants_keyboard_input(), "typed keys are the editor's, not the host's");

    // The planner's reading of the prompt appears before anything runs.
    run_until(&mut harness, "the preview", |h| h.query_by_label_contains("add · bass").is_some());
    for part in ["add · bass", "bars 2-5", "2 takes"] {
        assert!(harness.query_by_label_contains(part).is_some(), "the preview says {part}");
    }
    assert!(engine.status().stems.is_empty(), "a preview writes nothing");

    // Enter runs it: the job is listed with a progress bar, then its takes appear in a lane.
    harness.key_press(egui::Key::Enter);
    run_until(&mut harness, "the job in the queue", |h| h.query_by_role(Role::ProgressIndicator).is_some());
    let queued = engine.status().queue.clone();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(harness.query_by_label_contains("JOBS (1 QUEUED").is_some());
    run_until(&mut harness, "the takes", |h| h.query_by_label("B").is_some() && h.query_by_label("bass").is_some());
    let bass = stem(&engine, 0).expect("a stem in slot 1");
    assert_eq!((bass.takes.len(), bass.active_take), (2, 0));
    assert!(bass.takes.iter().all(|t| t.notes.iter().all(|n| (4.0..20.0).contains(&n.start))), "on bars 2-5");
    run_until(&mut harness, "the job's outcome", |h| {
        h.state().recent_jobs().iter().any(|f| matches!(&f.outcome, Outcome::Done(d) if d.contains("take B ready")))
    });
    assert!(harness.state_mut().settle_summaries(Duration::from_secs(60)), "waveform and piano roll summarised");
    harness.step();
    assert!(harness.query_by_label_contains("missing").is_none(), "the take's audio is in the cache");
    // Focus came back to the prompt for the next instruction: typing goes there again.
    assert!(ctx.egui_wants_keyboard_input());
    harness.event(egui::Event::Text("!".into()));
    harness.step();
    assert_eq!(prompt_box(&harness).value(), Some(format!("{prompt}!")));
    harness.key_press(egui::Key::Backspace);
    harness.step();

    // Mute the lane: the plugin parameter changes through begin / set / end.
    harness.get_by_label("M").click();
    harness.step();
    assert!(controls.mute[0].value(), "slot 1 is muted");
    assert_eq!(*host.calls.lock().unwrap(), ["begin Mute 1", "set Mute 1 1", "end Mute 1"]);

    // Switch to take B.
    harness.get_by_label("B").click();
    run_until(&mut harness, "take B playing", |_| stem(&engine, 0).is_some_and(|s| s.active_take == 1));
    let bass = stem(&engine, 0).unwrap();
    assert_eq!(bass.notes, bass.takes[1].notes);

    // "Vary this take" from the lane's menu: two more takes (the Takes control), made from take
    // B; the first of them (C) plays.
    harness.get_by_label("More").click();
    harness.step();
    harness.step();
    harness.get_by_label("Vary this take").click();
    run_until(&mut harness, "take C", |h| h.query_by_label("C").is_some());
    let bass = stem(&engine, 0).unwrap();
    assert_eq!((bass.takes.len(), bass.active_take), (4, 2));
    assert_ne!(bass.takes[2].notes, bass.takes[1].notes, "the variation differs");
    assert!(bass.takes[2].prompt.contains("vary"), "{}", bass.takes[2].prompt);

    // Export into a folder of the producer's choosing: WAV and MIDI of the playing take.
    let out = dir.path().join("export here");
    *harness.state_mut().export_folder_mut() = out.display().to_string();
    harness.get_by_label("Export").click();
    run_until(&mut harness, "the export", |h| {
        h.state().recent_jobs().iter().any(|f| matches!(&f.outcome, Outcome::Done(d) if d.contains("bass.mid")))
    });
    let wav = read_wav(&out.join("bass.wav")).expect("a WAV was written");
    let take_audio = cache.load(bass.audio.as_ref().unwrap()).unwrap();
    assert_eq!(wav.frames(), (bass.start_seconds * RATE).round() as usize + take_audio.frames());
    assert!(wav.left.iter().any(|v| v.abs() > 1e-3), "the WAV sounds");
    let (notes, _) = read_midi(&out.join("bass.mid")).expect("a MIDI file was written");
    assert_eq!(notes.len(), bass.notes.len());
    assert!(notes.iter().zip(&bass.notes).all(|(a, b)| a.key == b.key && (a.start - b.start).abs() < 0.01));

    // Two more jobs; the second waits behind the first and is cancelled from its row.
    for _ in 0..2 {
        prompt_box(&harness).focus();
        harness.step();
        harness.key_press(egui::Key::Enter);
        harness.step();
    }
    // The ids as the queue lists them while the editor shows both rows (the first job may end
    // soon after).
    let mut listed = Vec::new();
    run_until(&mut harness, "two jobs queued", |h| {
        listed = engine.status().queue.iter().map(|j| j.id).collect();
        h.query_all_by_label("Cancel").count() == 2
    });
    assert_eq!(listed.len(), 2, "the editor showed two queued jobs, the engine listed {listed:?}");
    let second = listed[1];
    harness.get_all_by_label("Cancel").nth(1).unwrap().click();
    run_until(&mut harness, "the cancelled job", |h| {
        h.state().recent_jobs().iter().any(|f| f.id == second && f.outcome == Outcome::Cancelled)
    });
    let first = engine.status().queue.first().map(|j| j.id);
    if let Some(first) = first {
        engine.cancel(first);
    }
    run_until(&mut harness, "an empty queue", |_| engine.status().queue.is_empty());
    drop(harness);
}
