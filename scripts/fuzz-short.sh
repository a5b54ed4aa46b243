#!/bin/bash
# Runs every fuzz target briefly (FUZZTIME, default 10s each) so CI exercises them.
# FUZZMINIMIZETIME (default 1s) caps the time spent shrinking each input that
# finds new coverage: with Go's default of 60s, a 10s run of a target whose
# inputs are hundreds of bytes (tar, ELF) spends it shrinking its first find
# and counts almost no executions. A failing input is shrunk for as long too.
#
# Go 1.26's fuzz coordinator has a race at the end of a -fuzztime duration
# (go.dev/issue/75804, fixed in Go 1.27): when the deadline fires, it can
# report the deadline itself as the target's failure, "--- FAIL: FuzzX (10.2s)"
# followed by "context deadline exceeded" and nothing else, with no failing
# input written. CI hit it once (FuzzSplitStatus, under load). A run that fails
# in exactly that way, and in no other, is run again, up to RETRIES times;
# any other failure, and any failure that wrote an input, fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-10s}
m=${FUZZMINIMIZETIME:-1s}
retries=${RETRIES:-2}
log=$(mktemp /tmp/fuzz-short.XXXXXX)
trap 'rm -f "$log"' EXIT

# corpus_count DIR TARGET: how many inputs testdata/fuzz/TARGET holds.
corpus_count() {
  if [ -d "$1/testdata/fuzz/$2" ]; then find "$1/testdata/fuzz/$2" -type f | wc -l; else echo 0; fi
}

# deadline_race LOG TARGET: whether LOG is the coordinator's race and nothing
# else: the target's FAIL line is followed by the bare deadline error, it is
# the only FAIL line, and no failing input was written.
deadline_race() {
  grep -q 'Failing input written' "$1" && return 1
  [ "$(grep -c -- '--- FAIL:' "$1")" = 1 ] || return 1
  awk -v f="--- FAIL: $2 (" '
    index($0, f) == 1 { if ((getline next_line) > 0 && next_line == "    context deadline exceeded") found = 1 }
    END { exit !found }' "$1"
}

for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    for try in $(seq 0 "$retries"); do
      echo "fuzz $pkg $f ($t, minimize $m)"
      before=$(corpus_count "$dir" "$f")
      if go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" -fuzzminimizetime "$m" "$pkg" >"$log" 2>&1; then
        break
      fi
      cat "$log"
      if [ "$try" -lt "$retries" ] && [ "$(corpus_count "$dir" "$f")" = "$before" ] && deadline_race "$log" "$f"; then
        echo "fuzz: $f failed only with Go's fuzztime race (go.dev/issue/75804), no input written; running it again"
        continue
      fi
      exit 1
    done
  done
done
