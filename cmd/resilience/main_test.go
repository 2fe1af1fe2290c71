package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestDemo runs the demo against its real loopback server, without waits, and
// checks what it reports for each situation.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	set := settings{backoff: backoff.Exponential{Base: 1, Max: 1, Jitter: backoff.NoJitter}, retryAfter: 0}
	if err := demo(&out, set); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		`result: "hello" after 3 attempt(s)`,
		"connection reset by peer (transient)",
		`result: "hello again" after 2 attempt(s)`,
		"429 Too Many Requests (retry after 0s) (transient)",
		`result: "worth the wait" after 2 attempt(s)`,
		"attempt 1: protocol error: 404 Not Found (permanent)\n  result: failed after 1 attempt(s)",
		"result: failed after 4 attempt(s)",
		"retry: gave up after 4 attempts (attempts exhausted): network error: 503 Service Unavailable",
		"call 2: network error: 503 Service Unavailable; breaker closed\n",
		"call 3: network error: 503 Service Unavailable; breaker open\n",
		`call 4: rejected at once, breaker "down-service" is open; probe allowed in 30s`,
		"result: 3 of 5 calls reached the server",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q; output:\n%s", want, text)
		}
	}
}

// TestSim runs the sim subcommand on a built-in scenario and on a file, and
// checks its table, its report and that a second run writes the same bytes.
func TestSim(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var out, errs bytes.Buffer
	if code := simMain([]string{"-html", page, "herd"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	text := out.String()
	for _, want := range []string{"== herd", "no jitter", "full jitter", "ampl: calls per request", "report with charts: " + page} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	first, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(first, []byte("<!DOCTYPE html>")) || !bytes.Contains(first, []byte("<svg")) {
		t.Fatalf("the report is not a page with charts: %.200s", first)
	}
	out.Reset()
	if code := simMain([]string{"-html", page, "herd"}, &out, &errs); code != 0 || out.String() != text {
		t.Fatalf("a second run differs (exit %d)", code)
	}
	if second, _ := os.ReadFile(page); !bytes.Equal(first, second) {
		t.Fatal("a second run wrote a different report")
	}

	// -dump gives a file that runs, and -seed changes the draws.
	out.Reset()
	if code := simMain([]string{"-dump", "herd"}, &out, &errs); code != 0 {
		t.Fatalf("-dump: exit %d: %s", code, errs.String())
	}
	file := filepath.Join(dir, "herd.json")
	if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := simMain([]string{"-html", "", file}, &out, &errs); code != 0 || out.String() != strings.TrimSuffix(text, "\nreport with charts: "+page+"\n") {
		t.Fatalf("the dumped scenario runs differently (exit %d):\n%s\nwant:\n%s", code, out.String(), text)
	}
	out.Reset()
	if code := simMain([]string{"-html", "", "-seed", "99", file}, &out, &errs); code != 0 || out.String() == strings.TrimSuffix(text, "\nreport with charts: "+page+"\n") {
		t.Fatalf("-seed 99 gave the same table (exit %d)", code)
	}
}

// TestSimBadInput checks that mistakes give a clear message and exit 2.
func TestSimBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"Name": "x", "Duration": "1m", "Load": {"Rate": -5}, "Policies": [{"Name": "p"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"no-such-scenario"}, "neither a built-in scenario"},
		{[]string{"./missing.json"}, "no such file"},
		{[]string{bad}, "Load.Rate"},
		{[]string{"-dump", "nope"}, "no built-in scenario"},
		{[]string{"-nope"}, "flag provided but not defined"},
	} {
		var out, errs bytes.Buffer
		code := simMain(c.args, &out, &errs)
		if code != 2 || !strings.Contains(errs.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and %q", c.args, code, errs.String(), c.want)
		}
	}
	var out, errs bytes.Buffer
	if code := simMain([]string{"-list"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "outage") || !strings.Contains(out.String(), "herd") {
		t.Errorf("-list: exit %d: %s", code, out.String())
	}
}

// TestSimInputLimit checks that the sim subcommand reads no more of a
// scenario file than its limit, and says so: a file of 5 MiB, and
// /dev/zero, which never ends.
func TestSimInputLimit(t *testing.T) {
	// A sparse file: its 5 MiB of zero bytes are never written, only read.
	big := filepath.Join(t.TempDir(), "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Truncate(5<<20), f.Close()); err != nil {
		t.Fatal(err)
	}
	files := []string{big}
	if _, err := os.Stat("/dev/zero"); err == nil {
		files = append(files, "/dev/zero")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var out, errs bytes.Buffer
			code := simMain([]string{"-html", "", f}, &out, &errs)
			if want := "the input is above the limit of 4 MiB"; code != 2 || !strings.Contains(errs.String(), want) {
				t.Errorf("exit %d, %q; want exit 2 and %q", code, errs.String(), want)
			}
		})
	}
}
