//go:build race

package crash

// raceEnabled: the race detector's runtime never finds a deadlock (its own thread
// keeps the process from looking stuck), so that case cannot be run under it.
const raceEnabled = true
