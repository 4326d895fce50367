//! Model packs: a folder with `model.toml` plus `.onnx` files, found on disk, checked against their
//! manifest (digests and real graph inputs/outputs) and turned into cached sessions.

pub mod manifest;
pub mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::runtime::{self, BuiltSession, ExecutionProvider, RuntimeError, SessionSettings};
pub use manifest::{MANIFEST, Manifest, ModelSpec, TaskKind, TensorSpec};

/// How to (re)install the packs; appended to errors about missing or damaged files.
const FIX: &str = "re-install it with `cargo xtask fetch-models`";

/// Why a pack could not be used. Every variant names the pack (or its folder) and the problem.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// `model.toml` is missing, unreadable or malformed.
    #[error("model pack at {}: {reason}", .dir.display())]
    Manifest {
        /// The pack folder.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file listed in the manifest is absent.
    #[error("model pack `{pack}`: file `{file}` is missing ({}); {FIX}", .path.display())]
    MissingFile {
        /// Pack name.
        pack: String,
        /// File as written in the manifest.
        file: String,
        /// Where it was expected.
        path: PathBuf,
    },
    /// A file's SHA-256 differs from the manifest's (truncated, corrupt or replaced).
    #[error(
        "model pack `{pack}`: file `{file}` is corrupt or modified ({size} bytes, sha256 {actual}, \
             manifest says {expected}); {FIX}"
    )]
    Digest {
        /// Pack name.
        pack: String,
        /// File as written in the manifest.
        file: String,
        /// Size on disk.
        size: u64,
        /// Digest from the manifest.
        expected: String,
        /// Digest of the file on disk.
        actual: String,
    },
    /// ONNX Runtime refused the file.
    #[error("model pack `{pack}`: `{file}` is not a loadable ONNX model: {reason}")]
    Model {
        /// Pack name.
        pack: String,
        /// The model file.
        file: String,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// The graph loads but its inputs or outputs differ from the manifest.
    #[error("model pack `{pack}`: `{file}` does not match its manifest: {reason}")]
    Graph {
        /// Pack name.
        pack: String,
        /// The model file.
        file: String,
        /// Every mismatch found.
        reason: String,
    },
    /// No installed pack does this task.
    #[error(
        "no usable model pack for task `{task:?}`; searched: {searched}{problems}. \
             To fix: run `cargo xtask fetch-models` or set COUNTERPART_MODELS to a folder of packs"
    )]
    NoPack {
        /// The task asked for.
        task: TaskKind,
        /// Searched folders, comma separated.
        searched: String,
        /// Problems with packs that were found but rejected, prefixed with "; rejected: ".
        problems: String,
    },
    /// The pack exists but has no model under this key.
    #[error("model pack `{pack}` has no model `{key}`")]
    NoModel {
        /// Pack name.
        pack: String,
        /// The key asked for.
        key: String,
    },
    /// The runtime is missing or broken.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// An installed pack whose manifest parsed and whose files match their digests.
#[derive(Debug, Clone)]
pub struct Pack {
    /// The pack folder.
    pub dir: PathBuf,
    /// The parsed manifest.
    pub manifest: Manifest,
}

impl Pack {
    /// Reads `dir/model.toml` and checks every listed file's SHA-256.
    pub fn open(dir: &Path) -> Result<Self, PackError> {
        let manifest_path = dir.join(MANIFEST);
        let bad = |reason: String| PackError::Manifest { dir: dir.to_path_buf(), reason };
        let text = std::fs::read(&manifest_path).map_err(|e| bad(format!("cannot read {MANIFEST}: {e}")))?;
        let text = String::from_utf8(text).map_err(|_| bad(format!("{MANIFEST} is not UTF-8 text")))?;
        let manifest = Manifest::parse(&text).map_err(|r| bad(format!("pack `{}`: {r}", guess_name(&text, dir))))?;
        let pack = Pack { dir: dir.to_path_buf(), manifest };
        let files = pack.manifest.files.iter().map(|f| (&f.path, &f.sha256));
        let models = pack.manifest.models.iter().map(|m| (&m.file, &m.sha256));
        for (file, sha) in files.chain(models) {
            pack.check_file(file, sha)?;
        }
        Ok(pack)
    }

    /// Pack name from the manifest.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// Checks one file's presence and digest.
    fn check_file(&self, file: &str, expected: &str) -> Result<(), PackError> {
        let path = self.dir.join(file);
        let missing = || PackError::MissingFile { pack: self.name().into(), file: file.into(), path: path.clone() };
        let size = std::fs::metadata(&path).map_err(|_| missing())?.len();
        let actual = verify::sha256_file(&path).map_err(|_| missing())?;
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(PackError::Digest {
                pack: self.name().into(),
                file: file.into(),
                size,
                expected: expected.into(),
                actual,
            });
        }
        Ok(())
    }

    /// Loads one model (runtime must be initialised) and checks its real inputs and outputs.
    pub fn load_model(&self, key: &str, settings: &SessionSettings) -> Result<BuiltSession, PackError> {
        let spec =
            self.manifest.model(key).ok_or_else(|| PackError::NoModel { pack: self.name().into(), key: key.into() })?;
        if runtime::loaded().is_none() {
            runtime::init_default()?;
        }
        let built = runtime::build_session(&self.dir.join(&spec.file), settings)
            .map_err(|reason| PackError::Model { pack: self.name().into(), file: spec.file.clone(), reason })?;
        verify::check_io(&built.session, spec).map_err(|reason| PackError::Graph {
            pack: self.name().into(),
            file: spec.file.clone(),
            reason,
        })?;
        Ok(built)
    }
}

