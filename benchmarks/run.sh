#!/bin/sh
# run.sh runs the peer benchmarks and regenerates README.md from the results.
# Never edit README.md by hand: change this script and run it again.
#
#   ./run.sh                          # -count 6 -benchtime 500ms, about 5 minutes on 2 cores
#   COUNT=10 BENCHTIME=1s ./run.sh    # longer, steadier run
#
# It needs benchstat: go install golang.org/x/perf/cmd/benchstat@latest
set -eu
cd "$(dirname "$0")"

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-500ms}
BENCHSTAT=${BENCHSTAT:-$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")}
[ -x "$BENCHSTAT" ] || { echo "run.sh: benchstat not found; go install golang.org/x/perf/cmd/benchstat@latest" >&2; exit 1; }

# Scenarios in the order of the README; each is BenchmarkScenario/library.
SCENARIOS="Direct BreakerClosed BreakerClosedParallel BreakerOpen RetrySuccess RetryTransient RetryBreaker
RetryBreakerParallel Stack StackParallel StackNoTimeout Timeout HTTP"
# The gRPC scenarios, in their own section.
GRPC_SCENARIOS="GrpcUnary GrpcServer"
# The adaptive concurrency limit's scenarios, in their own section; each is
# BenchmarkScenario/lib=library.
ADAPTIVE_SCENARIOS="AdaptiveAdmit AdaptiveAdmitParallel AdaptiveDo AdaptiveDoParallel AdaptiveWait"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -run '^$' -bench . -benchmem -count "$COUNT" -benchtime "$BENCHTIME" . | tee results.txt
# What the OpenTelemetry observer adds to a call (module resilienceotel).
(cd ../resilienceotel && go test -run '^$' -bench SuccessfulCall -benchmem -count "$COUNT" -benchtime "$BENCHTIME" .) |
	sed -E 's#^(BenchmarkSuccessfulCall)/([a-z]+)-([0-9]+)#\1/observer=\2-\3#' | tee "$tmp/otel.txt"
# What resiliencegrpc's client interceptor costs by itself: medians of
# ns/op and allocs/op per configuration, as "config ns allocs" lines.
(cd ../resiliencegrpc && go test -run '^$' -bench Interceptor -benchmem -count "$COUNT" -benchtime "$BENCHTIME" .) | tee "$tmp/icpt.raw"
"$BENCHSTAT" -format csv "$tmp/icpt.raw" 2>/dev/null | awk -F, '
	/^$/ { block++; next }
	$1 ~ /^Interceptor\// {
		name = $1; sub(/^Interceptor\//, "", name); sub(/-[0-9]+$/, "", name)
		if (block == 0) { ns[name] = $2 * 1e9; order[++n] = name }
		if (block == 2) allocs[name] = $2
	}
	END { for (k = 1; k <= n; k++) print order[k], ns[order[k]], allocs[order[k]] }' > "$tmp/icpt.txt"
# benchstat groups by key=value sub-names: BenchmarkX/ours-2 becomes BenchmarkX/lib=ours-2
# (the adaptive scenarios name theirs lib=NAME already).
sed -E 's#^(Benchmark[A-Za-z]+)/([^ 	=]+)-([0-9]+)([ 	])#\1/lib=\2-\3\4#' results.txt > "$tmp/named.txt"

# table SCENARIO: markdown table of medians and ratios to ours (or to the
# first library, if ours is absent), and one summary line in $tmp/summary:
#   scenario ours_ns ours_allocs best_peer best_peer_ns [lib=ns ...]
table() {
	grep -E "^Benchmark$1/" "$tmp/named.txt" > "$tmp/s.txt" || return 0
	"$BENCHSTAT" -col /lib -format csv "$tmp/s.txt" 2>/dev/null | awk -F, -v scen="$1" -v summary="$tmp/summary" '
	BEGIN { block = 0; line = 0 }
	/^$/ { if (line > 0) block++; line = 0; next }
	/^(goos|goarch|pkg|cpu):/ { next }
	{
		line++
		if (line == 1) { for (i = 2; i <= NF; i++) if ($i != "") { name[i] = $i; if (block == 0) order[++n] = i } ; next }
		if (line == 2 || $1 == "geomean") next
		for (i in name) if ($i != "") val[block, name[i]] = $i
	}
	END {
		base = ""
		for (k = 1; k <= n; k++) if (name[order[k]] == "ours") base = "ours"
		if (base == "") base = name[order[1]]
		printf "| library | time/op | B/op | allocs/op | time vs %s |\n| --- | ---: | ---: | ---: | ---: |\n", base
		best = ""; bestns = 0; all = ""
		for (k = 1; k <= n; k++) {
			l = name[order[k]]; ns = val[0, l] * 1e9
			r = (l == base) ? "1×" : sprintf("%.2f×", ns / (val[0, base] * 1e9))
			printf "| %s | %s | %d | %d | %s |\n", l, fmt(ns), val[1, l], val[2, l], r
			all = all " " l "=" ns
			if (l !~ /^ours(-|$)/ && l !~ /^bare-/ && l != "direct" && (best == "" || ns < bestns)) { best = l; bestns = ns }
		}
		printf "%s %s %s %s %s%s\n", scen, val[0, "ours"] * 1e9, val[2, "ours"], (best == "" ? "-" : best), bestns, all >> summary
	}
	function fmt(ns) {
		if (ns >= 1e6) return sprintf("%.2f ms", ns / 1e6)
		if (ns >= 1e3) return sprintf("%.2f µs", ns / 1e3)
		return sprintf("%.2f ns", ns)
	}'
}

# httpsig: benchstat's verdict on ours against the bare transport: the change
# and its p-value, or "~" when the difference is not significant.
httpsig() {
	grep -E '^BenchmarkHTTP/lib=(bare-transport|ours)-' "$tmp/named.txt" |
		"$BENCHSTAT" -col '/lib@(bare-transport ours)' -format csv - 2>/dev/null |
		awk -F, '$1 ~ /^HTTP/ { print $6 " " $7; exit }'
}

# adaptivegoal: the Goals section's verdict on the adaptive limit's admitted
# call, from the raw results: the most allocations any run of ours-aimd or
# ours-gradient made per call in the scenario $1.
adaptivegoal() {
	grep -E "^Benchmark$1/lib=ours-(aimd|gradient)-" "$tmp/named.txt" | awk -v scen="$1" '
	{ for (i = 2; i < NF; i++) if ($(i + 1) == "allocs/op" && $i > most) most = $i; n++ }
	END {
		if (n == 0) exit
		printf "| %s | an admitted call through adaptive.Limiter (AIMD and Gradient) allocates nothing | at most %d allocs/op in %d runs | %s |\n",
			scen, most, n, (most == 0 ? "met" : "**missed**: allocates")
	}'
}

# goals: the Goals section's verdicts, one per summary line. the Goals section's verdict for one summary line.
goals() {
	awk '
	function r(x) { return sprintf("%.1f×", x) }
	$1 ~ /^(BreakerClosed|BreakerClosedParallel|RetrySuccess|RetryBreaker|RetryBreakerParallel)$/ {
		x = $5 / $2
		ok = (x >= 10 && $3 == 0)
		printf "| %s | ≥ 10× faster than the best peer, 0 allocs | %s faster than %s; %d allocs/op | %s |\n", $1, r(x), $4, $3,
			(ok ? "met" : ("**missed**" (x < 10 ? sprintf(": %.0f%% of the 10× target", x * 10) : "") ($3 != 0 ? "; allocates" : "")))
	}
	$1 ~ /^(Stack|StackParallel)$/ {
		for (i = 6; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "failsafe-go") fs = kv[2] }
		x = fs / $2
		printf "| %s | ≥ 10× faster than failsafe-go | %s faster; %d allocs/op | %s |\n", $1, r(x), $3,
			(x >= 10 ? "met" : sprintf("**missed**: %.0f%% of the 10× target", x * 10))
	}
	$1 == "HTTP" {
		for (i = 6; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "bare-transport") bare = kv[2] }
		d = ($2 / bare - 1) * 100
		printf "| HTTP | within 3%% of bare http.Transport | %+.1f%% (benchstat: %s) | %s |\n", d, sig,
			(d <= 3 ? "met" : (sig ~ /^~/ ? "**not shown**: over 3% by the medians, but within the noise (benchstat ~); rerun longer" : sprintf("**missed** by %.1f points", d - 3)))
	}' sig="$(httpsig)" "$tmp/summary"
}

