#!/bin/bash
# Runs every fuzz target briefly (FUZZTIME, default 10s each) so CI exercises them.
# FUZZMINIMIZETIME (default 1s) caps the time spent shrinking each input that
# finds new coverage: with Go's default of 60s, a 10s run of a target whose
# inputs are hundreds of bytes (tar, ELF) spends it shrinking its first find
# and counts almost no executions. A failing input is shrunk for as long too.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-10s}
m=${FUZZMINIMIZETIME:-1s}
log=$(mktemp /tmp/fuzz-short.XXXXXX)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $f ($t, minimize $m)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" -fuzzminimizetime "$m" "$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
  done
done
