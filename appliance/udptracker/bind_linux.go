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
// port is taken, and the error is the plain "address already in use". Even one
// socket is then bound with it, so that Rebind can join it later.
func bind(addr string, n int) ([]*net.UDPConn, error) {
	probe, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	// Port 0 has now become a real port, which every worker must share.
	bound := probe.LocalAddr().String()
	probe.Close()
	return rebind(bound, n)
}

// rebind opens n sockets on addr, joining any this process already has there.
func rebind(addr string, n int) ([]*net.UDPConn, error) {
	bound := addr
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

// steer attaches to the reuseport group of conns a program that sends every
// datagram to one of conns, at random: conns were bound last, so they hold the
// group's indices from first on. Once the sockets before them close, the indices
// it returns lie past the group's end, and the kernel goes back to its own choice
// by the sender's hash; the next Rebind attaches a new program.
func steer(conns []*net.UDPConn, first int) error {
	const (
		skfAdOff    = 0xfffff000 // SKF_AD_OFF, -0x1000
		skfAdRandom = 56         // SKF_AD_RANDOM
		bpfA        = 0x10       // BPF_A
	)
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: skfAdOff + skfAdRandom},
		{Code: unix.BPF_ALU | unix.BPF_MOD | unix.BPF_K, K: uint32(len(conns))},
		{Code: unix.BPF_ALU | unix.BPF_ADD | unix.BPF_K, K: uint32(first)},
		{Code: unix.BPF_RET | bpfA},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	rc, err := conns[0].SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &fprog)
	}); err != nil {
		return err
	}
	return serr
}

// queued reports whether a datagram waits on any of conns. One that cannot be
// asked counts as empty: draining it must not wait for ever.
func queued(conns []*net.UDPConn) bool {
	for _, c := range conns {
		rc, err := c.SyscallConn()
		if err != nil {
			continue
		}
		n := 0
		_ = rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
		if n > 0 {
			return true
		}
	}
	return false
}
