//! The user's preferences, shared by every instance of the plugin and the `counterpart` command:
//! an extra folder of model packs and the editor's scale. Stored as TOML in the user's config
//! folder (or at `COUNTERPART_SETTINGS`), written atomically; a missing or damaged file reads as
//! the defaults.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Environment variable naming the settings file instead of the config folder's.
pub const SETTINGS_ENV: &str = "COUNTERPART_SETTINGS";
/// The smallest editor scale offered.
pub const MIN_UI_SCALE: f32 = 0.75;
/// The largest editor scale offered.
pub const MAX_UI_SCALE: f32 = 2.0;

/// What the producer chose on the editor's settings page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// A folder of model packs searched before the built-in places (after `COUNTERPART_MODELS`).
    pub models_folder: Option<PathBuf>,
    /// The editor's zoom on top of the host's scale, 0.75 to 2.
    pub ui_scale: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self { models_folder: None, ui_scale: 1.0 }
    }
}

impl Settings {
    /// Where the settings live: `COUNTERPART_SETTINGS`, else `settings.toml` in the config folder.
    pub fn path() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(SETTINGS_ENV).filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path));
        }
        directories::ProjectDirs::from("com", "Counterpart", "Counterpart")
            .map(|d| d.config_dir().join("settings.toml"))
    }

    /// The stored settings, or the defaults when there are none or they cannot be read.
    pub fn load() -> Self {
        Self::path().and_then(|p| Self::load_from(&p).ok()).unwrap_or_default()
    }

    /// Reads settings from `path`; out-of-range values are brought into range.
    pub fn load_from(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let settings: Settings =
            toml::from_str(&text).map_err(|e| format!("{} is not a settings file: {e}", path.display()))?;
        Ok(settings.sanitized())
    }

    /// Saves to [`Settings::path`].
    pub fn save(&self) -> Result<(), String> {
        let path = Self::path().ok_or("there is no config folder to save the settings in")?;
        self.save_to(&path)
    }

    /// Writes to `path` through a temporary file, so a crash never leaves half a file.
    pub fn save_to(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let text = toml::to_string(&self.clone().sanitized()).map_err(|e| format!("cannot write settings: {e}"))?;
        let temp = path.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&temp, text).map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
        std::fs::rename(&temp, path).map_err(|e| format!("cannot move {} into place: {e}", path.display()))
    }

    /// The model folders to search: `COUNTERPART_MODELS`, then the chosen folder, then the
    /// built-in places.
    pub fn model_search_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = crate::packs::default_search_dirs();
        if let Some(folder) = self.models_folder.as_ref().filter(|f| !f.as_os_str().is_empty()) {
            let from_env = std::env::var_os("COUNTERPART_MODELS")
                .map_or(0, |list| std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).count());
            dirs.retain(|d| d != folder);
            dirs.insert(from_env.min(dirs.len()), folder.clone());
        }
        dirs
    }

    fn sanitized(mut self) -> Self {
        self.ui_scale = if self.ui_scale.is_finite() { self.ui_scale.clamp(MIN_UI_SCALE, MAX_UI_SCALE) } else { 1.0 };
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_damaged_files_read_as_defaults() {
        let dir = std::env::temp_dir().join(format!("cp-settings-{}", std::process::id()));
        let path = dir.join("nested/settings.toml");
        let settings = Settings { models_folder: Some(PathBuf::from("/packs here")), ui_scale: 1.5 };
        settings.save_to(&path).unwrap();
        assert_eq!(Settings::load_from(&path).unwrap(), settings);

        std::fs::write(&path, "ui_scale = 9.0\n").unwrap();
        assert_eq!(Settings::load_from(&path).unwrap(), Settings { models_folder: None, ui_scale: MAX_UI_SCALE });
        std::fs::write(&path, "this is [not toml").unwrap();
        assert!(Settings::load_from(&path).unwrap_err().contains("not a settings file"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_chosen_models_folder_is_searched_before_the_built_in_places() {
        let folder = PathBuf::from("/my/packs");
        let dirs = Settings { models_folder: Some(folder.clone()), ui_scale: 1.0 }.model_search_dirs();
        let defaults = crate::packs::default_search_dirs();
        let from_env = std::env::var_os("COUNTERPART_MODELS").map_or(0, |l| std::env::split_paths(&l).count());
        assert_eq!(dirs.iter().position(|d| *d == folder), Some(from_env.min(defaults.len())));
        assert_eq!(dirs.len(), defaults.len() + 1);
    }
}
