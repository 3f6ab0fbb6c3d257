// Package kernels holds the float32 compute kernels of the forward executor
// and the explanation (backward) engine: a general matrix multiply, 2-D
// convolution in NCHW layout with its data gradient, and pooling.
//
// All tensors are dense row-major float32 slices. Functions never allocate
// in their inner loops (scratch memory is pooled) and split large jobs over
// up to runtime.GOMAXPROCS goroutines.
//
// The GEMM-based kernels share one register-tile micro-kernel, written in
// Go assembly for amd64 (AVX-512, or AVX2 with FMA, chosen at run time) with
// a portable Go version used elsewhere and under the purego build tag. The
// micro-kernel reads A in place and B through a table of row offsets, so a
// convolution runs as an implicit GEMM over a zero-padded copy of its input
// without materialising an im2col matrix.
//
// Dependencies:
//   - github.com/mmcloughlin/avo generates gemm_amd64.s (see
//     internal/asmgen); it is used by `go generate` only, never at run time.
//   - golang.org/x/sys/cpu detects the CPU features that pick the kernels.
package kernels
