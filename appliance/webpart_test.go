package appliance

import (
	"slices"
	"testing"
	"time"
)

// The history keeps the rate over each 10 s, the last hour's worth, oldest
// first; the rate now is the last sample's, or since start before the first.
func TestHistory(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var h history
	h.start(t0, 100)
	for _, tc := range []struct {
		name      string
		at        time.Duration
		announces uint64
		wantRate  float64
	}{
		{"half a second in: too soon to say", 500 * time.Millisecond, 101, 0},
		{"before the first sample: since start", 4 * time.Second, 110, 2.5},
	} {
		if r, s := h.read(t0.Add(tc.at), tc.announces); r != tc.wantRate || len(s) != 0 {
			t.Errorf("%s: rate %v, %d samples; want %v, none", tc.name, r, len(s), tc.wantRate)
		}
	}
	h.sample(t0.Add(10*time.Second), 150)
	h.sample(t0.Add(20*time.Second), 153)
	if r, s := h.read(t0.Add(25*time.Second), 999); r != 0.3 || !slices.Equal(s, []float64{5, 0.3}) {
		t.Errorf("after two samples: rate %v, samples %v; want 0.3, [5 0.3]", r, s)
	}
	for i := range 2 * historyLen {
		h.sample(t0.Add(time.Duration(30+10*i)*time.Second), 153+uint64(i+1)*10)
	}
	if _, s := h.read(t0.Add(time.Hour*3), 0); len(s) != historyLen || s[0] != 1 || s[len(s)-1] != 1 {
		t.Errorf("after %d more samples: %d kept (first %v)", 2*historyLen, len(s), s[0])
	}
}
