#!/usr/bin/env bash
# Screenshots the real Counterpart editor: loads the CLAP bundle in the test host with three stems
# placed (two with takes) while a song plays, embeds the editor in an X11 window on a virtual
# screen (Xvfb, Mesa's software GL), types a prompt into it, waits for the preview, presses Enter
# and saves the window as a PNG while the job runs.
#
#   scripts/screenshot-editor.sh [OUTPUT.png]     (default: docs/editor.png)
#
# Bundle: $COUNTERPART_CLAP, else target/test-bundles/Counterpart.clap, else
# target/bundled/Counterpart.clap (build it with `cargo xtask bundle counterpart`).
# Needs: xvfb xauth libgl1 libgl1-mesa-dri (see .ci/setup).
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-docs/editor.png}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

if [[ -z "${COUNTERPART_CLAP:-}" ]]; then
  if [[ -e target/test-bundles/Counterpart.clap ]]; then
    COUNTERPART_CLAP="$PWD/target/test-bundles/Counterpart.clap"
  else
    COUNTERPART_CLAP="$PWD/target/bundled/Counterpart.clap"
  fi
fi
if [[ ! -e "$COUNTERPART_CLAP" ]]; then
  echo "no CLAP bundle at $COUNTERPART_CLAP: build it with \`cargo xtask bundle counterpart\`" >&2
  exit 1
fi
command -v xvfb-run >/dev/null || { echo "xvfb-run not found: apt-get install xvfb xauth" >&2; exit 1; }

export COUNTERPART_CLAP COUNTERPART_SCREENSHOT="$out"
# DISPLAY is dropped so the test runs on the virtual screen even from a desktop session.
env -u DISPLAY xvfb-run -a -s "-screen 0 1024x768x24" \
  cargo test -p counterpart-host-tests --test clap_editor -- --ignored --exact screenshot --nocapture
[[ -s "$out" ]] || { echo "no screenshot was written to $out" >&2; exit 1; }
echo "editor screenshot: $out"
