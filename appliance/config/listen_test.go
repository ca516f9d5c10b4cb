package config

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestCheckListen(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := held.Addr().String()

	tests := []struct {
		name   string
		listen []string
		want   []string // problems, in order; none means success
	}{
		{"free port", []string{"127.0.0.1:0"}, nil},
		{"port held by the test", []string{"127.0.0.1:0", busy}, []string{`"` + busy + `": address already in use`}},
		{"unresolvable host", []string{"no-such-host.invalid:0"}, []string{`"no-such-host.invalid:0": `}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.HTTP.Listen = tt.listen
			err := CheckListen(cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("CheckListen: %v", err)
				}
				return
			}
			var es Errors
			if !errors.As(err, &es) || len(es) != len(tt.want) {
				t.Fatalf("CheckListen = %v, want %d errors", err, len(tt.want))
			}
			for i, e := range es {
				if e.Key != "http.listen" || !strings.HasPrefix(e.Problem, tt.want[i]) {
					t.Errorf("error %d = %q, want key http.listen and a problem starting %q", i, e, tt.want[i])
				}
			}
			var ke *KeyError
			if !errors.As(err, &ke) || !IsConfigError(err) {
				t.Errorf("errors.As(*KeyError) fails on %v", err)
			}
		})
	}
}

// TestCheckListenReleases checks that a successful check leaves the port free for
// the tracker to bind.
func TestCheckListenReleases(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	cfg := Default()
	cfg.HTTP.Listen = []string{addr}
	if err := CheckListen(cfg); err != nil {
		t.Fatalf("CheckListen(%s): %v", addr, err)
	}
	again, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still held after CheckListen: %v", err)
	}
	again.Close()
}
