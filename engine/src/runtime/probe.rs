//! Checking a candidate ONNX Runtime library before `ort` touches it (`ort` panics on bad ones).

use std::ffi::{c_char, c_void, CStr};
use std::path::Path;

use super::RuntimeError;

/// The ONNX Runtime API version `ort` 2.0.0-rc.15 is built for (feature `api-31`).
pub const API_VERSION: u32 = 31;
/// The release `cargo xtask fetch-runtime` ships.
pub const SHIPPED_VERSION: &str = "1.31.1";

/// `OrtApiBase` from the C API: the two entry points that exist in every version.
#[repr(C)]
struct OrtApiBase {
    get_api: unsafe extern "C" fn(u32) -> *const c_void,
    get_version_string: unsafe extern "C" fn() -> *const c_char,
}

/// Opens `path`, reads its version via `OrtGetApiBase` and checks that it serves API version 31.
pub fn probe(path: &Path) -> Result<String, RuntimeError> {
    let bad = |reason: String| RuntimeError::BadLibrary {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    if meta.len() < 1024 {
        return Err(bad(format!(
            "it is only {} bytes long (truncated download?)",
            meta.len()
        )));
    }
    #[cfg(target_os = "linux")]
    {
        use std::io::Read;
        let mut magic = [0u8; 4];
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .map_err(|e| bad(format!("cannot read it: {e}")))?;
        if &magic != b"\x7fELF" {
            return Err(bad("it is not an ELF shared library".into()));
        }
    }
    // SAFETY: loading ONNX Runtime runs only its own static initialisers.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| bad(format!("dlopen failed: {e}")))?;
    // SAFETY: the signature is fixed by the ONNX Runtime C API.
    let get_base =
        unsafe { lib.get::<unsafe extern "C" fn() -> *const OrtApiBase>(b"OrtGetApiBase") }
            .map_err(|_| {
                bad("it does not export OrtGetApiBase (not an ONNX Runtime library)".into())
            })?;
    // SAFETY: OrtGetApiBase returns a pointer to a static struct inside the library.
    let base = unsafe { get_base() };
    if base.is_null() {
        return Err(bad("OrtGetApiBase returned null".into()));
    }
    // SAFETY: `base` is non-null and valid while `lib` is loaded; the string is static.
    let version = unsafe {
        let s = ((*base).get_version_string)();
        if s.is_null() {
            return Err(bad("GetVersionString returned null".into()));
        }
        CStr::from_ptr(s).to_string_lossy().into_owned()
    };
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    // SAFETY: GetApi only looks the version up in a table and returns null when it is unknown.
    let api = unsafe { ((*base).get_api)(API_VERSION) };
    if minor < API_VERSION || api.is_null() {
        return Err(RuntimeError::WrongVersion {
            path: path.to_path_buf(),
            found: version,
        });
    }
    Ok(version)
}
