package appliance

import (
	"context"
	"log/slog"
	"net"
	"net/netip"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/mdns"
)

// mdnsPart is the built-in mDNS responder, while mdns.responder is on. It is a
// convenience beside the tracker: a responder that cannot start (port 5353 held
// by another responder, no multicast route) is logged and the tracker serves
// without it. A reload that changes mdns.* or the HTTP port restarts it (after the
// fronts' changes, so the port is the new one).
type mdnsPart struct {
	cfg  config.Config
	http func() []net.Addr // the HTTP listeners, as bound
	log  *slog.Logger

	opts mdns.Opts // what the running responder advertises
	resp *mdns.Responder
}

func (m *mdnsPart) start(context.Context) error {
	m.opts = m.mdnsOpts(m.cfg)
	if !m.cfg.MDNS.Responder || m.opts.Name == "" {
		return nil
	}
	r, err := mdns.Start(m.opts)
	if err != nil {
		m.log.Warn("mdns: responder not started; the tracker serves without it", "name", m.opts.Name+".local", "err", err)
		return nil
	}
	m.resp = r
	m.log.Info("mdns: answering", "name", m.opts.Name+".local", "port", m.opts.Port)
	return nil
}

func (m *mdnsPart) reload(next config.Config) (change, error) {
	return change{commit: func() []string {
		// The same settings: nothing to do, unless the responder could not
		// start before (port 5353 may be free now).
		running := m.resp != nil || !next.MDNS.Responder
		if next.MDNS == m.cfg.MDNS && m.mdnsOpts(next) == m.opts && running {
			return nil
		}
		m.stop(context.Background())
		m.cfg = next
		_ = m.start(context.Background())
		return nil
	}}, nil
}

func (m *mdnsPart) stop(context.Context) {
	if m.resp == nil {
		return
	}
	if err := m.resp.Close(); err != nil {
		m.log.Warn("mdns: stop", "err", err)
	}
	m.resp = nil
}

// mdnsOpts is what the responder advertises for cfg: the port of the first
// HTTP listener as bound, where the status page is. Without a name it can use,
// Name is "".
func (m *mdnsPart) mdnsOpts(cfg config.Config) mdns.Opts {
	o := mdns.Opts{Name: cfg.MDNS.Name, Port: 6969, Announce: "/announce"}
	if as := m.http(); len(as) > 0 {
		if ap, err := netip.ParseAddrPort(as[0].String()); err == nil {
			o.Port = int(ap.Port())
		}
	}
	if o.Name == "" && cfg.MDNS.Responder {
		h, err := mdns.HostLabel()
		if err != nil {
			m.log.Warn("mdns: no name to answer for", "err", err)
		}
		o.Name = h
	}
	return o
}
