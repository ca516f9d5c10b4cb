//go:build race

package httptracker

// raceEnabled: the race detector makes sync.Pool drop items on purpose, so
// allocation counts that depend on pooling do not hold under -race.
const raceEnabled = true
