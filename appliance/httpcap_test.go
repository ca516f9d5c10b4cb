package appliance_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHTTPCapInStats: in the running tracker, a connection over http.max_connections
// is answered 503 at once, and the log shows it as counts only: one "connection cap
// reached" line and the stats line's http_cap_refused, with no client address or
// port.
func TestHTTPCapInStats(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTP.MaxConnections = 1
	r := start(t, cfg)
	addr := strings.TrimSuffix(strings.TrimPrefix(r.urls[0], "http://"), "/announce")
	request := "GET /announce?" + query("abcdefghij0123456789", "-AA0001-000000000001", "6881", "left=0") + " HTTP/1.1\r\nHost: t\r\n\r\n"

	var clientPorts []string
	exchange := func() *http.Response {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clientPorts = append(clientPorts, strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port))
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer within 1 s: %v", err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := exchange(); resp.StatusCode != http.StatusOK {
		t.Fatalf("first connection: status %d, want 200", resp.StatusCode)
	}
	if resp := exchange(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second connection, over the cap: status %d, want 503", resp.StatusCode)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	logs := r.logs.String()
	for _, want := range []string{`msg="http: connection cap reached" refused=1`, "http_cap_refused=1 http_source_refused=0"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, p := range clientPorts {
		if strings.Contains(logs, ":"+p) || strings.Contains(logs, "="+p+" ") {
			t.Errorf("log holds a client's port %s:\n%s", p, logs)
		}
	}
}
