package main

import (
	"errors"
	"fmt"
	"net/netip"
)

// parseTarget reads host:port and accepts only an IPv4 loopback address: the load
// comes from many 127.x.y.z source addresses, which can reach nothing but this
// machine, and a load tool must never be aimed at someone else's tracker.
func parseTarget(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, errors.New("swarmload: --target is required (e.g. 127.0.0.1:6969)")
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("swarmload: target %q: want an IP address and port, e.g. 127.0.0.1:6969 (host names are not looked up)", s)
	}
	a := ap.Addr().Unmap()
	if !a.Is4() || !a.IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("swarmload: target %q is not an IPv4 loopback address (127.0.0.0/8): swarmload only loads a tracker on this machine", s)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("swarmload: target %q: port 0 is not a tracker's port", s)
	}
	return netip.AddrPortFrom(a, ap.Port()), nil
}

// A peer is one (source address, port) pair, fixed for the whole run so that each
// peer announces as itself every time. Peer j sends from source j/portsPerSource
// and announces port basePort + j%portsPerSource; it belongs to torrent j%T, so the
// peers of a torrent arrive interleaved with every other torrent's, as they do on a
// real network.
const (
	portsPerSource = 1000
	basePort       = 10000
)

// Source addresses are 127.a.b.c with a from 1 and c in 1..250, never
// 127.0.0.x, which trackers and tests listen on, nor a .0 or .255 that looks
// like a network or broadcast address. That leaves room for 16M sources.
const perB = 250

func sourceAddr(s int) netip.Addr {
	a := 1 + s/(perB*256)
	b := (s / perB) % 256
	c := 1 + s%perB
	return netip.AddrFrom4([4]byte{127, byte(a), byte(b), byte(c)})
}

// numSources is how many source addresses peers 0..p-1 use.
func numSources(p int) int { return (p + portsPerSource - 1) / portsPerSource }

// maxPeers bounds a load: 50M peers is 50,000 sources, far inside 127.0.0.0/8 and
// ten times the largest benchmark.
const maxPeers = 50_000_000

// isSeeder makes one peer in ten a seeder, spread by a multiplicative hash so that
// it does not follow the torrent layout (every torrent gets some, whatever T).
func isSeeder(j int) bool { return ((uint32(j)*2654435761)>>16)%10 == 0 }
