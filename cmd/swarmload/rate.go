package main

import (
	"fmt"
	"io"
	"net/netip"
	"time"
)

// rateSample is one run of the rate benchmark in a fresh tracker.
type rateSample struct {
	prefill, run result
	cpu          time.Duration // the tracker's utime+stime over the run
}

func (s *rateSample) cpuPerAnnounce() time.Duration {
	if s.run.ok == 0 {
		return 0
	}
	return s.cpu / time.Duration(s.run.ok)
}

func rateCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rate")
	var bf benchFlags
	var lf loadFlags
	lf.register(fs, 10*time.Minute, 0)
	fs.StringVar(&bf.binary, "binary", "bin/swarmlight", "swarmlight binary to measure")
	fs.StringVar(&bf.against, "against", "", "opentracker, to measure it in the same run")
	fs.IntVar(&bf.runs, "runs", 3, "fresh processes per tracker; the table shows each and the median")
	torrents := fs.Int("torrents", 100, "torrents, prefilled")
	peers := fs.Int("peers", 10_000, "peers, prefilled, then announcing again in turn")
	announces := fs.Int("announces", 2_000_000, "re-announces to time (rounded to whole rounds of every peer)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *peers < 1 || *announces < *peers {
		return usageErr{fmt.Errorf("swarmload: --announces %d must be at least --peers %d", *announces, *peers)}
	}
	fill := spec{torrents: *torrents, peers: *peers, rounds: 1, event: eventStarted, numWant: lf.numWant,
		window: lf.window, sockets: lf.sockets, timeout: lf.timeout, rto: defaultRTO, tries: defaultTries}
	if fill.sockets == 0 {
		// Every source at once: the steady state has no tail in which a few last
		// sockets carry the whole window.
		fill.sockets = min(numSources(*peers), 4096)
	}
	// The real target is known once a tracker runs; check the rest now.
	fill.target = netip.MustParseAddrPort("127.0.0.1:6969")
	if err := fill.check(); err != nil {
		return usageErr{err}
	}
	again := fill
	again.rounds, again.event = *announces / *peers, eventNone

	if err := bf.check(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "command: %s\n", commandLine("rate", args))
	pin := pinForBench(stdout)
	ls, err := bf.launchers(pin)
	if err != nil {
		return err
	}
	describe(stdout, ls)
	hashes := infoHashes(*torrents)
	samples := map[string][]rateSample{}
	for r := range bf.runs {
		for _, l := range ls {
			s, err := rateRun(l, fill, again, hashes)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "%s run %d/%d: %d announces in %.2f s, %.0f/s, tracker CPU %v per announce, %d failed (prefill %d failed)\n",
				l.name(), r+1, bf.runs, s.run.ok, s.run.elapsed.Seconds(), s.run.rate(), s.cpuPerAnnounce(), s.run.failed, s.prefill.failed)
			samples[l.name()] = append(samples[l.name()], s)
		}
	}
	fmt.Fprintf(stdout, "\nprefill: %d torrents × %d peers each; then every peer announces again in turn (event none, numwant %d), %d announces in all, %d in flight\n\n",
		*torrents, *peers / *torrents, lf.numWant, int64(*peers)*int64(again.rounds), lf.window)
	rateTable(stdout, ls, samples)
	commandLines(stdout, ls)
	return nil
}

func rateRun(l launcher, fill, again spec, hashes [][20]byte) (rateSample, error) {
	var s rateSample
	t, err := l.start(fill.torrents)
	if err != nil {
		return s, err
	}
	defer t.stop()
	fill.target, again.target = t.udp, t.udp
	if s.prefill, err = run(fill, hashes); err != nil {
		return s, err
	}
	before, err := readCPU(t.pid())
	if err != nil {
		return s, err
	}
	if s.run, err = run(again, hashes); err != nil {
		return s, err
	}
	after, err := readCPU(t.pid())
	if err != nil {
		return s, fmt.Errorf("swarmload: %s after the run (did it die? stderr:\n%s): %w", t.name, t.stderr, err)
	}
	s.cpu = after - before
	return s, nil
}

func rateTable(w io.Writer, ls []launcher, samples map[string][]rateSample) {
	header := []string{"tracker", "run", "announces", "seconds", "announces/s", "tracker CPU per announce", "failed"}
	var rows [][]string
	med := map[string][2]float64{}
	for _, l := range ls {
		ss := samples[l.name()]
		var rates, secs []float64
		var cpus []time.Duration
		var failed int64
		for i, s := range ss {
			rows = append(rows, []string{l.name(), fmt.Sprint(i + 1), fmt.Sprint(s.run.ok),
				fmt.Sprintf("%.2f", s.run.elapsed.Seconds()), fmt.Sprintf("%.0f", s.run.rate()),
				fmt.Sprintf("%.2f µs", micros(s.cpuPerAnnounce())), fmt.Sprint(s.run.failed + s.prefill.failed)})
			rates = append(rates, s.run.rate())
			secs = append(secs, s.run.elapsed.Seconds())
			cpus = append(cpus, s.cpuPerAnnounce())
			failed = max(failed, s.run.failed+s.prefill.failed)
		}
		rows = append(rows, []string{"**" + l.name() + "**", "**median**", "", fmt.Sprintf("%.2f", median(secs)),
			fmt.Sprintf("**%.0f**", median(rates)), fmt.Sprintf("**%.2f µs**", micros(median(cpus))), fmt.Sprint(failed)})
		med[l.name()] = [2]float64{median(rates), micros(median(cpus))}
	}
	table(w, header, rows)
	sl, ot := med["swarmlight"], med["opentracker"]
	if ot[0] > 0 && ot[1] > 0 {
		fmt.Fprintf(w, "\nswarmlight / opentracker: %.2f × the announces/s, %.2f × the CPU per announce\n", sl[0]/ot[0], sl[1]/ot[1])
	}
	fmt.Fprintln(w, "\ntracker CPU: utime+stime of the tracker process (/proc/PID/stat) over the run, divided by the announces answered; failed counts the prefill too")
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