: > "$tmp/summary"
{
	cat <<'EOF'
# Peer benchmarks

Generated by `run.sh` — do not edit by hand. The same scenarios run through this module
(`ours`) and its peers in one `go test -bench` run, with the same `//go:noinline` function as
the protected call everywhere; `TestScenariosAgree` checks that every library does what its
scenario says (three attempts in the flaky retry, no call through an open breaker, one request
per GET). Retries are configured with zero delay and three attempts in every library.

Absolute times from a small machine mean little; compare the ratios and the allocations.
The run is short (see `-benchtime` below) so that it ends in a few minutes: treat differences
of a few percent as noise.

## How to run

```sh
cd benchmarks && ./run.sh        # COUNT=10 BENCHTIME=1s ./run.sh for a longer run
```

The raw results are in `results.txt`; compare two runs with `benchstat old.txt results.txt`.

## What a call costs, and why

### The closed breaker

`breaker.Do` on a closed breaker with the default config (consecutive failures, no window, no
slow-call detection) does this per call, and nothing else:

- one check that the caller's context has not ended (`ctx.Err()`, the only interface call
  besides the function itself);
- two atomic loads of the breaker's state word, which packs the state, the generation and the
  count of failures in a row: one admits the call, one after a success sees that there is no
  count to clear (a compare-and-swap follows only after a failure);
