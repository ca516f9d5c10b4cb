package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// benchFlags are what the memory and rate benchmarks share: which trackers.
type benchFlags struct {
	binary, against string
	runs            int
}

// check refuses a bad command line before anything is pinned or started.
func (bf *benchFlags) check() error {
	if bf.runs < 1 || bf.runs > 100 {
		return usageErr{fmt.Errorf("swarmload: --runs %d: want 1 to 100", bf.runs)}
	}
	if _, err := os.Stat(bf.binary); err != nil {
		return usageErr{fmt.Errorf("swarmload: --binary %s: %w (make build makes bin/swarmlight)", bf.binary, err)}
	}
	if bf.against != "" && bf.against != "opentracker" && filepath.Base(bf.against) != "opentracker" {
		return usageErr{fmt.Errorf("swarmload: --against %q: want opentracker, or a path to an opentracker binary", bf.against)}
	}
	return nil
}

// launchers returns swarmlight's launcher and, when asked for, opentracker's.
func (bf *benchFlags) launchers(pin pinning) ([]launcher, error) {
	// Trackers run in scratch directories: a relative path would point nowhere.
	bin, err := filepath.Abs(bf.binary)
	if err != nil {
		return nil, fmt.Errorf("swarmload: --binary: %w", err)
	}
	sl, err := newSwarmlight(bin, pin)
	if err != nil {
		return nil, err
	}
	ls := []launcher{sl}
	switch bf.against {
	case "":
	case "opentracker":
		path, err := exec.LookPath("opentracker")
		if err != nil {
			return nil, fmt.Errorf("swarmload: --against opentracker: not installed (apt-get install opentracker): %w", err)
		}
		ls = append(ls, &opentrackerLauncher{bin: path, pin: pin})
	default:
		path, err := filepath.Abs(bf.against)
		if err != nil {
			return nil, fmt.Errorf("swarmload: --against: %w", err)
		}
		ls = append(ls, &opentrackerLauncher{bin: path, pin: pin})
	}
	return ls, nil
}

// pinForBench gives this process one CPU and the trackers another, so that the
// load never competes with the tracker it measures, and says what it did.
func pinForBench(w io.Writer) pinning {
	// One P: the load runs on one core, and a second runnable goroutine would only
	// queue behind the first.
	runtime.GOMAXPROCS(1)
	loadCPU, trackerCPU, ok := twoCPUs()
	if !ok {
		fmt.Fprintln(w, "pinning: fewer than 2 CPUs available; load and tracker share them")
		return pinning{cpu: -1}
	}
	if err := pinSelf(loadCPU); err != nil {
		fmt.Fprintf(w, "pinning: %v; load and tracker share the CPUs\n", err)
		return pinning{cpu: -1}
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		fmt.Fprintf(w, "pinning: load on CPU %d; no taskset (util-linux), tracker unpinned\n", loadCPU)
		return pinning{cpu: -1}
	}
	fmt.Fprintf(w, "pinning: load on CPU %d (GOMAXPROCS 1), tracker on CPU %d (taskset)\n", loadCPU, trackerCPU)
	return pinning{taskset: taskset, cpu: trackerCPU}
}

// describe prints what is being measured: the binaries and this machine.
func describe(w io.Writer, ls []launcher) {
	for _, l := range ls {
		switch l := l.(type) {
		case *swarmlightLauncher:
			v, _ := exec.Command(l.bin, "version").Output()
			fmt.Fprintf(w, "swarmlight: %s (%s)\n", l.bin, strings.TrimSpace(string(v)))
			for _, n := range l.notes {
				fmt.Fprintf(w, "swarmlight: %s\n", n)
			}
		case *opentrackerLauncher:
			v, _ := exec.Command("dpkg-query", "-W", "-f", "${Version}", "opentracker").Output()
			fmt.Fprintf(w, "opentracker: %s (%s; whitelist of exactly the load's info-hashes)\n", l.bin, cmp.Or(string(v), "version unknown"))
		}
	}
	fmt.Fprintf(w, "machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// table writes a Markdown table: a header, then rows, numbers right-aligned.
func table(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
	seps := make([]string, len(header))
	for i := range seps {
		seps[i] = "---:"
		if i < 2 {
			seps[i] = "---"
		}
	}
	fmt.Fprintln(w, "|"+strings.Join(seps, "|")+"|")
	for _, r := range rows {
		fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
	}
}

// commandLines prints how each tracker was last started.
func commandLines(w io.Writer, ls []launcher) {
	fmt.Fprintln(w, "\ntrackers started as (last run; ports and directories change each run):")
	for _, l := range ls {
		fmt.Fprintf(w, "  %s\n", l.lastCmdline())
	}
}
