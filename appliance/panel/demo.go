package panel

import (
	"math"
	"time"
)

// Demo is a made-up but typical state of a busy classroom tracker, for
// `swarmlight panel --png` and the golden images: what the pages look like with
// real figures on them.
func Demo(name string) View {
	perMin := make([]uint32, 60)
	for i := range perMin {
		// A lesson's worth of load: a rush at the start, a lull, a second wave.
		perMin[i] = uint32(300 + 250*math.Sin(float64(i)/6) + 200*math.Exp(-float64(i)/5))
	}
	return View{
		Name: name,
		URLs: []string{"http://192.168.1.20:6969/announce", "udp://192.168.1.20:6969/announce"},
		Snapshot: Snapshot{
			Torrents: 42, Seeders: 17, Leechers: 63, Active: 9,
			Announces: 123456, CapHits: 0,
			HeapBytes: 23 << 20, MemLimit: 400 << 20,
		},
		Rate:   12.5,
		PerMin: perMin,
		Uptime: 3*24*time.Hour + 4*time.Hour + 12*time.Minute,
	}
}
