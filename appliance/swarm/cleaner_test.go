package swarm

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/privacytest"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// TestCleanerSurvivesPanic makes the cleaner panic on every sweep of one shard.
// It must go on: the other shards' expired peers leave, announces to the faulty
// shard still go through (its lock was not kept), and once the fault is gone that
// shard is swept too. The panics are counted and logged in one fixed line that
// holds nothing of the panic.
func TestCleanerSurvivesPanic(t *testing.T) {
	c := clock.NewFake(time.Unix(1_000_000, 0))
	// Not closed at the end: Close would wait for a shard lock that a failure of
	// this test leaves held. The garbage collector frees the table.
	tab := New(Opts{PeerTimeout: time.Second}, c)

	// Torrents in every shard; faulty is the shard of the first.
	var hashes [][20]byte
	for i := range 256 {
		hashes = append(hashes, [20]byte{byte(i), byte(i >> 8), 0x5a})
	}
	faulty := int(hashOf(&hashes[0]) & (numShards - 1))
	inFaulty := 0
	for i, h := range hashes {
		p := Params{InfoHash: h, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881), NumWant: 10, Families: AnyFamily}
		if err := tab.Announce(&p, &Result{}); err != nil {
			t.Fatal(err)
		}
		if int(hashOf(&h)&(numShards-1)) == faulty {
			inFaulty++
		}
	}

	var failing atomic.Bool
	failing.Store(true)
	tab.cleanFault = func(shard int) {
		if shard == faulty && failing.Load() {
			panic("peer 10.0.0.0:6881")
		}
	}
	var logs privacytest.Output
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tab.Run(ctx, slog.New(slog.NewTextHandler(&logs, nil))) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the cleaner did not stop within 5 s: stuck on a shard lock")
		}
	}()

	c.Advance(3 * time.Second) // every peer is past the timeout
	// The sweep may have passed the faulty shard just before the clock moved: the
	// other shards can all be swept before it comes round again.
	waitFor(t, "a sweep of the faulty shard panicked", func() bool { return tab.Stats().Panics > 0 })
	waitFor(t, "every shard but the faulty one swept", func() bool { return tab.Stats().Peers == inFaulty })

	fresh := Params{InfoHash: hashes[0], Addr: netip.MustParseAddrPort("10.9.9.9:6881"), NumWant: 10, Families: AnyFamily}
	announced := make(chan error, 1)
	go func() { announced <- tab.Announce(&fresh, &Result{}) }()
	select {
	case err := <-announced:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("an announce to the shard whose sweep panicked still waits for its lock")
	}

	failing.Store(false)
	waitFor(t, "the faulty shard swept once it stopped failing", func() bool { return tab.Stats().Peers == 1 })

	out := logs.String()
	if strings.Count(out, `msg="swarm: cleaner panic; carrying on"`) != 1 || strings.Contains(out, "10.0.0.0") {
		t.Errorf("want one fixed line for the panics, nothing of their value:\n%s", out)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
