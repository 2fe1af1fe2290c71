package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/netresilience/resilience/sim"
)

const simUsage = `usage: resilience sim [flags] [scenario ...]

Runs simulated clients against a simulated upstream on virtual time, through
the library's own retry, budget, breaker, throttle and hedge decisions, and
compares the policy configurations of each scenario: upstream load
amplification, success ratio, latency percentiles, time to recover, peak load.

A scenario is the name of a built-in one or a JSON file (one scenario or an
array of them; start from "resilience sim -dump outage"). With none, the
built-in suite runs. Writes a table per scenario to standard output and an
HTML report with charts to the -html file.

A file is read up to 4 MiB and checked before anything runs: what would not
finish in minutes or fit in 1 GiB (a duration above a year, more than 16
policies, 10,000 clients or 5e8 upstream calls, ...) is refused with the
field and the limit; the README lists the limits.

Flags:
`

// simMain runs the sim subcommand with its arguments; it returns the exit
// status.
func simMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	htmlPath := fs.String("html", "resilience-sim.html", "write the HTML report to this file (empty: none)")
	seed := fs.Uint64("seed", 0, "seed every scenario with this instead of its own seed (0: keep)")
	list := fs.Bool("list", false, "list the built-in scenarios and exit")
	dump := fs.String("dump", "", "print the built-in scenario of this name as JSON and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, simUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case *list:
		for _, s := range sim.Builtins() {
			fmt.Fprintf(stdout, "%-14s %s\n", s.Name, s.Description)
		}
		return 0
	case *dump != "":
		s, ok := sim.Builtin(*dump)
		if !ok {
			fmt.Fprintf(stderr, "resilience sim: no built-in scenario %q (see -list)\n", *dump)
			return 2
		}
		data, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			fmt.Fprintln(stderr, "resilience sim:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", data)
		return 0
	}
	scenarios, err := loadScenarios(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "resilience sim:", err)
		return 2
	}
	if err := simulate(stdout, scenarios, *seed, *htmlPath); err != nil {
		fmt.Fprintln(stderr, "resilience sim:", err)
		return 1
	}
	return 0
}

// loadScenarios returns the scenarios that args name: built-in names or
// JSON files; all built-ins without args.
func loadScenarios(args []string) ([]*sim.Scenario, error) {
	if len(args) == 0 {
		return sim.Builtins(), nil
	}
	var all []*sim.Scenario
	for _, a := range args {
		if s, ok := sim.Builtin(a); ok {
			all = append(all, s)
			continue
		}
		f, err := os.Open(a)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(a, `./\`) {
				return nil, fmt.Errorf("%q is neither a built-in scenario (see -list) nor a file", a)
			}
			return nil, err
		}
		list, err := sim.Parse(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		all = append(all, list...)
	}
	return all, nil
}

// simulate runs the scenarios, writes their tables to w and, if htmlPath is
// not empty, the report to htmlPath. It keeps no result past its scenario:
// the report takes each one's section at once, so the memory of the command
// is that of one run, whatever the number of scenarios.
func simulate(w io.Writer, scenarios []*sim.Scenario, seed uint64, htmlPath string) error {
	var report sim.Report
	for i, s := range scenarios {
		if seed != 0 {
			s.Seed = seed
		}
		res, err := sim.Run(s)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := sim.WriteText(w, res); err != nil {
			return err
		}
		if htmlPath != "" {
			report.Add(res)
		}
	}
	if htmlPath == "" {
		return nil
	}
	f, err := os.Create(htmlPath)
	if err != nil {
		return err
	}
	if _, err := report.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nreport with charts: %s\n", htmlPath)
	return nil
}
