//! The settings and status page: the model runtime and the device models run on, the model
//! packs with their licences, the models folder, the audio cache (size, clearing what no stem
//! of this project uses) and the editor's scale.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use counterpart_engine::ProjectStore;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::runtime::ExecutionProvider;
use counterpart_engine::settings::{MAX_UI_SCALE, MIN_UI_SCALE, Settings};
use counterpart_engine::status::Status;
use crossbeam_channel::Receiver;
use egui::RichText;

use crate::commands::Commands;
use crate::theme;

/// Scales offered for the editor, on top of the host's.
pub const SCALES: [f32; 6] = [0.75, 1.0, 1.25, 1.5, 1.75, 2.0];
/// Cache files younger than this are never cleared (another instance may be placing them).
const RECENT_FILES: Duration = Duration::from_secs(24 * 3600);

/// What the cache holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheUsage {
    /// Bytes of audio.
    pub bytes: u64,
    /// Files.
    pub files: usize,
}

/// The settings page between frames.
pub struct SettingsPage {
    /// The saved settings, as edited.
    pub settings: Settings,
    models_folder: String,
    message: Option<(String, egui::Color32)>,
    usage: Option<CacheUsage>,
    measuring: Option<Receiver<Result<CacheUsage, String>>>,
    clearing: Option<Receiver<Result<(usize, u64), String>>>,
    confirm_clear: bool,
    /// The cache scans started from this page, joined when it goes (see [`Drop`]).
    scans: Vec<JoinHandle<()>>,
}

impl SettingsPage {
    /// The page over the stored settings.
    pub fn new(settings: Settings) -> Self {
        let models_folder = settings.models_folder.as_ref().map_or_else(String::new, |p| p.display().to_string());
        Self {
            settings,
            models_folder,
            message: None,
            usage: None,
            measuring: None,
            clearing: None,
            confirm_clear: false,
            scans: Vec::new(),
        }
    }

    /// Measures the cache on a background thread (the page shows the answer when it comes).
    pub fn measure(&mut self, cache: &AudioCache) {
        let dir = cache.dir().to_path_buf();
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.spawn_scan(move || {
            let _ = tx.send(cache_usage(&dir));
        });
        self.measuring = Some(rx);
    }

    /// Runs a cache scan on its own thread, keeping its handle; finished ones are let go.
    fn spawn_scan(&mut self, scan: impl FnOnce() + Send + 'static) {
        self.scans.retain(|t| !t.is_finished());
        match std::thread::Builder::new().name("counterpart-cache-scan".into()).spawn(scan) {
            Ok(thread) => self.scans.push(thread),
            Err(e) => self.message = Some((format!("The cache could not be scanned: {e}"), theme::ERROR)),
        }
    }

    fn poll(&mut self, cache: &AudioCache) {
        if let Some(answer) = self.measuring.as_ref().and_then(|rx| rx.try_recv().ok()) {
            self.measuring = None;
            match answer {
                Ok(usage) => self.usage = Some(usage),
                Err(e) => self.message = Some((e, theme::ERROR)),
            }
        }
        if let Some(answer) = self.clearing.as_ref().and_then(|rx| rx.try_recv().ok()) {
            self.clearing = None;
            self.message = Some(match answer {
                Ok((files, bytes)) => (format!("Removed {files} unused file(s), {}.", size(bytes)), theme::ACCENT),
                Err(e) => (e, theme::ERROR),
            });
            self.measure(cache);
        }
    }

    /// Draws the page.
    pub fn show(&mut self, ui: &mut egui::Ui, status: &Status, commands: &Commands, cache: &AudioCache) {
        self.poll(cache);
        egui::ScrollArea::vertical().id_salt("settings").show(ui, |ui| {
            theme::card().show(ui, |ui| {
                ui.set_width(ui.available_width());
                self.runtime(ui, status, commands);
            });
            ui.add_space(8.0);
            theme::card().show(ui, |ui| {
                ui.set_width(ui.available_width());
                self.models(ui, status, commands);
            });
            ui.add_space(8.0);
            theme::card().show(ui, |ui| {
                ui.set_width(ui.available_width());
                self.cache(ui, commands, cache);
            });
            ui.add_space(8.0);
            theme::card().show(ui, |ui| {
                ui.set_width(ui.available_width());
                self.scale(ui);
            });
            if let Some((message, colour)) = &self.message {
                ui.add_space(6.0);
                ui.label(RichText::new(message).color(*colour));
            }
        });
    }