- no clock read: this breaker needs no time until a call fails;
- one deferred call, which reports a panic (or `runtime.Goexit`) in the function as a failure:
  Go has no panic-safe way to see a panic that costs less;
- no lock and no allocation.

For comparison, gobreaker's `Execute` takes its mutex twice, reads `time.Now` twice and defers
three calls, so on a machine where clock reads or deferred calls cost more it slows down more
than ours. A breaker with a `Window` reads the monotonic clock on every eighth success (an atomic
add on the others) and takes its lock to count the success in the window; one with `SlowCall`
reads the monotonic clock when a call starts and when it ends.

### In a composition

`resilience.Compose` finds, when it is built, how the executor drives each policy — a retry
decision, a guard (breaker, bulkhead, rate limiter), a scope (the per-attempt timeout), or any
other policy through its `Execute` — so a call makes no type assertion per layer, and a guard
around the caller's function is called straight from the retry's closure. The caller's context
is checked once before the first layer and by the retry executor before each attempt; a layer
right inside them does not check it again, and one inside a guard, which may have waited, does
(`TestComposeChecksTheContextBeforeEachAttempt` and `TestComposeChecksTheContextInsideAGuard` in
the root package). A successful `Compose(retry, breaker)` call thus costs one context check,
three interface calls into the policies (`BeginRetries`, `Enter`, `Exit`), two atomic loads,
one deferred call and no clock read.

### The per-attempt timeout

An attempt through `timeout.Timeout` needs a context whose `Deadline` and `Done` report the
attempt's own deadline, whose `context.Cause` is the timeout's error, and that ends when the
caller's does; only `context.WithDeadline` makes one, and what it costs is the floor. With Go 1.26
on 64-bit Linux that is 4 allocations and 272 bytes per attempt: the context (112 B), its timer
(112 B), the function the timer runs at the deadline (32 B) and the cancel function (16 B); and
two clock reads (the deadline from `time.Now`, then `time.Until`), the timer put into the runtime's
timer heap under a lock and stopped again by cancel, and the collection of those bytes.
The `Timeout` scenario puts it beside its floor, `bare-WithDeadline`; in the `Stack` the timeout
costs the same 4 allocations and 272 bytes, and nothing more, since the executor drives it as a
`resilience.Scope` rather than through `Execute`. That floor alone is most of the `Stack`'s time
(compare `Stack` with `StackNoTimeout`), which is why the `Stack` goal cannot be met while the
attempt's context keeps the context package's semantics. A cheaper context of our own — one that
made its timer only when `Done` is first called — would lose them: `context.Cause` finds the cause
of the context package's own contexts only, and a context derived from one of another type needs
a goroutine or an `AfterFunc` method to follow it. Nor can a context be reused, since the function
may keep it beyond the attempt. When the caller's deadline comes first, the attempt runs with
the caller's context itself, and costs one monotonic clock read and no allocation.

