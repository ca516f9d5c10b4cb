package sim

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/hw"
	"github.com/swarmlight/swarmlight/hw/clock"
)

var (
	_ hw.LED     = (*LED)(nil)
	_ hw.Display = (*Display)(nil)
	_ hw.Button  = (*Button)(nil)
)

func TestLED(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	c := clock.NewFake(t0)
	l := NewLED("activity", c)
	steps := []struct {
		after time.Duration
		on    bool
	}{
		{0, false}, // already off: not a change
		{time.Second, true},
		{10 * time.Millisecond, true}, // already on
		{90 * time.Millisecond, false},
		{time.Minute, true},
	}
	for _, s := range steps {
		c.Advance(s.after)
		if err := l.Set(s.on); err != nil {
			t.Fatal(err)
		}
		if l.State() != s.on {
			t.Fatalf("State %t after Set(%t)", l.State(), s.on)
		}
	}
	c.Advance(time.Second)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{t0.Add(time.Second), true},
		{t0.Add(1100 * time.Millisecond), false},
		{t0.Add(time.Minute + 1100*time.Millisecond), true},
		{t0.Add(time.Minute + 2100*time.Millisecond), false}, // Close
	}
	if got := l.History(); !reflect.DeepEqual(got, want) {
		t.Fatalf("History:\n%v\nwant\n%v", got, want)
	}
	if err := l.Set(true); !errors.Is(err, errClosed) || l.State() {
		t.Fatalf("Set after Close: %v, on %t", err, l.State())
	}
}

func TestLEDHistoryBounded(t *testing.T) {
	c := clock.NewFake(time.Unix(0, 0))
	l := NewLED("swarm", c)
	for i := 0; i < 3*MaxHistory; i++ {
		c.Advance(time.Millisecond)
		l.Set(i%2 == 0)
	}
	h := l.History()
	if len(h) > MaxHistory || len(h) < MaxHistory/2 {
		t.Fatalf("%d changes kept", len(h))
	}
	if last := h[len(h)-1]; !last.At.Equal(c.Now()) || last.On != l.State() {
		t.Fatalf("last change %v, now %v on %t", last, c.Now(), l.State())
	}
}

func TestLEDConcurrent(t *testing.T) {
	l := NewLED("error", nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				l.Set(i%2 == 0)
				l.State()
				l.History()
			}
		}()
	}
	wg.Wait()
}

// frame returns a w×h black image with the given pixels white.
func frame(w, h int, lit ...image.Point) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for _, p := range lit {
		img.SetGray(p.X, p.Y, color.Gray{0xff})
	}
	return img
}

func TestDisplayPNG(t *testing.T) {
	for _, size := range []image.Point{{128, 64}, {128, 32}} {
		dir := t.TempDir()
		path := filepath.Join(dir, "panel.png")
		d := NewDisplay(size.X, size.Y, path)
		if got := d.Bounds(); got != image.Rect(0, 0, size.X, size.Y) {
			t.Fatalf("Bounds %v", got)
		}

		// writes counts the PNG's rewrites: check takes the file away, so it
		// is there at the next check only if written again.
		writes := 0
		check := func(wantWrites, wantFrames int) {
			t.Helper()
			if _, err := os.Stat(path); err == nil {
				writes++
				if err := os.Rename(path, path+".seen"); err != nil {
					t.Fatal(err)
				}
			}
			if writes != wantWrites || d.Frames() != wantFrames {
				t.Fatalf("%d writes and %d frames, want %d and %d", writes, d.Frames(), wantWrites, wantFrames)
			}
		}

		// The first frame is written even when blank.
		if err := d.Draw(frame(size.X, size.Y)); err != nil {
			t.Fatal(err)
		}
		check(1, 1)
		a := frame(size.X, size.Y, image.Pt(0, 0), image.Pt(size.X-1, size.Y-1))
		for i := 0; i < 3; i++ {
			if err := d.Draw(a); err != nil {
				t.Fatal(err)
			}
			check(2, 2)
		}
		// An equal frame in another image type is still equal.
		rgba := image.NewRGBA(a.Bounds())
		rgba.Set(0, 0, color.RGBA{0xff, 0, 0, 0xff})
		rgba.Set(size.X-1, size.Y-1, color.White)
		if err := d.Draw(rgba); err != nil {
			t.Fatal(err)
		}
		check(2, 2)

		f, err := os.Open(path + ".seen")
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := img.Bounds().Size(), size.Mul(Scale); got != want {
			t.Fatalf("PNG is %v, want %v", got, want)
		}
		// Lit pixels are light, unlit ones dark.
		bright := func(x, y int) bool {
			r, g, b, _ := img.At(x*Scale+1, y*Scale+1).RGBA()
			return r+g+b > 3*0x8000
		}
		if !bright(0, 0) || !bright(size.X-1, size.Y-1) || bright(1, 0) || bright(0, size.Y-1) {
			t.Fatal("PNG pixels do not match the frame")
		}

		got := d.Frame()
		for _, p := range []image.Point{{0, 0}, {1, 0}, {size.X - 1, size.Y - 1}} {
			r, _, _, _ := got.At(p.X, p.Y).RGBA()
			if want := p != image.Pt(1, 0); (r != 0) != want {
				t.Fatalf("Frame pixel %v lit %t, want %t", p, r != 0, want)
			}
		}

		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		check(3, 3)
		if err := d.Draw(a); !errors.Is(err, errClosed) {
			t.Fatalf("Draw after Close: %v", err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != "panel.png.seen" {
			t.Fatalf("temporary files left: %v", entries)
		}
	}
}

func TestDisplayNoPNG(t *testing.T) {
	d := NewDisplay(128, 64, "")
	if err := d.Draw(frame(128, 64, image.Pt(3, 4))); err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(frame(128, 64, image.Pt(3, 4))); err != nil {
		t.Fatal(err)
	}
	if d.Frames() != 1 {
		t.Fatalf("Frames %d", d.Frames())
	}
}

// TestDisplayWriteFails checks that a PNG that could not be written is written
// by the next Draw, even of the same frame.
func TestDisplayWriteFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "panel.png")
	d := NewDisplay(128, 32, path)
	img := frame(128, 32, image.Pt(5, 5))
	if err := d.Draw(img); err == nil {
		t.Fatal("Draw into a missing directory: no error")
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if d.Frames() != 1 {
		t.Fatalf("Frames %d", d.Frames())
	}
}

func TestButton(t *testing.T) {
	b := NewButton()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	b.Press()
	if !b.WaitPress(ctx) {
		t.Fatal("queued press not seen")
	}
	done := make(chan bool)
	go func() { done <- b.WaitPress(ctx) }()
	b.Press()
	if !<-done {
		t.Fatal("press not seen by a waiting WaitPress")
	}

	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if b.WaitPress(cctx) {
		t.Fatal("WaitPress on a cancelled context reported a press")
	}

	go func() { done <- b.WaitPress(ctx) }()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if <-done {
		t.Fatal("WaitPress reported a press after Close")
	}
	b.Press()
	if b.WaitPress(ctx) {
		t.Fatal("closed button pressed")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
