package swarm

import (
	"encoding/binary"
	"math/rand/v2"
)

// pick appends up to p.NumWant peers of tor (whose records b views) to r, at
// random, never the requester, never an expired record, and only downloaders when
// the requester is a seeder or partial seed.
//
// The swarm's records of the requested families are numbered 0..n-1 and taken in
// groups of eight neighbours (an IPv4 group is one 64-byte cache line), the groups
// visited in the order start, start+step, start+2·step, ... mod the number of
// groups, with start random and step coprime to it: a random permutation walk
// that needs no memory, stops as soon as enough peers are found, and in a swarm
// too big for the cache costs one miss per eight peers rather than one per peer.
// Records join at the end and leave by swapping the last one into their place, so
// neighbours are not the same peers for long. The walk visits at most
// 8·NumWant+64 records, so a reply costs the same in a swarm of any size; a seeder
// in a swarm that is almost all seeders may then be sent fewer of its few
// downloaders.
func (t *Table) pick(b *block, tor *torrent, p *Params, self *peerKey, r *Result, now uint32) {
	want := p.NumWant
	onlyDownloaders := p.Status != Leecher
	timeout := t.timeout.Load()
	if want <= 0 || (onlyDownloaders && tor.downloaders() == 0) {
		return
	}
	n4, n6 := 0, 0
	if p.Families&IPv4 != 0 {
		n4 = b.n4
	}
	if p.Families&IPv6 != 0 {
		n6 = b.n6
	}
	n := n4 + n6
	if n == 0 {
		return
	}
	groups := (n + 7) >> 3
	g, step := walk(groups)
	for budget := min(n, 8*want+64); budget > 0; budget -= 8 {
		lo := g << 3
		for pos := lo; pos < min(lo+8, n); pos++ {
			var m uint16
			if pos < n4 {
				x := binary.LittleEndian.Uint64(b.p[pos*stride4:])
				if m = uint16(x >> 48); !self.v6 && x&(1<<48-1) == self.a {
					continue
				}
			} else {
				if m = b.meta(true, pos-n4); b.is(self, true, pos-n4) {
					continue
				}
			}
			if age(m, now) > timeout || (onlyDownloaders && metaStatus(m) != Leecher) {
				continue
			}
			if pos < n4 {
				r.Peers4 = append(r.Peers4, b.p[pos*stride4:pos*stride4+key4]...)
			} else {
				r.Peers6 = append(r.Peers6, b.rec6(pos - n4)[:key6]...)
			}
			if want--; want == 0 {
				return
			}
		}
		if g += step; g >= groups {
			g -= groups
		}
	}
}

// walk returns a random start in [0, n) and a random step in [1, n) coprime to n
// (1 when n is 1 or 2), so that n steps visit every index once. A prime larger than
// any n is coprime to every n, and so is its remainder: no gcd, no retries.
func walk(n int) (start, step int) {
	start = rand.IntN(n)
	if n <= 2 {
		return start, 1
	}
	return start, int(walkPrimes[rand.IntN(len(walkPrimes))] % uint64(n))
}

// walkPrimes are primes between 2^33 and 2^34, each a different walk.
var walkPrimes = [...]uint64{
	0x2f29d0da9,
	0x25f557203,
	0x334b9b5df,
	0x2cb5c7427,
	0x3e00902c7,
	0x3df1582b1,
	0x20d75985d,
	0x215fc899f,
	0x32ac34447,
	0x33a12917d,
	0x2d726c86b,
	0x259b44e93,
	0x22188287f,
	0x2ef02090b,
	0x28f6f915f,
	0x23f9d52f9,
	0x31f229dd1,
	0x33d9a8079,
	0x212b80aed,
	0x3a906922f,
	0x2518ae453,
	0x229ca862d,
	0x233736dcd,
	0x30aaaaf81,
	0x2a0b55865,
	0x2a48c1d5d,
	0x325bda659,
	0x29158d4a9,
	0x376f4251f,
	0x2757f1cbb,
	0x294db5f8f,
	0x34d039b73,
}
