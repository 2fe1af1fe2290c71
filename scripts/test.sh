#!/usr/bin/env bash
# Runs every check of the project over every Go module in the repository:
# gofmt; then, module by module, two at a time (every folder with a go.mod, the
# broker tests' brokertest among them), go vet, and the tests (examples and
# fuzz seeds included) with one pass of every benchmark, under the race
# detector, so that benchmarks cannot rot. It ends with a summary.
#
# Usage: scripts/test.sh            every check
#        scripts/test.sh -v         the same, printing every test's output
#
# Benchmarks run once each (-benchtime=1x), in the same go test as the tests
# and so under the race detector too (one build of each package instead of
# two): the pass only proves that they run; their figures mean nothing (see
# benchmarks/README.md for measured figures). Their output is kept in
# $TMPDIR and printed only when something fails.
set -uo pipefail
cd "$(dirname "$0")/.."

verbose=
[ "${1:-}" = "-v" ] && verbose=-v

# The race detector needs cgo and a C compiler. Where there is none (a machine
# with only Go installed), run the tests without it and say so.
race=-race
racenote="on"
cc=$(go env CC)
if [ "$(go env CGO_ENABLED)" != 1 ] || ! command -v "${cc%% *}" >/dev/null 2>&1; then
  echo "scripts/test.sh: no C compiler for cgo, so no race detector: running the tests without -race" >&2
  race=
  racenote="off (no C compiler for cgo)"
fi

# The broker tests (module brokertest) run a real mosquitto. Install it where
# it is missing and a package manager is at hand (Debian's apt-get, as root or
# through sudo without a password); elsewhere those tests skip themselves, or
# fail when CI is "true".
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ] && command -v apt-get >/dev/null 2>&1; then
  asroot=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 && asroot="sudo -n"
  fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$asroot" ]; then
    echo "scripts/test.sh: installing mosquitto for the broker tests" >&2
    { $asroot apt-get install -y -qq mosquitto || { $asroot apt-get update -qq && $asroot apt-get install -y -qq mosquitto; }; } >/dev/null 2>&1 ||
      echo "scripts/test.sh: could not install mosquitto: its tests will skip (or fail, with CI=true)" >&2
  fi
fi

# The fleet tests (module resilienceredis) run a real redis-server. Install
# it where it is missing and a package manager is at hand, in the same way;
# elsewhere those tests skip themselves, or fail when CI is "true".
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ] && command -v apt-get >/dev/null 2>&1; then
  asroot=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 && asroot="sudo -n"
  fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$asroot" ]; then
    echo "scripts/test.sh: installing redis-server for the fleet tests" >&2
    { $asroot apt-get install -y -qq redis-server || { $asroot apt-get update -qq && $asroot apt-get install -y -qq redis-server; }; } >/dev/null 2>&1 ||
      echo "scripts/test.sh: could not install redis-server: its tests will skip (or fail, with CI=true)" >&2
  fi
fi

# The browser tests (module browsertest) drive a headless Chromium. Install
# Debian's chromium where it is missing and a package manager is at hand, in
# the same way; elsewhere those tests skip themselves, or fail when CI is
# "true".
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  asroot=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 && asroot="sudo -n"
  fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$asroot" ]; then
    echo "scripts/test.sh: installing chromium for the browser tests" >&2
    { $asroot apt-get install -y -qq chromium || { $asroot apt-get update -qq && $asroot apt-get install -y -qq chromium; }; } >/dev/null 2>&1 ||
      echo "scripts/test.sh: could not install chromium: its tests will skip (or fail, with CI=true)" >&2
  fi
fi

export GOWORK=off
start=$(date +%s)
logdir=$(mktemp -d)
summary=()
status=0

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files are not formatted:" >&2
  echo "$unformatted" >&2
  summary+=("gofmt                 FAILED")
  status=1
else
  summary+=("gofmt                 ok")
fi

# step NAME LOG COMMAND...: runs COMMAND with its output in LOG, and prints the
# output if it fails (or always, with -v). Returns the command's status.
step() {
  local log=$2
  shift 2
  if "$@" >"$log" 2>&1; then
    [ -n "$verbose" ] && cat "$log"
    return 0
  fi
  cat "$log"
  return 1
}

# Modules are tested two at a time (TEST_JOBS, default the number of CPUs, at
# most 2): a module's run is compiling (all CPU) part of the time and waiting
# on real sockets, servers and timers the rest, so two overlap well. Each
# module's output is kept apart and printed whole when it ends. The root module,
# the longest, starts first.
jobs=${TEST_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
[ "$jobs" -gt 2 ] 2>/dev/null && jobs=2
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1

# module DIR: vet, test and benchmark one module; writes its summary line to
# $logdir/<name>.summary, and 0 (every step passed) or 1 to <name>.rc.
module() {
  local dir=$1 name log vet=ok tests=ok bench=ok rc=0 t0 n pkgs
  name=${dir#./}
  [ "$name" = "." ] && name="(root)"
  log="$logdir/$(echo "$name" | tr '/()' '___')"
  t0=$(date +%s)
  (cd "$dir" && step vet "$log.vet" go vet ./...) || { vet=FAILED; rc=1; }
  (cd "$dir" && step test "$log.test" go test $race $verbose -count=1 -bench . -benchtime 1x ./...) || { tests=FAILED; rc=1; }
  [ -z "$verbose" ] && grep -E '^(ok|FAIL|---)' "$log.test" | grep -v '^ok' || true
  grep -q -- '--- FAIL: Benchmark' "$log.test" && bench=FAILED
  n=$(grep -c '^Benchmark' "$log.test" || true)
  pkgs=$(grep -c '^ok' "$log.test" || true)
  printf '%-20s  vet %-6s  tests %-6s (%s packages)  benchmarks %-6s (%s run once)  %ss\n' \
    "$name" "$vet" "$tests" "$pkgs" "$bench" "$n" "$(( $(date +%s) - t0 ))" >"$log.summary"
  echo "$rc" >"$log.rc"
}

mods=$( { echo .; find . -name go.mod -not -path './.git/*' -not -path './go.mod' -exec dirname {} \; | sort; } )
for dir in $mods; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "== module $dir (started)"
  module "$dir" >"$logdir/out.$(echo "$dir" | tr '/.' '__')" 2>&1 &
done
wait
for dir in $mods; do
  name=${dir#./}
  [ "$name" = "." ] && name="(root)"
  log="$logdir/$(echo "$name" | tr '/()' '___')"
  echo "== module $dir"
  cat "$logdir/out.$(echo "$dir" | tr '/.' '__')"
  [ "$(cat "$log.rc" 2>/dev/null)" = 0 ] || status=1
  summary+=("$(cat "$log.summary" 2>/dev/null || echo "$name  did not finish")")
done

echo
echo "== summary (race detector $racenote; benchmarks once each, in the tests' run; $jobs modules at a time)"
printf '%s\n' "${summary[@]}"
echo "total $(( $(date +%s) - start ))s"
rm -rf "$logdir"
if [ "$status" -ne 0 ]; then
  echo "FAILED" >&2
else
  echo "PASSED"
fi
exit "$status"
