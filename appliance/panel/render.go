package panel

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"net/url"
	"strings"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Pages are what the display cycles through. Each is legible on its own at a
// glance: someone walking past reads one line, someone setting up a client reads
// the first page.
const (
	PageAnnounce = iota // name and the announce URL to type into a client
	PageSwarms          // torrents, seeders, leechers, rate, uptime
	PageHistory         // announces per minute over the last hour
	PageHealth          // memory, caps hit, problems
	NumPages
)

// View is everything a page can show: aggregate figures and the box's own
// addresses, never a peer's address or an info-hash.
type View struct {
	Name     string
	URLs     []string // announce URLs, preferred first
	Snapshot Snapshot
	Rate     float64  // announces per second, recent
	PerMin   []uint32 // announces per minute, oldest first, up to 60
	Uptime   time.Duration
	Problems []string // what needs attention, most important first
}

var (
	face       = basicfont.Face7x13
	lineHeight = face.Height // 13 px: four lines and a page marker fit 64 px
	lineChars  = 128 / face.Advance
	on         = color.Gray{Y: 0xff}
	off        = color.Gray{Y: 0}
)

// Render draws page of v for a display of the given bounds (128×64 or 128×32).
// A 32-pixel display shows the first two lines of each page.
func Render(page int, v View, bounds image.Rectangle) *image.Gray {
	img := image.NewGray(bounds)
	draw.Draw(img, bounds, image.NewUniform(off), image.Point{}, draw.Src)
	lines := bounds.Dy() / lineHeight
	small := lines < 4 // a 128×32 display: two lines that must say it all
	switch page {
	case PageAnnounce:
		al := announceLines(v)
		if small && len(al) == 4 {
			// The address is what a user types; the scheme and path are the same
			// everywhere, so they share the second line.
			al = []string{al[2], strings.TrimSuffix(al[1], "://") + " " + al[3]}
		}
		text(img, lines, al)
	case PageSwarms:
		s := v.Snapshot
		if small {
			text(img, lines, []string{
				row(count(uint64(s.Torrents))+" torrents", rate(v.Rate)),
				row(count(uint64(s.Seeders))+" seed", count(uint64(s.Leechers))+" leech"),
			})
			break
		}
		text(img, lines, []string{
			row("torrents", fmt.Sprint(s.Torrents)),
			row("seeders", fmt.Sprint(s.Seeders)),
			row("leechers", fmt.Sprint(s.Leechers)),
			row(rate(v.Rate), "up "+uptime(v.Uptime)),
		})
	case PageHistory:
		peak := uint32(0)
		for _, n := range v.PerMin {
			peak = max(peak, n)
		}
		text(img, 1, []string{row("ann/min", "max "+count(uint64(peak)))})
		sparkline(img, image.Rect(4, lineHeight+2, 124, bounds.Dy()-marginBottom(bounds)), v.PerMin, peak)
	case PageHealth:
		s := v.Snapshot
		status := "all well"
		if len(v.Problems) > 0 {
			status = v.Problems[0]
		}
		text(img, lines, []string{
			"mem " + memory(s.HeapBytes, s.MemLimit),
			status,
			row("caps hit", count(s.CapHits)),
			row("problems", fmt.Sprint(len(v.Problems))),
		})
	}
	marker(img, page)
	return img
}

// announceLines splits the preferred announce URL so that each part fits a line:
// the schemes the box answers on, its address, and the path.
//
//	swarmlight
//	http|udp://
//	192.168.1.20:6969
//	/announce
func announceLines(v View) []string {
	lines := []string{v.Name}
	var schemes []string
	host, path := "", ""
	for _, raw := range v.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if host == "" {
			host, path = u.Host, u.Path
		}
		if u.Host == host && !contains(schemes, u.Scheme) {
			schemes = append(schemes, u.Scheme)
		}
	}
	if host == "" {
		return append(lines, "no network yet")
	}
	return append(lines, strings.Join(schemes, "|")+"://", host, path)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// text writes up to n lines, each cut to what a line holds.
func text(img *image.Gray, n int, lines []string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(on), Face: face}
	for i, l := range lines {
		if i >= n {
			return
		}
		if len(l) > lineChars {
			l = l[:lineChars]
		}
		d.Dot = fixed.P(0, i*lineHeight+face.Ascent)
		d.DrawString(l)
	}
}

// row writes a label on the left and a value on the right of one line.
func row(label, value string) string {
	pad := lineChars - len(label) - len(value)
	if pad < 1 {
		pad = 1
	}
	return label + strings.Repeat(" ", pad) + value
}

// sparkline draws one bar per minute, scaled to the busiest minute, in r.
func sparkline(img *image.Gray, r image.Rectangle, perMin []uint32, peak uint32) {
	if r.Dy() < 2 {
		return
	}
	// A baseline, so an idle hour still reads as a graph of nothing.
	for x := r.Min.X; x < r.Max.X; x++ {
		img.SetGray(x, r.Max.Y-1, on)
	}
	if peak == 0 {
		return
	}
	barW := r.Dx() / 60
	start := r.Max.X - len(perMin)*barW
	for i, n := range perMin {
		h := int((uint64(n)*uint64(r.Dy()-1) + uint64(peak) - 1) / uint64(peak))
		for x := start + i*barW; x < start+(i+1)*barW-1+boolInt(barW == 1); x++ {
			for y := r.Max.Y - 1 - h; y < r.Max.Y-1; y++ {
				img.SetGray(x, y, on)
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// marginBottom is the room under the text kept for the page marker.
func marginBottom(bounds image.Rectangle) int {
	if bounds.Dy() >= 64 {
		return 64 - 4*lineHeight
	}
	return 0
}

// marker draws one dot per page under the text, the current one filled, on
// displays tall enough to have room for it.
func marker(img *image.Gray, page int) {
	b := img.Bounds()
	if b.Dy() < 64 {
		return
	}
	y := b.Max.Y - 5
	for p := range NumPages {
		x := b.Max.X/2 - NumPages*4 + p*8
		for dx := range 4 {
			for dy := range 4 {
				if p == page || dx == 0 || dx == 3 || dy == 0 || dy == 3 {
					img.SetGray(x+dx, y+dy, on)
				}
			}
		}
	}
}

func rate(perSec float64) string {
	switch {
	case perSec >= 1000:
		return fmt.Sprintf("%.0fk/s", perSec/1000)
	case perSec >= 10:
		return fmt.Sprintf("%.0f/s", perSec)
	}
	return fmt.Sprintf("%.1f/s", perSec)
}

func uptime(d time.Duration) string {
	d = d.Truncate(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d/time.Hour)%24, int(d/time.Minute)%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%02dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh%02dm", hours, mins)
	}
	return fmt.Sprintf("%dm", mins)
}

func count(n uint64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 100_000:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func memory(used, limit uint64) string {
	mib := func(b uint64) string { return fmt.Sprintf("%dM", (b+1<<20-1)>>20) }
	if limit == 0 {
		return mib(used) + " no cap"
	}
	return mib(used) + " / " + mib(limit)
}
