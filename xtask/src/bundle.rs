//! `cargo xtask bundle`: nice-plug-xtask's bundling, plus the runtime and packs inside.
//!
//! nice-plug-xtask also makes a standalone app when it finds a binary named like the package in
//! the target folder; our `counterpart` CLI is such a binary, so it is moved aside while the
//! plugin is bundled (and always moved back).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::ship;

/// Bundles with nice-plug-xtask, then ships ONNX Runtime and the model packs into the bundles.
pub fn bundle(target: &Path, args: &[String]) -> Result<()> {
    let _aside = MovedAside::new(target.join(profile_dir(args)).join("counterpart"));
    nice_plug_xtask::main()?;
    ship::ship(target)
}

/// The target sub-folder the bundle arguments build into.
fn profile_dir(args: &[String]) -> String {
    let mut dir = "debug".to_string();
    for (i, arg) in args.iter().enumerate() {
        match arg.as_str() {
            "--release" => dir = "release".into(),
            "--profile" => dir = args.get(i + 1).cloned().unwrap_or(dir),
            other => {
                if let Some(profile) = other.strip_prefix("--profile=") {
                    dir = profile.into();
                }
            }
        }
    }
    if dir == "dev" { "debug".into() } else { dir }
}

/// A file renamed out of the way until this guard is dropped.
struct MovedAside {
    original: PathBuf,
    aside: PathBuf,
}

impl MovedAside {
    fn new(original: PathBuf) -> Option<Self> {
        let aside = original.with_extension("cli-aside");
        fs::rename(&original, &aside).ok()?;
        Some(Self { original, aside })
    }
}

impl Drop for MovedAside {
    fn drop(&mut self) {
        let _ = fs::rename(&self.aside, &self.original);
    }
}
