package dump

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// MemoryLimit is the Go runtime's soft memory limit (debug.SetMemoryLimit)
// File and WriteArchive set while they run when the process has none: the
// dump's live memory is a few batches and rows, and without a limit the
// garbage of rows of tens of MB piles up before the collector runs.
const MemoryLimit = 64 << 20

// memLimit counts the dumps running under the limit they set.
var memLimit struct {
	sync.Mutex
	users int
	prev  int64 // the limit before the first of them
}

// limitMemory sets MemoryLimit unless the process already has a limit
// (GOMEMLIMIT set, "off" included, or a debug.SetMemoryLimit call) and
// returns what restores the previous one once the last dump that set it
// ends. Dumps running at once share the limit.
func limitMemory() (restore func()) {
	memLimit.Lock()
	defer memLimit.Unlock()
	if memLimit.users == 0 {
		if os.Getenv("GOMEMLIMIT") != "" || debug.SetMemoryLimit(-1) != math.MaxInt64 {
			return func() {}
		}
		memLimit.prev = debug.SetMemoryLimit(MemoryLimit)
	}
	memLimit.users++
	return func() {
		memLimit.Lock()
		defer memLimit.Unlock()
		memLimit.users--
		// A limit someone set meanwhile stays.
		if memLimit.users == 0 && debug.SetMemoryLimit(-1) == MemoryLimit {
			debug.SetMemoryLimit(memLimit.prev)
		}
	}
}
