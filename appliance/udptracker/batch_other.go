//go:build !linux

package udptracker

import (
	"errors"
	"net"
	"net/netip"
)

// On systems other than Linux (development machines: the appliance is Linux) packets
// move one at a time, through the same interface as the Linux batches.

// Truncation goes unseen here: a long datagram is read as its first bytes.
type packet struct {
	data      []byte
	truncated bool
	from      netip.AddrPort
}

type batchConn struct {
	c        *net.UDPConn
	in, out  []byte
	received []packet
	to       netip.AddrPort
	reply1   []byte
	skipped  int
}

func newBatchConn(c *net.UDPConn, _, size int) (*batchConn, error) {
	return &batchConn{c: c, in: make([]byte, size), out: make([]byte, 0, size), received: make([]packet, 0, 1)}, nil
}

func (bc *batchConn) read() ([]packet, error) {
	n, from, err := bc.c.ReadFromUDPAddrPort(bc.in)
	if err != nil {
		return nil, err
	}
	bc.received = append(bc.received[:0], packet{data: bc.in[:n], from: from})
	return bc.received, nil
}

func (bc *batchConn) replyBuf() []byte { return bc.out[:0] }

func (bc *batchConn) reply(p packet, buf []byte) { bc.to, bc.reply1 = p.from, buf }

func (bc *batchConn) flush() error {
	if bc.reply1 == nil {
		return nil
	}
	_, err := bc.c.WriteToUDPAddrPort(bc.reply1, bc.to)
	bc.reply1 = nil
	if err != nil && !isClosed(err) {
		bc.skipped++
		return nil
	}
	return err
}

func (bc *batchConn) takeSkipped() int {
	n := bc.skipped
	bc.skipped = 0
	return n
}

func bind(addr string, _ int) ([]*net.UDPConn, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	return []*net.UDPConn{pc.(*net.UDPConn)}, nil
}

func rebind(string, int) ([]*net.UDPConn, error) {
	return nil, errors.New("binding an address twice needs SO_REUSEPORT, which this build does not use")
}

func steer([]*net.UDPConn, int) error { return nil }

func queued([]*net.UDPConn) bool { return false }
