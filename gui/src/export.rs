//! Where stems are exported: a folder the producer picks (by default the Music folder's
//! `Counterpart`), remembered while the editor lives.

use std::path::PathBuf;

use egui::RichText;

use crate::theme;

/// The export folder field.
#[derive(Debug, Clone)]
pub struct ExportFolder {
    /// The folder, as typed.
    pub folder: String,
}

impl Default for ExportFolder {
    fn default() -> Self {
        Self { folder: default_folder().display().to_string() }
    }
}

/// The user's Music folder + `Counterpart`, else the home folder's, else the temp folder's.
pub fn default_folder() -> PathBuf {
    let dirs = directories::UserDirs::new();
    let music = dirs.as_ref().and_then(|d| d.audio_dir().map(PathBuf::from));
    let home = dirs.as_ref().map(|d| d.home_dir().join("Music"));
    music.or(home).unwrap_or_else(std::env::temp_dir).join("Counterpart")
}

impl ExportFolder {
    /// The folder to export into, or why there is none.
    pub fn path(&self) -> Result<PathBuf, String> {
        let folder = self.folder.trim();
        if folder.is_empty() {
            return Err("Type the folder to export into first.".into());
        }
        let path = PathBuf::from(folder);
        if path.is_relative() {
            return Err(format!("\"{folder}\" is not a full path: type one that starts at the drive or at /."));
        }
        Ok(path)
    }

    /// Draws the field.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label(RichText::new("Export to").color(theme::WEAK)).id;
            ui.add(egui::TextEdit::singleline(&mut self.folder).id_salt("export-folder").desired_width(360.0))
                .labelled_by(label);
            ui.label(RichText::new("WAV + MIDI per stem; drag the files onto a DAW track").small().color(theme::WEAK));
        });
    }
}
