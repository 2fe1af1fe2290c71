#!/usr/bin/env bash
# Runs every check of the project over every Go module in the repository:
# gofmt, go vet, and go test with the race detector (tests, examples, and one
# pass of every benchmark so that benchmarks cannot rot).
#
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The race detector needs cgo and a C compiler. Where there is none (a machine
# with only Go installed), run the tests without it and say so.
race=-race
cc=$(go env CC)
if [ "$(go env CGO_ENABLED)" != 1 ] || ! command -v "${cc%% *}" >/dev/null 2>&1; then
  echo "scripts/test.sh: no C compiler for cgo, so no race detector: running the tests without -race" >&2
  race=
fi

status=0
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files are not formatted:" >&2
  echo "$unformatted" >&2
  status=1
fi

for mod in $(find . -name go.mod -not -path './.git/*' | sort); do
  dir=$(dirname "$mod")
  echo "== module $dir"
  (
    cd "$dir"
    export GOWORK=off
    go vet ./...
    go test $race -count=1 -bench=. -benchtime=1x ./...
  ) || status=1
done

if [ "$status" -ne 0 ]; then
  echo "FAILED" >&2
fi
exit "$status"
