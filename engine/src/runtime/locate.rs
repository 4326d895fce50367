//! Where Counterpart's shipped parts (runtime library, model packs) may live on disk.

use std::path::{Path, PathBuf};

/// File name of the ONNX Runtime library on this platform.
#[cfg(target_os = "linux")]
pub const LIB_NAME: &str = "libonnxruntime.so";
/// File name of the ONNX Runtime library on this platform.
#[cfg(target_os = "macos")]
pub const LIB_NAME: &str = "libonnxruntime.dylib";
/// File name of the ONNX Runtime library on this platform.
#[cfg(target_os = "windows")]
pub const LIB_NAME: &str = "onnxruntime.dll";

/// Path of the binary or shared object (plugin) this code was loaded from.
///
/// For the CLI this is the executable; inside a host it is `Counterpart.clap` or
/// `Counterpart.vst3/Contents/x86_64-linux/Counterpart.so`, found with `dladdr`.
pub fn module_path() -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: an all-zero Dl_info is a valid "nothing found" value.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        let addr = module_path as *const libc::c_void;
        // SAFETY: dladdr only reads the address and fills `info`; fname points into the loader's tables.
        let found = unsafe { libc::dladdr(addr, &mut info) } != 0 && !info.dli_fname.is_null();
        if found {
            // SAFETY: dli_fname is a NUL-terminated string owned by the dynamic loader.
            let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
            let path = PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()));
            if path.is_absolute() {
                return Some(path);
            }
        }
    }
    std::env::current_exe().ok()
}

/// Folders next to the loaded module that may hold shipped parts.
///
/// `X.clap` is a single file, so besides its own folder we look in a sibling folder named after it
/// (`Counterpart/` next to `Counterpart.clap`); for a VST3 bundle we also look in `Contents/Resources`.
pub fn module_dirs() -> Vec<PathBuf> {
    let Some(module) = module_path() else {
        return Vec::new();
    };
    let mut dirs = Vec::new();
    if let Some(dir) = module.parent() {
        dirs.push(dir.to_path_buf());
        if let Some(stem) = module.file_stem() {
            dirs.push(dir.join(stem));
        }
        if let Some(contents) = dir.parent().filter(|c| c.ends_with("Contents")) {
            dirs.push(contents.join("Resources"));
        }
    }
    dirs
}

/// Development folders: `<ancestor>/target/<sub>` and `<ancestor>/<sub>` above the loaded module,
/// which finds `<workspace>/target/<sub>` from any binary or test built in the workspace.
pub fn dev_dirs(sub: &str) -> Vec<PathBuf> {
    let Some(module) = module_path() else {
        return Vec::new();
    };
    let mut dirs = Vec::new();
    for ancestor in module.ancestors().skip(1) {
        if ancestor.file_name().is_some_and(|n| n == "target") {
            dirs.push(ancestor.join(sub));
        }
        let candidate = ancestor.join("target").join(sub);
        if candidate.is_dir() {
            dirs.push(candidate);
        }
    }
    dedup(dirs)
}

/// Per-user data folder (`~/.local/share/counterpart` on Linux).
pub fn user_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("com", "Counterpart", "Counterpart").map(|d| d.data_dir().to_path_buf())
}

/// Removes repeated folders, keeping the first occurrence.
pub fn dedup(dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::with_capacity(dirs.len());
    for d in dirs {
        if !out.iter().any(|o| same_dir(o, &d)) {
            out.push(d);
        }
    }
    out
}

/// Whether two paths name the same folder (canonically when both exist).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