    fn runtime(&mut self, ui: &mut egui::Ui, status: &Status, commands: &Commands) {
        theme::section(ui, "Model runtime");
        if status.runtime.is_empty() {
            ui.label(RichText::new("Checking the model runtime and packs…").color(theme::WEAK));
            return;
        }
        let broken = status.runtime.starts_with("No model runtime");
        ui.label(RichText::new(&status.runtime).color(if broken { theme::WARN } else { theme::TEXT }));
        if broken {
            ui.label(
                RichText::new(crate::jobs_view::advice(&status.runtime).unwrap_or_default()).small().color(theme::WARN),
            );
        }
        ui.horizontal(|ui| {
            ui.label(RichText::new("Run models on").color(theme::WEAK));
            for (provider, name) in [
                (ExecutionProvider::Cpu, "CPU"),
                (ExecutionProvider::Cuda, "CUDA"),
                (ExecutionProvider::CoreMl, "Core ML"),
                (ExecutionProvider::DirectMl, "DirectML"),
            ] {
                let chosen = status.provider.ends_with(&format!("{provider:?}")) && !status.provider.contains("CPU:");
                if ui.selectable_label(chosen, name).clicked() {
                    commands.set_provider(provider);
                }
            }
        });
        let fell_back = status.provider.contains("CPU:");
        ui.label(RichText::new(&status.provider).small().color(if fell_back { theme::WARN } else { theme::WEAK }));
    }

    fn models(&mut self, ui: &mut egui::Ui, status: &Status, commands: &Commands) {
        theme::section(ui, "Model packs");
        if status.packs.is_empty() && !status.runtime.is_empty() {
            ui.label(
                RichText::new(
                    "No model packs found: run `cargo xtask setup`, or choose the folder that holds them below.",
                )
                .color(theme::WARN),
            );
        }
        egui::Grid::new("packs").striped(true).num_columns(1).show(ui, |ui| {
            for pack in &status.packs {
                ui.label(pack);
                ui.end_row();
            }
        });
        for problem in &status.pack_problems {
            ui.label(RichText::new(format!("Refused: {problem}")).small().color(theme::WARN));
        }
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let label = ui.label(RichText::new("Models folder").color(theme::WEAK)).id;
            ui.add(
                egui::TextEdit::singleline(&mut self.models_folder)
                    .id_salt("models-folder")
                    .hint_text("searched before the built-in places")
                    .desired_width(320.0),
            )
            .labelled_by(label);
            if ui.button("Save and rescan").clicked() {
                self.save_models_folder(commands);
            }
        });
    }

    fn save_models_folder(&mut self, commands: &Commands) {
        let folder = self.models_folder.trim();
        let folder = (!folder.is_empty()).then(|| PathBuf::from(folder));
        if let Some(path) = &folder
            && !path.is_dir()
        {
            self.message = Some((format!("{} is not a folder; nothing was changed.", path.display()), theme::ERROR));
            return;
        }
        self.settings.models_folder = folder;
        match self.settings.save() {
            Ok(()) => {
                // Choosing the device again makes the worker find the runtime and packs anew. Sent
                // from here: a thread holding the engine could end up dropping it (joining the
                // worker) after the plugin is gone.
                let provider = commands.engine().store().snapshot().provider;
                commands.engine().send(counterpart_engine::job::Job::SetProvider { provider });
                self.message = Some(("Saved; looking for packs again…".into(), theme::ACCENT));
            }
            Err(e) => self.message = Some((format!("The settings could not be saved: {e}"), theme::ERROR)),
        }
    }

    fn cache(&mut self, ui: &mut egui::Ui, commands: &Commands, cache: &AudioCache) {
        theme::section(ui, "Audio cache");
        if self.usage.is_none() && self.measuring.is_none() {
            self.measure(cache);
        }
        let usage = match (&self.usage, &self.measuring) {
            (Some(u), _) => format!("{} in {} file(s)", size(u.bytes), u.files),
            (None, _) => "measuring…".into(),
        };
        ui.label(format!("{} — {usage}", cache.dir().display()));
        ui.horizontal(|ui| {
            if self.clearing.is_some() {
                ui.label(RichText::new("Removing unused audio…").color(theme::WEAK));
            } else if !self.confirm_clear {
                if ui.button("Clear unused audio…").clicked() {
                    self.confirm_clear = true;
                }
            } else {
                ui.label(
                    RichText::new(
                        "Audio used by this project is kept. Audio of projects that are not open now will be removed \
                         and reported as lost when they load.",
                    )
                    .small()
                    .color(theme::WARN),
                );
                if ui.button("Remove").clicked() {
                    self.confirm_clear = false;
                    let (tx, rx) = crossbeam_channel::bounded(1);
                    let store = commands.engine().store();
                    let dir = cache.dir().to_path_buf();
                    self.spawn_scan(move || {
                        let _ = tx.send(clear_unused(&dir, &store));
                    });
                    self.clearing = Some(rx);
                }
                if ui.button("Keep everything").clicked() {
                    self.confirm_clear = false;
                }
            }
        });
    }

    fn scale(&mut self, ui: &mut egui::Ui) {
        theme::section(ui, "Editor size");
        ui.horizontal(|ui| {
            ui.label(RichText::new("Scale (on top of the host's)").color(theme::WEAK));
            for scale in SCALES {
                let chosen = (self.settings.ui_scale - scale).abs() < 0.01;
                if ui.selectable_label(chosen, format!("{:.0} %", scale * 100.0)).clicked() && !chosen {
                    self.settings.ui_scale = scale.clamp(MIN_UI_SCALE, MAX_UI_SCALE);
                    ui.ctx().set_zoom_factor(self.settings.ui_scale);
                    if let Err(e) = self.settings.save() {
                        self.message =
                            Some((format!("The scale applies now but could not be saved: {e}"), theme::WARN));
                    }
                }
            }
        });
    }
}