EOF
	echo "## Machine"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- $(go version)"
	echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores (nproc)"
	echo "- command: \`go test -run '^\$' -bench . -benchmem -count $COUNT -benchtime $BENCHTIME\`, medians by benchstat"
	echo "- peers: $(grep -E 'failsafe-go|gobreaker|cenkalti|retry-go|retryablehttp|go-grpc-middleware|google.golang.org/grpc ' go.mod | grep -v '//' | sed -E 's/^[[:space:]]+//' | paste -sd ',' | sed 's/,/, /g')"
	echo
	echo "## Results"
	for s in $SCENARIOS; do
		echo
		echo "### $s"
		echo
		case $s in
		Direct) echo "The floor: the protected function called directly." ;;
		BreakerClosed) echo "Closed circuit breaker, call succeeds." ;;
		BreakerClosedParallel) echo "As BreakerClosed, from every core at once (\`RunParallel\`)." ;;
		BreakerOpen) echo "Open circuit breaker: the call is rejected without running." ;;
		RetrySuccess) echo "Retry policy, the first attempt succeeds. \`retry-go\` is \`DoWithData\`, \`retry-go-Do\` is \`Do\`." ;;
		RetryTransient) echo "Two transient failures, then success, with zero delay: the cost of the retry loop." ;;
		RetryBreaker) echo "Retry around a circuit breaker, call succeeds (ours: \`resilience.Compose(retry, breaker)\`; cenkalti and retry-go nest gobreaker)." ;;
		RetryBreakerParallel) echo "As RetryBreaker, from every core at once." ;;
		Stack) echo "The recommended stack — rate limit, bulkhead, retry with budget, breaker, timeout — with limits that reject nothing, call succeeds." ;;
		StackParallel) echo "As Stack, from every core at once." ;;
		StackNoTimeout) echo "As Stack without the timeout (not a goal; it shows what the per-attempt timeout costs)." ;;
		Timeout) echo "The per-attempt timeout alone, call succeeds (not a goal). \`bare-WithDeadline\` is its floor: \`context.WithDeadline\` and its cancel around the call, with nothing else (see [the per-attempt timeout](#the-per-attempt-timeout))." ;;
		HTTP) echo "GET to a loopback \`httptest\` server, body read and closed, each library on its own \`http.Transport\`. Ours is \`resiliencehttp.NewTransport\` with its default config." ;;
		esac
		echo
		table "$s"
	done
	echo
	echo "## gRPC"
	echo
	echo "A unary call (\`EmptyCall\` of grpc-go's interop TestService) over loopback TCP to a real grpc-go"
	echo "server, which answers at once; each library on a connection of its own. The scenarios run with the"
	echo "others; alone: \`go test -run '^\$' -bench Grpc -benchmem -count $COUNT -benchtime $BENCHTIME\`."
	echo "A call takes tens of microseconds, most of them in the two HTTP/2 stacks and the loopback, so what an"
	echo "interceptor adds to its time is within the noise of one run: compare the allocations."
	for s in $GRPC_SCENARIOS; do
		echo
		echo "### $s"
		echo
		case $s in
		GrpcUnary) echo "The client's side, call succeeds. \`bare-grpc\` is the bare connection; \`ours\` is \`resiliencegrpc.Client\` (\`Config{Retry: retry.Config{MaxAttempts: 3}}\`, through its \`DialOptions\`): its interceptor asks grpc-go for the call's header and trailer, to see whether the call committed and what pushback it carries, and grpc-go allocates to fill them in; \`go-grpc-middleware\` is that library's retry interceptor (\`WithMax(3)\`, no backoff); \`failsafe-go\` the \`failsafegrpc\` client interceptor with a retry policy of three attempts and no delay." ;;
		GrpcServer) echo "The server's side: the same call from a bare client, to servers that shed load through a bulkhead of 10 slots, which the calls, one at a time, never fill. Ours is \`resiliencegrpc.Server\` with \`ServerConfig{Bulkhead}\`, \`failsafe-go\` is \`failsafegrpc.NewUnaryServerInterceptor\` with its bulkhead. Any unary interceptor costs two allocations in the code that grpc-go generates for a method (its \`UnaryServerInfo\` and the handler's closure); ours adds none of its own." ;;
		esac
		echo
		table "$s"
		if [ "$s" = GrpcUnary ]; then
			echo
			echo "What our interceptor itself costs, without grpc-go (an invoker that returns at once), measured by"
			echo "\`cd resiliencegrpc && go test -run '^\$' -bench Interceptor -benchmem -count $COUNT -benchtime $BENCHTIME .\`,"
			echo "and as a share of the bare call's median above:"
			echo
			awk -v bare="$(awk '$1 == "GrpcUnary" { for (i = 6; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "bare-grpc") print kv[2] } }' "$tmp/summary")" '
			BEGIN { print "| interceptor config | time/op | allocs/op | share of a bare call |"; print "| --- | ---: | ---: | ---: |" }
			{ printf "| %s | %.1f ns | %d | %.2f%% |\n", $1, $2, $3, (bare > 0 ? $2 / bare * 100 : 0) }' "$tmp/icpt.txt"
		fi
	done
	echo
	echo "## Adaptive concurrency limit"
	echo
	echo "An admitted call through an adaptive concurrency limit: our \`adaptive.Limiter\` with the AIMD"
	echo "(\`ours-aimd\`) and the Gradient (\`ours-gradient\`) algorithm, both with their default config and an"
	echo "initial limit of 20; our static \`bulkhead.Bulkhead\` of 20 slots (\`ours-bulkhead\`), the reference"
	echo "without an algorithm; and failsafe-go's \`adaptivelimiter\` with limits 1 to 200, 20 at first. One or"
	echo "two goroutines keep at most two calls in flight, so no call is ever rejected (a rejection fails the"
	echo "benchmark), and every release feeds the limit's algorithm. \`TestAdaptiveScenariosAgree\` checks that"
	echo "each library runs the function once per call and ends with nothing in flight."
	echo "Alone: \`go test -run '^\$' -bench Adaptive -benchmem -count $COUNT -benchtime $BENCHTIME . | benchstat -col /lib -\`."
	echo
	echo "platinummonkey/go-concurrency-limits is not in this module: the Go module proxy does not serve it."
	echo "Its one module requires gRPC, the Prometheus client, DataDog's client and go-metrics, though its"
	echo "limiter packages import only the standard library."
	echo
	echo "Where the time of ours goes: an admitted call reads the monotonic clock twice (when it is admitted"
	echo "and when it ends: its latency is what the algorithms learn from), takes the limiter's lock twice,"
	echo "and on release runs the algorithm's step and stores the limit, the calls in flight and the waiters"
	echo "in atomics for reads without the lock. A CPU profile of \`ours-aimd\` and \`ours-gradient\` puts about"
	echo "half of the time in the two clock reads on this machine (a virtual machine on \`kvm-clock\`), and"
	echo "most of the rest in the locks and the atomic stores; the algorithm's step itself is a few percent."
	echo "The bulkhead reads no clock and takes no lock on this path. The two-step form (\`Acquire\`, then"
	echo "\`Permit.Release\`) also issues and spends a pooled mark, so that only a permit's first Release counts."
	for s in $ADAPTIVE_SCENARIOS; do
		echo
		echo "### $s"
		echo
		case $s in
		AdaptiveAdmit) echo "The two-step form, from one goroutine: acquire (ours: \`Limiter.Acquire(ctx)\` and \`Bulkhead.Acquire(ctx)\`; failsafe-go: \`AcquirePermit(ctx)\`), the call, release with its outcome (ours: \`Permit.Release\`; failsafe-go: \`Permit.Record\`)." ;;
		AdaptiveAdmitParallel) echo "As AdaptiveAdmit, from every core at once (\`RunParallel\`)." ;;
		AdaptiveDo) echo "Each library's executor around the call: ours \`adaptive.Do\` and \`bulkhead.Do\`, failsafe-go \`failsafe.With(limiter).Get\`." ;;
		AdaptiveDoParallel) echo "As AdaptiveDo, from every core at once." ;;
		AdaptiveWait) echo "The blocking path: a limit of one call, and two goroutines that take turns; each holds the room until the other waits for it, then releases it, so every call waits and is admitted when the other one's call ends. Ours wait with \`MaxWait\` set, failsafe-go with \`AcquirePermitWithMaxWait\`. The time includes the hand-over between goroutines; compare the allocations." ;;
		esac
		echo
		table "$s"
	done
	echo
	echo "## With OpenTelemetry"
	echo
	echo "What \`resilienceotel\`'s Observer adds to a successful call through \`Compose(retry, bulkhead)\` from"
	echo "every core (one Success and one Admit event recorded): \`none\` without an Observer, \`noop\` with the"
	echo "OpenTelemetry no-op MeterProvider (the Observer is then nil: policies pay a nil check), \`sdk\`"
	echo "with the SDK's MeterProvider and a reader. Command: \`cd resilienceotel && go test -run '^\$' -bench"
	echo "SuccessfulCall -benchmem -count $COUNT -benchtime $BENCHTIME .\`."
	echo
	echo '```'
	"$BENCHSTAT" -col /observer "$tmp/otel.txt" 2>/dev/null || true
	echo '```'
	echo
	echo "## Goals"
	echo
	echo "Computed from the medians above (same run). A peer's \"best\" is the fastest peer in that scenario."
	echo "A ratio within about 15% of its threshold can land on either side of it from one run to the next"
	echo "on this machine; the verdicts below are this run's."
	echo
	echo "| scenario | goal | result | verdict |"
	echo "| --- | --- | --- | --- |"
	goals
	for s in AdaptiveAdmit AdaptiveAdmitParallel AdaptiveDo AdaptiveDoParallel; do adaptivegoal "$s"; done
	echo
	echo "Full benchstat output, with confidence intervals, for each scenario:"
	echo
	echo '```'
	for s in $SCENARIOS $ADAPTIVE_SCENARIOS; do
		grep -E "^Benchmark$s/" "$tmp/named.txt" | "$BENCHSTAT" -col /lib - 2>/dev/null || true
		echo
	done
	echo '```'
} > README.md.new
mv README.md.new README.md
echo "run.sh: wrote README.md" >&2
