//! ONNX Runtime as a shipped part: finding, checking and loading `libonnxruntime`, and building
//! sessions on the chosen execution provider.
//!
//! `ort` is built with `load-dynamic`: nothing links against ONNX Runtime at build time. The library
//! is found at run time (see [`default_search_dirs`]) and checked by [`probe::probe`] before `ort`
//! sees it, because `ort` panics on libraries it cannot use.

pub mod locate;
pub mod probe;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use ort::session::Session;
use ort::session::builder::SessionBuilder;

pub use locate::LIB_NAME;

/// How to get the runtime when it is missing; appended to every "not found / unusable" error.
const FIX: &str = "run `cargo xtask fetch-runtime` (or `cargo xtask setup`) in the Counterpart \
                   workspace, or set ORT_DYLIB_PATH to an ONNX Runtime 1.31 library";

/// Why the ONNX Runtime could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No candidate library exists in any searched place.
    #[error("ONNX Runtime library ({LIB_NAME}) not found; searched: {}. To fix: {FIX}", list(.searched))]
    NotFound {
        /// Every path that was tried, in order.
        searched: Vec<PathBuf>,
    },
    /// A file exists but is not a loadable ONNX Runtime library.
    #[error("ONNX Runtime library at {} is unusable: {reason}. To fix: {FIX}", .path.display())]
    BadLibrary {
        /// The file that failed.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The library loads but is too old for `ort`'s API version.
    #[error("ONNX Runtime at {} is version {found}, but Counterpart needs 1.{} or newer \
             (ships {}). To fix: {FIX}", .path.display(), probe::API_VERSION, probe::SHIPPED_VERSION)]
    WrongVersion {
        /// The file that failed.
        path: PathBuf,
        /// The version string the library reported.
        found: String,
    },
    /// `ort` failed (or panicked) while setting up its environment.
    #[error("ONNX Runtime at {} failed to initialise: {reason}", .path.display())]
    Init {
        /// The library in use.
        path: PathBuf,
        /// The error or panic message.
        reason: String,
    },
    /// An earlier attempt already loaded a different library; the process keeps the first one.
    #[error("ONNX Runtime is already loaded from {}; it cannot be replaced in a running process", .0.display())]
    AlreadyLoaded(PathBuf),
}

/// Formats a list of paths for an error message.
fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(nothing)".into();
    }
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// What was loaded: reported in the UI and in the CLI's `--version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// The library file in use.
    pub library: PathBuf,
    /// The version it reports, e.g. "1.31.1".
    pub version: String,
}

/// The process-wide loaded runtime (ONNX Runtime cannot be unloaded or swapped once in use).
static LOADED: Mutex<Option<RuntimeInfo>> = Mutex::new(None);
/// Keeps `ort`'s environment alive for the life of the process.
static ENVIRONMENT: OnceLock<ort::environment::Environment> = OnceLock::new();

/// The default search list: `<module dir>`, `<module dir>/<module stem>/`, `Contents/Resources`,
/// the user data folder's `runtime/`, then `<workspace>/target/onnxruntime/` above the binary.
pub fn default_search_dirs() -> Vec<PathBuf> {
    let mut dirs = locate::module_dirs();
    if let Some(data) = locate::user_data_dir() {
        dirs.push(data.join("runtime"));
    }
    dirs.extend(locate::dev_dirs("onnxruntime"));
    locate::dedup(dirs)
}

/// Finds, checks and loads ONNX Runtime. `ORT_DYLIB_PATH` wins when set; otherwise the first
/// usable `LIB_NAME` in `search_dirs` is taken. Calling it again returns the already loaded one.
pub fn init(search_dirs: &[PathBuf]) -> Result<RuntimeInfo, RuntimeError> {
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(info) = loaded.as_ref() {
        return Ok(info.clone());
    }
    let info = match std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        Some(path) => load(Path::new(&path))?,
        None => search(search_dirs)?,
    };
    *loaded = Some(info.clone());
    Ok(info)
}

/// [`init`] with [`default_search_dirs`].
pub fn init_default() -> Result<RuntimeInfo, RuntimeError> {
    init(&default_search_dirs())
}

/// The runtime loaded by an earlier [`init`], if any.
pub fn loaded() -> Option<RuntimeInfo> {
    LOADED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Tries each folder in order; the first error is reported when no candidate works.
fn search(dirs: &[PathBuf]) -> Result<RuntimeInfo, RuntimeError> {
    let mut first_error = None;
    let mut searched = Vec::new();
    for dir in dirs {
        let path = dir.join(LIB_NAME);
        searched.push(path.clone());
        if !path.is_file() {
            continue;
        }
        match load(&path) {
            Ok(info) => return Ok(info),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(RuntimeError::NotFound { searched }))
}

/// Checks one library file with [`probe::probe`], then hands it to `ort` under `catch_unwind`.
fn load(path: &Path) -> Result<RuntimeInfo, RuntimeError> {
    if !path.is_file() {
        return Err(RuntimeError::NotFound { searched: vec![path.to_path_buf()] });
    }
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let version = probe::probe(&path)?;
    let init_err = |reason: String| RuntimeError::Init { path: path.clone(), reason };
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let builder = ort::init_from(&path).map_err(|e| e.to_string())?;
        let env = builder.with_name("counterpart").build().map_err(|e| e.to_string())?;
        let _ = ENVIRONMENT.set(env);
        Ok(())
    }));
    match result {
        Ok(Ok(())) => Ok(RuntimeInfo { library: path.clone(), version }),
        Ok(Err(reason)) => Err(init_err(reason)),
        Err(panic) => Err(init_err(panic_message(&panic))),
    }
}

