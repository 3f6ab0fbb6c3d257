package kernels

import (
	"math/bits"
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

// sizeClass returns the class of a request for n elements: class c holds
// slices of capacity at least 2^c, so a request of up to 2^c elements is
// served by any of them.
func sizeClass(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// poolClass returns the class a slice of capacity c is returned to.
func poolClass(c int) int { return bits.Len(uint(c)) - 1 }

// floatPools recycle scratch slices by size class so hot paths do not
// allocate, even when calls alternate between small and large buffers.
var floatPools [bits.UintSize]sync.Pool

// getFloats returns a scratch slice of length n with unspecified contents.
func getFloats(n int) *[]float32 {
	c := sizeClass(n)
	if p, ok := floatPools[c].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n, 1<<c)
	return &s
}

// putFloats returns a slice obtained from getFloats to the pool.
func putFloats(p *[]float32) {
	if cap(*p) > 0 {
		floatPools[poolClass(cap(*p))].Put(p)
	}
}

// intPools recycle offset tables by size class.
var intPools [bits.UintSize]sync.Pool

// getInts returns a scratch slice of length n with unspecified contents.
func getInts(n int) *[]int {
	c := sizeClass(n)
	if p, ok := intPools[c].Get().(*[]int); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]int, n, 1<<c)
	return &s
}

// putInts returns a slice obtained from getInts to the pool.
func putInts(p *[]int) {
	if cap(*p) > 0 {
		intPools[poolClass(cap(*p))].Put(p)
	}
}
