#!/usr/bin/env bash
# Headless Ardour 7 session round trip of Counterpart's state (VST3).
#
#   tests/vst3/ardour_roundtrip.sh [BUNDLE.vst3]
#
# 1. ardour7-lua: new 48 kHz session, stereo track, insert Counterpart, set "Stem 1 Gain" to
#    0.5 (Ardour's VST3 units = the plugin's plain value, here linear gain = -6 dB), save, close.
# 2. The saved <vst3><chunk> must carry gain_1 = 0.5; its project field is replaced by an audio
#    stem (slot 1, beat 8, audio in the COUNTERPART_CACHE folder) and a MIDI stem (slot 2).
# 3. A second ardour7-lua run reopens the session (COUNTERPART_CACHE exported, so the plugin can
#    load the audio), checks "Stem 1 Gain" and saves it again as "<name>-reopened".
# 4. The re-saved chunk's project must equal the injected one (both stems, placement, notes,
#    audio reference) and gain_1 must still be 0.5.
#
# Environment: COUNTERPART_VST3 (bundle, default <repo>/target/bundled/Counterpart.vst3),
#   PYTHON (default python3; needs numpy), ARDOUR_LUA (default /usr/bin/ardour7-lua),
#   WORKDIR (default mktemp -d), KEEP=1 keeps WORKDIR.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
die() { echo "FAIL: $*" >&2; exit 1; }

BUNDLE="${1:-${COUNTERPART_VST3:-$REPO/target/bundled/Counterpart.vst3}}"
[[ -d "$BUNDLE" ]] || die "bundle $BUNDLE not found"
BUNDLE="$(readlink -f "$BUNDLE")"
PLUGIN_NAME=Counterpart RATE=48000 LABEL="Stem 1 Gain" PARAM_ID=gain_1 VALUE=0.5
EXPECT="Bypass,Stem 1 Gain,Stem 1 Mute,Stem 1 Solo,Stem 1 Route,Stem 16 Gain"
ARDOUR_LUA="${ARDOUR_LUA:-/usr/bin/ardour7-lua}"
SCANNER=/usr/lib/ardour7/ardour-vst3-scanner
[[ -x "$ARDOUR_LUA" && -x "$SCANNER" ]] || die "Ardour 7 not installed (apt-get install ardour)"
PY="${PYTHON:-python3}"

WORKDIR="${WORKDIR:-$(mktemp -d /tmp/counterpart-ardour.XXXXXX)}"
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$WORKDIR"' EXIT
# Private HOME: Ardour writes ~/.config/ardour7 and the VST3 scan cache ~/.cache/ardour7/vst.
export HOME="$WORKDIR/home" XDG_CONFIG_HOME="$WORKDIR/home/.config" XDG_CACHE_HOME="$WORKDIR/home/.cache"
export COUNTERPART_CACHE="$WORKDIR/cache"
mkdir -p "$HOME" "$COUNTERPART_CACHE" "$WORKDIR/vst3" "$WORKDIR/log"
# ardour7-lua finds a VST3 only in its search path (system dirs or VST3_PATH; not ~/.vst3)
# AND in the scan cache, so the bundle is symlinked into a private VST3_PATH dir and scanned.
ln -sfn "$BUNDLE" "$WORKDIR/vst3/Counterpart.vst3"
export VST3_PATH="$WORKDIR/vst3"
SESSION_DIR="$WORKDIR/session" SESSION=counterpart_rt log="$WORKDIR/log"

t0=$(date +%s.%N)
LD_LIBRARY_PATH=/usr/lib/ardour7 "$SCANNER" -f "$WORKDIR/vst3/Counterpart.vst3" >"$log/scan.txt" 2>&1 || true
grep -q "Found Plugin" "$log/scan.txt" || { cat "$log/scan.txt"; die "ardour-vst3-scanner did not find the plugin"; }

run_lua() {  # mode
  local out="$log/$1.txt" rc=0
  RT_MODE="$1" RT_DIR="$SESSION_DIR" RT_NAME="$SESSION" RT_RATE="$RATE" RT_PLUGIN="$PLUGIN_NAME" \
  RT_LABEL="$LABEL" RT_VALUE="$VALUE" RT_EXPECT="$EXPECT" \
    timeout 120 "$ARDOUR_LUA" "$HERE/ardour_session.lua" >"$out" 2>&1 || rc=$?
  grep -E "^(INFO|SET|SAVED|REOPENED|OK|FAIL)" "$out" || true
  grep -q "^OK: $1" "$out" || { echo "---- $out (tail)"; tail -20 "$out"; die "ardour7-lua $1 failed (rc=$rc)"; }
}

run_lua create
t1=$(date +%s.%N)
"$PY" "$HERE/ardour_chunk.py" inject-stems "$SESSION_DIR/$SESSION.ardour" "$PLUGIN_NAME" \
  "$COUNTERPART_CACHE" "$WORKDIR/expected_project.json" "$PARAM_ID" "$VALUE"
run_lua verify
t2=$(date +%s.%N)
"$PY" "$HERE/ardour_chunk.py" show "$SESSION_DIR/$SESSION-reopened.ardour" "$PLUGIN_NAME"
"$PY" "$HERE/ardour_chunk.py" check "$SESSION_DIR/$SESSION-reopened.ardour" "$PLUGIN_NAME" \
  "$WORKDIR/expected_project.json" "$PARAM_ID" "$VALUE"
awk -v a="$t0" -v b="$t1" -v c="$t2" \
  'BEGIN{printf "PASS: Ardour round trip (scan+create %.1fs, inject+reopen+save %.1fs)\n", b-a, c-b}'
[[ "${KEEP:-0}" == 1 ]] && echo "kept $WORKDIR"
exit 0
