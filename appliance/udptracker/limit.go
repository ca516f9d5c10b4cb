package udptracker

import (
	"hash/maphash"
	"net/netip"
	"sync/atomic"
	"time"
)

// Error replies are limited per source (an IPv4 address, an IPv6 /64): beyond
// errorBurst at once and errorRate a second after that, a packet that would draw
// one gets no reply, and is counted. No reply is longer than its packet already,
// but a spoofed flood would still bounce one packet for one at its victim, and a
// forger guessing connection IDs would draw an error per guess. A client that
// behaves draws an error only when its ID has expired, and gets it.
//
// The table is fixed: limiterBuckets buckets, chosen by a hash of the source keyed
// afresh at every start; sources that collide share a bucket, which can only make
// the limit stricter for them. A bucket holds a time, never an address, so nothing
// in it says who sent what; it is never logged or shown.
const (
	errorRate      = 4 // error replies a second, on average, per source
	errorBurst     = 8 // error replies at once, after a quiet spell
	errorInterval  = time.Second / errorRate
	limiterBuckets = 4096 // 32 KiB
)

// errorLimiter is a token bucket per hash bucket, kept as the generic cell rate
// algorithm's one number: the time at which the bucket would be full again.
type errorLimiter struct {
	seed  maphash.Seed
	epoch time.Time                    // bucket times count from here
	full  [limiterBuckets]atomic.Int64 // nanoseconds after epoch
}

func newErrorLimiter(now time.Time) *errorLimiter {
	return &errorLimiter{seed: maphash.MakeSeed(), epoch: now}
}

// allow takes one error reply from src's share at now, and reports whether there
// was one to take. Workers share the table, so a bucket changes by compare and swap.
func (l *errorLimiter) allow(src netip.Addr, now time.Time) bool {
	b := &l.full[l.bucket(src)]
	t := int64(now.Sub(l.epoch))
	for {
		full := b.Load()
		next := max(full, t) + int64(errorInterval)
		if next-t > int64(errorBurst*errorInterval) {
			return false
		}
		if b.CompareAndSwap(full, next) {
			return true
		}
	}
}

// bucket is where src's share is kept: IPv4 addresses apart, IPv6 ones by /64, as
// one host on a LAN holds a whole /64.
func (l *errorLimiter) bucket(src netip.Addr) int {
	var key [9]byte
	src = src.Unmap()
	if src.Is4() {
		a := src.As4()
		copy(key[:4], a[:])
		key[8] = 4
	} else {
		a := src.As16()
		copy(key[:8], a[:8])
		key[8] = 6
	}
	return int(maphash.Bytes(l.seed, key[:]) % limiterBuckets)
}
