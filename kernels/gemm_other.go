//go:build !amd64 || purego

package kernels

// activeKernels is the tile family used by all GEMM-based kernels.
var activeKernels = goKernels

// availableKernels lists the families this machine can run, best first.
func availableKernels() []tileKernels { return []tileKernels{goKernels} }

// ew holds the vector bodies of the element-wise kernels: none here.
var ew ewKernels
