//! What the editor tests share: the plugin's slot parameters, a host that records parameter
//! changes, whether the real runtime and packs are installed, and stepping the editor.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::link::{AudioSide, CAPTURE_CAPACITY};
use counterpart_engine::packs::{PackRegistry, TaskKind};
use counterpart_engine::resample::resample;
use counterpart_engine::runtime::{self, SessionSettings};
use counterpart_engine::separate::decode::load_stereo;
use counterpart_engine::stem::{SLOTS, StemRecord, StereoAudio};
use counterpart_engine::timeline::TimeSignature;
use counterpart_gui::{EditorApp, StemControls};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use nice_plug::context::PluginApi;
use nice_plug::context::gui::GuiContextInner;
use nice_plug::params::internals::ParamPtr;
use nice_plug::prelude::{BoolParam, FloatParam, FloatRange, PluginState};

/// How long one job may take in a debug build on a busy 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(300);

/// The slots' mixer parameters, as the plugin has them.
pub struct Controls {
    pub gain: Vec<FloatParam>,
    pub mute: Vec<BoolParam>,
    pub solo: Vec<BoolParam>,
}

impl Controls {
    pub fn new() -> Self {
        Self {
            gain: (0..SLOTS)
                .map(|s| FloatParam::new(format!("Gain {}", s + 1), 1.0, FloatRange::Linear { min: 0.0, max: 2.0 }))
                .collect(),
            mute: (0..SLOTS).map(|s| BoolParam::new(format!("Mute {}", s + 1), false)).collect(),
            solo: (0..SLOTS).map(|s| BoolParam::new(format!("Solo {}", s + 1), false)).collect(),
        }
    }
}

impl StemControls for Controls {
    fn gain(&self, slot: usize) -> &FloatParam {
        &self.gain[slot]
    }
    fn mute(&self, slot: usize) -> &BoolParam {
        &self.mute[slot]
    }
    fn solo(&self, slot: usize) -> &BoolParam {
        &self.solo[slot]
    }
}

/// The host's side of parameter changes: records begin/set/end and applies the value, as a
/// wrapper does.
#[derive(Default)]
pub struct Host {
    pub calls: Mutex<Vec<String>>,
}

impl GuiContextInner for Host {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }
    unsafe fn raw_begin_set_parameter(&self, param: ParamPtr) {
        self.calls.lock().unwrap().push(format!("begin {}", unsafe { param.name() }));
    }
    unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
        self.calls.lock().unwrap().push(format!("set {} {normalized}", unsafe { param.name() }));
        unsafe { param._internal_set_normalized_value(normalized) };
    }
    unsafe fn raw_end_set_parameter(&self, param: ParamPtr) {
        self.calls.lock().unwrap().push(format!("end {}", unsafe { param.name() }));
    }
    fn get_state(&self) -> PluginState {
        PluginState { version: String::new(), params: Default::default(), fields: Default::default() }
    }
    fn set_state(&self, _state: PluginState) {}
    fn request_restart(&self) {}
}

/// Whether the real runtime and the packs the job needs are installed.
pub fn ready() -> bool {
    let strict = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let found = runtime::init_default().map_err(|e| e.to_string()).and_then(|_| {
        let registry = PackRegistry::discover_default(SessionSettings::default());
        for task in [TaskKind::Transcriber, TaskKind::Embedder, TaskKind::Arranger] {
            registry.find(task).map_err(|e| e.to_string())?;
        }
        Ok(())
    });
    match found {
        Ok(()) => true,
        Err(e) if strict => panic!("CI=true and the runtime or a pack is missing: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {e}; run `cargo xtask setup`");
            false
        }
    }
}

/// A test harness showing `app` at the editor's window size, set up and stepped once.
pub fn harness(app: EditorApp) -> Harness<'static, EditorApp> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(counterpart_gui::WINDOW_SIZE.0, counterpart_gui::WINDOW_SIZE.1))
        .build_ui_state(|ui, app: &mut EditorApp| app.show(ui), app);
    let ctx = harness.ctx.clone();
    harness.state_mut().setup(&ctx);
    harness.step();
    harness
}

