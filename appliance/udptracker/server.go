// Package udptracker is the UDP front of the tracker (BEP 15, with BEP 41 options):
// connect, announce, scrape and error on the wire. parser.go reads requests,
// writer.go writes replies, handler.go answers one packet, and the batch files move
// packets between sockets and workers.
package udptracker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swarmlight/swarmlight/appliance/internal/safe"
	"github.com/swarmlight/swarmlight/appliance/metrics/requests"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// batchLen is how many datagrams one system call moves.
const batchLen = 32

// Server answers UDP tracker requests from a tracker.
type Server struct {
	trk     Tracker
	log     *slog.Logger
	clock   clock.Clock
	ids     *connIDs
	limiter *errorLimiter
	cfg     atomic.Pointer[Config] // swapped by Reconfigure; a packet loads it once

	packets, dropped, badConnID, errors, limited atomic.Uint64

	reqs requests.Counts // connects, announces and scrapes, by result, and how long each took

	panics safe.Panics

	// fault, set only by tests before Serve, is called with each packet before it
	// is answered: a way to make a worker panic.
	fault func(pkt []byte)
}

// Stats are the UDP front's aggregate counters.
type Stats struct {
	Packets   uint64 // datagrams received
	Dropped   uint64 // not answered: garbage, truncated, not a request
	BadConnID uint64 // expired or forged connection ids
	Errors    uint64 // error replies sent
	Limited   uint64 // error replies held back: the source drew them too fast
	Panics    uint64 // workers restarted after a panic
}

// New returns a Server answering from trk, configured by cfg.
func New(cfg Config, trk Tracker, log *slog.Logger, c clock.Clock) (*Server, error) {
	ids, err := newConnIDs()
	if err != nil {
		return nil, fmt.Errorf("udp: connection id key: %w", err)
	}
	s := &Server{trk: trk, log: log, clock: c, ids: ids, limiter: newErrorLimiter(c.Now())}
	s.Reconfigure(cfg)
	return s, nil
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{Packets: s.packets.Load(), Dropped: s.dropped.Load(), BadConnID: s.badConnID.Load(), Errors: s.errors.Load(),
		Limited: s.limited.Load(), Panics: s.panics.Load()}
}

// Requests returns the connects, announces and scrapes answered, by result, and
// how long they took.
func (s *Server) Requests() requests.Snapshot { return s.reqs.Snapshot() }

// Listener is one UDP address, bound as one socket per worker.
type Listener struct {
	conns []*net.UDPConn

	// A Listener that Rebind has replaced drains as it closes; see drain.
	superseded atomic.Bool
	draining   atomic.Bool
	active     atomic.Int32 // workers serving it
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.conns[0].LocalAddr() }

// Workers is how many sockets, each with its worker, l has.
func (l *Listener) Workers() int { return len(l.conns) }

