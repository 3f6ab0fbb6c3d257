package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFor runs body(t) for every t in [0, tasks) on up to workers
// goroutines (the caller's included). Tasks are handed out dynamically so
// uneven tasks still balance. It returns when all tasks are done.
func parallelFor(workers, tasks int, body func(t int)) {
	workers = min(workers, tasks)
	if workers <= 1 {
		for t := range tasks {
			body(t)
		}
		return
	}
	var next atomic.Int64
	run := func() {
		for {
			t := int(next.Add(1) - 1)
			if t >= tasks {
				return
			}
			body(t)
		}
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for range workers - 1 {
		go func() {
			defer wg.Done()
			run()
		}()
	}
	run()
	wg.Wait()
}

// threads returns how many goroutines a job of about flops floating-point
// operations should use: small jobs are not worth the synchronisation.
func threads(flops int) int {
	const perThread = 1 << 20
	return max(1, min(runtime.GOMAXPROCS(0), flops/perThread))
}

// floatPool recycles scratch slices so hot paths do not allocate.
var floatPool sync.Pool

// getFloats returns a scratch slice of length n with unspecified contents.
func getFloats(n int) *[]float32 {
	if p, ok := floatPool.Get().(*[]float32); ok {
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
		floatPool.Put(p)
	}
	s := make([]float32, n)
	return &s
}

// putFloats returns a slice obtained from getFloats to the pool.
func putFloats(p *[]float32) { floatPool.Put(p) }

// intPool recycles offset tables.
var intPool sync.Pool

// getInts returns a scratch slice of length n with unspecified contents.
func getInts(n int) *[]int {
	if p, ok := intPool.Get().(*[]int); ok {
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
		intPool.Put(p)
	}
	s := make([]int, n)
	return &s
}

// putInts returns a slice obtained from getInts to the pool.
func putInts(p *[]int) { intPool.Put(p) }