/// Best-effort pack name for error messages when the manifest does not parse.
fn guess_name(text: &str, dir: &Path) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("name").and_then(|r| r.trim().strip_prefix('=')))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| dir.file_name().unwrap_or_default().to_string_lossy().into_owned())
}

/// Where packs are looked for, in order: `COUNTERPART_MODELS` (a path list), the user data folder's
/// `models/`, `<workspace>/target/models` above the binary, and `models/` next to the plugin.
pub fn default_search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(list) = std::env::var_os("COUNTERPART_MODELS") {
        dirs.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(data) = runtime::locate::user_data_dir() {
        dirs.push(data.join("models"));
    }
    dirs.extend(runtime::locate::dev_dirs("models"));
    dirs.extend(runtime::locate::module_dirs().into_iter().map(|d| d.join("models")));
    runtime::locate::dedup(dirs)
}

/// A session the worker keeps, with the provider actually used.
pub struct LoadedModel {
    /// The session; `run` needs `&mut`.
    pub session: ort::session::Session,
    /// Provider in use.
    pub provider: ExecutionProvider,
    /// Set when the requested provider fell back to CPU.
    pub notice: Option<String>,
}

/// Installed packs and lazily built, cached sessions; owned by the worker thread.
pub struct PackRegistry {
    /// Folders that were scanned.
    searched: Vec<PathBuf>,
    /// Packs that passed [`Pack::open`], first occurrence of each name.
    packs: Vec<Pack>,
    /// Packs that were found but rejected.
    problems: Vec<PackError>,
    /// Session settings for every model.
    settings: SessionSettings,
    /// Built sessions by (pack name, model key).
    sessions: HashMap<(String, String), LoadedModel>,
    /// Built sets of side-by-side sessions by (pack name, set id).
    session_sets: HashMap<(String, String), Vec<ort::session::Session>>,
}

impl PackRegistry {
    /// Scans each folder: a folder with `model.toml` is a pack, otherwise its sub-folders are tried.
    pub fn discover(dirs: &[PathBuf], settings: SessionSettings) -> Self {
        let mut packs: Vec<Pack> = Vec::new();
        let mut problems = Vec::new();
        for dir in dirs {
            let candidates: Vec<PathBuf> = if dir.join(MANIFEST).is_file() {
                vec![dir.clone()]
            } else {
                let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.join(MANIFEST).is_file())
                    .collect();
                subs.sort();
                subs
            };
            for c in candidates {
                match Pack::open(&c) {
                    Ok(p) if packs.iter().any(|q| q.name() == p.name()) => {}
                    Ok(p) => packs.push(p),
                    Err(e) => problems.push(e),
                }
            }
        }
        PackRegistry {
            searched: dirs.to_vec(),
            packs,
            problems,
            settings,
            sessions: HashMap::new(),
            session_sets: HashMap::new(),
        }
    }

    /// [`discover`](Self::discover) over [`default_search_dirs`].
    pub fn discover_default(settings: SessionSettings) -> Self {
        Self::discover(&default_search_dirs(), settings)
    }

    /// Usable packs.
    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// Packs that were found but rejected, with the reason.
    pub fn problems(&self) -> &[PackError] {
        &self.problems
    }

    /// The first usable pack for a task.
    pub fn find(&self, task: TaskKind) -> Result<&Pack, PackError> {
        self.packs.iter().find(|p| p.manifest.task == task).ok_or_else(|| PackError::NoPack {
            task,
            searched: self.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            problems: if self.problems.is_empty() {
                String::new()
            } else {
                format!("; rejected: {}", self.problems.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(" | "))
            },
        })
    }

    /// The session for `(pack, key)`, built and checked on first use, then cached.
    pub fn session(&mut self, pack: &str, key: &str) -> Result<&mut LoadedModel, PackError> {
        let id = (pack.to_string(), key.to_string());
        if !self.sessions.contains_key(&id) {
            let p = self
                .packs
                .iter()
                .find(|p| p.name() == pack)
                .ok_or_else(|| PackError::NoModel { pack: pack.into(), key: key.into() })?;
            let built = p.load_model(key, &self.settings)?;
            let loaded = LoadedModel { session: built.session, provider: built.provider, notice: built.notice };
            self.sessions.insert(id.clone(), loaded);
        }
        Ok(self.sessions.get_mut(&id).expect("inserted above"))
    }

    /// The set of sessions `set` for `pack` (e.g. one per core), built by `build` on first use,
    /// then cached.
    pub fn session_set(
        &mut self,
        pack: &str,
        set: &str,
        build: impl FnOnce(&Pack) -> Result<Vec<ort::session::Session>, PackError>,
    ) -> Result<&mut [ort::session::Session], PackError> {
        let id = (pack.to_string(), set.to_string());
        if !self.session_sets.contains_key(&id) {
            let p = self
                .packs
                .iter()
                .find(|p| p.name() == pack)
                .ok_or_else(|| PackError::NoModel { pack: pack.into(), key: set.into() })?;
            let built = build(p)?;
            self.session_sets.insert(id.clone(), built);
        }
        Ok(self.session_sets.get_mut(&id).expect("inserted above"))
    }
}
