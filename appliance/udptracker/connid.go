package udptracker

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"time"
)

// Connection IDs are stateless (BEP 15 asks only that they be unguessable and
// short-lived): 4 bytes of issue time, in seconds, then 4 bytes of a MAC over that
// time and the client's address under a key drawn at start. Nothing is stored per
// client, a spoofed source cannot obtain an ID for its victim, and an ID stops
// working by itself.
const (
	// connIDLifetime is how long an ID is accepted after issue (BEP 15: 2 minutes).
	connIDLifetime = 2 * time.Minute
	// connIDSkew is how far in the future an ID may claim to be issued, so that a
	// small backward step of the clock does not cut off every client at once.
	connIDSkew = 10 * time.Second
)

// connIDs issues and checks connection IDs.
type connIDs struct {
	key [32]byte
}

func newConnIDs() (*connIDs, error) {
	c := new(connIDs)
	if _, err := rand.Read(c.key[:]); err != nil {
		return nil, err
	}
	return c, nil
}

// mac is SHA-256 over key ‖ time ‖ address: a single compression. Secret-prefix
// hashing is a sound MAC here because every input has the same fixed length, which
// leaves nothing for a length-extension attack to extend; it is cheaper than HMAC's
// two passes, which matters on a Pi Zero.
func (c *connIDs) mac(issued uint32, addr netip.Addr) uint32 {
	var in [32 + 4 + 16]byte
	copy(in[:32], c.key[:])
	binary.BigEndian.PutUint32(in[32:36], issued)
	a := addr.Unmap().As16()
	copy(in[36:], a[:])
	sum := sha256.Sum256(in[:])
	return binary.BigEndian.Uint32(sum[:4])
}

// issue returns a connection ID for a client at addr, valid from now.
func (c *connIDs) issue(now time.Time, addr netip.Addr) uint64 {
	t := uint32(now.Unix())
	return uint64(t)<<32 | uint64(c.mac(t, addr))
}

// valid reports whether id was issued to addr within the lifetime. The comparison
// of the MAC takes the same time whether it fails early or late.
func (c *connIDs) valid(id uint64, now time.Time, addr netip.Addr) bool {
	issued := uint32(id >> 32)
	age := now.Unix() - int64(issued)
	if age > int64(connIDLifetime/time.Second) || age < -int64(connIDSkew/time.Second) {
		return false
	}
	var got, want [4]byte
	binary.BigEndian.PutUint32(got[:], uint32(id))
	binary.BigEndian.PutUint32(want[:], c.mac(issued, addr))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
