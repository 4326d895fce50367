//! The settings page driven headlessly against the real engine: a drag on the ruler selects
//! bars, the packs are listed with their licences, the audio cache is measured and cleared of
//! what the project does not use (and only that), a models folder that does not exist is refused,
//! and the editor scale applies at once and is saved. Runs in its own process because it points
//! the settings file elsewhere.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Controls, Host, ready, run_until};
use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::stem::{StemRecord, StereoAudio};
use counterpart_gui::EditorApp;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use nice_plug::context::gui::GuiContext;

const RATE: f64 = 48_000.0;

#[test]
fn the_ruler_and_host_loop_select_bars_and_the_settings_page_lists_packs_measures_and_clears_the_cache_and_scales() {
    let dir = tempfile::tempdir().unwrap();
    // The user's real settings stay untouched: this process reads and writes a temporary file.
    let settings_file = dir.path().join("settings.toml");
    // SAFETY: set before any thread of this test reads it; the other test only reads defaults.
    unsafe { std::env::set_var(counterpart_engine::settings::SETTINGS_ENV, &settings_file) };
    let cache = AudioCache::new(dir.path().join("cache"));
    let clip = |seed: f32| StereoAudio { sample_rate: 48_000, left: vec![seed; 4_800], right: vec![seed; 4_800] };
    let used = cache.store(&clip(0.25)).unwrap();
    let unused = cache.store(&clip(0.5)).unwrap();
    let path_of = |hash: &str| dir.path().join("cache").join(format!("{hash}.wav"));
    // Both files are old enough to be cleared; only the unused one may go.
    let old = std::time::SystemTime::now() - Duration::from_secs(3 * 24 * 3600);
    for hash in [&used.hash, &unused.hash] {
        std::fs::File::options().write(true).open(path_of(hash)).unwrap().set_modified(old).unwrap();
    }
    let (engine, audio) = Engine::start(cache.clone());
    let engine = Arc::new(engine);
    engine.activate(RATE);
    let mut project = counterpart_engine::project::ProjectState::default();
    project.put(StemRecord {
        slot: 0,
        name: "kept".into(),
        tempo: 120.0,
        audio: Some(used.clone()),
        ..StemRecord::default()
    });
    engine.store().restore_json(&serde_json::to_value(&project).unwrap());

    let mut app = EditorApp::new(Arc::new(Controls::new()), engine.clone(), cache.clone());
    app.attach(GuiContext::new(Arc::new(Host::default())));
    let mut harness = common::harness(app);
    let ctx = harness.ctx.clone();

    // A drag on the ruler from bar 2 to bar 3 selects the bars the next job writes.
    let ruler = harness.get_by_label("Bar ruler").rect();
    let bar_width = ruler.width() / 16.0; // an empty song shows 16 bars
    let (from, to) = (ruler.left() + 1.5 * bar_width, ruler.left() + 2.5 * bar_width);
    let y = ruler.center().y;
    harness.event(egui::Event::PointerMoved(egui::pos2(from, y)));
    harness.step();
    let press = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    harness.event(press(egui::pos2(from, y), true));
    harness.step();
    for step in 1..=10 {
        harness.event(egui::Event::PointerMoved(egui::pos2(from + (to - from) * step as f32 / 10.0, y)));
        harness.step();
    }
    harness.event(press(egui::pos2(to, y), false));
    harness.step();
    assert_eq!(harness.state().selected_bars(), Some([2, 3]));

    // The host's loop over beats 16-32 (bars 5-8 in 4/4), as the audio thread publishes it,
    // becomes the next job's bars.
    audio.transport.publish(120.0, RATE, 0, true, (4, 4));
    audio.transport.publish_loop(Some((16.0, 32.0)));
    harness.step();
    assert_eq!(harness.state().selected_bars(), Some([5, 8]));

    harness.get_by_label("Settings").click();
    harness.step();
    // The cache is measured off the GUI thread; its size appears when it is known.
    run_until(&mut harness, "the cache size", |h| h.query_by_label_contains("in 2 file(s)").is_some());
    if ready() {
        run_until(&mut harness, "the packs and their licences", |h| {
            h.query_all_by_label_contains("Apache-2.0").next().is_some()
        });
    }

    // Clearing asks first, then removes only what no stem of the project uses.
    harness.get_by_label("Clear unused audio…").click();
    harness.step();
    harness.step();
    harness.get_by_label("Remove").click();
    run_until(&mut harness, "the cache cleared", |h| h.query_by_label_contains("Removed 1 unused file(s)").is_some());
    assert!(path_of(&used.hash).exists(), "audio the project uses is kept");
    assert!(!path_of(&unused.hash).exists(), "unused audio is removed");
    run_until(&mut harness, "the new cache size", |h| h.query_by_label_contains("in 1 file(s)").is_some());

    // A models folder that does not exist is refused in words and not saved.
    let field = harness.query_all_by_role(Role::TextInput).next().expect("the models folder field");
    field.focus();
    harness.step();
    harness.event(egui::Event::Text("/no/such/folder".into()));
    harness.step();
    harness.get_by_label("Save and rescan").click();
    harness.step();
    harness.step();
    assert!(harness.query_by_label_contains("is not a folder; nothing was changed").is_some());
    assert!(!settings_file.exists(), "nothing was saved");

    // 150 %: the editor zooms at once and the choice is saved for the next time.
    harness.get_by_label("150 %").click();
    harness.step();
    harness.step();
    assert_eq!(ctx.zoom_factor(), 1.5);
    let saved = counterpart_engine::settings::Settings::load_from(&settings_file).expect("settings saved");
    assert_eq!(saved.ui_scale, 1.5);
    assert_eq!(counterpart_gui::SCALES.first(), Some(&0.75));
    assert_eq!(counterpart_gui::SCALES.last(), Some(&2.0));
}
