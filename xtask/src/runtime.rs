//! `cargo xtask fetch-runtime`: ONNX Runtime's shared library taken from the PyPI wheel.

use std::ffi::{CStr, c_char};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::wheel;

/// The ONNX Runtime release `ort` 2.0.0-rc.15 (feature `api-31`) is built against.
pub const ORT_VERSION: &str = "1.31.1";

/// File name of the library on this platform, as the engine looks for it.
#[cfg(target_os = "linux")]
pub const LIB_NAME: &str = "libonnxruntime.so";
/// File name of the library on this platform, as the engine looks for it.
#[cfg(target_os = "macos")]
pub const LIB_NAME: &str = "libonnxruntime.dylib";
/// File name of the library on this platform, as the engine looks for it.
#[cfg(target_os = "windows")]
pub const LIB_NAME: &str = "onnxruntime.dll";

/// Downloads the wheel, extracts the library to `<target>/onnxruntime/` and checks that it loads.
pub fn fetch(target: &Path) -> Result<()> {
    let out_dir = target.join("onnxruntime");
    let out = out_dir.join(LIB_NAME);
    if out.exists() && check(&out).is_ok_and(|v| v == ORT_VERSION) {
        println!("ONNX Runtime {ORT_VERSION} already at {}", out.display());
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let whl = wheel::download(&format!("onnxruntime=={ORT_VERSION}"), tmp.path())?;
    let (name, bytes) = wheel::extract(&whl, is_runtime_lib)?;
    if bytes.len() < 1_000_000 {
        bail!("{name} in the wheel is only {} bytes: not a runtime library", bytes.len());
    }
    #[cfg(target_os = "linux")]
    if !bytes.starts_with(b"\x7fELF") {
        bail!("{name} in the wheel is not an ELF file");
    }
    wheel::write_atomic(&out, &bytes)?;
    let version = check(&out)?;
    if version != ORT_VERSION {
        bail!("{} reports ONNX Runtime {version}, expected {ORT_VERSION}", out.display());
    }
    let note = format!(
        "onnxruntime {ORT_VERSION} (MIT), from PyPI wheel {}\nentry: {name}\nsha256: {}\n",
        whl.file_name().unwrap_or_default().to_string_lossy(),
        wheel::sha256(&bytes)
    );
    std::fs::write(out_dir.join("SOURCE.txt"), note)?;
    println!("ONNX Runtime {version} -> {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}

/// Whether a wheel entry is the main runtime library (not the providers or the Python module).
fn is_runtime_lib(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    name.starts_with("onnxruntime/capi/")
        && (file.starts_with("libonnxruntime.so.1.")
            || (file.starts_with("libonnxruntime.1.") && file.ends_with(".dylib"))
            || file == "onnxruntime.dll")
}

/// `OrtApiBase` from the C API: the only two entry points that exist in every version.
#[repr(C)]
struct OrtApiBase {
    get_api: unsafe extern "C" fn(u32) -> *const std::ffi::c_void,
    get_version_string: unsafe extern "C" fn() -> *const c_char,
}

/// Loads the library, calls `OrtGetApiBase()->GetVersionString()` and returns the version.
fn check(path: &Path) -> Result<String> {
    // SAFETY: loading ONNX Runtime runs no initialisers that need anything from us.
    let lib = unsafe { libloading::Library::new(path) }.with_context(|| format!("cannot load {}", path.display()))?;
    // SAFETY: the symbol's signature is fixed by the ONNX Runtime C API.
    let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const OrtApiBase> =
        unsafe { lib.get(b"OrtGetApiBase") }
            .with_context(|| format!("{} does not export OrtGetApiBase", path.display()))?;
    // SAFETY: as above; the base pointer is static inside the library.
    let version = unsafe {
        let base = get_base();
        if base.is_null() {
            bail!("OrtGetApiBase returned null");
        }
        CStr::from_ptr(((*base).get_version_string)()).to_string_lossy().into_owned()
    };
    Ok(version)
}
