package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// memLoad is one row of the memory benchmark. Every load runs in a fresh tracker
// process, since VmHWM only grows.
type memLoad struct {
	key, title      string
	torrents, peers int
}

var memLoads = []memLoad{
	{"idle", "idle", 0, 0},
	{"10k", "1M peers over 10k torrents", 10_000, 1_000_000},
	{"1m", "1M torrents, 1 peer each", 1_000_000, 1_000_000},
	{"5m", "1M torrents, 5M IPv4 peers", 1_000_000, 5_000_000},
	{"scrape", "the same, during one full scrape", 1_000_000, 5_000_000},
}

// parseLoads reads --loads: a comma-separated list of load keys, kept in the
// benchmark's order.
func parseLoads(s string) ([]memLoad, error) {
	want := map[string]bool{}
	for k := range strings.SplitSeq(s, ",") {
		k = strings.TrimSpace(k)
		if !slices.ContainsFunc(memLoads, func(l memLoad) bool { return l.key == k }) {
			return nil, fmt.Errorf("swarmload: --loads: unknown load %q; want some of idle,10k,1m,5m,scrape", k)
		}
		want[k] = true
	}
	var out []memLoad
	for _, l := range memLoads {
		if want[l.key] {
			out = append(out, l)
		}
	}
	return out, nil
}

// memSample is one tracker process's figures for one load.
type memSample struct {
	before, after mem // before the first announce (settled), and after the load
	fill          result
	// The full scrape, when asked for: the answer's size and time, or why there
	// was none.
	scrapeBytes int64
	scrapeTime  time.Duration
	scrapeErr   error
	scrapeMem   mem // after the scrape
}

// base is what a load's growth is measured from: the process's own VmHWM before
// its first announce; for opentracker its VmRSS then, because its peak while
// reading the whitelist (the file is mapped in) is no part of the idle tracker.
func (s *memSample) base(tracker string) int64 {
	if tracker == "opentracker" {
		return s.before.rss
	}
	return s.before.hwm
}

func memoryCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("memory")
	var bf benchFlags
	var lf loadFlags
	lf.register(fs, 10*time.Minute, defaultSockets)
	fs.StringVar(&bf.binary, "binary", "bin/swarmlight", "swarmlight binary to measure")
	fs.StringVar(&bf.against, "against", "", "opentracker, to measure it in the same run")
	fs.IntVar(&bf.runs, "runs", 1, "fresh processes per load and tracker; the table shows medians")
	loadsFlag := fs.String("loads", "idle,10k,1m,5m,scrape", "loads to run")
	settle := fs.Duration("settle", 2*time.Second, "wait after the tracker first answers, before reading its idle memory")
	if err := parse(fs, args); err != nil {
		return err
	}
	loads, err := parseLoads(*loadsFlag)
	if err != nil {
		return usageErr{err}
	}
	if err := bf.check(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "command: %s\n", commandLine("memory", args))
	pin := pinForBench(stdout)
	ls, err := bf.launchers(pin)
	if err != nil {
		return err
	}
	describe(stdout, ls)

	keys := map[string]bool{}
	for _, l := range loads {
		keys[l.key] = true
	}
	most := 0
	for _, l := range loads {
		most = max(most, l.torrents)
	}
	hashes := infoHashes(most)
	samples := map[string][]memSample{} // by tracker name + "/" + load key
	for _, ld := range loads {
		if ld.key == "scrape" && keys["5m"] {
			// Measured with 5m, in the same process: the scrape follows the fill,
			// whose figures are read first (VmHWM only grows).
			continue
		}
		scrape := ld.key == "scrape" || ld.key == "5m" && keys["scrape"]
		for r := range bf.runs {
			for _, l := range ls {
				s, err := measure(l, ld, scrape, *settle, lf, hashes)
				if err != nil {
					return err
				}
				fmt.Fprintf(stderr, "%s %s run %d/%d: %s\n", l.name(), ld.key, r+1, bf.runs, s.summary())
				if ld.key != "scrape" {
					samples[l.name()+"/"+ld.key] = append(samples[l.name()+"/"+ld.key], s)
				}
				if scrape {
					samples[l.name()+"/scrape"] = append(samples[l.name()+"/scrape"], s)
				}
			}
		}
	}
	fmt.Fprintln(stdout)
	memTable(stdout, loads, ls, samples)
	commandLines(stdout, ls)
	return nil
}

