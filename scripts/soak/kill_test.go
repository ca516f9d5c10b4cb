//go:build soak && linux

package soak

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestKillRestart kills the tracker with SIGKILL in the middle of a fill, several
// times, and starts it again on the same ports each time: it must answer again at
// once, and a second fill of the same peers — clients re-announcing, as they do
// when their tracker has gone away — must get every peer in, none failed.
// SIGKILL leaves no chance to clean up, so this is also the power cut's case:
// peers live in RAM only, and a restart begins empty.
func TestKillRestart(t *testing.T) {
	const (
		kills    = 3
		torrents = 10_000
		peers    = 1_000_000 // a few seconds of load: long enough to kill it midway
		perTor   = peers / torrents
		fillMax  = 90 * time.Second
	)
	rec := newRecord(t, "kill -9 under load, restart")
	tr := newTracker(t)
	tr.start(t)
	tr.waitAnswering(t, 30*time.Second)

	var backMax, deadMax time.Duration
	var reFilled, reFailed int64
	var reRate float64
	for k := 1; k <= kills; k++ {
		// The killed fill is bounded short: swarmload connects again only after
		// 60 s, so once the new process drops its stale connection IDs its
		// remaining announces wait out the bound; real clients connect again.
		f := startFill(t, tr.addr, torrents, peers, 15*time.Second)
		// A different moment of the fill each time. Whether the kill came in the
		// middle of it shows afterwards: some announces answered, some not.
		select {
		case <-f.done:
			t.Fatalf("kill %d: the fill ended before the kill:\n%s", k, f.out.String())
		case <-time.After(time.Duration(k) * 500 * time.Millisecond):
		}
		killed := time.Now()
		tr.signal(t, syscall.SIGKILL)
		select {
		case <-tr.exited:
		case <-time.After(5 * time.Second):
			t.Fatalf("kill %d: swarmlight still running 5 s after SIGKILL", k)
		}
		dead := time.Since(killed)
		restarted := time.Now()
		tr.start(t)
		back := tr.waitAnswering(t, 30*time.Second)
		backMax, deadMax = max(backMax, back.Sub(restarted)), max(deadMax, back.Sub(killed))
		first := f.wait(t, fillMax)
		if first.answered == 0 || first.failed == 0 {
			t.Fatalf("kill %d did not come in the middle of the fill: %d of %d answered", k, first.answered, first.announces)
		}
		t.Logf("kill %d, %v into the fill: gone in %v, answering %v after the restart (%v after the kill); the killed fill: %d announces, %d answered, %d failed, in %.1f s",
			k, killed.Sub(f.started).Round(time.Millisecond), dead.Round(time.Millisecond), back.Sub(restarted).Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond),
			first.announces, first.answered, first.failed, first.seconds)

		second := startFill(t, tr.addr, torrents, peers, 60*time.Second).wait(t, fillMax)
		if second.failed != 0 || second.answered != peers {
			t.Fatalf("kill %d: re-announcing after the restart: %d answered, %d failed of %d", k, second.answered, second.failed, peers)
		}
		reFilled += second.answered
		reFailed += second.failed
		reRate += second.rate / kills
		// Every peer is in once: the store the restart began holds the second
		// fill and nothing twice.
		hashes := make([][20]byte, 74)
		for i := range hashes {
			hashes[i] = loadHash(i * (torrents / len(hashes)))
		}
		counts, err := scrapeUDP(tr.addr, hashes)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range counts {
			if n != perTor {
				t.Fatalf("kill %d: torrent %d holds %d peers after re-announcing, want %d", k, i*(torrents/len(hashes)), n, perTor)
			}
		}
	}
	tr.stop(t)
	rec.add("%d SIGKILLs mid-fill survived", kills)
	rec.add("answering %s after restart (%s after the kill), worst of %d", ms(backMax), ms(deadMax), kills)
	rec.add("re-announce: %d announces, %d failed, %.0f announces/s", reFilled, reFailed, reRate)
	rec.count("announces", reFilled)
	rec.count("failed", reFailed)
	rec.count("faults", kills)
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }
