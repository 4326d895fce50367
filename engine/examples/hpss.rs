//! Drums by HPSS alone or refined with onsets, for `scripts/separation/evaluate.py`'s row that
//! shows what the onset step adds: `cargo run --release -p counterpart-engine --example hpss --
//! <input> <drums.wav> [--plain]` (`--plain`: no onset refinement).

use std::path::PathBuf;
use std::process::ExitCode;

use counterpart_engine::separate::decode::load_stereo;
use counterpart_engine::separate::hpss::{self, HpssSettings};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plain = args.iter().any(|a| a == "--plain");
    let paths: Vec<PathBuf> = args.iter().filter(|a| !a.starts_with("--")).map(PathBuf::from).collect();
    let [input, output] = paths.as_slice() else {
        eprintln!("usage: hpss <input audio> <drums.wav> [--plain]");
        return ExitCode::from(2);
    };
    let settings = HpssSettings { onsets: !plain, ..HpssSettings::default() };
    let result = load_stereo(input)
        .and_then(|audio| hpss::separate_drums(&audio, &settings))
        .and_then(|drums| counterpart_engine::wav::write_wav(output, &drums));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
