//go:build linux

package udptracker

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// bind opens n sockets on addr. SO_REUSEPORT would also let a second tracker join
// the port unnoticed, so the address is first bound without it: if that fails the
// port is taken, and the error is the plain "address already in use".
func bind(addr string, n int) ([]*net.UDPConn, error) {
	probe, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	if n == 1 {
		return []*net.UDPConn{probe.(*net.UDPConn)}, nil
	}
	// Port 0 has now become a real port, which every worker must share.
	bound := probe.LocalAddr().String()
	probe.Close()
	lc := net.ListenConfig{Control: reusePort}
	conns := make([]*net.UDPConn, 0, n)
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", bound)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, pc.(*net.UDPConn))
	}
	return conns, nil
}

func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}
