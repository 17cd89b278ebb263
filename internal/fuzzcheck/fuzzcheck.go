// Package fuzzcheck holds the checks every fuzz target makes around one
// input: it must finish within a bound (a hang is a failure, not a stall
// of the fuzzer), and it must leave no goroutine and no open file behind.
package fuzzcheck

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Start begins the checks of one input; the function it returns ends
// them and is meant to be deferred first in the fuzz body (so it runs
// last). An input still running after limit panics the process with
// every goroutine's stack: go test -fuzz has no limit of its own per
// input, and a crash is what makes it keep the input as a failure.
// Goroutines started after Start must be gone by the end, and so must
// the files opened since (Linux: /proc/self/fd), except goroutines that
// ignore matches (those an input may start for good, such as a
// continuous aggregate's refresher).
func Start(t testing.TB, limit time.Duration, ignore ...goleak.Option) func() {
	t.Helper()
	name := t.Name()
	watchdog := time.AfterFunc(limit, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		panic(fmt.Sprintf("%s: one input ran longer than %v (a hang)\n\n%s", name, limit, buf))
	})
	before := goleak.IgnoreCurrent()
	fds := openFiles()
	return func() {
		t.Helper()
		watchdog.Stop()
		if t.Failed() {
			return // a body cut short leaves its deferred closes undone
		}
		goleak.VerifyNone(t, append(ignore, before)...)
		if fds < 0 {
			return
		}
		var now int
		for range 50 { // a file closed by a goroutine that is just ending
			// or by the garbage collector: the engine leaves segment files
			// that compaction, retention or a restore replaced to os.File's
			// cleanup once no scan holds them (files still reachable count)
			runtime.GC()
			if now = openFiles(); now <= fds {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("%d files open after the input, %d before", now, fds)
	}
}

// openFiles is the number of the process's open file descriptors, or -1
// where that cannot be read.
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
