//go:build unix

package main

import (
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAccessCommandsBinary runs the real binary as the tracker and as the
// operator's commands against it: each edit signals the running tracker, and what
// it changed applies to announces within seconds, without a restart.
func TestAccessCommandsBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t, "v0-access-test")
	d := newAccessDir(t, "private+listed")
	cfg := []string{"--config", d.cfg}

	// With no tracker running, an edit is still fine, and says so.
	out, stderr, status := runBinary(t, bin, append([]string{"key", "add", "alice"}, cfg...)...)
	if status != 0 || !strings.Contains(out, "no running tracker found") {
		t.Fatalf("key add with no tracker: status %d\nstdout:\n%s\nstderr:\n%s", status, out, stderr)
	}
	m := regexp.MustCompile(`(?m)^  ([0-9a-f]{32})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("key add printed no key:\n%s", out)
	}
	alice := m[1]

	p := startProc(t, exec.Command(bin, append([]string{"serve", "--http.listen", "127.0.0.1:0", "--udp.listen", ""}, cfg...)...))
	base := strings.TrimSuffix(waitForAnnounce(t, p.lines, p.exited, p.stderr), "/announce")
	hash := strings.Repeat("\x5a", 20)
	hashHex := strings.Repeat("5a", 20)

	announce := func(key string) string {
		u := base + "/announce"
		if key != "" {
			u = base + "/" + key + "/announce"
		}
		q := url.Values{"info_hash": {hash}, "peer_id": {"-TR4000-abcdefghijkl"}, "port": {"6881"}, "left": {"0"}}
		resp, err := http.Get(u + "?" + q.Encode())
		if err != nil {
			t.Fatalf("announce: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// within waits, bounded, for an announce with key to be answered as want says.
	within := func(what, key string, want func(body string) bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			body := announce(key)
			if want(body) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 3 s; last answer %q; tracker stderr:\n%s", what, body, p.stderr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	refused := func(reason string) func(string) bool {
		return func(body string) bool {
			return strings.Contains(body, "failure reason") && strings.Contains(body, reason)
		}
	}
	accepted := func(body string) bool {
		return strings.Contains(body, "8:interval") && !strings.Contains(body, "failure reason")
	}

	within("no key refused", "", refused("missing or invalid passkey"))
	within("unlisted torrent refused", alice, refused("torrent not tracked here"))

	steps := []struct {
		name string
		args []string
		then func()
	}{
		{"list add", []string{"list", "add", hashHex}, func() { within("listed torrent accepted", alice, accepted) }},
		{"key revoke", []string{"key", "revoke", "alice"}, func() { within("revoked key refused", alice, refused("missing or invalid passkey")) }},
		{"reload", []string{"reload"}, func() {}},
	}
	for _, s := range steps {
		out, stderr, status := runBinary(t, bin, append(s.args, cfg...)...)
		if status != 0 || !strings.Contains(out, "signalled the running tracker to reload") {
			t.Fatalf("%s: status %d\nstdout:\n%s\nstderr:\n%s", s.name, status, out, stderr)
		}
		s.then()
	}
	select {
	case err := <-p.exited:
		t.Fatalf("the tracker exited after the signals: %v; stderr:\n%s", err, p.stderr)
	default:
	}
	// Each signal reached the tracker: it logged a reload for each.
	for deadline := time.Now().Add(3 * time.Second); strings.Count(p.stderr.String(), "reload:") < len(steps); {
		if time.Now().After(deadline) {
			t.Fatalf("the tracker logged fewer than %d reloads:\n%s", len(steps), p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if log := p.stderr.String(); strings.Contains(log, alice) || strings.Contains(log, hashHex) {
		t.Fatalf("the tracker's log holds the key or the info-hash:\n%s", log)
	}
}
