//! Keeps the OpenGL driver loaded once the editor has drawn with it.
//!
//! Closing the editor drops its GL context, and libglvnd and Mesa then unload the driver
//! (`swrast_dri.so`, `libEGL_mesa.so`, `libgallium`, ...). LLVM, which Mesa's llvmpipe and radeonsi
//! drivers run on, is never unloaded (it is linked `NODELETE`) and is still finalised when the
//! host process exits, after the driver's code is gone: the host can crash on exit, long after the
//! editor closed (an instruction fetch from an unmapped address on the main thread; see
//! llvm/llvm-project#60361). Pinning the driver's libraries the first time the editor opens keeps
//! their code mapped for the life of the process, as it is in an application that links GL.

/// File names (or their starts) of the libraries that make up a Linux GL driver stack.
#[cfg(target_os = "linux")]
const GL_LIBRARIES: [&str; 8] =
    ["libEGL", "libGL", "libglapi", "libgallium", "libgbm", "libnvidia-egl", "libnvidia-gl", "libnvidia-glcore"];

/// Whether `path` is a library of the GL driver stack.
#[cfg(target_os = "linux")]
pub fn is_gl_library(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.contains("_dri.so") || GL_LIBRARIES.iter().any(|prefix| name.starts_with(prefix))
}

/// Marks every GL driver library loaded now as never to be unloaded; returns how many were
/// pinned. Cheap (one pass over the loaded libraries); call it once a GL context exists.
#[cfg(target_os = "linux")]
pub fn keep_gl_driver_loaded() -> usize {
    use std::ffi::{CStr, CString, c_int, c_void};

    unsafe extern "C" fn collect(info: *mut libc::dl_phdr_info, _size: libc::size_t, data: *mut c_void) -> c_int {
        // SAFETY: `dl_iterate_phdr` passes a valid `info` and the `data` given below.
        let (info, names) = unsafe { (&*info, &mut *data.cast::<Vec<CString>>()) };
        if !info.dlpi_name.is_null() {
            // SAFETY: `dlpi_name` is a NUL-terminated string owned by the loader.
            let name = unsafe { CStr::from_ptr(info.dlpi_name) };
            if is_gl_library(&name.to_string_lossy()) {
                names.push(name.to_owned());
            }
        }
        0
    }

    let mut names: Vec<CString> = Vec::new();
    // SAFETY: `collect` only reads the entries it is given and pushes into `names`, which
    // outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(collect), (&raw mut names).cast()) };
    names
        .iter()
        .filter(|name| {
            // RTLD_NOLOAD: only an already loaded library is touched (nothing new is loaded);
            // RTLD_NODELETE: it stays mapped until the process exits. The handle is kept open on
            // purpose.
            // SAFETY: `name` is a NUL-terminated path of a library that is loaded right now.
            let handle =
                unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD | libc::RTLD_NODELETE) };
            !handle.is_null()
        })
        .count()
}

/// Nothing to pin outside Linux.
#[cfg(not(target_os = "linux"))]
pub fn keep_gl_driver_loaded() -> usize {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_mesa_and_glvnd_libraries_count_as_the_gl_driver_and_others_do_not() {
        for path in [
            "/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so",
            "/lib/x86_64-linux-gnu/libEGL_mesa.so.0",
            "/lib/x86_64-linux-gnu/libEGL.so.1",
            "/lib/x86_64-linux-gnu/libGLdispatch.so.0",
            "/lib/x86_64-linux-gnu/libglapi.so.0",
            "/usr/lib/libgallium-24.2.so",
        ] {
            assert!(is_gl_library(path), "{path}");
        }
        for path in ["/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libLLVM-15.so.1", "libX11.so.6", ""] {
            assert!(!is_gl_library(path), "{path}");
        }
    }
}
