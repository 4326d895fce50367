//! Counterpart's editor: the captured song on a bar ruler, the prompt with a live preview of the
//! job it makes, the job queue, one lane per stem with its takes, mixer, piano roll and export,
//! and a settings page. It sends jobs and reads the engine's status snapshot and events; it never
//! waits on the engine, and everything heavy (planning, summaries, cache scans) runs elsewhere.

mod commands;
mod export;
mod gl_pin;
mod jobs_view;
mod lanes;
mod overview;
mod piano_roll;
mod prompt;
mod ruler;
mod settings;
mod summaries;
mod theme;
mod timeline;
mod waveform;

use std::sync::Arc;
use std::time::Duration;

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::job::{CaptureSource, Event, GenerateStem};
use counterpart_engine::settings::Settings;
use counterpart_engine::status::Status;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::{BoolParam, FloatParam};
use nice_plug_egui::{EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier, create_egui_editor};

pub use jobs_view::{Finished, Outcome};
pub use prompt::EXAMPLES;
pub use settings::SCALES;
pub use summaries::{NoteSummary, WaveSummary};

use crate::commands::Commands;
use crate::lanes::{HEADER_WIDTH, LaneAction, LaneContext};
use crate::timeline::{BeatMap, View};

/// Editor window size in logical pixels (at 100 %).
pub const WINDOW_SIZE: (f32, f32) = (1000.0, 680.0);
/// How often the editor redraws while nothing happens (progress, playhead, capture).
const IDLE_REPAINT: Duration = Duration::from_millis(50);

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

/// Builds the editor for the plugin; `cache` is the audio cache the engine stores stems in.
pub fn create(
    state: Arc<EguiEditorState>,
    controls: Arc<dyn StemControls>,
    engine: Arc<Engine>,
    cache: AudioCache,
) -> Option<EguiEditor<EditorApp>> {
    let settings = EguiNiceSettings::new().with_tile("Counterpart");
    create_egui_editor(state, RepaintNotifier::new(), settings, EditorApp::new(controls, engine, cache))
}

/// Which page the editor shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Prompt, timeline, lanes and jobs.
    Arrange,
    /// Runtime, packs, cache and scale.
    Settings,
}

/// The editor's state between frames.
pub struct EditorApp {
    controls: Arc<dyn StemControls>,
    commands: Commands,
    cache: AudioCache,
    gui: Option<GuiContext>,
    summaries: summaries::Summaries,
    prompt: prompt::Prompt,
    jobs: jobs_view::JobsView,
    export: export::ExportFolder,
    settings: settings::SettingsPage,
    selection: ruler::Selection,
    view: View,
    page: Page,
    next_seed: u64,
    scale_applied: bool,
    actions: Vec<LaneAction>,
}