/// Bytes as "12.3 MB".
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.0} kB", b as f64 / 1024.0),
    }
}

/// The audio files in the cache folder and their total size (a missing folder is empty).
pub fn cache_usage(dir: &Path) -> Result<CacheUsage, String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(CacheUsage::default()) };
    let mut usage = CacheUsage::default();
    for entry in entries.flatten() {
        if entry.path().extension().is_some_and(|e| e == "wav")
            && let Ok(meta) = entry.metadata()
        {
            usage.bytes += meta.len();
            usage.files += 1;
        }
    }
    Ok(usage)
}

/// Removes cache files that no stem or take of the project uses and that are more than a day
/// old; returns how many files and bytes went.
pub fn clear_unused(dir: &Path, store: &Arc<ProjectStore>) -> Result<(usize, u64), String> {
    let project = store.snapshot();
    let used: HashSet<String> = project
        .stems
        .iter()
        .flat_map(|s| s.audio.iter().chain(s.takes.iter().filter_map(|t| t.audio.as_ref())))
        .map(|a| a.hash.clone())
        .collect();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read the cache {}: {e}", dir.display()))?;
    let (mut files, mut bytes) = (0, 0);
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(hash) =
            path.file_stem().and_then(|s| s.to_str()).filter(|_| path.extension().is_some_and(|e| e == "wav"))
        else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        let age = meta.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or_default();
        if used.contains(hash) || age < RECENT_FILES {
            continue;
        }
        if std::fs::remove_file(&path).is_ok() {
            files += 1;
            bytes += meta.len();
        }
    }
    Ok((files, bytes))
}

impl Drop for SettingsPage {
    /// Waits for the cache scans, so none runs the plugin's code after the plugin is gone (a host
    /// may unload it right after destroying it).
    fn drop(&mut self) {
        for scan in self.scans.drain(..) {
            let _ = scan.join();
        }
    }
}
