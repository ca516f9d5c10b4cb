package httptracker

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// An http.Server's timeouts and header limit cannot change once it serves. So the
// Server's sockets are not served by an http.Server directly: one accept loop per
// socket admits each connection against the caps (listener.go) and hands it to the
// current generation, an http.Server fed from a channel. Reconfiguring those
// settings starts a new generation and retires the old one: each of its
// connections closes after its next reply ("Connection: close"), or at its idle
// timeout if no request comes, so every request sent to it is answered. Neither
// its Shutdown nor turning its keep-alives off would do: both close idle
// connections at once, and a request a client sent on one just then is lost to a
// reset. The caps count
// connections whatever generation serves them, and no socket is ever closed or
// rebound to do this, so no connection attempt is refused on the way.

// generation is one http.Server and the listener that feeds it.
type generation struct {
	srv   *http.Server
	conns chan net.Conn
	done  chan struct{} // closed when the generation takes no more connections
	once  sync.Once
	open  atomic.Int64 // connections it serves
	// retired makes every reply close its connection.
	retired atomic.Bool
	taken   atomic.Int64 // connections its http.Server has accepted, for tests
}

// retireWithin bounds how long a retired generation waits for its requests in
// flight when no write timeout does.
const retireWithin = 30 * time.Second

// nextGeneration starts serving new connections with cfg's settings and retires
// the generation that served them until now. s.mu is held.
func (s *Server) nextGeneration(cfg *Config) {
	g := &generation{conns: make(chan net.Conn), done: make(chan struct{})}
	g.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if g.retired.Load() {
				w.Header().Set("Connection", "close")
			}
			s.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		// A tracker request is a GET: its headers are all of it, so reading them
		// is the whole read.
		ReadTimeout:    cfg.ReadHeaderTimeout,
		WriteTimeout:   cfg.WriteTimeout,
		IdleTimeout:    cfg.IdleTimeout,
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		ErrorLog:       log.New(errorLog{s.log}, "", 0),
		// A connection is counted from its hand-off (hand), not from StateNew:
		// counted only once the http.Server tracks it, one handed over just as
		// the count read zero would be cut by the retiring Close below, its
		// request unread.
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				g.open.Add(-1)
			}
		},
	}
	// It returns once retired: nothing else ends it, since its listener never
	// fails.
	go func() { _ = g.srv.Serve(genListener{g}) }()
	s.gens[g] = struct{}{}
	old := s.gen.Swap(g)
	if old == nil {
		return
	}
	s.retiring.Go(func() {
		defer func() {
			s.mu.Lock()
			delete(s.gens, old)
			s.mu.Unlock()
		}()
		old.retire()
	})
}

// retire lets g's connections finish their requests and close, then stops g.
func (g *generation) retire() {
	genListener{g}.Close()
	g.retired.Store(true)
	wait := retireWithin
	if d := g.srv.WriteTimeout; d > 0 {
		wait = min(d+g.srv.ReadTimeout+g.srv.IdleTimeout, wait)
	}
	deadline := time.Now().Add(wait)
	for g.open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(retirePoll)
	}
	// A connection still open past its own deadlines holds a slot nobody can
	// use: cut it.
	_ = g.srv.Close()
}

// retirePoll is how often a retiring generation looks whether its connections
// are all closed.
const retirePoll = 10 * time.Millisecond

// hand gives c to the current generation, or closes it if the server has shut
// down. It waits only for the generation's Serve loop to take it.
func (s *Server) hand(c net.Conn) {
	for {
		g := s.gen.Load()
		if g == nil {
			_ = c.Close()
			return
		}
		g.open.Add(1)
		select {
		case g.conns <- c:
			return
		case <-g.done:
			g.open.Add(-1)
			// Retired between the load and the hand-off: the next one takes it,
			// or, after Shutdown, nobody.
			if s.gen.Load() == g {
				_ = c.Close()
				return
			}
		}
	}
}

// genListener is the net.Listener an http.Server of one generation serves.
type genListener struct{ g *generation }

func (l genListener) Accept() (net.Conn, error) {
	// Retired first: of two ready cases select picks at random, and a retired
	// generation should take nothing more.
	select {
	case <-l.g.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.g.conns:
		l.g.taken.Add(1)
		return c, nil
	case <-l.g.done:
		return nil, net.ErrClosed
	}
}

func (l genListener) Close() error {
	l.g.once.Do(func() { close(l.g.done) })
	return nil
}

// Addr is not the address of any one socket: a generation serves them all.
func (l genListener) Addr() net.Addr { return genAddr{} }

type genAddr struct{}

func (genAddr) Network() string { return "tcp" }
func (genAddr) String() string  { return "httptracker" }

// Serve accepts connections on l until l is closed or the Server shuts down, and
// then returns nil. It may be called at any time, for any number of listeners,
// to serve a new address; closing l stops serving it, and its connections already
// accepted carry on. The connection caps hold across all the listeners served; a
// connection over them is refused at once (listener.go).
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like pass: wait, as net/http does,
			// rather than spin or give up the socket.
			if ne, ok := err.(net.Error); ok && ne.Temporary() { //nolint:staticcheck // as net/http
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if lc := s.lim.admit(c); lc != nil {
			s.hand(lc)
		}
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting on every listener, closing them, and waits, until ctx
// is done, for requests in flight, retired generations' included.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		_ = l.Close()
	}
	g := s.gen.Swap(nil)
	delete(s.gens, g)
	s.mu.Unlock()
	var err error
	if g != nil {
		err = g.srv.Shutdown(ctx)
	}
	retired := make(chan struct{})
	go func() { s.retiring.Wait(); close(retired) }()
	select {
	case <-retired:
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("httptracker: shutdown: %w", err)
	}
	return nil
}

// close stops the Server and cuts every connection at once; tests end a server
// with it.
func (s *Server) close() {
	s.mu.Lock()
	gens := make([]*generation, 0, len(s.gens))
	for g := range s.gens {
		gens = append(gens, g)
	}
	s.mu.Unlock()
	for _, g := range gens {
		_ = g.srv.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Shutdown(ctx)
}