impl EditorApp {
    /// An editor over the plugin's controls, engine and audio cache.
    pub fn new(controls: Arc<dyn StemControls>, engine: Arc<Engine>, cache: AudioCache) -> Self {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs());
        Self {
            controls,
            commands: Commands::new(engine),
            summaries: summaries::Summaries::new(cache.clone()),
            cache,
            gui: None,
            prompt: prompt::Prompt::default(),
            jobs: jobs_view::JobsView::default(),
            export: export::ExportFolder::default(),
            settings: settings::SettingsPage::new(Settings::load()),
            selection: ruler::Selection::default(),
            view: View::default(),
            page: Page::Arrange,
            next_seed: seed,
            scale_applied: false,
            actions: Vec::new(),
        }
    }

    /// Connects the parameter setter (the plugin's GUI context; tests pass their own).
    pub fn attach(&mut self, gui: GuiContext) {
        self.gui = Some(gui);
    }

    /// Applies the theme to a context (done by the plugin window on open; tests call it).
    pub fn setup(&mut self, ctx: &egui::Context) {
        theme::apply(ctx);
        self.prompt.focus();
        self.scale_applied = false;
    }

    /// The export folder field's text.
    pub fn export_folder_mut(&mut self) -> &mut String {
        &mut self.export.folder
    }

    /// The bars selected on the ruler (1-based, inclusive).
    pub fn selected_bars(&self) -> Option<[u32; 2]> {
        self.selection.bars
    }

    /// The page shown.
    pub fn page_mut(&mut self) -> &mut Page {
        &mut self.page
    }

    /// What happened to recent jobs, newest first.
    pub fn recent_jobs(&self) -> &[Finished] {
        &self.jobs.recent
    }

    /// Waits until the waveform and piano-roll summaries asked for so far are ready (tests and
    /// benchmarks; the editor itself never waits).
    pub fn settle_summaries(&mut self, timeout: Duration) -> bool {
        self.summaries.settle(timeout)
    }

    fn drain_events(&mut self) {
        while let Ok(event) = self.commands.engine().events().try_recv() {
            match event {
                Event::Planned { id, job } => {
                    self.prompt.on_planned(id, job);
                }
                other => self.jobs.on_event(&other),
            }
        }
    }

    /// Draws the whole editor into `ui`.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        if !self.scale_applied {
            self.scale_applied = true;
            if (ui.ctx().zoom_factor() - self.settings.settings.ui_scale).abs() > 0.01 {
                ui.ctx().set_zoom_factor(self.settings.settings.ui_scale);
            }
        }
        self.drain_events();
        self.summaries.poll();
        self.prompt.tick(&self.commands);
        let status = self.commands.engine().status();
        self.jobs.note_queue(&status.queue);
        egui::Panel::top("header").frame(header_frame()).show(ui, |ui| self.header(ui, &status));
        egui::Panel::bottom("status").frame(header_frame()).show(ui, |ui| status_bar(ui, &status));
        match self.page {
            Page::Arrange => self.arrange_page(ui, &status),
            Page::Settings => {
                egui::CentralPanel::default_margins().show(ui, |ui| {
                    self.settings.show(ui, &status, &self.commands, &self.cache);
                });
            }
        }
        ui.ctx().request_repaint_after(IDLE_REPAINT);
    }

    fn header(&mut self, ui: &mut egui::Ui, status: &Status) {
        let transport = self.commands.engine().transport();
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new("COUNTERPART").heading().strong().color(theme::ACCENT));
            ui.add_space(12.0);
            let (num, den) = transport.signature();
            let playing = if transport.playing() { "Playing" } else { "Stopped" };
            ui.label(egui::RichText::new(playing).color(if transport.playing() { theme::ACCENT } else { theme::WEAK }));
            ui.label(format!("{:.1} BPM  {num}/{den}", transport.tempo()));
            if let Some(beat) = playhead(transport) {
                let bar_beats = num.max(1) as f64 * 4.0 / den.max(1) as f64;
                ui.label(format!("bar {}", (beat / bar_beats).floor() as i64 + 1));
            }
            let (line, colour) = overview::capture_state(status, transport);
            ui.label(egui::RichText::new(line).color(colour));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.selectable_value(&mut self.page, Page::Settings, "Settings");
                ui.selectable_value(&mut self.page, Page::Arrange, "Arrange");
            });
        });
    }

    fn arrange_page(&mut self, ui: &mut egui::Ui, status: &Status) {
        egui::Panel::right("jobs").exact_size(250.0).resizable(false).show(ui, |ui| {
            ui.add_space(6.0);
            self.jobs.show(ui, &status.queue, &self.commands);
        });
        egui::CentralPanel::default_margins().show(ui, |ui| {
            // Everything below keeps to the panel's width, whatever a long line asks for.
            let width = ui.available_width();
            theme::card().show(ui, |ui| {
                ui.set_width(width - 22.0);
                if let Some(prompt) = self.prompt.show(ui, self.selection.bars) {
                    self.generate(prompt, None);
                }
            });
            ui.add_space(6.0);
            self.timeline(ui, status, width);
        });
        self.apply_actions();
    }

    fn timeline(&mut self, ui: &mut egui::Ui, status: &Status, width: f32) {
        let transport = self.commands.engine().transport();
        let signature = transport.signature();
        let tempo = if transport.tempo() > 0.0 { transport.tempo() } else { 120.0 };
        let captured_beats =
            status.captured.last().map_or(0.0, |r| r.end as f64 / status.sample_rate.max(1.0) * tempo / 60.0);
        let song_beats = status.stems.iter().map(|s| s.end_beats()).fold(captured_beats, f64::max);
        let full = egui::Rect::from_min_size(ui.next_widget_position(), egui::vec2(width, ui.available_height()));
        let map = BeatMap::new(full.left() + HEADER_WIDTH, full.right(), song_beats * 1.05, self.view, signature);
        self.selection.follow_host_loop(transport.loop_beats(), map.bar_beats);
        let row = |ui: &mut egui::Ui, height: f32| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(full.width(), height), egui::Sense::hover());
            let label = egui::Rect::from_min_max(rect.min, egui::pos2(rect.left() + HEADER_WIDTH - 8.0, rect.bottom()));
            (label, egui::Rect::from_min_max(egui::pos2(rect.left() + HEADER_WIDTH, rect.top()), rect.max))
        };
        let (label, strip) = row(ui, overview::HEIGHT);
        ui.painter().text(
            label.left_center(),
            egui::Align2::LEFT_CENTER,
            "Song (sidechain)",
            egui::FontId::proportional(12.0),
            theme::WEAK,
        );
        overview::show(ui, strip, &map, status, transport);
        let (label, strip) = row(ui, ruler::HEIGHT);
        let described = match self.selection.describe() {
            s if s.is_empty() => "Bars: drag to select".to_string(),
            s => format!("Next job: {s}"),
        };
        let colour = if self.selection.bars.is_some() { theme::ACCENT } else { theme::WEAK };
        ui.painter().text(
            label.left_center(),
            egui::Align2::LEFT_CENTER,
            described,
            egui::FontId::proportional(12.0),
            colour,
        );
        ruler::show(ui, strip, &map, &mut self.selection, playhead(transport));
        // Ctrl + wheel zooms around the pointer, the wheel with shift scrolls along the song.
        let over = ui.rect_contains_pointer(egui::Rect::from_min_max(strip.left_top(), full.right_bottom()));
        if over {
            let (zoom, scroll, pointer) =
                ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta.x, i.pointer.hover_pos()));
            if zoom != 1.0 {
                let beat = pointer.map_or(map.first, |p| map.beat(p.x));
                self.view.zoom_at(beat, zoom as f64, &map, song_beats.max(map.last - map.first));
            } else if scroll != 0.0 {
                self.view.scroll(scroll, &map, song_beats * 1.05);
            }
        }
        ui.add_space(4.0);
        let lanes_height = ui.available_height() - 34.0;
        ui.allocate_ui(egui::vec2(full.width(), lanes_height.max(lanes::LANE_HEIGHT)), |ui| {
            let setter = self.gui.as_ref().map(|g| g.param_setter());
            let context = LaneContext {
                map,
                controls: self.controls.as_ref(),
                setter: setter.as_ref(),
                selection: self.selection.bars,
                playhead: playhead(transport),
                host_tempo: transport.tempo(),
            };
            lanes::show(ui, &status.stems, &mut self.summaries, &context, &mut self.actions);
        });
        self.export.show(ui);
    }

    fn apply_actions(&mut self) {
        for action in std::mem::take(&mut self.actions) {
            match action {
                LaneAction::SelectTake(slot, take) => self.commands.select_take(slot, take),
                LaneAction::DeleteTake(slot, take) => self.commands.delete_take(slot, take),
                LaneAction::Keep(slot) => self.commands.keep_playing_take(slot),
                // With a slot, the engine works from the playing take: "vary" re-pitches part of
                // it, anything else rewrites the selected bars and keeps the rest.
                LaneAction::Vary(slot) => self.generate("vary this take".into(), Some(slot)),
                LaneAction::Regenerate(slot) => self.generate("regenerate this take".into(), Some(slot)),
                LaneAction::Export(slot) => match self.export.path() {
                    Ok(folder) => {
                        self.commands.export(slot, folder);
                    }
                    Err(message) => self.jobs.on_event(&Event::Failed { id: 0, message }),
                },
                LaneAction::Output(slot, output) => self.commands.set_output(slot, output),
                LaneAction::Clear(slot) => self.commands.clear_slot(slot),
            }
        }
    }

    /// Queues a Generate job with the current controls: the sidechain as context, the ruler's
    /// bars (else the prompt's), the takes asked for and a fresh seed.
    fn generate(&mut self, prompt: String, slot: Option<usize>) {
        let seed = self.next_seed;
        self.next_seed = self.next_seed.wrapping_add(self.prompt.takes as u64 + 1);
        self.commands.generate(GenerateStem {
            id: 0,
            prompt,
            source: CaptureSource::Sidechain,
            bars: self.selection.bars,
            takes: self.prompt.takes.clamp(1, prompt::MAX_TAKES),
            seed,
            slot,
        });
    }
}

