package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/httptracker"
	"github.com/swarmlight/swarmlight/appliance/udptracker"
)

// The fronts serve a set of addresses that a reload may change: the addresses
// added are bound while readying (one that cannot be bound refuses the reload,
// and nothing changes), and only once every component has readied do the new
// sockets serve and the removed ones close, so an address kept is never unbound.
// An address is known by its text in the configuration: "127.0.0.1:0" kept is
// the socket bound for it, not a new port.

// httpFront is the HTTP tracker and the addresses it serves.
type httpFront struct {
	srv    *httptracker.Server
	log    *slog.Logger
	served chan<- error
	addrs  []string                // in configuration order
	ls     map[string]net.Listener // by address as configured
}

func bindHTTP(addrs []string) (map[string]net.Listener, error) {
	ls := map[string]net.Listener{}
	for _, a := range addrs {
		if _, ok := ls[a]; ok {
			continue
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			closeAll(mapValues(ls))
			return nil, &config.KeyError{Key: "http.listen", Problem: fmt.Sprintf("%q: %s", a, config.BindProblem(err))}
		}
		ls[a] = l
	}
	return ls, nil
}

func (f *httpFront) start(context.Context) error {
	for _, a := range f.addrs {
		f.serve(f.ls[a])
	}
	return nil
}

// serve serves l until it is closed or the server shuts down (either is no
// error), or until it fails, which ends Run.
func (f *httpFront) serve(l net.Listener) {
	go func() {
		if err := f.srv.Serve(l); err != nil {
			f.served <- err
		}
	}()
	f.log.Info("listening", "proto", "http", "addr", l.Addr().String())
}

func (f *httpFront) reload(next config.Config) (change, error) {
	cfg := httpConfig(next)
	added, err := bindHTTP(newAddrs(f.ls, next.HTTP.Listen))
	if err != nil {
		return change{}, err
	}
	return change{
		cancel: func() { closeAll(mapValues(added)) },
		commit: func() []string {
			if err := f.srv.Reconfigure(cfg); err != nil {
				f.log.Error("reload: http: not applied", "err", err)
			}
			f.addrs = slices.Clone(next.HTTP.Listen)
			for a, l := range added {
				f.ls[a] = l
				f.serve(l)
			}
			for a, l := range f.ls {
				if !slices.Contains(f.addrs, a) {
					delete(f.ls, a)
					l.Close()
					f.log.Info("stopped listening", "proto", "http", "addr", l.Addr().String())
				}
			}
			return nil
		},
	}, nil
}

func (f *httpFront) stop(ctx context.Context) {
	if err := f.srv.Shutdown(ctx); err != nil {
		f.log.Warn("stopping: requests still in flight were cut off", "err", err)
	}
}

func (f *httpFront) netAddrs() []net.Addr {
	var as []net.Addr
	for _, a := range f.addrs {
		as = append(as, f.ls[a].Addr())
	}
	return as
}

// udpFront is the UDP tracker and the addresses it serves.
type udpFront struct {
	srv     *udptracker.Server
	log     *slog.Logger
	served  chan<- error
	lc      udptracker.ListenConfig
	addrs   []string
	ls      map[string]*udptracker.Listener
	serving sync.WaitGroup
}

func bindUDP(addrs []string, lc udptracker.ListenConfig) (map[string]*udptracker.Listener, error) {
	ls := map[string]*udptracker.Listener{}
	for _, a := range addrs {
		if _, ok := ls[a]; ok {
			continue
		}
		l, err := udptracker.Listen(a, lc)
		if err != nil {
			closeAll(mapValues(ls))
			return nil, &config.KeyError{Key: "udp.listen", Problem: fmt.Sprintf("%q: %s", a, config.BindProblem(err))}
		}
		ls[a] = l
	}
	return ls, nil
}

func (f *udpFront) start(context.Context) error {
	for _, a := range f.addrs {
		f.serve(f.ls[a])
	}
	return nil
}

func (f *udpFront) serve(l *udptracker.Listener) {
	f.serving.Add(1)
	go func() {
		defer f.serving.Done()
		if err := f.srv.Serve(l); err != nil {
			f.served <- err
		}
	}()
	f.log.Info("listening", "proto", "udp", "addr", l.Addr().String())
}

func (f *udpFront) reload(next config.Config) (change, error) {
	lc := udpListenConfig(next)
	added, err := bindUDP(newAddrs(f.ls, next.UDP.Listen), lc)
	if err != nil {
		return change{}, err
	}
	// A new number of workers is a new set of sockets on each address kept,
	// bound alongside the old ones (SO_REUSEPORT) so the address stays served.
	rebound := map[string]*udptracker.Listener{}
	var restart []string
	if lc.Workers != f.lc.Workers {
		for a, l := range f.ls {
			if !slices.Contains(next.UDP.Listen, a) {
				continue
			}
			nl, err := l.Rebind(lc)
			if err != nil {
				// Where rebinding is not possible the workers stay as they are
				// until a restart; the rest of the reload still applies.
				f.log.Warn("reload: udp.workers applies at the next restart", "err", err)
				closeAll(mapValues(rebound))
				rebound, restart = map[string]*udptracker.Listener{}, []string{"udp.workers"}
				lc.Workers = f.lc.Workers
				break
			}
			rebound[a] = nl
		}
	}
	return change{
		cancel: func() {
			closeAll(mapValues(added))
			closeAll(mapValues(rebound))
		},
		commit: func() []string {
			f.srv.Reconfigure(udpConfig(next))
			f.addrs = slices.Clone(next.UDP.Listen)
			var old []*udptracker.Listener
			for a, l := range f.ls {
				if nl, ok := rebound[a]; ok {
					old = append(old, l)
					f.ls[a] = nl
					f.serve(nl)
				} else if !slices.Contains(f.addrs, a) {
					old = append(old, l)
					delete(f.ls, a)
					f.log.Info("stopped listening", "proto", "udp", "addr", l.Addr().String())
				} else if err := l.SetBuffers(lc); err != nil {
					f.log.Warn("reload: udp socket buffers not set", "err", err)
				}
			}
			for a, l := range added {
				f.ls[a] = l
				f.serve(l)
			}
			closeAll(old)
			f.lc = lc
			return restart
		},
	}, nil
}

func (f *udpFront) stop(context.Context) {
	// UDP has no requests in flight between packets: closing the sockets ends it.
	closeAll(mapValues(f.ls))
	f.serving.Wait()
}

func (f *udpFront) netAddrs() []net.Addr {
	var as []net.Addr
	for _, a := range f.addrs {
		as = append(as, f.ls[a].Addr())
	}
	return as
}

// newAddrs is the addresses in want that have no socket in have yet.
func newAddrs[L any](have map[string]L, want []string) []string {
	var add []string
	for _, a := range want {
		if _, ok := have[a]; !ok && !slices.Contains(add, a) {
			add = append(add, a)
		}
	}
	return add
}

func mapValues[K comparable, V any](m map[K]V) []V {
	vs := make([]V, 0, len(m))
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}