// measure runs one load in a fresh tracker and reads its memory around it.
func measure(l launcher, ld memLoad, scrape bool, settle time.Duration, lf loadFlags, hashes [][20]byte) (memSample, error) {
	var s memSample
	t, err := l.start(ld.torrents)
	if err != nil {
		return s, err
	}
	defer t.stop()
	time.Sleep(settle)
	if s.before, err = readMem(t.pid()); err != nil {
		return s, err
	}
	s.after = s.before
	if ld.peers == 0 {
		return s, nil
	}
	sp := spec{target: t.udp, torrents: ld.torrents, peers: ld.peers, rounds: 1, event: eventStarted,
		numWant: lf.numWant, window: lf.window, sockets: lf.sockets, timeout: lf.timeout,
		rto: defaultRTO, tries: defaultTries}
	s.fill, err = run(sp, hashes)
	if err != nil {
		return s, err
	}
	if err := t.alive("the fill"); err != nil {
		return s, err
	}
	if s.after, err = readMem(t.pid()); err != nil {
		return s, err
	}
	if !scrape {
		return s, nil
	}
	start := time.Now()
	s.scrapeBytes, s.scrapeErr = t.fullScrape(5 * time.Minute)
	s.scrapeTime = time.Since(start)
	// A tracker that dies of the scrape is a result, not a reason to stop the
	// benchmark. A failed scrape may be a crash still under way: give it a moment.
	if s.scrapeErr != nil {
		select {
		case <-t.exited:
		case <-time.After(time.Second):
		}
	}
	if err := t.alive("the full scrape"); err != nil {
		s.scrapeErr = err
		return s, nil
	}
	// Read even after a failed scrape: what the attempt cost is still worth seeing.
	s.scrapeMem, err = readMem(t.pid())
	return s, err
}

func (s *memSample) summary() string {
	out := fmt.Sprintf("before VmRSS %s VmHWM %s; after VmRSS %s VmHWM %s", mib(s.before.rss), mib(s.before.hwm), mib(s.after.rss), mib(s.after.hwm))
	if s.fill.announces > 0 {
		out += fmt.Sprintf("; fill %.1f s, %.0f announces/s, %d failed, %d resent", s.fill.elapsed.Seconds(), s.fill.rate(), s.fill.failed, s.fill.resent)
	}
	if s.scrapeErr != nil {
		out += fmt.Sprintf("; full scrape: %v", s.scrapeErr)
	} else if s.scrapeBytes > 0 {
		out += fmt.Sprintf("; full scrape %d bytes in %.2f s, then VmRSS %s VmHWM %s", s.scrapeBytes, s.scrapeTime.Seconds(), mib(s.scrapeMem.rss), mib(s.scrapeMem.hwm))
	}
	return out
}

