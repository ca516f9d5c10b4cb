//go:build linux

// Package mdnstest is an mDNS resolver for tests, which asks the way
// avahi-daemon and Apple's mDNSResponder do: from a socket on port 5353 that
// has joined the group, to 224.0.0.251:5353, with questions that do not ask for
// a unicast reply. A responder that only Go clients can hear fails it.
package mdnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

var group = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// Found is one DNS-SD service instance, resolved.
type Found struct {
	Instance string // the instance label, as a browser lists it
	Host     string // the SRV target
	Port     int
	TXT      []string
	Addrs    []netip.Addr // the target's A records
}

// Resolver asks on one interface.
type Resolver struct {
	c     *net.UDPConn
	iface *net.Interface
}

// Open binds 0.0.0.0:5353 (sharing it, as responders do) and joins the group on
// iface. Call it on the thread, or in the network namespace, that should ask.
func Open(iface *net.Interface) (*Resolver, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if serr == nil {
				serr = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
					&unix.IPMreqn{Multiaddr: [4]byte{224, 0, 0, 251}, Ifindex: int32(iface.Index)})
			}
			if serr == nil {
				serr = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF,
					&unix.IPMreqn{Ifindex: int32(iface.Index)})
			}
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 255)
			}
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:5353")
	if err != nil {
		return nil, fmt.Errorf("mdnstest: listen: %w", err)
	}
	return &Resolver{c: pc.(*net.UDPConn), iface: iface}, nil
}

// Close releases the socket.
func (r *Resolver) Close() error { return r.c.Close() }

// Ask sends the questions in one query and returns every answer and additional
// record heard in reply until the deadline, or until done says it has enough.
func (r *Resolver) Ask(deadline time.Time, done func([]dns.RR) bool, qs ...dns.Question) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.Question = qs
	buf, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("mdnstest: pack: %w", err)
	}
	var got []dns.RR
	pkt := make([]byte, 9000)
	// A query can be lost like any multicast packet; ask again each second,
	// as resolvers do.
	for send := time.Now(); ; {
		if !time.Now().Before(send) {
			if _, err := r.c.WriteToUDP(buf, group); err != nil {
				return got, fmt.Errorf("mdnstest: send: %w", err)
			}
			send = time.Now().Add(time.Second)
		}
		wait := min(time.Until(deadline), time.Until(send))
		if wait <= 0 {
			if time.Now().After(deadline) {
				return got, nil
			}
			continue
		}
		_ = r.c.SetReadDeadline(time.Now().Add(wait))
		n, from, err := r.c.ReadFromUDP(pkt)
		if isTimeout(err) {
			continue
		}
		if err != nil {
			return got, fmt.Errorf("mdnstest: read: %w", err)
		}
		var reply dns.Msg
		// What Avahi drops: our own query looped back, and replies that
		// do not come from port 5353.
		if reply.Unpack(pkt[:n]) != nil || !reply.Response || from.Port != 5353 {
			continue
		}
		got = append(got, reply.Answer...)
		got = append(got, reply.Extra...)
		if done != nil && done(got) {
			return got, nil
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ResolveHost asks for name's A records (name without .local).
func (r *Resolver) ResolveHost(name string, timeout time.Duration) ([]netip.Addr, error) {
	fqdn := name + ".local."
	rrs, err := r.Ask(time.Now().Add(timeout), func(rrs []dns.RR) bool { return len(aOf(rrs, fqdn)) > 0 },
		dns.Question{Name: fqdn, Qtype: dns.TypeA, Qclass: dns.ClassINET})
	if err != nil {
		return nil, err
	}
	if a := aOf(rrs, fqdn); len(a) > 0 {
		return a, nil
	}
	return nil, fmt.Errorf("mdnstest: %s: no A record within %v", fqdn, timeout)
}

// Browse lists the instances of service (e.g. "_http._tcp") and resolves the
// first, as `avahi-browse -r` does: PTR, then SRV and TXT of the instance, then
// A of the SRV target.
func (r *Resolver) Browse(service string, timeout time.Duration) (Found, error) {
	deadline := time.Now().Add(timeout)
	ptrName := service + ".local."
	rrs, err := r.Ask(deadline, func(rrs []dns.RR) bool { return ptrOf(rrs, ptrName) != "" },
		dns.Question{Name: ptrName, Qtype: dns.TypePTR, Qclass: dns.ClassINET})
	if err != nil {
		return Found{}, err
	}
	inst := ptrOf(rrs, ptrName)
	if inst == "" {
		return Found{}, fmt.Errorf("mdnstest: no %s instance within %v", service, timeout)
	}
	var f Found
	f.Instance = unescape(strings.TrimSuffix(inst, "."+ptrName))
	rrs, err = r.Ask(deadline, func(rrs []dns.RR) bool {
		f = fill(f, rrs, inst)
		return f.Host != "" && f.TXT != nil
	}, dns.Question{Name: inst, Qtype: dns.TypeSRV, Qclass: dns.ClassINET},
		dns.Question{Name: inst, Qtype: dns.TypeTXT, Qclass: dns.ClassINET})
	if err != nil {
		return f, err
	}
	f = fill(f, rrs, inst)
	if f.Host == "" || f.TXT == nil {
		return f, fmt.Errorf("mdnstest: %s: no SRV or TXT within %v", inst, timeout)
	}
	rrs, err = r.Ask(deadline, func(rrs []dns.RR) bool { return len(aOf(rrs, f.Host)) > 0 },
		dns.Question{Name: f.Host, Qtype: dns.TypeA, Qclass: dns.ClassINET})
	f.Addrs = aOf(rrs, f.Host)
	if err == nil && len(f.Addrs) == 0 {
		err = fmt.Errorf("mdnstest: %s: no A record within %v", f.Host, timeout)
	}
	return f, err
}

func fill(f Found, rrs []dns.RR, inst string) Found {
	for _, rr := range rrs {
		if !strings.EqualFold(rr.Header().Name, inst) {
			continue
		}
		switch v := rr.(type) {
		case *dns.SRV:
			f.Host, f.Port = v.Target, int(v.Port)
		case *dns.TXT:
			f.TXT = v.Txt
		}
	}
	return f
}

func ptrOf(rrs []dns.RR, name string) string {
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok && strings.EqualFold(p.Hdr.Name, name) {
			return p.Ptr
		}
	}
	return ""
}

func aOf(rrs []dns.RR, name string) []netip.Addr {
	var as []netip.Addr
	for _, rr := range rrs {
		if a, ok := rr.(*dns.A); ok && strings.EqualFold(a.Hdr.Name, name) {
			if ap, ok := netip.AddrFromSlice(a.A.To4()); ok {
				as = append(as, ap)
			}
		}
	}
	return as
}

// unescape undoes miekg/dns's escaping of a label's spaces.
func unescape(s string) string { return strings.ReplaceAll(s, `\ `, " ") }