// Close closes every socket, which ends Serve. A Listener that Rebind replaced is
// drained first: what its sockets had received is answered.
func (l *Listener) Close() error {
	if l.superseded.Load() {
		l.drain()
	}
	var errs []error
	for _, c := range l.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Listen binds addr as lc says. On Linux each worker has its own socket on the
// same address (SO_REUSEPORT), and the kernel spreads senders across them, so
// workers never contend for a socket.
func Listen(addr string, lc ListenConfig) (*Listener, error) {
	conns, err := bind(addr, lc.workers())
	if err != nil {
		return nil, err
	}
	return withBuffers(conns, lc)
}

// Rebind binds a second Listener on l's address, alongside l, as lc says: the way
// to change the number of workers without a moment in which the address is
// unbound. From then on the kernel sends every datagram for the address to the
// new sockets (a reuseport program, steer). Serve the new Listener, then close
// l: Close lets l's workers answer what l's sockets still hold before it closes
// them, so no datagram is lost on the way. Linux only.
func (l *Listener) Rebind(lc ListenConfig) (*Listener, error) {
	conns, err := rebind(l.Addr().String(), lc.workers())
	if err != nil {
		return nil, fmt.Errorf("udp: rebind: %w", err)
	}
	next, err := withBuffers(conns, lc)
	if err != nil {
		return nil, err
	}
	// Without the program (a kernel before 4.5), the kernel spreads datagrams
	// over both sets until l closes, and the few queued on l's sockets then are
	// lost; their clients ask again, as BEP 15 has them do. That is no reason to
	// refuse the change.
	_ = steer(next.conns, len(l.conns))
	l.superseded.Store(true)
	return next, nil
}

const (
	// drainWithin bounds how long closing a replaced Listener waits for its
	// sockets to empty and its workers to stop.
	drainWithin = time.Second
	// drainSettle lets datagrams the kernel was delivering as the steering
	// changed land before the sockets are looked at.
	drainSettle = 5 * time.Millisecond
)

// drain waits until l's sockets hold nothing, then stops its workers between
// two batches: a read deadline in the past ends each worker's next read, after
// it has sent the replies of the batch before.
func (l *Listener) drain() {
	deadline := time.Now().Add(drainWithin)
	time.Sleep(drainSettle)
	for queued(l.conns) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	l.draining.Store(true)
	for _, c := range l.conns {
		_ = c.SetReadDeadline(time.Unix(1, 0))
	}
	for l.active.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

func withBuffers(conns []*net.UDPConn, lc ListenConfig) (*Listener, error) {
	l := &Listener{conns: conns}
	if err := l.SetBuffers(lc); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// SetBuffers sets the sockets' receive and send buffers as lc says (0 leaves
// one as it is), at once, on sockets being served. lc.Workers is not looked at:
// changing it takes Rebind.
func (l *Listener) SetBuffers(lc ListenConfig) error {
	var err error
	for _, c := range l.conns {
		if lc.ReadBuffer > 0 {
			err = errors.Join(err, c.SetReadBuffer(lc.ReadBuffer))
		}
		if lc.WriteBuffer > 0 {
			err = errors.Join(err, c.SetWriteBuffer(lc.WriteBuffer))
		}
	}
	if err != nil {
		return fmt.Errorf("udp: socket buffers: %w", err)
	}
	return nil
}

// Serve answers packets on l until l is closed, then returns nil.
func (s *Server) Serve(l *Listener) error {
	var wg sync.WaitGroup
	errs := make([]error, len(l.conns))
	for i, c := range l.conns {
		wg.Add(1)
		l.active.Add(1)
		go func() {
			defer wg.Done()
			defer l.active.Add(-1)
			errs[i] = s.serveConn(l, c)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// serveConn runs a worker on c until c is closed. A panic in a worker, a bug
// that some packet finds, would end the process, every swarm with it, and print
// the packet's data: the worker starts afresh instead, with new buffers, and the
// panic is counted and logged without its value. The rest of its batch is lost.
func (s *Server) serveConn(l *Listener, c *net.UDPConn) error {
	for {
		var err error
		if !safe.Do(func() { err = s.work(l, c) }) {
			return err
		}
		s.panics.Add(s.log, "udp: worker panic; restarted")
	}
}

// work is one worker's loop: a batch in, a batch of replies out.
func (s *Server) work(l *Listener, c *net.UDPConn) error {
	bc, err := newBatchConn(c, batchLen, packetLen)
	if err != nil {
		return fmt.Errorf("udp: %w", err)
	}
	h := newHandler(s)
	for {
		pkts, err := bc.read()
		if err != nil {
			if l.draining.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
				return nil // drained: see Listener.drain
			}
			return closedIsNil(err)
		}
		for _, p := range pkts {
			if s.fault != nil {
				s.fault(p.data)
			}
			if out := h.handleReceived(p.data, p.truncated, p.from, bc.replyBuf()); len(out) > 0 {
				bc.reply(p, out)
			}
		}
		if err := bc.flush(); err != nil {
			return closedIsNil(err)
		}
		s.dropped.Add(uint64(bc.takeSkipped()))
	}
}

func closedIsNil(err error) error {
	if isClosed(err) {
		return nil
	}
	return fmt.Errorf("udp: %w", err)
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