// memTable prints the medians of every load and tracker, one row each, and the
// legend that says how each figure was made.
func memTable(w io.Writer, loads []memLoad, ls []launcher, samples map[string][]memSample) {
	header := []string{"load", "tracker", "VmRSS", "VmHWM", "base", "VmHWM − base", "B/peer", "B/torrent", "time", "announces/s", "failed", "swarmlight / opentracker"}
	var rows [][]string
	var reasons []string
	for _, ld := range loads {
		// key figure per tracker for the ratio: VmHWM for idle, growth otherwise.
		figure := map[string]float64{}
		var block [][]string
		for _, l := range ls {
			ss := samples[l.name()+"/"+ld.key]
			if len(ss) == 0 {
				continue
			}
			row, fig, why := memRow(ld, l.name(), ss)
			figure[l.name()] = fig
			block = append(block, row)
			reasons = append(reasons, why...)
		}
		if sl, ot := figure["swarmlight"], figure["opentracker"]; sl > 0 && ot > 0 && len(block) > 0 {
			block[0][len(header)-1] = fmt.Sprintf("%.2f", sl/ot)
		}
		rows = append(rows, block...)
	}
	table(w, header, rows)
	fmt.Fprint(w, `
base: the tracker's own VmHWM before its first announce, once it answered and
settled; for opentracker its VmRSS then, with the load's whitelist already read
(its VmHWM then also holds the whitelist file, mapped while it was read). For the
full scrape, base is VmHWM after the 5M fill, and time is the scrape's.
B/peer and B/torrent: (VmHWM − base) / peers and / torrents.
swarmlight / opentracker: VmHWM for idle, VmHWM − base for the rest.
Figures are medians over the runs; failed is the most in any run.
`)
	if len(reasons) > 0 {
		fmt.Fprintln(w)
	}
	for _, r := range reasons {
		fmt.Fprintln(w, r)
	}
}

func memRow(ld memLoad, tracker string, ss []memSample) (row []string, figure float64, notes []string) {
	row = []string{ld.title, tracker, "–", "–", "–", "–", "–", "–", "–", "–", "–", ""}
	pick := func(f func(*memSample) int64) int64 {
		xs := make([]int64, len(ss))
		for i := range ss {
			xs[i] = f(&ss[i])
		}
		return median(xs)
	}
	switch ld.key {
	case "idle":
		hwm := pick(func(s *memSample) int64 { return s.after.hwm })
		row[2], row[3] = mib(pick(func(s *memSample) int64 { return s.after.rss })), mib(hwm)
		return row, float64(hwm), nil
	case "scrape":
		for _, s := range ss {
			if s.scrapeErr != nil {
				return row, 0, []string{fmt.Sprintf("%s full scrape: %v", tracker, s.scrapeErr)}
			}
		}
		growth := pick(func(s *memSample) int64 { return s.scrapeMem.hwm - s.after.hwm })
		row[2] = mib(pick(func(s *memSample) int64 { return s.scrapeMem.rss }))
		row[3] = mib(pick(func(s *memSample) int64 { return s.scrapeMem.hwm }))
		row[4] = mib(pick(func(s *memSample) int64 { return s.after.hwm }))
		row[5] = mib(growth)
		row[7] = fmt.Sprintf("%.1f", float64(growth)/float64(ld.torrents))
		row[8] = fmt.Sprintf("%.2f s", time.Duration(pick(func(s *memSample) int64 { return int64(s.scrapeTime) })).Seconds())
		notes = append(notes, fmt.Sprintf("%s full scrape: %d bytes of answer", tracker, pick(func(s *memSample) int64 { return s.scrapeBytes })))
		return row, float64(growth), notes
	}
	growth := pick(func(s *memSample) int64 { return s.after.hwm - s.base(tracker) })
	row[2] = mib(pick(func(s *memSample) int64 { return s.after.rss }))
	row[3] = mib(pick(func(s *memSample) int64 { return s.after.hwm }))
	row[4] = mib(pick(func(s *memSample) int64 { return s.base(tracker) }))
	row[5] = mib(growth)
	row[6] = fmt.Sprintf("%.1f", float64(growth)/float64(ld.peers))
	row[7] = fmt.Sprintf("%.1f", float64(growth)/float64(ld.torrents))
	row[8] = fmt.Sprintf("%.1f s", time.Duration(pick(func(s *memSample) int64 { return int64(s.fill.elapsed) })).Seconds())
	rates := make([]float64, len(ss))
	var failed int64
	for i := range ss {
		rates[i] = ss[i].fill.rate()
		failed = max(failed, ss[i].fill.failed)
		for reason, n := range ss[i].fill.reasons {
			notes = append(notes, fmt.Sprintf("%s %s run %d: %d × %s", tracker, ld.key, i+1, n, reason))
		}
	}
	row[9] = fmt.Sprintf("%.0f", median(rates))
	row[10] = fmt.Sprint(failed)
	return row, float64(growth), notes
}
