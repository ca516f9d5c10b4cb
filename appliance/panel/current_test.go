package panel

import (
	"image"
	"log/slog"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/hw/clock"
)

// Current is what the display shows: the page on show and the figures it was
// drawn from, published at most once per redraw and at every page turn.
func TestCurrent(t *testing.T) {
	b := newBench(t, Devices{})
	if _, ok := b.p.Current(); ok {
		t.Fatal("Current before the first step")
	}
	b.set(Snapshot{Torrents: 7, Problems: []string{"config reload failed"}})
	b.at(0)
	s, ok := b.p.Current()
	if !ok || s.Page != PageAnnounce || s.View.Snapshot.Torrents != 7 || s.Bounds != image.Rect(0, 0, 128, 64) {
		t.Fatalf("after the first step: %+v %v", s, ok)
	}
	if len(s.View.Problems) != 1 || s.View.Name != "swarmlight" || len(s.View.URLs) != 1 {
		t.Errorf("view: %+v", s.View)
	}
	b.set(Snapshot{Torrents: 8})
	b.at(100 * time.Millisecond)
	if s, _ := b.p.Current(); s.View.Snapshot.Torrents != 7 {
		t.Errorf("republished within the redraw interval: %d torrents", s.View.Snapshot.Torrents)
	}
	b.at(5 * time.Second)
	s, _ = b.p.Current()
	if s.Page != PageSwarms || s.View.Snapshot.Torrents != 8 {
		t.Errorf("after the page turned: page %d, %d torrents", s.Page, s.View.Snapshot.Torrents)
	}
}

// Without a display, Current still shows what one would, at 128×64.
func TestCurrentWithoutDisplay(t *testing.T) {
	c := clock.NewFake(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	p := New(Opts{Name: "box"}, Devices{}, c, func() Snapshot { return Snapshot{Seeders: 2} }, slog.New(slog.DiscardHandler))
	p.Step(c.Now(), false)
	s, ok := p.Current()
	if !ok || s.View.Snapshot.Seeders != 2 || s.Bounds.Dx() != 128 || s.Bounds.Dy() != 64 {
		t.Errorf("%+v %v", s, ok)
	}
}
