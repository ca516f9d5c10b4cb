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
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/swarmlight/swarmlight/appliance/clock"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/internal/safe"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// batchLen is how many datagrams one system call moves.
const batchLen = 32

// Server answers UDP tracker requests from a tracker.
type Server struct {
	trk            *tracker.Tracker
	log            *slog.Logger
	clock          clock.Clock
	ids            *connIDs
	limiter        *errorLimiter
	numWantDefault int
	scrapeMax      int

	packets, dropped, badConnID, errors, limited atomic.Uint64

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

// New returns a Server answering from trk.
func New(tcfg config.Tracker, trk *tracker.Tracker, log *slog.Logger, c clock.Clock) (*Server, error) {
	ids, err := newConnIDs()
	if err != nil {
		return nil, fmt.Errorf("udp: connection id key: %w", err)
	}
	return &Server{
		trk:            trk,
		log:            log,
		clock:          c,
		ids:            ids,
		limiter:        newErrorLimiter(c.Now()),
		numWantDefault: tcfg.NumWantDefault,
		scrapeMax:      min(tcfg.ScrapeMax, maxScrape),
	}, nil
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{Packets: s.packets.Load(), Dropped: s.dropped.Load(), BadConnID: s.badConnID.Load(), Errors: s.errors.Load(),
		Limited: s.limited.Load(), Panics: s.panics.Load()}
}

// Listener is one UDP address, bound as one socket per worker.
type Listener struct {
	conns []*net.UDPConn
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.conns[0].LocalAddr() }

// Close closes every socket, which ends Serve.
func (l *Listener) Close() error {
	var errs []error
	for _, c := range l.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Listen binds addr for workers workers (0: one per core). On Linux each worker has
// its own socket on the same address (SO_REUSEPORT), and the kernel spreads senders
// across them, so workers never contend for a socket.
func Listen(addr string, cfg config.UDP) (*Listener, error) {
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	conns, err := bind(addr, workers)
	if err != nil {
		return nil, err
	}
	l := &Listener{conns: conns}
	for _, c := range conns {
		if cfg.ReadBuffer > 0 {
			err = errors.Join(err, c.SetReadBuffer(cfg.ReadBuffer))
		}
		if cfg.WriteBuffer > 0 {
			err = errors.Join(err, c.SetWriteBuffer(cfg.WriteBuffer))
		}
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("udp: socket buffers: %w", err)
	}
	return l, nil
}

// Serve answers packets on l until l is closed, then returns nil.
func (s *Server) Serve(l *Listener) error {
	var wg sync.WaitGroup
	errs := make([]error, len(l.conns))
	for i, c := range l.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.serveConn(c)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// serveConn runs a worker on c until c is closed. A panic in a worker, a bug
// that some packet finds, would end the process, every swarm with it, and print
// the packet's data: the worker starts afresh instead, with new buffers, and the
// panic is counted and logged without its value. The rest of its batch is lost.
func (s *Server) serveConn(c *net.UDPConn) error {
	for {
		var err error
		if !safe.Do(func() { err = s.work(c) }) {
			return err
		}
		s.panics.Add(s.log, "udp: worker panic; restarted")
	}
}

// work is one worker's loop: a batch in, a batch of replies out.
func (s *Server) work(c *net.UDPConn) error {
	bc, err := newBatchConn(c, batchLen, packetLen)
	if err != nil {
		return fmt.Errorf("udp: %w", err)
	}
	h := newHandler(s)
	for {
		pkts, err := bc.read()
		if err != nil {
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