/// Steps the editor (as its window would, about 30 times a second) until `done` holds.
pub fn run_until(
    harness: &mut Harness<'_, EditorApp>,
    what: &str,
    mut done: impl FnMut(&Harness<'_, EditorApp>) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        harness.step();
        if done(harness) {
            return;
        }
        assert!(Instant::now() < deadline, "the editor never showed {what}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// The host's sample rate in the tests.
pub const RATE: f64 = 48_000.0;
/// The example song's tempo (scripts/make_example_context.py).
pub const TEMPO: f64 = 100.0;

/// Host blocks of 512 [`capture_example`] sends between waits for the worker: a quarter of the
/// capture ring (as the engine's tests do).
const BLOCKS_PER_BARRIER: usize = CAPTURE_CAPACITY / 4 / (512 / 256);

/// Plays the example song into the sidechain from the song start while the host runs at
/// [`TEMPO`], paced so the worker keeps up, then stops the transport. Every
/// [`BLOCKS_PER_BARRIER`] blocks it waits until `engine`'s worker has drained the capture, so a
/// worker that falls behind on a busy machine never lets the ring overflow.
pub fn capture_example(engine: &Engine, audio: &mut AudioSide) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/context.wav");
    let song: StereoAudio = resample(&load_stereo(&path).expect("the example song"), RATE as u32).unwrap();
    let mut scratch = Box::default();
    let block = 512usize;
    for (n, start) in (0..song.frames()).step_by(block).enumerate() {
        let len = block.min(song.frames() - start);
        let mut left = song.left[start..start + len].to_vec();
        let mut right = song.right[start..start + len].to_vec();
        let (mut ml, mut mr) = (vec![0.0f32; len], vec![0.0f32; len]);
        let main: [&mut [f32]; 2] = [&mut ml, &mut mr];
        let side: [&mut [f32]; 2] = [&mut left, &mut right];
        let pos = start as i64;
        audio.transport.publish(TEMPO, RATE, pos, true, (4, 4));
        let beats = pos as f64 / RATE * TEMPO / 60.0;
        audio.capture(&mut scratch, &main, Some(&side), 0, pos, len, beats, TEMPO, TimeSignature::default());
        std::thread::sleep(Duration::from_millis(1));
        if n % BLOCKS_PER_BARRIER == BLOCKS_PER_BARRIER - 1 {
            engine.captured_song().expect("the worker answers");
        }
    }
    audio.transport.publish(TEMPO, RATE, song.frames() as i64, false, (4, 4));
    assert_eq!(audio.transport.capture_overruns(), 0, "no captured block was dropped");
}

/// The prompt box: the first text field in the window (the export folder's comes later).
pub fn prompt_box<'a>(harness: &'a Harness<'_, EditorApp>) -> egui_kittest::Node<'a> {
    harness.query_all_by_role(Role::TextInput).next().expect("a text field")
}

/// The stem in `slot`, as the engine lists it.
pub fn stem(engine: &Engine, slot: usize) -> Option<StemRecord> {
    engine.status().stems.iter().find(|s| s.slot == slot).cloned()
}

/// A started engine at the test rate with its audio side, its cache in a fresh temporary folder.
pub struct TestEngine {
    /// Holds the cache folder for as long as the test runs.
    pub dir: tempfile::TempDir,
    /// The engine's audio cache.
    pub cache: AudioCache,
    /// The engine, shared with the editor.
    pub engine: Arc<Engine>,
    /// The audio thread's side of the engine.
    pub audio: AudioSide,
}

/// Starts the engine at [`RATE`] with its cache in a fresh temporary folder.
pub fn started_engine() -> TestEngine {
    let dir = tempfile::tempdir().unwrap();
    let cache = AudioCache::new(dir.path().join("cache"));
    let (engine, audio) = Engine::start(cache.clone());
    engine.activate(RATE);
    TestEngine { dir, cache, engine: Arc::new(engine), audio }
}