/// Text of a caught panic payload.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic with a non-text payload".into()
    }
}

/// Which device runs the models; CPU is always available and the fallback for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionProvider {
    /// ONNX Runtime's default CPU provider.
    #[default]
    Cpu,
    /// NVIDIA CUDA (needs the `onnxruntime-gpu` build of the library).
    Cuda,
    /// Apple Core ML (macOS builds of the library).
    CoreMl,
    /// DirectML (Windows builds of the library).
    DirectMl,
}

impl ExecutionProvider {
    /// The device's name as producers know it ("CPU", "CUDA", "Core ML", "DirectML").
    pub fn label(self) -> &'static str {
        match self {
            ExecutionProvider::Cpu => "CPU",
            ExecutionProvider::Cuda => "CUDA",
            ExecutionProvider::CoreMl => "Core ML",
            ExecutionProvider::DirectMl => "DirectML",
        }
    }
}

impl FromStr for ExecutionProvider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            "coreml" => Ok(Self::CoreMl),
            "directml" | "dml" => Ok(Self::DirectMl),
            other => Err(format!("unknown execution provider `{other}` (cpu, cuda, coreml, directml)")),
        }
    }
}

/// Settings for building sessions: provider and thread count.
#[derive(Debug, Clone, Default)]
pub struct SessionSettings {
    /// The requested provider; falls back to CPU with a notice when it cannot be used.
    pub provider: ExecutionProvider,
    /// Threads inside one operator; 0 lets ONNX Runtime decide.
    pub intra_threads: usize,
}

/// A session plus a note for the user when the requested provider could not be used.
pub struct BuiltSession {
    /// The ready session.
    pub session: Session,
    /// The provider actually running it.
    pub provider: ExecutionProvider,
    /// Set when the request fell back to CPU, saying why.
    pub notice: Option<String>,
}

/// Builds a session from a model file on the requested provider, falling back to CPU.
///
/// The runtime must have been loaded with [`init`] first; errors and panics from `ort` come back
/// as text.
pub fn build_session(model: &Path, settings: &SessionSettings) -> Result<BuiltSession, String> {
    if loaded().is_none() {
        return Err("ONNX Runtime is not loaded (call runtime::init first)".into());
    }
    let guarded = catch_unwind(AssertUnwindSafe(|| -> Result<BuiltSession, String> {
        let mut notice = None;
        if settings.provider != ExecutionProvider::Cpu {
            match base_builder(settings).and_then(|b| with_provider(b, settings.provider)) {
                Ok(mut builder) => match builder.commit_from_file(model) {
                    Ok(session) => return Ok(BuiltSession { session, provider: settings.provider, notice: None }),
                    Err(e) => notice = Some(format!("{:?} failed ({e}); using CPU", settings.provider)),
                },
                Err(e) => notice = Some(format!("{:?} is not available ({e}); using CPU", settings.provider)),
            }
        }
        let session = base_builder(settings)?.commit_from_file(model).map_err(|e| e.to_string())?;
        Ok(BuiltSession { session, provider: ExecutionProvider::Cpu, notice })
    }));
    match guarded {
        Ok(r) => r,
        Err(panic) => Err(panic_message(&panic)),
    }
}

/// Builds a CPU session from a model held in memory (a graph rewritten at load time); like
/// [`build_session`], errors and panics from `ort` come back as text.
pub fn build_cpu_session_from_memory(model: &[u8], settings: &SessionSettings) -> Result<Session, String> {
    if loaded().is_none() {
        return Err("ONNX Runtime is not loaded (call runtime::init first)".into());
    }
    let guarded = catch_unwind(AssertUnwindSafe(|| -> Result<Session, String> {
        base_builder(settings)?.commit_from_memory(model).map_err(|e| e.to_string())
    }));
    guarded.unwrap_or_else(|panic| Err(panic_message(&panic)))
}

/// A session builder with the thread settings applied.
fn base_builder(settings: &SessionSettings) -> Result<SessionBuilder, String> {
    let env = ENVIRONMENT.get().ok_or("ONNX Runtime environment is missing")?;
    let mut b = Session::builder(env).map_err(|e| e.to_string())?;
    if settings.intra_threads > 0 {
        b = b.with_intra_threads(settings.intra_threads).map_err(|e| e.to_string())?;
    }
    Ok(b)
}

/// Registers the requested provider, failing (instead of silently using CPU) when it cannot.
fn with_provider(b: SessionBuilder, provider: ExecutionProvider) -> Result<SessionBuilder, String> {
    use ort::ep;
    let dispatch = match provider {
        ExecutionProvider::Cpu => return Ok(b),
        ExecutionProvider::Cuda => ep::CUDA::default().build(),
        ExecutionProvider::CoreMl => ep::CoreML::default().build(),
        ExecutionProvider::DirectMl => ep::DirectML::default().build(),
    };
    b.with_execution_providers([dispatch.error_on_failure()]).map_err(|e| e.to_string())
}
