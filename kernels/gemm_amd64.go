//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

var avx512Kernels = tileKernels{
	name: "avx512", rows: 12, cols: 32, anyCols: true,
	tiles: []tileFunc{
		tileAVX512x1, tileAVX512x2, tileAVX512x3, tileAVX512x4, tileAVX512x5, tileAVX512x6,
		tileAVX512x7, tileAVX512x8, tileAVX512x9, tileAVX512x10, tileAVX512x11, tileAVX512x12,
	},
	tilesT: []tileFunc{
		tileAVX512Tx1, tileAVX512Tx2, tileAVX512Tx3, tileAVX512Tx4, tileAVX512Tx5, tileAVX512Tx6,
		tileAVX512Tx7, tileAVX512Tx8, tileAVX512Tx9, tileAVX512Tx10, tileAVX512Tx11, tileAVX512Tx12,
	},
	row: rowAVX512, rowTail: 1,
	gather: gatherStridedAVX512, scatterAdd2: scatterAdd2AVX512,
	maxRow: maxRowAVX512, argmaxRow: argmaxRowAVX512,
}

var avx2Kernels = tileKernels{
	name: "avx2", rows: 6, cols: 16, anyCols: false,
	tiles:  []tileFunc{tileAVX2x1, tileAVX2x2, tileAVX2x3, tileAVX2x4, tileAVX2x5, tileAVX2x6},
	tilesT: []tileFunc{tileAVX2Tx1, tileAVX2Tx2, tileAVX2Tx3, tileAVX2Tx4, tileAVX2Tx5, tileAVX2Tx6},
	row:    rowAVX2, rowTail: 8,
}

// activeKernels is the tile family used by all GEMM-based kernels.
var activeKernels = bestKernels()

func bestKernels() tileKernels {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI2:
		return avx512Kernels
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return avx2Kernels
	}
	return goKernels
}

// availableKernels lists the families this machine can run, best first.
func availableKernels() []tileKernels {
	var ks []tileKernels
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI2 {
		ks = append(ks, avx512Kernels)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernels)
	}
	return append(ks, goKernels)
}

// ew holds the vector bodies of the element-wise kernels.
var ew = bestEW()

func bestEW() ewKernels {
	if !cpu.X86.HasAVX2 {
		return ewKernels{}
	}
	return ewKernels{band: bandAVX2, clamp: clampAVX2, combine: combineAVX2, signFlip: signFlipAVX2, match: signMatchAVX2, nonZero: nonZeroSignAVX2,
		dotF64: dotF64AVX2, sumF64: sumF64AVX2,
		split: splitSignAVX2, maxAbs: maxAbsBitsAVX2, axpy: addScaledAVX2}
}
