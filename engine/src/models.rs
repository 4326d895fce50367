//! The worker's view of the model runtime and packs: loaded once on the worker thread, reported
//! in the status line, and handed to the jobs that run models.

use crate::packs::{PackRegistry, TaskKind};
use crate::runtime::{self, ExecutionProvider, SessionSettings};

/// ONNX Runtime and the installed model packs, or what is wrong with them.
pub struct Models {
    /// The packs, once the runtime loaded.
    registry: Result<PackRegistry, String>,
    /// One line for the status bar: which runtime, or what is wrong and how to fix it.
    pub runtime_line: String,
    /// One line per usable pack: name, version, task and licence.
    pub packs: Vec<String>,
    /// One line per pack that was found but refused.
    pub problems: Vec<String>,
    /// The device asked for in the settings.
    pub provider: ExecutionProvider,
    /// Set when the asked-for device could not be used and the models run on the CPU instead.
    pub provider_notice: Option<String>,
}

impl Models {
    /// Finds and loads the runtime and scans the default pack folders. Never panics: a missing
    /// or broken runtime becomes the message every model job fails with.
    pub fn discover(provider: ExecutionProvider) -> Self {
        let runtime = runtime::init_default();
        let runtime_line = match &runtime {
            Ok(info) => format!("ONNX Runtime {} (CPU) from {}", info.version, info.library.display()),
            Err(e) => format!("No model runtime: {e}"),
        };
        // The models folder chosen on the editor's settings page is searched too.
        let dirs = crate::settings::Settings::load().model_search_dirs();
        let registry = PackRegistry::discover(&dirs, SessionSettings { provider, ..SessionSettings::default() });
        let packs = registry
            .packs()
            .iter()
            .map(|p| {
                format!("{} {} ({:?}, {})", p.manifest.name, p.manifest.version, p.manifest.task, p.manifest.license)
            })
            .collect();
        let problems = registry.problems().iter().map(|e| e.to_string()).collect();
        let registry = match runtime {
            Ok(_) => Ok(registry),
            Err(e) => Err(format!("{e}")),
        };
        let mut models = Self { registry, runtime_line, packs, problems, provider, provider_notice: None };
        if provider != ExecutionProvider::Cpu {
            models.warm_up();
        }
        models
    }

    /// Builds the transcriber's session now, so a device that cannot be used is reported when
    /// it is chosen rather than at the first job.
    fn warm_up(&mut self) {
        let Ok(registry) = self.registry.as_mut() else { return };
        let Some(pack) = registry.find(TaskKind::Transcriber).ok().map(|p| p.name().to_string()) else { return };
        match registry.session(&pack, crate::transcribe::MODEL_KEY) {
            Ok(model) => self.provider_notice = model.notice.clone(),
            Err(e) => self.provider_notice = Some(e.to_string()),
        }
    }

    /// The status line about the device the models run on.
    pub fn provider_line(&self) -> String {
        match &self.provider_notice {
            Some(notice) => format!("Models run on the CPU: {notice}"),
            None => format!("Models run on the {}", self.provider.label()),
        }
    }

    /// The packs, or the runtime problem that makes them unusable.
    pub fn registry(&mut self) -> Result<&mut PackRegistry, String> {
        self.registry.as_mut().map_err(|e| e.clone())
    }
}
