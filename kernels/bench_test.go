package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func reportGFLOPS(b *testing.B, flops int) {
	b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct {
		m, n, k        int
		transA, transB bool
	}{
		{64, 3136, 576, false, false}, // ResNet-18 layer1 conv as GEMM
		{512, 49, 4608, false, false}, // ResNet-18 layer4 conv as GEMM
		{1000, 1, 512, false, false},  // classifier, one image
		{1, 1000, 512, false, true},   // classifier as ONNX Gemm (transB)
		{512, 512, 512, false, false},
		{1024, 1024, 1024, false, false},
		{512, 512, 512, true, true},
	} {
		name := fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
		if s.transA || s.transB {
			name += fmt.Sprintf("_tA%v_tB%v", s.transA, s.transB)
		}
		a := randSlice(r, s.m*s.k)
		bm := randSlice(r, s.k*s.n)
		c := make([]float32, s.m*s.n)
		lda, ldb := s.k, s.n
		if s.transA {
			lda = s.m
		}
		if s.transB {
			ldb = s.k
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
			}
			reportGFLOPS(b, 2*s.m*s.n*s.k)
		})
	}
}

// benchConvs are ResNet-18 and MobileNetV2 layers at 224×224, batch 1.
var benchConvs = []struct {
	name string
	p    ConvParams
}{
	{"resnet_conv1_7x7s2", convP(3, 224, 64, 7, 2, 3, 1)},
	{"resnet_l1_3x3_64", convP(64, 56, 64, 3, 1, 1, 1)},
	{"resnet_l2_3x3s2_64to128", convP(64, 56, 128, 3, 2, 1, 1)},
	{"resnet_l2_3x3_128", convP(128, 28, 128, 3, 1, 1, 1)},
	{"resnet_l2_down_1x1s2", convP(64, 56, 128, 1, 2, 0, 1)},
	{"resnet_l3_3x3_256", convP(256, 14, 256, 3, 1, 1, 1)},
	{"resnet_l4_3x3_512", convP(512, 7, 512, 3, 1, 1, 1)},
	{"mbv2_dw_32_112", convP(32, 112, 32, 3, 1, 1, 32)},
	{"mbv2_dw_144_56s2", convP(144, 56, 144, 3, 2, 1, 144)},
	{"mbv2_dw_960_7", convP(960, 7, 960, 3, 1, 1, 960)},
	{"mbv2_pw_1x1_144to24_56", convP(144, 56, 24, 1, 1, 0, 1)},
}

// convP returns square convolution parameters for one image.
func convP(c, hw, m, k, stride, pad, group int) ConvParams {
	o := outSize(hw, k, stride, 1, pad, pad)
	return ConvParams{N: 1, C: c, H: hw, W: hw, M: m, KH: k, KW: k, OH: o, OW: o,
		StrideH: stride, StrideW: stride, DilH: 1, DilW: 1, PadT: pad, PadL: pad, PadB: pad, PadR: pad, Group: group}
}

func convFlops(p ConvParams) int {
	return 2 * p.N * p.M * p.OH * p.OW * (p.C / p.Group) * p.KH * p.KW
}

func BenchmarkConv2D(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, bc := range benchConvs {
		p := bc.p
		x := randSlice(r, p.N*p.C*p.H*p.W)
		w := randSlice(r, p.M*(p.C/p.Group)*p.KH*p.KW)
		bias := randSlice(r, p.M)
		y := make([]float32, p.N*p.M*p.OH*p.OW)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				Conv2D(p, x, w, bias, y)
			}
			reportGFLOPS(b, convFlops(p))
		})
	}
}

func BenchmarkConv2DBackwardData(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, bc := range benchConvs {
		p := bc.p
		dy := randSlice(r, p.N*p.M*p.OH*p.OW)
		w := randSlice(r, p.M*(p.C/p.Group)*p.KH*p.KW)
		dx := make([]float32, p.N*p.C*p.H*p.W)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				Conv2DBackwardData(p, dy, w, dx)
			}
			reportGFLOPS(b, convFlops(p))
		})
	}
}

// resnet18Convs lists every convolution of ResNet-18 at 224×224, batch 1.
func resnet18Convs() []ConvParams {
	ps := []ConvParams{convP(3, 224, 64, 7, 2, 3, 1)}
	for range 4 {
		ps = append(ps, convP(64, 56, 64, 3, 1, 1, 1))
	}
	for _, s := range []struct{ c, hw int }{{64, 56}, {128, 28}, {256, 14}} {
		ps = append(ps, convP(s.c, s.hw, 2*s.c, 3, 2, 1, 1), convP(s.c, s.hw, 2*s.c, 1, 2, 0, 1))
		for range 3 {
			ps = append(ps, convP(2*s.c, s.hw/2, 2*s.c, 3, 1, 1, 1))
		}
	}
	return ps
}

// BenchmarkResNet18Convs runs all ResNet-18 convolutions once per
// iteration: the bulk of a forward pass (and, for backward, of the data
// gradient).
func BenchmarkResNet18Convs(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	type layer struct {
		p          ConvParams
		x, w, bias []float32
		y          []float32
	}
	var layers []layer
	flops := 0
	for _, p := range resnet18Convs() {
		layers = append(layers, layer{p, randSlice(r, p.C*p.H*p.W), randSlice(r, p.M*p.C*p.KH*p.KW), randSlice(r, p.M), make([]float32, p.M*p.OH*p.OW)})
		flops += convFlops(p)
	}
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			for _, l := range layers {
				Conv2D(l.p, l.x, l.w, l.bias, l.y)
			}
		}
		reportGFLOPS(b, flops)
	})
	b.Run("backward_data", func(b *testing.B) {
		for b.Loop() {
			for _, l := range layers {
				Conv2DBackwardData(l.p, l.y, l.w, l.x)
			}
		}
		reportGFLOPS(b, flops)
	})
}

func BenchmarkPool(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	// ResNet stem max pool and a DenseNet transition average pool.
	stem := PoolParams{N: 1, C: 64, H: 112, W: 112, KH: 3, KW: 3, OH: 56, OW: 56, StrideH: 2, StrideW: 2,
		DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
	trans := PoolParams{N: 1, C: 128, H: 56, W: 56, KH: 2, KW: 2, OH: 28, OW: 28, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1}
	for _, c := range []struct {
		name string
		p    PoolParams
		run  func(p PoolParams, x, y []float32, am []int32)
	}{
		{"max_stem", stem, func(p PoolParams, x, y []float32, _ []int32) { MaxPool2D(p, x, y, nil) }},
		{"max_stem_argmax", stem, MaxPool2D},
		{"avg_2x2", trans, func(p PoolParams, x, y []float32, _ []int32) { AvgPool2D(p, x, y) }},
	} {
		x := randSlice(r, c.p.N*c.p.C*c.p.H*c.p.W)
		y := make([]float32, c.p.N*c.p.C*c.p.OH*c.p.OW)
		am := make([]int32, len(y))
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.run(c.p, x, y, am)
			}
			b.ReportMetric(float64(len(x)*4)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s_in")
		})
	}
}
