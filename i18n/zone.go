package i18n

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxZones bounds the zone cache; the tz database names fewer than this.
const maxZones = 2000

var (
	zones     sync.Map // name → *time.Location
	zoneCount atomic.Int64
)

// Zone returns the time zone of an IANA name ("Europe/Berlin"), and false
// for anything else, paths included. Every page asks for the reader's
// zone, and time.LoadLocation reads and parses the zone's file each time,
// so loaded zones are kept; a name that fails is not (it is rare: the
// portal and the browser's script write only valid names).
func Zone(name string) (*time.Location, bool) {
	if name == "" || len(name) > 64 || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, false
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), true
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	if zoneCount.Add(1) <= maxZones {
		zones.Store(name, loc)
	}
	return loc, true
}
