//! `cargo xtask fetch-models`: model packs extracted from PyPI wheels into `<target>/models/`.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::wheel;

/// The basic-pitch release whose wheel carries `nmp.onnx`.
const BASIC_PITCH: &str = "0.4.0";
/// Where the ONNX model sits inside the basic-pitch wheel.
const NMP_ENTRY: &str = "basic_pitch/saved_models/icassp_2022/nmp.onnx";

/// Writes every pack we know how to fetch.
pub fn fetch(target: &Path) -> Result<()> {
    basic_pitch(&target.join("models").join("basic-pitch"))
}

/// The "transcriber" pack: Spotify's basic-pitch ICASSP 2022 model (Apache-2.0).
fn basic_pitch(dir: &Path) -> Result<()> {
    if let (Ok(manifest), Ok(model)) = (fs::read_to_string(dir.join("model.toml")), fs::read(dir.join("nmp.onnx")))
        && manifest.contains(&format!("version = \"{BASIC_PITCH}\""))
        && manifest.contains(&wheel::sha256(&model))
    {
        println!("pack basic-pitch {BASIC_PITCH} already at {}", dir.display());
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let whl = wheel::download(&format!("basic-pitch=={BASIC_PITCH}"), tmp.path())?;
    let whl_bytes = fs::read(&whl)?;
    let (_, model) = wheel::extract(&whl, |n| n == NMP_ENTRY)?;
    let (_, license) =
        wheel::extract(&whl, |n| n.ends_with(".dist-info/LICENSE")).context("basic-pitch wheel has no LICENSE")?;
    let (_, notice) =
        wheel::extract(&whl, |n| n.ends_with(".dist-info/NOTICE")).unwrap_or_else(|_| (String::new(), Vec::new()));
    let model_sha = wheel::sha256(&model);
    let manifest = format!(
        r#"# Counterpart model pack. Written by `cargo xtask fetch-models`.
name = "basic-pitch"
version = "{BASIC_PITCH}"
task = "transcriber"
license = "Apache-2.0"
sample_rate = 22050
description = "Spotify basic-pitch (ICASSP 2022) polyphonic note transcription"

[provenance]
source = "PyPI basic-pitch=={BASIC_PITCH}"
wheel = "{wheel_name}"
wheel_sha256 = "{wheel_sha}"
entry = "{NMP_ENTRY}"
homepage = "https://github.com/spotify/basic-pitch"

[[files]]
path = "LICENSE"
sha256 = "{license_sha}"

[[models]]
key = "nmp"
file = "nmp.onnx"
sha256 = "{model_sha}"

[[models.inputs]]
name = "serving_default_input_2:0"
dtype = "f32"
shape = [-1, 43844, 1]

[[models.outputs]]
name = "StatefulPartitionedCall:2"
role = "onset"
dtype = "f32"
shape = [-1, 172, 88]

[[models.outputs]]
name = "StatefulPartitionedCall:1"
role = "note"
dtype = "f32"
shape = [-1, 172, 88]

[[models.outputs]]
name = "StatefulPartitionedCall:0"
role = "contour"
dtype = "f32"
shape = [-1, 172, 264]
"#,
        wheel_name = whl.file_name().unwrap_or_default().to_string_lossy(),
        wheel_sha = wheel::sha256(&whl_bytes),
        license_sha = wheel::sha256(&license),
    );
    wheel::write_atomic(&dir.join("nmp.onnx"), &model)?;
    wheel::write_atomic(&dir.join("LICENSE"), &license)?;
    if !notice.is_empty() {
        wheel::write_atomic(&dir.join("NOTICE"), &notice)?;
    }
    wheel::write_atomic(&dir.join("model.toml"), manifest.as_bytes())?;
    println!("pack basic-pitch {BASIC_PITCH} -> {} (nmp.onnx sha256 {model_sha})", dir.display());
    Ok(())
}
