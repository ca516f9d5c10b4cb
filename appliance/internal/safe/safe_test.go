package safe

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestDo(t *testing.T) {
	tests := []struct {
		name string
		f    func()
		want bool
	}{
		{"returns", func() {}, false},
		{"panics with a value", func() { panic("peer 127.0.0.77:2690") }, true},
		{"panics with an error", func() { panic(errors.New("boom")) }, true},
		{"panics with nil", func() { panic(nil) }, true},
		{"indexes out of range", func() { var s []int; _ = s[len(s)+1] }, true},
	}
	for _, tt := range tests {
		if got := Do(tt.f); got != tt.want {
			t.Errorf("%s: Do = %t, want %t", tt.name, got, tt.want)
		}
	}
}

// TestPanicsLogged: every panic is counted; a burst costs one fixed line, which
// holds the count and nothing of the panic.
func TestPanicsLogged(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var p Panics
	for range 1000 {
		Do(func() { panic("peer 127.0.0.77:2690") })
		p.Add(log, "udp: worker panic; restarted")
	}
	if p.Load() != 1000 {
		t.Errorf("counted %d panics, want 1000", p.Load())
	}
	out := logs.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `level=ERROR msg="udp: worker panic; restarted" panics=1`) {
		t.Errorf("a burst of 1000 panics logged:\n%s\nwant one line", out)
	}
	if strings.Contains(out, "127.0.0.77") {
		t.Errorf("the log holds the panic's value:\n%s", out)
	}
}
