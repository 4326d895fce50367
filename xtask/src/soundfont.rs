//! `cargo xtask fetch-soundfont`: the General MIDI SoundFont that renders MIDI stems to audio,
//! FluidR3 GM (MIT) from Debian's `fluid-soundfont-gm`, into `<target>/soundfonts/`.
//! Uses the installed copy when there is one; otherwise `apt-get download` (no root needed).

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

const FILE: &str = "FluidR3_GM.sf2";
const SYSTEM: &str = "/usr/share/sounds/sf2/FluidR3_GM.sf2";
const PACKAGE: &str = "fluid-soundfont-gm";

/// Makes `<target>/soundfonts/FluidR3_GM.sf2` available.
pub fn fetch(target: &Path) -> Result<()> {
    let dir = target.join("soundfonts");
    let dest = dir.join(FILE);
    if dest.is_file() {
        println!("SoundFont {FILE} already at {}", dest.display());
        return Ok(());
    }
    fs::create_dir_all(&dir)?;
    if Path::new(SYSTEM).is_file() {
        let _ = fs::remove_file(&dest);
        std::os::unix::fs::symlink(SYSTEM, &dest).context("linking the installed SoundFont")?;
        println!("SoundFont {FILE} -> {SYSTEM} (installed copy)");
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let download = Command::new("apt-get").args(["download", PACKAGE]).current_dir(tmp.path()).status();
    if !download.is_ok_and(|s| s.success()) {
        bail!("`apt-get download {PACKAGE}` failed: run `apt-get update` (or install {PACKAGE}) and try again");
    }
    let deb = fs::read_dir(tmp.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("apt-get download produced no .deb")?;
    let unpacked = tmp.path().join("unpacked");
    let status = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked).status()?;
    if !status.success() {
        bail!("dpkg-deb could not unpack {}", deb.display());
    }
    let found = unpacked.join(SYSTEM.trim_start_matches('/'));
    fs::copy(&found, &dest).with_context(|| format!("{} has no {FILE}", deb.display()))?;
    println!("SoundFont {FILE} -> {}", dest.display());
    Ok(())
}
