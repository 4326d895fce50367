//! A stem's lane driven headlessly (egui_kittest) against the real engine with the default packs:
//! solo and gain reach the plugin parameters through begin / set / end, "plays as" MIDI reaches
//! the stem and the audio thread's player, "regenerate" rewrites only the bar selected on the
//! ruler, and takes are deleted and kept from the lane's menu.
//!
//! Needs the ONNX Runtime and the packs (`cargo xtask setup`); without them the test says why and
//! passes, unless `CI=true`.

mod common;

use std::sync::Arc;

use common::{Controls, Host, TestEngine, capture_example, ready, run_until, started_engine, stem};
use counterpart_engine::playback::Player;
use counterpart_engine::stem::{Note, StemOutput};
use counterpart_gui::EditorApp;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use nice_plug::context::gui::GuiContext;

/// Beats in a 4/4 bar.
const BAR: f64 = 4.0;

/// Presses the primary button at `from`, moves to `to` in steps of a few pixels (so the drag
/// starts where it was pressed) and lets go.
fn drag(harness: &mut Harness<'_, EditorApp>, from: egui::Pos2, to: egui::Pos2) {
    let press = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    harness.event(egui::Event::PointerMoved(from));
    harness.step();
    harness.event(press(from, true));
    harness.step();
    let steps = ((to - from).length() / 3.0).ceil().max(1.0) as usize;
    for step in 1..=steps {
        harness.event(egui::Event::PointerMoved(from + (to - from) * step as f32 / steps as f32));
        harness.step();
    }
    harness.event(press(to, false));
    harness.step();
}

/// Opens the lane's "More" menu and clicks `item`.
fn menu(harness: &mut Harness<'_, EditorApp>, item: &str) {
    harness.get_by_label("More").click();
    harness.step();
    harness.step();
    harness.get_by_label(item).click();
    harness.step();
}

/// The notes that start outside beats `range`.
fn outside(notes: &[Note], range: (f64, f64)) -> Vec<Note> {
    notes.iter().filter(|n| n.start < range.0 || n.start >= range.1).copied().collect()
}

#[test]
fn solo_gain_output_regenerate_delete_and_keep_from_a_lane() {
    if !ready() {
        return;
    }
    let TestEngine { dir: _dir, cache, engine, mut audio } = started_engine();
    capture_example(&engine, &mut audio);
    let controls = Arc::new(Controls::new());
    let host = Arc::new(Host::default());
    let mut app = EditorApp::new(controls.clone(), engine.clone(), cache);
    app.attach(GuiContext::new(host.clone()));
    let mut harness = common::harness(app);
    harness.event(egui::Event::Text("add a bass line under bars 2-5".into()));
    harness.step();
    harness.key_press(egui::Key::Enter);
    run_until(&mut harness, "the takes", |h| h.query_by_label("B").is_some());
    let calls = |host: &Host| std::mem::take(&mut *host.calls.lock().unwrap());

    // Solo, through the plugin parameter.
    harness.get_by_label("S").click();
    harness.step();
    assert!(controls.solo[0].value(), "slot 1 is soloed");
    assert_eq!(calls(&host), ["begin Solo 1", "set Solo 1 1", "end Solo 1"]);

    // The gain slider (70 px, right of the solo button): a drag to three quarters of it sets
    // three quarters of the 0-2 range, as one gesture.
    let solo = harness.get_by_label("S").rect();
    let left = solo.right() + 5.0;
    drag(&mut harness, egui::pos2(left + 10.0, solo.center().y), egui::pos2(left + 52.5, solo.center().y));
    let gain = controls.gain[0].value();
    assert!((gain - 1.5).abs() < 0.1, "gain {gain}");
    let gesture = calls(&host);
    assert_eq!(gesture.first().map(String::as_str), Some("begin Gain 1"), "{gesture:?}");
    assert_eq!(gesture.last().map(String::as_str), Some("end Gain 1"), "{gesture:?}");
    assert!(gesture[1..gesture.len() - 1].iter().all(|c| c.starts_with("set Gain 1 ")), "{gesture:?}");

    // Plays as MIDI: the stem says so, and so does the player on the audio thread.
    let mut player = Player::default();
    harness.get_by_label("Plays as").click();
    harness.step();
    harness.step();
    harness.get_by_label("MIDI").click();
    run_until(&mut harness, "the stem played as MIDI", |_| {
        audio.apply_swaps(&mut player);
        stem(&engine, 0).is_some_and(|s| s.output == StemOutput::Midi) && player.outputs(0) == (false, true)
    });

    // Select bar 3 on the ruler: first learn how many bars it shows from a drag across all of it.
    let ruler = harness.get_by_label("Bar ruler").rect();
    let y = ruler.center().y;
    drag(&mut harness, egui::pos2(ruler.left() + 1.0, y), egui::pos2(ruler.right() - 2.0, y));
    let [first, last] = harness.state().selected_bars().expect("a selection");
    assert_eq!(first, 1);
    let bar_width = ruler.width() / last as f32;
    let bar3 = ruler.left() + 2.5 * bar_width;
    drag(&mut harness, egui::pos2(bar3 - 0.3 * bar_width, y), egui::pos2(bar3 + 0.3 * bar_width, y));
    assert_eq!(harness.state().selected_bars(), Some([3, 3]));

    // Regenerate bar 3: two new takes (C, D) that keep the playing take's notes outside it.
    let base = stem(&engine, 0).unwrap();
    menu(&mut harness, "Regenerate bar 3");
    run_until(&mut harness, "take D", |h| h.query_by_label("D").is_some());
    let bass = stem(&engine, 0).unwrap();
    assert_eq!((bass.takes.len(), bass.active_take), (4, 2));
    let bar3_beats = (2.0 * BAR, 3.0 * BAR);
    for take in &bass.takes[2..] {
        assert_eq!(outside(&take.notes, bar3_beats), outside(&base.notes, bar3_beats), "only bar 3 changes");
    }
    assert!(bass.takes[2..].iter().any(|t| t.notes != base.notes), "bar 3 was written again");

    // Delete the playing take (C).
    let deleted = bass.takes[2].seed;
    menu(&mut harness, "Delete this take");
    run_until(&mut harness, "three takes", |_| stem(&engine, 0).is_some_and(|s| s.takes.len() == 3));
    assert!(stem(&engine, 0).unwrap().takes.iter().all(|t| t.seed != deleted), "take C is gone");

    // Play the third take and keep only it.
    // The lane is drawn from the engine's status: wait for a frame that shows three takes before
    // clicking, and for one that shows the third playing before keeping it.
    run_until(&mut harness, "three takes in the lane", |h| h.query_by_label("D").is_none());
    harness.get_by_label("C").click();
    run_until(&mut harness, "the third take playing", |_| stem(&engine, 0).is_some_and(|s| s.active_take == 2));
    harness.step();
    let kept = stem(&engine, 0).unwrap().takes[2].clone();
    menu(&mut harness, "Keep this take, delete the others");
    run_until(&mut harness, "one take", |_| stem(&engine, 0).is_some_and(|s| s.takes.len() == 1));
    let bass = stem(&engine, 0).unwrap();
    assert_eq!((bass.takes[0].seed, &bass.takes[0].notes), (kept.seed, &kept.notes));
    assert_eq!(bass.notes, kept.notes, "the kept take plays");
    run_until(&mut harness, "the lane showing one take", |h| h.query_by_label("B").is_none());
}
