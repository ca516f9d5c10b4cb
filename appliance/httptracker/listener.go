package httptracker

import (
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// net/http keeps every connection it accepts, idle between keep-alive requests or
// waiting for slow headers, until a timeout. A listener that blocks in Accept at the
// cap would leave everyone else in the kernel's queue behind one host that holds
// the slots. So Accept never waits on the caps: a connection over the front's cap
// (http.max_connections) or its source's (http.max_connections_per_source) is
// answered 503 and closed at once, and counted.

// refusal is the whole answer to a connection over a cap. It is written before any
// request is read, so it is the same for everyone and echoes nothing.
var refusal = []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

const (
	// refusalWrite bounds writing the refusal. A new connection's send buffer is
	// empty, so the write does not wait; the deadline makes sure Accept never does.
	refusalWrite = 50 * time.Millisecond

	// refusalLogEvery is the least time between two log lines about one kind of
	// refusal, so that a flood of connections cannot flood the journal.
	refusalLogEvery = time.Minute
)

// limits are the connection caps of one Server, shared by all its listeners and
// generations. The caps are atomics, so that Reconfigure changes them under
// connections being admitted: a cap lowered refuses the next connection over it and
// closes none already open.
type limits struct {
	max       atomic.Int64  // http.max_connections; 0 is no cap
	perSource atomic.Uint32 // http.max_connections_per_source; 0 is no cap
	// sources counts every connection, capped or not, so that a per-source cap
	// turned on live counts the connections already open.
	sources *sourceCounts

	open                      atomic.Int64
	capRefused, sourceRefused atomic.Uint64
	capLog, sourceLog         refusalLog
}

func newLimits(log *slog.Logger) *limits {
	return &limits{
		sources:   &sourceCounts{seed: maphash.MakeSeed()},
		capLog:    refusalLog{log: log, msg: "http: connection cap reached"},
		sourceLog: refusalLog{log: log, msg: "http: per-source connection cap reached"},
	}
}

// set changes the caps; 0 is no cap.
func (lim *limits) set(maxConns, perSource int) {
	lim.max.Store(int64(max(maxConns, 0)))
	lim.perSource.Store(uint32(min(int64(max(perSource, 0)), 1<<31)))
}

// admit counts c against the limits and returns it wrapped to give its counts back
// on Close, or refuses it and returns nil. The source's cap is checked first, so a
// host that holds its share is counted as such even when the front is full too.
func (lim *limits) admit(c net.Conn) net.Conn {
	var (
		h       uint64
		counted bool
	)
	// A connection whose source cannot be told is held to the front's cap only.
	if src, ok := remoteAddr(c); ok {
		h = lim.sources.hash(src)
		if !lim.sources.take(h, lim.perSource.Load()) {
			lim.refuse(c, &lim.sourceRefused, &lim.sourceLog)
			return nil
		}
		counted = true
	}
	if n, limit := lim.open.Add(1), lim.max.Load(); limit > 0 && n > limit {
		lim.open.Add(-1)
		if counted {
			lim.sources.give(h)
		}
		lim.refuse(c, &lim.capRefused, &lim.capLog)
		return nil
	}
	return &limitedConn{Conn: c, lim: lim, h: h, counted: counted}
}

// refuse counts and logs before it answers, so that whoever sees the 503 can
// already see it counted.
func (lim *limits) refuse(c net.Conn, n *atomic.Uint64, rl *refusalLog) {
	n.Add(1)
	rl.refused(time.Now())
	_ = c.SetWriteDeadline(time.Now().Add(refusalWrite))
	_, _ = c.Write(refusal)
	_ = c.Close()
}

func remoteAddr(c net.Conn) (netip.Addr, bool) {
	a, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	return a.AddrPort().Addr(), true
}

// limitedConn gives back its counts when closed, once however often net/http
// closes it.
type limitedConn struct {
	net.Conn
	lim     *limits
	h       uint64 // the source's hash, when counted
	counted bool
	closed  atomic.Bool
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.lim.open.Add(-1)
		if c.counted {
			c.lim.sources.give(c.h)
		}
	}
	return err
}

// CloseWrite passes on to the TCP connection: net/http half-closes a connection it
// gives up on (a header too large, a body left unread) before closing it, so that
// the client reads the error reply rather than a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// sourceCounts counts the connections each source (an IPv4 address, an IPv6 /64)
// holds open, in a count-min sketch: a few rows of counters, each indexed by a
// different slice of a keyed hash of the source. A source's count is the smallest
// of its counters: never less than the truth and, with rows this wide next to the
// connection cap, almost never more. The memory is fixed, 64 KiB, whatever the
// number of sources.
//
// Privacy: it holds counts, not addresses. The hash is keyed by a seed drawn at
// start, which dies with the process; the counters are in RAM only and never
// logged or shown, only the number of refusals is.
type sourceCounts struct {
	seed maphash.Seed
	rows [sourceRows][sourceWidth]atomic.Uint32
}

const (
	sourceRows  = 4
	sourceBits  = 12 // 4096 counters a row
	sourceWidth = 1 << sourceBits
)

// hash is the source's keyed hash. An IPv6 /64 is one source, as in the peer
// store's quotas: one host may hold a whole /64 of addresses.
func (s *sourceCounts) hash(a netip.Addr) uint64 {
	var k [9]byte
	if a = a.Unmap(); a.Is4() {
		a4 := a.As4()
		k[0] = 4
		copy(k[1:], a4[:])
	} else {
		a16 := a.As16()
		k[0] = 6
		copy(k[1:], a16[:8])
	}
	return maphash.Bytes(s.seed, k[:])
}

func (s *sourceCounts) slot(h uint64, row int) *atomic.Uint32 {
	return &s.rows[row][(h>>(16*row))&(sourceWidth-1)]
}

// take counts one more connection for h; false, counting nothing, when h already
// holds limit (0: no limit).
func (s *sourceCounts) take(h uint64, limit uint32) bool {
	least := ^uint32(0)
	for row := range sourceRows {
		least = min(least, s.slot(h, row).Add(1))
	}
	if limit > 0 && least > limit {
		s.give(h)
		return false
	}
	return true
}

// give takes back what one take counted. Every give follows a take of the same h,
// so no counter goes below zero.
func (s *sourceCounts) give(h uint64) {
	for row := range sourceRows {
		s.slot(h, row).Add(^uint32(0))
	}
}

// refusalLog logs one kind of refusal at most once per interval: the first at
// once, so an operator sees it start, then the count since the last line.
type refusalLog struct {
	log *slog.Logger
	msg string

	mu      sync.Mutex
	last    time.Time // zero: nothing logged yet
	pending uint64
}

func (r *refusalLog) refused(now time.Time) {
	r.mu.Lock()
	r.pending++
	if !r.last.IsZero() && now.Sub(r.last) < refusalLogEvery {
		r.mu.Unlock()
		return
	}
	n := r.pending
	r.pending, r.last = 0, now
	r.mu.Unlock()
	r.log.Warn(r.msg, "refused", n)
}
