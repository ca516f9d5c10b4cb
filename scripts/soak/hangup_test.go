//go:build soak && linux

package soak

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHangupStorm sends SIGHUP 200 times in 10 s while fills run back to back:
// each asks for a reload (systemd's ExecReload), which re-reads the configuration
// on the main loop while the UDP workers go on answering. The fills must go
// through with no failure, the tracker must neither crash nor stop answering,
// and its log must show the reloads: signals that arrive during a reload are
// merged into one (the channel holds one), so there may be fewer reloads than
// signals, but never none.
func TestHangupStorm(t *testing.T) {
	const (
		hangups  = 200
		every    = 50 * time.Millisecond
		torrents = 2_000
		peers    = 200_000
		maxFills = 40 // bounds the loop whatever the machine's speed
	)
	rec := newRecord(t, "SIGHUP storm under load")
	tr := newTracker(t)
	tr.start(t)
	tr.waitAnswering(t, 30*time.Second)

	storming := make(chan struct{})
	endStorm := sync.OnceFunc(func() { close(storming) })
	// However the test ends, the fills stop after the one under way.
	defer endStorm()
	type fillsDone struct {
		n   int
		sum fillResult
		err error
	}
	fills := make(chan fillsDone, 1)
	go func() {
		var d fillsDone
		defer func() { fills <- d }()
		for d.n < maxFills {
			f, err := launchFill(tr.addr, torrents, peers, 60*time.Second)
			if err != nil {
				d.err = err
				return
			}
			r, err := f.finish(90 * time.Second)
			if err != nil {
				d.err = err
				return
			}
			d.n++
			d.sum.announces += r.announces
			d.sum.answered += r.answered
			d.sum.failed += r.failed
			d.sum.resent += r.resent
			d.sum.seconds += r.seconds
			select {
			case <-storming:
				return
			default:
			}
		}
	}()

	// The storm starts once the first fill is under way.
	deadline := time.Now().Add(30 * time.Second)
	for {
		counts, err := scrapeUDP(tr.addr, [][20]byte{loadHash(0)})
		if err == nil && counts[0] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fill under way after 30 s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	tick := time.NewTicker(every)
	sent := 0
	for range hangups {
		<-tick.C
		if !tr.alive() {
			break
		}
		tr.signal(t, syscall.SIGHUP)
		sent++
	}
	tick.Stop()
	stormTime := time.Since(start)
	endStorm()
	var d fillsDone
	select {
	case d = <-fills:
	case <-time.After(2 * time.Minute):
		t.Fatal("the fills did not end within 2 minutes of the storm")
	}
	if d.err != nil {
		t.Fatal(d.err)
	}
	if !tr.alive() {
		t.Fatalf("swarmlight died in the storm (%v); its log:\n%s", tr.err, tr.log)
	}
	if err := probe(tr.addr, time.Second); err != nil {
		t.Fatalf("not answering after the storm: %v", err)
	}
	tr.stop(t)

	msgs := countMessages(tr.log.String())
	reloads := msgs["reload: configuration reloaded"]
	var others []string
	for _, m := range slices.Sorted(maps.Keys(msgs)) {
		if strings.HasPrefix(m, "reload") && m != "reload: configuration reloaded" {
			others = append(others, fmt.Sprintf("%d × %q", msgs[m], m))
		}
	}
	rate := float64(d.sum.answered) / d.sum.seconds
	rec.add("%d SIGHUPs in %.1f s, survived", sent, stormTime.Seconds())
	rec.add("log: %d × reload: configuration reloaded", reloads)
	rec.add("%d fills: %d announces, %d failed, %d resent, %.0f announces/s", d.n, d.sum.announces, d.sum.failed, d.sum.resent, rate)
	rec.count("announces", d.sum.announces)
	rec.count("failed", d.sum.failed)
	rec.count("faults", int64(sent))
	t.Logf("log messages: %v", msgs)
	switch {
	case reloads == 0:
		t.Errorf("no reload in the log after %d SIGHUPs", sent)
	case reloads > sent:
		t.Errorf("%d reloads logged for %d SIGHUPs", reloads, sent)
	}
	if len(others) > 0 {
		t.Errorf("reloads of an unchanged configuration logged something else: %s", strings.Join(others, ", "))
	}
	if d.sum.failed > 0 {
		t.Errorf("%d of %d announces failed during the storm", d.sum.failed, d.sum.announces)
	}
	if d.n < 2 {
		t.Errorf("only %d fill ran during the storm", d.n)
	}
}
