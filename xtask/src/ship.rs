//! After `bundle`: copies ONNX Runtime and the default model packs into both plugin bundles, so
//! an installed plugin runs its models with nothing else on the machine.
//!
//! - `Counterpart.vst3/Contents/Resources/` gets `libonnxruntime.so` and `models/`.
//! - `Counterpart.clap` is a single file, so they go to a `Counterpart/` folder beside it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The runtime library's file name inside the bundles.
const RUNTIME: &str = "libonnxruntime.so";

/// Copies the shipped parts from `<target>/onnxruntime` and `<target>/models` into every
/// bundle in `<target>/bundled`; warns (and ships nothing) when `cargo xtask setup` has not run.
pub fn ship(target: &Path) -> Result<()> {
    let runtime = target.join("onnxruntime").join(RUNTIME);
    let models = target.join("models");
    if !runtime.is_file() || !models.is_dir() {
        eprintln!(
            "warning: the bundles carry no model runtime or packs: run `cargo xtask setup` first, then bundle again"
        );
        return Ok(());
    }
    let bundled = target.join("bundled");
    for entry in fs::read_dir(&bundled).with_context(|| format!("reading {}", bundled.display()))? {
        let path = entry?.path();
        let destination = match path.extension().and_then(|e| e.to_str()) {
            Some("vst3") => path.join("Contents").join("Resources"),
            Some("clap") => sibling_folder(&path)?,
            _ => continue,
        };
        fs::create_dir_all(&destination)?;
        fs::copy(&runtime, destination.join(RUNTIME))
            .with_context(|| format!("copying the runtime into {}", destination.display()))?;
        copy_dir(&models, &destination.join("models"))?;
        println!("Shipped ONNX Runtime and model packs in {}", destination.display());
    }
    Ok(())
}

/// `Counterpart/` beside `Counterpart.clap`. nice-plug-xtask also writes a standalone binary of
/// that name when it finds one (our `counterpart` CLI); the CLAP's parts win that name.
fn sibling_folder(clap: &Path) -> Result<PathBuf> {
    let folder = clap.with_extension("");
    if folder.is_file() {
        fs::remove_file(&folder)?;
    }
    Ok(folder)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        fs::remove_dir_all(to)?;
    }
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
