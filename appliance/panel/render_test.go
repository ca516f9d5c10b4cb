package panel

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata from the current rendering")

// TestGoldenPages renders every page at both display sizes and compares it pixel
// for pixel with testdata/. After a deliberate change, regenerate with
//
//	go test ./appliance/panel -run Golden -update
//
// and look at the new images before committing them.
func TestGoldenPages(t *testing.T) {
	v := Demo("swarmlight")
	problem := Demo("swarmlight")
	problem.Problems = []string{"tracker is full"}
	problem.Snapshot.CapHits = 3
	for _, h := range []int{64, 32} {
		for page := range NumPages {
			for _, tc := range []struct {
				suffix string
				v      View
			}{{"", v}, {"-problem", problem}} {
				if tc.suffix != "" && page != PageHealth {
					continue
				}
				name := fmt.Sprintf("page%d-128x%d%s.png", page+1, h, tc.suffix)
				t.Run(name, func(t *testing.T) {
					got := Render(page, tc.v, image.Rect(0, 0, 128, h))
					golden(t, filepath.Join("testdata", name), got)
				})
			}
		}
	}
}

func golden(t *testing.T, path string, got *image.Gray) {
	t.Helper()
	if *update {
		writePNG(t, path, got)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if want.Bounds() != got.Bounds() {
		t.Fatalf("size %v, golden %v", got.Bounds(), want.Bounds())
	}
	diff := 0
	for y := got.Bounds().Min.Y; y < got.Bounds().Max.Y; y++ {
		for x := got.Bounds().Min.X; x < got.Bounds().Max.X; x++ {
			r, _, _, _ := want.At(x, y).RGBA()
			if (r > 0x7fff) != (got.GrayAt(x, y).Y > 0x7f) {
				diff++
			}
		}
	}
	if diff > 0 {
		out := filepath.Join(t.TempDir(), filepath.Base(path))
		writePNG(t, out, got)
		t.Errorf("%d pixels differ from %s; this rendering is in %s\n%s", diff, path, out, ascii(got))
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// ascii draws img as text, so a failing test shows what it rendered.
func ascii(img *image.Gray) string {
	var b strings.Builder
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			if img.GrayAt(x, y).Y > 0x7f {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// The pages never show anything but aggregate figures and the box's own address.
func TestPagesText(t *testing.T) {
	v := Demo("swarmlight")
	if got := announceLines(v); strings.Join(got, "|") != "swarmlight|http|udp://|192.168.1.20:6969|/announce" {
		t.Errorf("announce page lines %q", got)
	}
	v.URLs = nil
	if got := announceLines(v); got[1] != "no network yet" {
		t.Errorf("no URLs: %q", got)
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{90 * time.Second, "1m"}, {3*time.Hour + 5*time.Minute, "3h05m"}, {50 * time.Hour, "2d02h"}} {
		if got := uptime(tc.d); got != tc.want {
			t.Errorf("uptime(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := memory(23<<20, 0); got != "23M no cap" {
		t.Errorf("memory without a cap: %q", got)
	}
}
