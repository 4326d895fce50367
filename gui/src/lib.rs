//! Counterpart's editor: the stems in their slots with their mixer controls, the captured
//! song, the transport and what the engine reports. It reads snapshots and sends jobs; it
//! never waits on the engine.

mod stems_view;

use std::path::PathBuf;
use std::sync::Arc;

use counterpart_engine::Engine;
use counterpart_engine::job::{CaptureSource, Event, ImportStem};
use counterpart_engine::stem::StemOutput;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::{BoolParam, FloatParam};
use nice_plug_egui::{EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier, create_egui_editor};

/// Editor window size in logical pixels.
pub const WINDOW_SIZE: (f32, f32) = (820.0, 560.0);
/// Job messages the editor keeps on screen.
const LOG_LINES: usize = 6;

/// The mixer parameters of each slot, as the plugin defines them.
pub trait StemControls: Send + Sync + 'static {
    /// The slot's gain.
    fn gain(&self, slot: usize) -> &FloatParam;
    /// The slot's mute.
    fn mute(&self, slot: usize) -> &BoolParam;
    /// The slot's solo.
    fn solo(&self, slot: usize) -> &BoolParam;
}

/// The editor's size and open state, kept by the plugin across openings.
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(WINDOW_SIZE.0, WINDOW_SIZE.1), 1.0)
}

/// Builds the editor for the plugin.
pub fn create(
    state: Arc<EguiEditorState>,
    controls: Arc<dyn StemControls>,
    engine: Arc<Engine>,
) -> Option<EguiEditor<EditorApp>> {
    let settings = EguiNiceSettings::new().with_tile("Counterpart");
    create_egui_editor(state, RepaintNotifier::new(), settings, EditorApp::new(controls, engine))
}

/// The editor's state between frames.
pub struct EditorApp {
    controls: Arc<dyn StemControls>,
    engine: Arc<Engine>,
    gui: Option<GuiContext>,
    import_path: String,
    import_bar: u32,
    log: Vec<String>,
}

impl EditorApp {
    /// An editor over the plugin's controls and engine.
    pub fn new(controls: Arc<dyn StemControls>, engine: Arc<Engine>) -> Self {
        Self { controls, engine, gui: None, import_path: String::new(), import_bar: 1, log: Vec::new() }
    }

    fn drain_events(&mut self) {
        while let Ok(event) = self.engine.events().try_recv() {
            let line = match event {
                Event::Progress { stage, .. } => format!("Working: {stage}…"),
                Event::StemReady { slot, .. } => format!("Stem placed in slot {}", slot + 1),
                Event::Failed { message, .. } => format!("Failed: {message}"),
                Event::Restored { lost } if lost.is_empty() => "Project restored".to_string(),
                Event::Restored { lost } => format!("Project restored; {} part(s) could not be: see below", lost.len()),
                Event::Planned { job, .. } => format!("Understood: {}", job.summary()),
                Event::TakeReady { slot, take, .. } => format!("Take {} ready in slot {}", take + 1, slot + 1),
                Event::Exported { files, .. } => format!("Exported {} file(s)", files.len()),
                Event::Cancelled { .. } => "Job cancelled".to_string(),
            };
            self.log.push(line);
        }
        let excess = self.log.len().saturating_sub(LOG_LINES);
        self.log.drain(..excess);
    }

    fn transcribe_row(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label("Turn what was heard into a MIDI stem:");
            if ui.button("Transcribe the context (sidechain)").clicked() {
                self.engine.transcribe_capture(CaptureSource::Sidechain, None);
            }
            if ui.button("Transcribe the main input").clicked() {
                self.engine.transcribe_capture(CaptureSource::Main, None);
            }
        });
    }

    fn import_row(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label("Place a WAV or MIDI file:");
            ui.add(
                egui::TextEdit::singleline(&mut self.import_path).hint_text("/path/to/stem.wav").desired_width(320.0),
            );
            ui.label("at bar");
            ui.add(egui::DragValue::new(&mut self.import_bar).range(1..=999));
            if ui.button("Place").clicked() && !self.import_path.trim().is_empty() {
                let signature = self.engine.transport().signature();
                let bar_beats = signature.0.max(1) as f64 * 4.0 / signature.1.max(1) as f64;
                self.engine.import(ImportStem {
                    id: 0,
                    path: PathBuf::from(self.import_path.trim()),
                    slot: None,
                    start_beats: (self.import_bar.max(1) - 1) as f64 * bar_beats,
                    output: StemOutput::Both,
                });
            }
        });
    }
}

impl NiceEguiApp for EditorApp {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        self.drain_events();
        let status = self.engine.status();
        let engine = self.engine.clone();
        let transport = engine.transport();
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("Counterpart");
            stems_view::transport_line(ui, transport, &status);
            ui.separator();
            if let Some(gui) = &self.gui {
                let setter = gui.param_setter();
                stems_view::stem_table(ui, &status, transport.tempo(), self.controls.as_ref(), &setter);
            }
            ui.separator();
            self.transcribe_row(ui);
            self.import_row(ui);
            for line in &self.log {
                ui.label(line);
            }
            for lost in &status.lost {
                ui.colored_label(egui::Color32::from_rgb(230, 160, 60), format!("Not restored: {lost}"));
            }
            ui.separator();
            stems_view::models_panel(ui, &status, &engine);
        });
        ui.ctx().request_repaint_after(std::time::Duration::from_millis(100));
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}
