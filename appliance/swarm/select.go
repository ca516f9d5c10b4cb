package swarm

import "math/rand/v2"

// pick appends up to p.NumWant peers of tor to r, at random, never the requester,
// never an expired record, and only downloaders when the requester is a seeder or
// partial seed.
//
// The swarm's records of the requested families are numbered 0..n-1 and visited in
// the order start, start+step, start+2·step, ... mod n, with start random and step a
// random number coprime to n: a random permutation walk that needs no memory and
// stops as soon as enough peers are found.
func (tor *torrent) pick(p *Params, self peerKey, r *Result, now uint32) {
	want := p.NumWant
	onlyDownloaders := p.Status != Leecher
	if want <= 0 || (onlyDownloaders && tor.downloaders() == 0) {
		return
	}
	var l4, l6 list
	if p.Families&IPv4 != 0 {
		l4 = tor.list(key4)
	}
	if p.Families&IPv6 != 0 {
		l6 = tor.list(key6)
	}
	n4 := 0
	if l4.stride != 0 {
		n4 = l4.len()
	}
	n := n4
	if l6.stride != 0 {
		n += l6.len()
	}
	if n == 0 {
		return
	}
	idx, step := walk(n)
	for range n {
		var l *list
		var j int
		if idx < n4 {
			l, j = &l4, idx
		} else {
			l, j = &l6, idx-n4
		}
		if idx += step; idx >= n {
			idx -= n
		}
		rec := l.rec(j)
		m := l.meta(j)
		if age(m, now) > timeoutTicks ||
			(onlyDownloaders && metaStatus(m) != Leecher) ||
			(len(rec)-2 == self.n && string(rec[:self.n]) == string(self.bytes())) {
			continue
		}
		if l.stride == stride4 {
			r.Peers4 = append(r.Peers4, rec[:key4]...)
		} else {
			r.Peers6 = append(r.Peers6, rec[:key6]...)
		}
		if want--; want == 0 {
			return
		}
	}
}

// walk returns a random start in [0, n) and a random step in [1, n) coprime to n
// (1 when n is 1), so that n steps visit every index once.
func walk(n int) (start, step int) {
	start = rand.IntN(n)
	if n <= 2 {
		return start, 1
	}
	for {
		step = 1 + rand.IntN(n-1)
		if gcd(step, n) == 1 {
			return start, step
		}
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