fn header_frame() -> egui::Frame {
    egui::Frame::NONE.fill(theme::PANEL).inner_margin(egui::Margin::symmetric(12, 6))
}

/// The host's position in beats while it plays.
fn playhead(transport: &counterpart_engine::link::HostTransport) -> Option<f64> {
    transport
        .playing()
        .then(|| transport.pos_samples() as f64 / transport.sample_rate().max(1.0) * transport.tempo() / 60.0)
}

fn status_bar(ui: &mut egui::Ui, status: &Status) {
    ui.horizontal(|ui| {
        let (runtime, colour) = if status.runtime.is_empty() {
            ("Checking the model runtime…".to_string(), theme::WEAK)
        } else if status.runtime.starts_with("No model runtime") {
            ("No model runtime: see Settings".to_string(), theme::WARN)
        } else {
            (status.runtime.split(" from ").next().unwrap_or_default().to_string(), theme::WEAK)
        };
        ui.label(egui::RichText::new(runtime).small().color(colour));
        ui.label(egui::RichText::new(&status.provider).small().color(theme::WEAK));
        ui.label(egui::RichText::new(format!("{} model pack(s)", status.packs.len())).small().color(theme::WEAK));
        if let Some(error) = &status.last_error {
            ui.label(egui::RichText::new(error).small().color(theme::ERROR));
        }
        for lost in &status.lost {
            ui.label(egui::RichText::new(format!("Not restored: {lost}")).small().color(theme::WARN));
        }
    });
}

impl NiceEguiApp for EditorApp {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        // The window's GL context exists now: keep its driver loaded past the editor's close.
        gl_pin::keep_gl_driver_loaded();
        self.setup(&egui_ctx);
        self.attach(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        self.show(ui);
    }

    fn zoom_factor_changed(&mut self, zoom_factor: f32) {
        self.settings.settings.ui_scale = zoom_factor;
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}
