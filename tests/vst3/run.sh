#!/usr/bin/env bash
# Counterpart's real-host VST3 tests: pedalboard, DawDreamer (pytest) and a headless Ardour 7
# session round trip.
#
#   tests/vst3/run.sh [BUNDLE.vst3]      (default: $COUNTERPART_VST3, else target/bundled/Counterpart.vst3)
#
# Needs: python3 on PATH with pedalboard==0.9.26 dawdreamer==0.9.0 numpy pytest (PYTHON=... to
# use another interpreter); apt ardour (ardour7-lua, ardour-vst3-scanner). No X server needed.
# Prints a timing summary; exits non-zero if any part fails.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUNDLE="${1:-${COUNTERPART_VST3:-$REPO/target/bundled/Counterpart.vst3}}"
[[ -d "$BUNDLE" ]] || { echo "FAIL: VST3 bundle $BUNDLE not found" >&2; exit 2; }
export COUNTERPART_VST3="$(readlink -f "$BUNDLE")"
export PYTHON="${PYTHON:-python3}" PYTHONDONTWRITEBYTECODE=1
echo "Counterpart VST3 host tests: $COUNTERPART_VST3 (python: $(command -v "$PYTHON"))"

rc=0; summary=()
step() {
  local name=$1; shift
  echo; echo "=== $name"
  local t0 r t1; t0=$(date +%s.%N); "$@"; r=$?; t1=$(date +%s.%N)
  summary+=("$(printf '  %-12s %-4s %6.1fs' "$name" "$([[ $r == 0 ]] && echo PASS || echo FAIL)" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')")")
  [[ $r == 0 ]] || rc=1
}
t_all=$(date +%s.%N)
cd "$HERE"
step pedalboard "$PYTHON" -m pytest -q -rs test_pedalboard.py
step dawdreamer "$PYTHON" -m pytest -q -rs test_dawdreamer.py
step ardour "$HERE/ardour_roundtrip.sh" "$COUNTERPART_VST3"
echo; echo "=== summary"
printf '%s\n' "${summary[@]}"
awk -v a="$t_all" -v b="$(date +%s.%N)" -v rc=$rc \
  'BEGIN{printf "  %-12s %-4s %6.1fs\n", "total", (rc == 0 ? "PASS" : "FAIL"), b-a}'
exit $rc
