package panel

import "time"

// LED patterns, in one place so they can be read and tuned together. They are
// functions of time and state only, so tests need no clock but a fake one.
const (
	// heartbeatPeriod is the slow blink that says "alive and serving".
	heartbeatPeriod = 2 * time.Second
	// alarmPeriod is the fast blink that says "something needs attention".
	alarmPeriod = 250 * time.Millisecond
	// flashOn is one activity flash; flashGap the least time from one flash to the
	// next, so a busy tracker reads as a steady flicker, not a strobe.
	flashOn  = 40 * time.Millisecond
	flashGap = 200 * time.Millisecond
	// capHitHold keeps a cap hit on the error LED long enough for someone to see.
	capHitHold = 5 * time.Minute
)

// heartbeat is the power LED: solid while starting, a slow blink while serving, a
// fast blink while something needs attention.
func heartbeat(sinceStart time.Duration, serving, alarm bool) bool {
	switch {
	case !serving:
		return true
	case alarm:
		return sinceStart%alarmPeriod < alarmPeriod/2
	}
	return sinceStart%heartbeatPeriod < heartbeatPeriod/2
}

// flasher turns a growing announce count into short flashes, one per burst.
type flasher struct {
	seen    uint64
	flashAt time.Time
}

// lit reports whether the activity LED is on at now, given the announces so far.
func (f *flasher) lit(now time.Time, announces uint64) bool {
	if announces != f.seen && (f.flashAt.IsZero() || now.Sub(f.flashAt) >= flashGap) {
		f.seen, f.flashAt = announces, now
	}
	return !f.flashAt.IsZero() && now.Sub(f.flashAt) < flashOn
}
