package panel

import (
	"image"
	"slices"
	"time"
)

// Shown is what the display shows, for the status page: the page on show and
// the view it is drawn from. With no display, it is what one would show.
type Shown struct {
	Page   int
	View   View
	Bounds image.Rectangle // the display's, or 128×64 without one
}

// Current returns what the display shows, as of the last step; false before
// the first. Any goroutine may call it: the step publishes a copy at most
// once per redraw interval, so the panel's own state stays its own.
func (p *Panel) Current() (Shown, bool) {
	s := p.shown.Load()
	if s == nil {
		return Shown{}, false
	}
	return *s, true
}

// share publishes the view for Current when it is due: when the page turns,
// and otherwise as often as the display is redrawn.
func (p *Panel) share(now time.Time, s Snapshot, problems []string, turned bool) {
	if !turned && !p.sharedAt.IsZero() && now.Sub(p.sharedAt) < redrawEvery {
		return
	}
	p.sharedAt = now
	bounds := image.Rect(0, 0, 128, 64)
	if p.display != nil {
		bounds = p.display.Bounds()
	}
	v := p.view(now, s, problems)
	// The step appends to the history in place; the copy must not see it.
	v.PerMin = slices.Clone(v.PerMin)
	v.URLs = slices.Clone(v.URLs)
	p.shown.Store(&Shown{Page: p.page, View: v, Bounds: bounds})
}
