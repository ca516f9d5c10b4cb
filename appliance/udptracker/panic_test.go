package udptracker

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/privacytest"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// TestWorkerPanicRestarts makes the only worker panic on a packet, again and
// again: each time the worker is restarted and answers the next packet, the panic
// is counted, and the log holds one fixed line, never the panic's value (here the
// packet itself).
func TestWorkerPanicRestarts(t *testing.T) {
	poison := []byte("poison:127.0.0.77:2690")
	var logs privacytest.Output
	cfg := defaultTracker()
	trk := tracker.New(cfg, swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{}), nil)
	s, err := New(frontConfig(cfg), trk, slog.New(slog.NewTextHandler(&logs, nil)), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	s.fault = func(pkt []byte) {
		if bytes.Equal(pkt, poison) {
			panic("bad packet " + string(pkt))
		}
	}
	l, err := Listen("127.0.0.1:0", ListenConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const rounds = 3
	for i := range uint32(rounds) {
		if _, err := c.Write(poison); err != nil {
			t.Fatal(err)
		}
		// A packet read in the same batch as the poison is lost with it, as a
		// client would find: it asks again.
		connect := binary.BigEndian.AppendUint64(nil, protocolID)
		connect = binary.BigEndian.AppendUint32(connect, actionConnect)
		connect = binary.BigEndian.AppendUint32(connect, 100+i)
		buf := make([]byte, 64)
		var n int
		for try := 0; try < 10 && n == 0; try++ {
			if _, err := c.Write(connect); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, _ = c.Read(buf)
		}
		if n != 16 || binary.BigEndian.Uint32(buf[4:]) != 100+i {
			t.Fatalf("round %d: no connect reply after the poison packet (%d bytes %x)", i, n, buf[:n])
		}
	}
	if got := s.Stats().Panics; got != rounds {
		t.Errorf("Stats().Panics = %d, want %d", got, rounds)
	}
	l.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5 s of its socket closing")
	}
	out := logs.String()
	if strings.Count(out, `msg="udp: worker panic; restarted"`) != 1 {
		t.Errorf("want one log line for the burst:\n%s", out)
	}
	if strings.Contains(out, "poison") || strings.Contains(out, "127.0.0.77") {
		t.Errorf("the log holds the panic's value:\n%s", out)
	}
}
