// Package kernels holds the float32 compute kernels of the forward executor
// and the explanation (backward) engine: a general matrix multiply, 2-D
// convolution in NCHW layout with its data gradient, and pooling.
//
// All tensors are dense row-major float32 slices. Large jobs are split over
// up to runtime.GOMAXPROCS goroutines; scratch memory is pooled, so steady
// state calls do not allocate in their inner loops.
//
// # Design
//
// Every GEMM-shaped computation goes through one register-tile
// micro-kernel (12×32 with AVX-512, 6×16 with AVX2 and FMA, chosen at run
// time; a portable Go tile elsewhere and under the purego build tag). It
// reads A in place, row- or column-major, and reads row p of B at a table
// offset offs[p], so no operand is packed:
//
//   - Sgemm uses offs[p] = p·ldb.
//   - Conv2D copies each input channel once, zero-padded and split by
//     stride phase, into planes of width wq. An output position q = oh·wq + ow
//     then reads every kernel tap at a fixed offset from q (an implicit
//     im2col), so the convolution is a GEMM of the weights, in place, with
//     those planes; wq − OW padding columns per row are computed and dropped.
//     1×1 stride-1 unpadded convolutions read x itself.
//   - Conv2DBackwardData splits dx by stride phase. Each phase receives a
//     fixed subset of taps, each a constant shift of a zero-padded copy of
//     dy, so it is again an implicit GEMM. With unit strides the weights are
//     read in place (the micro-kernel walks the depth in runs of KH·KW
//     taps); strided convolutions gather each phase's weights, or, when the
//     output is small next to the weights, multiply by the weights
//     transposed in place and scatter the columns back (col2im).
//   - Depthwise and other one-output-channel groups use a row kernel that
//     applies all taps to long runs of a plane, several groups per goroutine.
//   - Conv2DBackwardExc, the excitation product of a convolution with a
//     non-negative input, is Conv2DBackwardData over the non-zero channels
//     of the split vector, each paired with a weight row of max(W, 0) or
//     min(W, 0): the micro-kernel's A runs can start anywhere (a jump table),
//     so the rows are read in place, in any order.
//   - Conv2DBackwardExcPointwise, the excitation product of a 1×1
//     convolution, runs block by block of positions: each block's split or
//     signed vector, its products (over the block's non-zero channels, with
//     weights transposed so that rows are read contiguously) and its mask
//     or combination are made in cache.
//   - Conv2DBackwardExcCols, the excitation product of a strided first
//     layer on the image (inputs of both signs), makes both products'
//     columns and their col2im scatter block by block of output rows.
//   - Element-wise kernels (ReLU and Clip, the excitation sign work) run
//     eight lanes at a time with AVX2.
//
// # Dependencies
//
//   - github.com/mmcloughlin/avo generates gemm_amd64.s (see
//     internal/asmgen); it is used by `go generate` only, never at run time.
//   - golang.org/x/sys/cpu detects the CPU features that pick the kernels.
package kernels
