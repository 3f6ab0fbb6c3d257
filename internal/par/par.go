// Package par splits element-wise loops over the available cores.
package par

import (
	"runtime"
	"sync"
)

// For calls fn on contiguous chunks covering [0, n), on up to GOMAXPROCS
// goroutines, each chunk at least grain elements; small ranges run on the
// calling goroutine. It returns when every call has returned.
func For(n, grain int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/max(grain, 1))
	if workers < 2 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	wg.Wait()
}
