//go:build linux

package udptracker

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Packets move in batches: one recvmmsg fetches up to batchLen datagrams and one
// sendmmsg sends their replies. x/net's ReadBatch makes the same calls but returns
// each sender as a new *net.UDPAddr; here senders stay raw sockaddrs in buffers
// owned by the worker, so a packet costs no heap allocation from socket to socket.

// mmsghdr is struct mmsghdr. Go lays it out as C does on every Linux target: the
// length follows msghdr and the struct is padded to msghdr's alignment.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// batch is one direction's worth of datagram headers and buffers.
type batch struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // room for either family's address
	bufs  [][]byte
}

func newBatch(n, size int) *batch {
	b := &batch{
		hdrs:  make([]mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n),
		bufs:  make([][]byte, n),
	}
	mem := make([]byte, n*size)
	for i := range b.bufs {
		b.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
	}
	return b
}

// set points header i at buf and at the sockaddr name of namelen bytes.
func (b *batch) set(i int, buf []byte, name *unix.RawSockaddrInet6, namelen uint32) {
	b.iovs[i].Base = &buf[0]
	b.iovs[i].SetLen(len(buf))
	h := &b.hdrs[i]
	h.hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(name)), Namelen: namelen, Iov: &b.iovs[i]}
	h.hdr.SetIovlen(1)
	h.n = 0
}

// batchConn does batched I/O on one UDP socket.
type batchConn struct {
	rc       syscall.RawConn
	in, out  *batch
	nIn      int
	nOut     int
	sent     int
	skipped  int
	err      error
	readFn   func(fd uintptr) bool // made once: a closure per call would be an allocation
	writeFn  func(fd uintptr) bool
	received []packet
}

// packet is one received datagram: its bytes (the first packetLen of them, if
// truncated), its sender, and where in the receive batch its sender's raw sockaddr
// is, to reply to.
type packet struct {
	data      []byte
	truncated bool
	from      netip.AddrPort
	slot      int
}

func newBatchConn(c *net.UDPConn, n, size int) (*batchConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	bc := &batchConn{rc: rc, in: newBatch(n, size), out: newBatch(n, size), received: make([]packet, 0, n)}
	bc.readFn = bc.recvmmsg
	bc.writeFn = bc.sendmmsg
	return bc, nil
}

// read waits for datagrams and returns those of the next batch. One longer than a
// buffer comes cut to the buffer's length and marked truncated: only a scrape is
// that long, and it can be answered from its start.
func (bc *batchConn) read() ([]packet, error) {
	for i := range bc.in.hdrs {
		bc.in.set(i, bc.in.bufs[i], &bc.in.names[i], unix.SizeofSockaddrInet6)
	}
	bc.nIn, bc.err = 0, nil
	if err := bc.rc.Read(bc.readFn); err != nil {
		return nil, err
	}
	if bc.err != nil {
		return nil, bc.err
	}
	bc.received = bc.received[:0]
	for i := range bc.nIn {
		h := &bc.in.hdrs[i]
		from, ok := sockaddrAddrPort(&bc.in.names[i])
		if !ok {
			bc.skipped++
			continue
		}
		buf := bc.in.bufs[i]
		bc.received = append(bc.received, packet{data: buf[:min(int(h.n), len(buf))], truncated: h.hdr.Flags&unix.MSG_TRUNC != 0, from: from, slot: i})
	}
	return bc.received, nil
}

func (bc *batchConn) recvmmsg(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&bc.in.hdrs[0])), uintptr(len(bc.in.hdrs)), 0, 0, 0)
		switch errno {
		case 0:
			bc.nIn = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait for the socket to be readable
		}
		bc.err = errno
		return true
	}
}

// reply queues buf, which must come from replyBuf, as the reply to p; flush sends
// it with the rest of the batch's replies.
func (bc *batchConn) reply(p packet, buf []byte) {
	bc.out.set(bc.nOut, buf, &bc.in.names[p.slot], bc.in.hdrs[p.slot].hdr.Namelen)
	bc.nOut++
}

// replyBuf is the empty reply buffer for the next queued reply.
func (bc *batchConn) replyBuf() []byte { return bc.out.bufs[bc.nOut][:0] }

// flush sends every queued reply. A reply the kernel refuses (no route to that
// client, say) is dropped and counted; a closed socket is an error.
func (bc *batchConn) flush() error {
	bc.sent = 0
	for bc.sent < bc.nOut {
		bc.err = nil
		if err := bc.rc.Write(bc.writeFn); err != nil {
			bc.nOut = 0
			return err
		}
		if bc.err != nil {
			bc.nOut = 0
			return bc.err
		}
	}
	bc.nOut = 0
	return nil
}

func (bc *batchConn) sendmmsg(fd uintptr) bool {
	for bc.sent < bc.nOut {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&bc.out.hdrs[bc.sent])), uintptr(bc.nOut-bc.sent), 0, 0, 0)
		switch errno {
		case 0:
			bc.sent += int(n)
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait for room in the send buffer
		case unix.EBADF, unix.ENOTSOCK:
			bc.err = errno
			return true
		}
		// The first remaining message failed on its own account: skip it.
		bc.sent++
		bc.skipped++
	}
	return true
}

// sockaddrAddrPort reads a raw IPv4 or IPv6 sockaddr without allocating.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), netPort(&sa4.Port)), true
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), netPort(&sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// netPort reads a port stored in network byte order.
func netPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// takeSkipped returns and resets the count of datagrams dropped in the last batches.
func (bc *batchConn) takeSkipped() int {
	n := bc.skipped
	bc.skipped = 0
	return n
}
