package tracker_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// refusalAdd is n refusals of one reason on one front.
type refusalAdd struct {
	front, reason string
	n             int
}

func TestRefusalsLog(t *testing.T) {
	cases := []struct {
		name string
		adds []refusalAdd
		want string // the line logged; "" for none
	}{
		{"none", nil, ""},
		{"one reason", []refusalAdd{{"udp", "unknown action", 3}}, `level=INFO msg=refused total=3 "udp: unknown action"=3`},
		{"reasons and fronts apart", []refusalAdd{{"http", "invalid port", 2}, {"udp", "invalid port", 1}, {"http", "missing left", 4}},
			`level=INFO msg=refused total=7 "http: invalid port"=2 "udp: invalid port"=1 "http: missing left"=4`},
		{"more reasons than slots", manyReasons(130),
			`"udp: reason 127"=1 "other reasons"=2`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r tracker.Refusals
			for _, a := range tc.adds {
				for range a.n {
					r.Add(a.front, a.reason)
				}
			}
			var buf bytes.Buffer
			log := textLog(&buf)
			r.Log(log)
			got := strings.TrimSpace(buf.String())
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) || strings.Count(got, "\n") > 0 {
				t.Errorf("logged %q, want one line holding %q", got, tc.want)
			}
			// Each refusal is logged once: the next interval starts from nothing.
			buf.Reset()
			r.Log(log)
			if buf.Len() != 0 {
				t.Errorf("second Log wrote %q, want nothing", buf.String())
			}
		})
	}
}

func manyReasons(n int) []refusalAdd {
	out := make([]refusalAdd, n)
	for i := range out {
		out[i] = refusalAdd{"udp", fmt.Sprintf("reason %d", i), 1}
	}
	return out
}

// textLog logs everything, debug included, to buf, without times.
func textLog(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
}

// Concurrent fronts count the same reasons; not one refusal may be lost or counted
// twice.
func TestRefusalsConcurrent(t *testing.T) {
	var r tracker.Refusals
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				r.Add([]string{"http", "udp"}[w%2], fmt.Sprint("reason ", i%7))
			}
		}()
	}
	wg.Wait()
	var buf bytes.Buffer
	r.Log(textLog(&buf))
	if !strings.Contains(buf.String(), "total=4000 ") || strings.Count(buf.String(), "=") != 2+1+14 {
		t.Errorf("logged %q, want a total of 4000 over 14 front-reason pairs", buf.String())
	}
}

func TestRefusalsAddAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	var r tracker.Refusals
	r.Add("udp", "connection id expired or invalid; connect again")
	if n := testing.AllocsPerRun(100, func() { r.Add("udp", "connection id expired or invalid; connect again") }); n != 0 {
		t.Errorf("Add allocates %.1f times", n)
	}
}
