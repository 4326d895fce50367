//! Checking a candidate ONNX Runtime library before `ort` touches it (`ort` panics on bad ones).

use std::ffi::{CStr, c_char, c_void};
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
    let bad = |reason: String| RuntimeError::BadLibrary { path: path.to_path_buf(), reason };
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    if meta.len() < 1024 {
        return Err(bad(format!("it is only {} bytes long (truncated download?)", meta.len())));
    }
    #[cfg(target_os = "linux")]
    {
        // dlopen maps segments straight from the file: a truncated library would SIGBUS the
        // process instead of failing, so the ELF layout is checked against the file size first.
        let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        check_elf(&bytes).map_err(bad)?;
    }
    // SAFETY: loading ONNX Runtime runs only its own static initialisers.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| bad(format!("dlopen failed: {e}")))?;
    // SAFETY: the signature is fixed by the ONNX Runtime C API.
    let get_base = unsafe { lib.get::<unsafe extern "C" fn() -> *const OrtApiBase>(b"OrtGetApiBase") }
        .map_err(|_| bad("it does not export OrtGetApiBase (not an ONNX Runtime library)".into()))?;
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
    let minor = version.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()).unwrap_or(0);
    // SAFETY: GetApi only looks the version up in a table and returns null when it is unknown.
    let api = unsafe { ((*base).get_api)(API_VERSION) };
    if minor < API_VERSION || api.is_null() {
        return Err(RuntimeError::WrongVersion { path: path.to_path_buf(), found: version });
    }
    Ok(version)
}

/// Checks that `bytes` is a 64-bit little-endian ELF whose headers and loadable segments all lie
/// inside the file.
#[cfg(target_os = "linux")]
pub fn check_elf(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(b"\x7fELF") {
        return Err("it is not an ELF shared library".into());
    }
    if bytes.len() < 64 || bytes[4] != 2 || bytes[5] != 1 {
        return Err("it is not a 64-bit little-endian ELF file".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as u64;
    let u64_at = |o: usize| -> Option<u64> { Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?)) };
    let len = bytes.len() as u64;
    let truncated = || format!("it is truncated or damaged ({len} bytes; the ELF headers point past the end)");
    let (phoff, shoff) = (u64_at(0x20).ok_or_else(truncated)?, u64_at(0x28).ok_or_else(truncated)?);
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    let (shentsize, shnum) = (u16_at(0x3a), u16_at(0x3c));
    if phoff.saturating_add(phentsize * phnum) > len || shoff.saturating_add(shentsize * shnum) > len {
        return Err(truncated());
    }
    for i in 0..phnum {
        let h = (phoff + i * phentsize) as usize;
        let kind = u32::from_le_bytes(bytes[h..h + 4].try_into().map_err(|_| truncated())?);
        let offset = u64_at(h + 8).ok_or_else(truncated)?;
        let filesz = u64_at(h + 32).ok_or_else(truncated)?;
        // PT_LOAD and PT_DYNAMIC must be fully present.
        if (kind == 1 || kind == 2) && offset.saturating_add(filesz) > len {
            return Err(truncated());
        }
    }
    Ok(())
}
