package config

import "strings"

// suggest names the known section or key closest to an unknown name, as
// "; did you mean tracker.interval?", or "" when nothing is close: most unknown keys
// are typos, and the fix is then one glance away.
func suggest(unknown string) string {
	best, bestDist := "", 3 // more than two edits away is a different word
	for _, k := range schema {
		candidate := k.section()
		if strings.Contains(unknown, ".") {
			candidate = k.name
		}
		// Short names are all close to each other; demand most of the word match.
		if d := editDistance(unknown, candidate); d < bestDist && d*3 <= len(candidate) {
			best, bestDist = candidate, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + best + "?"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
