//go:build soak && linux

package soak

import (
	"crypto/sha1"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The wall-clock checks run the real binary with its clocks under the test's
// control (clockshift_linux_amd64_test.go): the wall clock it reads jumps by hours,
// or, for the control, its monotonic clock does, while nothing else on the machine
// moves. A Pi without a real-time clock boots with a stale time and jumps at its
// first NTP sync, forward or back.
const (
	interval    = 10 * time.Second
	peerTimeout = 15 * time.Second
	// The cleaner passes every shard once per peerTimeout/8; a peer goes at its
	// shard's first pass after its timeout. A tracker whose every clock read is
	// traced may lag a little: "on time" allows 5 s more, against the hours a
	// wall-clock expiry would be off by.
	cleanerPass = peerTimeout / 8
	late        = cleanerPass + 5*time.Second
	jumpBy      = 6 * time.Hour
)

// TestWallClockJump: a peer's expiry runs on the monotonic clock. After the
// tracker's wall clock jumps 6 hours forward a peer must still be listed until
// its 15 s timeout, and go on time; after a jump back (12 hours, to 6 hours
// behind) the same. The Date header of the tracker's HTTP answers shows that the
// tracker's wall clock did jump. The control jumps the monotonic clock instead,
// by an hour: the peer must then go at the next cleaner pass, long before its
// timeout, which shows that the check would catch a store that measured age with
// the clock that jumped.
func TestWallClockJump(t *testing.T) {
	rec := newRecord(t, "wall-clock jump: expiry")
	sh := startClockShifted(t, rec, "--tracker.interval", interval.String(), "--tracker.min_interval", "5s",
		"--tracker.peer_timeout", peerTimeout.String())
	c := httpClient(netip.MustParseAddr("127.0.0.91"))
	base := "http://" + sh.addr.String()

	phases := []struct {
		name       string
		wall, mono time.Duration
		control    bool
	}{
		{"wall clock +6h", jumpBy, 0, false},
		{"wall clock -6h (a 12 h step back)", -jumpBy, 0, false},
		{"control: monotonic clock +1h", -jumpBy, time.Hour, true},
	}
	for i, ph := range phases {
		hash := sha1.Sum([]byte(fmt.Sprintf("soak clock %d", i)))
		if refused, err := httpAnnounce(c, base, hash, i, uint16(7000+i)); err != nil || refused != "" {
			t.Fatalf("%s: announce: %v %s", ph.name, err, refused)
		}
		announced := time.Now()
		date := sh.jump(t, rec, c, base, ph.wall, ph.mono)
		gone, err := watchPeer(c, base, hash, announced, peerTimeout+late+2*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", ph.name, err)
		}
		switch {
		case ph.control && gone >= peerTimeout/2:
			t.Errorf("%s: the peer lasted %v after the monotonic clock jumped an hour: the shift does not reach the store's clock, and this check proves nothing", ph.name, gone.Round(time.Millisecond))
		case ph.control:
			rec.add("%s: peer gone in %.1f s (the check would catch a jump)", ph.name, gone.Seconds())
		case gone < peerTimeout:
			t.Errorf("%s: the peer expired %v after its announce, before its %v timeout", ph.name, gone.Round(time.Millisecond), peerTimeout)
		case gone > peerTimeout+late:
			t.Errorf("%s: the peer expired %v after its announce, well after its %v timeout", ph.name, gone.Round(time.Millisecond), peerTimeout)
		default:
			rec.add("%s: peer (timeout %v) gone at %.1f s", ph.name, peerTimeout, gone.Seconds())
		}
		t.Logf("%s: tracker's Date %v; peer gone %v after its announce", ph.name, date, gone.Round(time.Millisecond))
	}
	wall, mono := sh.proc.clockReads()
	rec.add("%d wall and %d monotonic clock reads shifted or seen", wall, mono)
	rec.count("faults", 2)
	sh.stop(t)
}

// watchPeer scrapes hash every 100 ms until it has no peer, and returns when that
// was, measured from since; it gives up after limit.
func watchPeer(c *http.Client, base string, hash [20]byte, since time.Time, limit time.Duration) (time.Duration, error) {
	for {
		n, err := httpPeers(c, base, hash)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return time.Since(since), nil
		}
		if time.Since(since) > limit {
			return 0, fmt.Errorf("the peer is still listed %v after its announce (timeout %v)", limit, peerTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shiftedTracker is the real binary run with its clocks under the test's control.
type shiftedTracker struct {
	proc *shifted
	addr netip.AddrPort
	log  *syncBuffer
}

func startClockShifted(t *testing.T, rec *record, extra ...string) *shiftedTracker {
	t.Helper()
	if !clockShiftSupported {
		rec.skipOrFail(t, "moving a process's clocks is done on linux/amd64 only")
	}
	tr := newTracker(t, append([]string{"--panel.mode", "off"}, extra...)...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sh := &shiftedTracker{addr: tr.addr, log: tr.log}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			sh.log.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	bin, err := filepath.Abs(tr.argv[0])
	if err != nil {
		t.Fatal(err)
	}
	sh.proc, err = startShifted(append([]string{bin}, tr.argv[1:]...), tr.env, tr.dir, []uintptr{devnull.Fd(), devnull.Fd(), w.Fd()})
	w.Close()
	if err != nil {
		r.Close()
		rec.skipOrFail(t, "cannot move the tracker's clocks: %v", err)
	}
	t.Cleanup(func() {
		sh.proc.signal(syscall.SIGKILL)
		sh.proc.wait(10 * time.Second)
		<-copied
		r.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for probe(sh.addr, 200*time.Millisecond) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the tracker under clock control is not answering after 30 s; its log:\n%s", sh.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if wall, mono := sh.proc.clockReads(); wall == 0 || mono == 0 {
		t.Fatalf("the tracker read its clocks %d and %d times through the system call: the vDSO was not hidden, and its clocks cannot be moved", wall, mono)
	}
	return sh
}

// jump moves the tracker's clocks, and returns the Date of its next HTTP answer,
// which must show the wall clock it was given.
func (sh *shiftedTracker) jump(t *testing.T, rec *record, c *http.Client, base string, wall, mono time.Duration) time.Time {
	t.Helper()
	sh.proc.jump(wall, mono)
	_, date, err := httpGet(c, base, "/")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := sh.proc.failed(); err != nil {
		rec.skipOrFail(t, "%d of the tracker's clock reads could not be moved (%v): a tracker that makes itself non-dumpable lets only a tracer with CAP_SYS_PTRACE into its memory; run as root", n, err)
	}
	if skew := date.Sub(time.Now()) - wall; skew < -2*time.Second || skew > 2*time.Second {
		t.Fatalf("after a jump of %v, the tracker's Date is %v, %v from the real wall clock", wall, date, date.Sub(time.Now()).Round(time.Second))
	}
	return date
}

// stop ends the tracker with SIGTERM; it must exit cleanly, status 0.
func (sh *shiftedTracker) stop(t *testing.T) {
	t.Helper()
	sh.proc.signal(syscall.SIGTERM)
	if err := sh.proc.wait(10 * time.Second); err != nil {
		t.Fatalf("the tracker under clock control: %v; its log:\n%s", err, sh.log)
	}
}

// TestWallClockJumpQuota: the per-source quota on new torrents counts in a sliding
// window (swarm.source_window), which must slide on the monotonic clock too. With a
// quota of 3 torrents per 2 s window, a source that has used its quota may create
// a torrent again once two windows have passed: first with no jump, to show that
// the window slides, then after the wall clock has stepped 6 hours back.
func TestWallClockJumpQuota(t *testing.T) {
	const (
		quota  = 3
		window = 2 * time.Second
	)
	rec := newRecord(t, "wall-clock jump: source quota window")
	sh := startClockShifted(t, rec, "--swarm.source_max_new_torrents", fmt.Sprint(quota), "--swarm.source_window", window.String())
	c := httpClient(netip.MustParseAddr("127.0.0.93"))
	base := "http://" + sh.addr.String()
	next := 0
	create := func() string {
		t.Helper()
		hash := sha1.Sum([]byte(fmt.Sprintf("soak quota %d", next)))
		refused, err := httpAnnounce(c, base, hash, next, uint16(7100+next))
		if err != nil {
			t.Fatal(err)
		}
		if refused == "" {
			next++
		}
		return refused
	}
	// useQuota creates torrents until the quota refuses one.
	useQuota := func(when string) {
		t.Helper()
		for i := 0; ; i++ {
			refused := create()
			if refused != "" {
				if !strings.Contains(refused, "too many new torrents") {
					t.Fatalf("%s: refused with %q", when, refused)
				}
				return
			}
			if i > quota {
				t.Fatalf("%s: %d torrents created in one window, quota %d", when, i+1, quota)
			}
		}
	}

	useQuota("before any jump")
	time.Sleep(2*window + 500*time.Millisecond)
	if refused := create(); refused != "" {
		t.Fatalf("two windows later, with no jump, still refused: %q (the window does not slide at all)", refused)
	}
	rec.add("no jump: a new torrent admitted %v after the quota was used", 2*window+500*time.Millisecond)

	useQuota("before the jump back")
	sh.jump(t, rec, c, base, -jumpBy, 0)
	time.Sleep(2*window + 500*time.Millisecond)
	if refused := create(); refused != "" {
		t.Errorf("after the wall clock stepped %v back, a source that used its quota of %d per %v is still refused %v later: %q; the window runs on the wall clock (appliance/swarm/quota.go: UnixNano) and will not slide until the wall clock is back where it was, %v from now",
			jumpBy, quota, window, 2*window+500*time.Millisecond, refused, jumpBy)
		rec.add("wall clock -6h: the source is still refused %v later, and would be for 6 h (quota window on the wall clock)", 2*window+500*time.Millisecond)
	} else {
		rec.add("wall clock -6h: admitted again %v later", 2*window+500*time.Millisecond)
		rec.count("faults", 1)
	}
	sh.stop(t)
}
