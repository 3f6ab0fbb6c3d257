package excitation_test

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	_ "github.com/paneonnx/paneonnx/graph/ops"
)

// The brute-force oracle of the backward engine (SPEC §5.4): on random tiny
// networks every Exc± matrix is built densely from its definition, every
// sign path is enumerated, and the engine's modes must agree with the sums:
//
//	Grad, Coef  the product of the A (the Jacobian: the networks are
//	            piecewise linear)
//	ExcPos      r-Exc+, the all-+ sign path
//	RelNeg      r-Exc−, − at the last linear node only
//	ExcNeg      the all-− sign path
//	Full        P and M, the sums over sign paths with an even / odd number
//	            of − steps, recovered from the engine's S and D
//
// at every tensor of the network (transitivity, SPEC §5.5), for seeds on the
// logits and on a hidden tensor, for batches of several images with several
// seeds each; and the completeness identity of SPEC §5.6 with E+ from the
// reference.
//
// Precision. The engine works in float32, the reference in float64. The
// piecewise-linear region (ReLU masks, MaxPool arg-maxes) and the signs
// that classify contributions (sign(x), s = sign(y − c)) are discrete: a
// float32 rounding that moved a value across zero would change a whole
// entry, not perturb it. The reference therefore takes these decisions from
// the engine's float32 activations and computes every coefficient, product
// and sum in float64; the float32 forward pass itself is checked separately
// against the float64 forward pass. Errors are measured relative to the
// max-abs of the reference matrix (all seeds, all elements of the tensor,
// one image), plus, per entry, a tenth of its magnitude bound: the product
// of the |A| applied to |seed|, which bounds the entry and every partial
// sum that float32 adds up to it. So an entry may also be off by 1e-6 of
// that bound (about 17 float32 epsilons): the engine computes Exc±ᵀv as
// ½(Aᵀv ± |A|ᵀ(s⊙v)) (SPEC §5.2), which cancels where an entry is small next
// to the terms it comes from, and where the whole matrix is zero (r-Exc−
// behind a single-term last node) nothing else would set a scale.

const (
	oracleNetworks = 160
	oracleTol      = 1e-5
)

// oracleKinds are the operator types the random networks mix.
var oracleKinds = []string{kConv, kGemm, kRelu, kMaxPool, kAvgPool, kBN, kAdd, kConcat, kFlatten}

// oracleStats collects what the random networks exercised.
type oracleStats struct {
	networks, images, nodes, seedRows int
	kinds                             map[string]int
	signPaths                         int
	maxNodes, maxPathsPerImage        int
	balanced, zeroExc, reluKilled     int
	reluZeroIn, hiddenSeeds           int
	foldChecked, foldSkipped          int
	worst                             map[string]float64
}

func (s *oracleStats) note(what string, err float64) {
	if err > s.worst[what] || math.IsNaN(err) {
		s.worst[what] = err
	}
}

func TestOracleRandomNetworks(t *testing.T) {
	var missing []string
	have := map[string]bool{}
	for _, k := range oracleKinds {
		have[k] = graph.Supported(k)
		if !have[k] {
			missing = append(missing, k)
		}
	}
	if !have[kGemm] {
		t.Fatal("Gemm is not registered")
	}
	if len(missing) > 0 {
		t.Errorf("operators not registered, left out of the random networks: %s", strings.Join(missing, ", "))
	}
	st := &oracleStats{kinds: map[string]int{}, worst: map[string]float64{}}
	rng := rand.New(rand.NewSource(20240617))
	for k := range oracleNetworks {
		seed := rng.Int63()
		dyadic := k%2 == 1
		name := fmt.Sprintf("net%03d", k)
		if dyadic {
			name += "_dyadic"
		}
		t.Run(name, func(t *testing.T) {
			runOracleNetwork(t, rand.New(rand.NewSource(seed)), dyadic, func(kind string) bool { return have[kind] }, st)
		})
	}
	var kinds []string
	for k, v := range st.kinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(kinds)
	var worst []string
	for k, v := range st.worst {
		worst = append(worst, fmt.Sprintf("%s %.1e", k, v))
	}
	sort.Strings(worst)
	t.Logf("%d networks, %d images, %d nodes (at most %d per network), %d seed rows (%d on hidden tensors), %d sign paths enumerated (at most %d for one image and seed set)",
		st.networks, st.images, st.nodes, st.maxNodes, st.seedRows, st.hiddenSeeds, st.signPaths, st.maxPathsPerImage)
	t.Logf("networks per operator: %s", strings.Join(kinds, ", "))
	t.Logf("balanced rows (y' = 0, s = +1): %d; Exc0 entries from x = 0 with A ≠ 0: %d; ReLU units killed: %d (input exactly 0: %d)",
		st.balanced, st.zeroExc, st.reluKilled, st.reluZeroIn)
	t.Logf("FoldBatchNorm: %d networks checked folded, %d skipped (a balanced row before a negative BN scale)", st.foldChecked, st.foldSkipped)
	t.Logf("largest relative errors: %s", strings.Join(worst, ", "))

	// The networks must exercise what the oracle is for.
	if st.networks < 100 {
		t.Errorf("only %d networks ran", st.networks)
	}
	for _, k := range oracleKinds {
		if have[k] && st.kinds[k] < 10 {
			t.Errorf("operator %s appears in only %d networks", k, st.kinds[k])
		}
	}
	if st.balanced == 0 || st.zeroExc == 0 || st.reluZeroIn == 0 || st.hiddenSeeds == 0 {
		t.Errorf("coverage: balanced rows %d, Exc0 entries %d, ReLU inputs exactly 0 %d, hidden seeds %d: all must be > 0",
			st.balanced, st.zeroExc, st.reluZeroIn, st.hiddenSeeds)
	}
}

// TestOracleHandChecked pins the reference (and the engine) to values
// worked out by hand, on x = (1, 1, 0) → Gemm → Relu → Gemm:
//
//	y = (2·1 − 1·1 + 5·0, 1·1 − 1·1 + 3·0) + 0.5 = (1.5, 0.5)
//	  row 1: y' = 1 = 2 + (−1) + 0: Exc+ = (2, 0, 0), Exc− = (0, −1, 0),
//	         the 5 is Exc0 (x = 0);
//	  row 2: y' = 0 = 1 + (−1) + 0, balanced, s = +1: Exc+ = (1, 0, 0),
//	         Exc− = (0, −1, 0);
//	Relu passes both (coefficient 1, no Exc−);
//	logit = 1·1.5 − 2·0.5 = 0.5: Exc+ = (1, 0), Exc− = (0, −2).
//
// So P = (1,0)·E1+ + (0,−2)·E1− = (2, 2, 0), M = (1,0)·E1− + (0,−2)·E1+ =
// (−2, −1, 0), r-Exc+ = (2, 0, 0), r-Exc− = (−2, 0, 0), all-− = 0 (Relu),
// the gradient (0, 1, −1), and with P, M at the first Gemm's output (1, 0)
// and (0, −2) against its c = (0.5, 0.5): E+ = 4 + 0.5 = 4.5,
// E− = −3 − 1 = −4, E+ + E− = 0.5.
func TestOracleHandChecked(t *testing.T) {
	gen := newNetGen(rand.New(rand.NewSource(1)), true, graph.Supported)
	net := gen.net
	net.shapes[net.input] = []int{3}
	w1, c1 := []float64{2, 1, -1, -1, 5, 3}, []float64{0.5, 0.5} // op(B) is [3, 2]
	g1 := gen.node(kGemm, []string{net.input}, []int{2}, nil, constInput([]int{3, 2}, w1), constInput([]int{2}, c1))
	g1.w, g1.wShape, g1.alpha, g1.bias = w1, []int{3, 2}, 1, c1
	r := gen.relu(g1.out)
	w2 := []float64{1, -2}
	g2 := gen.node(kGemm, []string{r}, []int{1}, nil, constInput([]int{2, 1}, w2))
	g2.w, g2.wShape, g2.alpha = w2, []int{2, 1}, 1
	net.output = g2.out
	g, err := gen.graphOf()
	if err != nil {
		t.Fatal(err)
	}
	x, _ := graph.FromData([]int{1, 3}, []float32{1, 1, 0})
	acts, err := g.Run(graph.RunOptions{KeepAll: true}, x)
	if err != nil {
		t.Fatal(err)
	}
	st := &oracleStats{kinds: map[string]int{}, worst: map[string]float64{}}
	ri := referenceImage(t, net, acts, 0, st)
	if st.balanced != 1 || st.zeroExc != 2 {
		t.Errorf("balanced rows %d, Exc0 entries %d; want 1 and 2", st.balanced, st.zeroExc)
	}
	seeds := newDMat(1, 1)
	seeds.set(0, 0, 1)
	sums := ri.enumerate(net.output, seeds)
	for _, c := range []struct {
		name string
		got  map[string]*dmat
		want []float64
	}{
		{"P", sums.P, []float64{2, 2, 0}},
		{"M", sums.M, []float64{-2, -1, 0}},
		{"r-Exc+", sums.rPos, []float64{2, 0, 0}},
		{"r-Exc-", sums.rNeg, []float64{-2, 0, 0}},
		{"Exc- everywhere", sums.eNeg, []float64{0, 0, 0}},
		{"gradient", sums.jac, []float64{0, 1, -1}},
	} {
		if got := c.got[net.input].row(0); !slices.Equal(got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if ePos, eNeg, _ := ri.decomposition(sums); ePos[0] != 4.5 || eNeg[0] != -4 {
		t.Errorf("E+ = %g, E− = %g; want 4.5 and −4", ePos[0], eNeg[0])
	}
	low, err := excitation.Lower(g, acts)
	if err != nil {
		t.Fatal(err)
	}
	checkSeeds(t, low, net, []*refImage{ri}, net.output, seeds, st, checkOpts{})
}

func runOracleNetwork(t *testing.T, rng *rand.Rand, dyadic bool, have func(string) bool, st *oracleStats) {
	gen := newNetGen(rng, dyadic, have)
	gen.generate()
	net := gen.net
	g, err := gen.graphOf()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	images := []int{1, 2, 2, 3}[rng.Intn(4)]
	x := gen.input(images)
	acts, err := g.Run(graph.RunOptions{KeepAll: true}, x)
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	if got := excitation.Logits(g); got != net.output {
		t.Fatalf("Logits = %q, want %q", got, net.output)
	}
	st.networks++
	st.images += images
	st.nodes += len(net.nodes)
	st.maxNodes = max(st.maxNodes, len(net.nodes))
	seen := map[string]bool{}
	for _, n := range net.nodes {
		if !seen[n.kind] {
			st.kinds[n.kind]++
			seen[n.kind] = true
		}
	}

	// The reference forward pass and local forms, image by image.
	refs := make([]*refImage, images)
	for b := range images {
		refs[b] = referenceImage(t, net, acts, b, st)
	}
	if t.Failed() {
		return
	}
	low, err := excitation.Lower(g, acts)
	if err != nil {
		t.Fatalf("lower: %v", err)
	}

	// Seeds on the logits: every class one-hot, plus one dense random row.
	logits := net.output
	nl := net.size(logits)
	seeds := newDMat(nl+1, nl)
	for j := range nl {
		seeds.set(j, j, 1)
		seeds.set(nl, j, float64(float32(rng.NormFloat64())))
	}
	checkSeeds(t, low, net, refs, logits, seeds, st, checkOpts{})
	checkFolded(t, g, x, net, refs, seeds, st)

	// Seeds on a hidden tensor: one per channel (all its positions), plus a
	// dense random row.
	var hidden []string
	for _, n := range net.nodes {
		if n.out != logits {
			hidden = append(hidden, n.out)
		}
	}
	if len(hidden) > 0 {
		h := hidden[rng.Intn(len(hidden))]
		sh := net.shapes[h]
		per := graph.NumElements(sh[1:])
		seeds := newDMat(sh[0]+1, net.size(h))
		for c := range sh[0] {
			for k := range per {
				seeds.set(c, c*per+k, 1)
			}
		}
		for k := range net.size(h) {
			seeds.set(sh[0], k, float64(float32(rng.NormFloat64())))
		}
		st.hiddenSeeds += seeds.r * images
		checkSeeds(t, low, net, refs, h, seeds, st, checkOpts{})
	}
}

// checkFolded checks the engine on FoldBatchNorm(g) against the reference
// of the unfolded network, for seeds on the logits. SPEC §5.1: folding a BN
// into the Conv/Gemm before it leaves every contribution's class unchanged,
// because the contributions and y' of an output channel scale by the same
// factor. So Grad, Exc+ and full PANE must not change, at every tensor the
// folded graph keeps. Two exceptions, which the check leaves out:
//   - Exc− at every node (ExcNeg) and r-Exc− when the folded BN was the last
//     linear node: a standalone BN is single-term, without Exc−, so these
//     change by definition when it merges into a multi-term node;
//   - a balanced row (y' = 0, s = +1 by convention) before a BN channel with
//     a negative scale: after folding, its contributions change sign but s
//     stays +1, so its Exc+ and Exc− swap. Networks with such a row are
//     counted and skipped.
func checkFolded(t *testing.T, g *graph.Graph, x *graph.Tensor, net *rnet, refs []*refImage, seeds *dmat, st *oracleStats) {
	t.Helper()
	fg := excitation.FoldBatchNorm(g)
	if len(fg.Nodes) == len(g.Nodes) {
		return
	}
	kept := map[string]bool{net.input: true}
	for _, n := range fg.Nodes {
		kept[n.Outputs[0]] = true
	}
	lastFolded := false
	for _, n := range net.nodes {
		if n.kind != kBN || kept[n.ins[0]] {
			continue
		}
		// n was folded into the producer p of its input.
		p := net.producer[n.ins[0]]
		if p == nil || (p.kind != kConv && p.kind != kGemm) {
			t.Fatalf("FoldBatchNorm removed %s, which does not follow a Conv or Gemm", n.ins[0])
		}
		if n == net.lastLinear(net.output) {
			lastFolded = true
		}
		per := net.size(p.out) / len(n.gamma)
		for _, ri := range refs {
			for j, bal := range ri.loc[p].balancedRow {
				if bal && n.gamma[j/per] < 0 {
					st.foldSkipped++
					return
				}
			}
		}
	}
	facts, err := fg.Run(graph.RunOptions{KeepAll: true}, x)
	if err != nil {
		t.Fatalf("folded forward: %v", err)
	}
	low, err := excitation.Lower(fg, facts)
	if err != nil {
		t.Fatalf("folded lower: %v", err)
	}
	var read []string
	for _, name := range append([]string{net.input}, netTensors(net)...) {
		if kept[name] {
			read = append(read, name)
		}
	}
	modes := []excitation.Mode{excitation.Grad, excitation.Coef, excitation.ExcPos, excitation.Full}
	if !lastFolded {
		modes = append(modes, excitation.RelNeg)
	}
	st.foldChecked++
	checkSeeds(t, low, net, refs, net.output, seeds, st, checkOpts{label: "folded ", read: read, modes: modes})
}

func netTensors(net *rnet) []string {
	var out []string
	for _, n := range net.nodes {
		out = append(out, n.out)
	}
	return out
}

// imageOf returns image b of a forward tensor.
func imageData(t *graph.Tensor, b int) []float32 {
	per := len(t.Data) / t.Batch()
	return t.Data[b*per : (b+1)*per]
}

func rowToFloat64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// referenceImage runs the float64 forward pass of image b, checks the
// engine's float32 activations against it, and builds every node's local
// linear form, checking y = A·x + c.
func referenceImage(t *testing.T, net *rnet, acts graph.Activations, b int, st *oracleStats) *refImage {
	t.Helper()
	ri := &refImage{net: net, x64: map[string][]float64{}, loc: map[*rnode]*local{}}
	ri.x64[net.input] = rowToFloat64(imageData(acts[net.input], b))
	for _, n := range net.nodes {
		xs := make([][]float64, len(n.ins))
		x32 := make([][]float32, len(n.ins))
		for i, in := range n.ins {
			xs[i] = ri.x64[in]
			x32[i] = imageData(acts[in], b)
		}
		y := net.forward(n, xs)
		ri.x64[n.out] = y
		yt := acts[n.out]
		if want := append([]int{acts[net.input].Batch()}, net.shapes[n.out]...); !graph.SameShape(yt.Shape, want) {
			t.Fatalf("%s: engine output shape %v, want %v", n.name, yt.Shape, want)
		}
		y32 := imageData(yt, b)
		den := math.Max(maxAbs64(y), 1)
		for k := range y {
			if d := math.Abs(float64(y32[k]) - y[k]); d > oracleTol*den {
				t.Errorf("%s image %d: forward[%d] = %g, float64 reference %g", n.name, b, k, y32[k], y[k])
				break
			}
		}
		l := net.linearForm(n, x32)
		// The reference's own check: y = A·x + c at this instance.
		for j := range y {
			v := l.c[j]
			for i, a := range l.a {
				for k, ajk := range a.row(j) {
					v += ajk * xs[i][k]
				}
			}
			if math.Abs(v-y[j]) > 1e-6*den {
				t.Fatalf("%s image %d: A·x + c = %g at %d, forward %g", n.name, b, v, j, y[j])
			}
		}
		l.excitations(n, x32, y32)
		st.balanced += l.balanced
		st.zeroExc += l.zeroExc
		if n.kind == kRelu {
			for _, v := range x32[0] {
				if v <= 0 {
					st.reluKilled++
				}
				if v == 0 {
					st.reluZeroIn++
				}
			}
		}
		ri.loc[n] = l
	}
	return ri
}

// checkOpts restricts checkSeeds.
type checkOpts struct {
	label string            // prefixes the mode names in messages and statistics
	read  []string          // the tensors to compare; nil for all
	modes []excitation.Mode // the modes besides Full to run; nil for all
}

// checkSeeds runs every backward mode from seeds on tensor seedT (the same
// seeds for each image) and compares it with the enumeration, at every
// tensor of the network.
func checkSeeds(t *testing.T, low *excitation.Lowered, net *rnet, refs []*refImage, seedT string, seeds *dmat, st *oracleStats, opts checkOpts) {
	t.Helper()
	images := len(refs)
	rows := seeds.r
	st.seedRows += rows * images
	sums := make([]*refSums, images)
	for b, ri := range refs {
		sums[b] = ri.enumerate(seedT, seeds)
		st.signPaths += sums[b].signPaths
		st.maxPathsPerImage = max(st.maxPathsPerImage, sums[b].signPaths)
	}
	seedTensor := graph.New(append([]int{images * rows}, net.shapes[seedT]...)...)
	for b := range images {
		for r := range rows {
			copy(seedTensor.Data[(b*rows+r)*seeds.c:], rowToFloat32(seeds.row(r)))
		}
	}
	read := opts.read
	if read == nil {
		read = append([]string{net.input}, netTensors(net)...)
	}
	where := opts.label + "seeds on " + seedT
	run := func(mode excitation.Mode) *excitation.Result {
		res, err := low.Backward(excitation.Request{Mode: mode, SeedTensor: seedT, Seeds: seedTensor, Read: read})
		if err != nil {
			t.Fatalf("%s: backward %s: %v", where, mode, err)
		}
		return res
	}
	// compare checks the engine's vectors at every tensor against ref(b).
	// also, when non-nil, names further reference matrices whose max-abs
	// enters the denominator.
	compare := func(label string, eng func(name string, row int) []float64, ref func(b int) map[string]*dmat, also func(b int) map[string]*dmat) {
		for _, name := range read {
			for b := range images {
				rm := ref(b)[name]
				mag := sums[b].mag[name]
				var refMax float64
				if rm != nil {
					refMax = maxAbs64(rm.v)
				}
				if also != nil {
					if m := also(b)[name]; m != nil {
						refMax = math.Max(refMax, maxAbs64(m.v))
					}
				}
				worst, worstR, worstK := 0.0, 0, 0
				for r := range rows {
					e := eng(name, b*rows+r)
					for k, ev := range e {
						var rv, mk float64
						if rm != nil {
							rv = rm.at(r, k)
						}
						if mag != nil {
							mk = mag.at(r, k)
						}
						den := refMax + 0.1*mk
						if den == 0 {
							den = 1
						}
						if err := math.Abs(ev-rv) / den; err > worst || math.IsNaN(err) {
							worst, worstR, worstK = err, r, k
						}
					}
				}
				st.note(label, worst)
				if !(worst <= oracleTol) {
					var want float64
					if rm != nil {
						want = rm.at(worstR, worstK)
					}
					t.Errorf("%s, %s at %s, image %d: relative error %.2e (seed %d element %d: engine %g, reference %g; reference max-abs %g)",
						where, label, name, b, worst, worstR, worstK, eng(name, b*rows+worstR)[worstK], want, refMax)
				}
			}
		}
	}
	vecRow := func(res map[string]*excitation.Vec) func(string, int) []float64 {
		return func(name string, row int) []float64 {
			v, ok := res[name]
			if !ok {
				t.Fatalf("%s: the result has no vector at %q", where, name)
			}
			return v.Float64(row)
		}
	}

	for _, m := range []struct {
		mode excitation.Mode
		ref  func(s *refSums) map[string]*dmat
	}{
		{excitation.Grad, func(s *refSums) map[string]*dmat { return s.jac }},
		{excitation.Coef, func(s *refSums) map[string]*dmat { return s.jac }},
		{excitation.ExcPos, func(s *refSums) map[string]*dmat { return s.rPos }},
		{excitation.RelNeg, func(s *refSums) map[string]*dmat { return s.rNeg }},
		{excitation.ExcNeg, func(s *refSums) map[string]*dmat { return s.eNeg }},
	} {
		if opts.modes != nil && !slices.Contains(opts.modes, m.mode) {
			continue
		}
		res := run(m.mode)
		compare(opts.label+m.mode.String(), vecRow(res.At), func(b int) map[string]*dmat { return m.ref(sums[b]) }, nil)
	}

	// Full PANE: P = (S + D)/2 and M = (S − D)/2.
	res := run(excitation.Full)
	half := func(sign float64) func(string, int) []float64 {
		return func(name string, row int) []float64 {
			s, d := vecRow(res.At)(name, row), vecRow(res.D)(name, row)
			out := make([]float64, len(s))
			for k := range s {
				out[k] = (s[k] + sign*d[k]) / 2
			}
			return out
		}
	}
	// The engine carries S and D, each of the size of P and M together, so
	// P and M are both measured against the larger of the two.
	pOf := func(b int) map[string]*dmat { return sums[b].P }
	mOf := func(b int) map[string]*dmat { return sums[b].M }
	compare(opts.label+"full P", half(1), pOf, mOf)
	compare(opts.label+"full M", half(-1), mOf, pOf)

	// Completeness: target = S·x + Σ S_out·c (the engine's own residual),
	// and E+ = P·x + Σ P_out·c from the reference equals the engine's EPos.
	if len(res.Completeness) != images*rows {
		t.Fatalf("%s: %d completeness entries for %d seed rows", where, len(res.Completeness), images*rows)
	}
	for b, ri := range refs {
		ePos, eNeg, magnitude := ri.decomposition(sums[b])
		y64 := ri.x64[seedT]
		for r := range rows {
			c := res.Completeness[b*rows+r]
			var target float64
			for k, s := range seeds.row(r) {
				target += s * y64[k]
			}
			// The reference's own identity: E+ + E− = target.
			if d := math.Abs(ePos[r] + eNeg[r] - target); d > 1e-9*magnitude[r] {
				t.Errorf("%s image %d seed %d: reference E+ + E− = %g, target %g", where, b, r, ePos[r]+eNeg[r], target)
			}
			// The target is a float32 forward value: where its terms cancel
			// it carries a rounding error of the size of the terms times
			// float32's epsilon, not of the target. As above, the identities
			// are measured relative to the largest of |target|, |E+| + |E−|
			// and a tenth of Σ|terms|.
			scale := math.Max(math.Max(math.Abs(target), math.Abs(ePos[r])+math.Abs(eNeg[r])), 0.1*magnitude[r])
			if scale == 0 {
				scale = 1
			}
			resid := math.Abs(c.Target-c.Reconstructed) / scale
			st.note(opts.label+"completeness", resid)
			if c.Residual() > oracleTol && !(resid <= oracleTol) {
				t.Errorf("%s image %d seed %d: completeness residual %.2e (target %g, reconstructed %g)", where, b, r, c.Residual(), c.Target, c.Reconstructed)
			}
			if d := math.Abs(c.Target - target); !(d <= oracleTol*scale) {
				t.Errorf("%s image %d seed %d: engine target %g, reference %g", where, b, r, c.Target, target)
			}
			ep := math.Abs(c.EPos-ePos[r]) / scale
			st.note(opts.label+"E+", ep)
			if !(ep <= oracleTol) {
				t.Errorf("%s image %d seed %d: engine E+ %g, reference %g (E− %g)", where, b, r, c.EPos, ePos[r], eNeg[r])
			}
			if en := math.Abs(c.ENeg-eNeg[r]) / scale; !(en <= oracleTol) {
				t.Errorf("%s image %d seed %d: engine E− %g, reference %g (E+ %g)", where, b, r, c.ENeg, eNeg[r], ePos[r])
			}
			if sr := c.SplitResidual(); sr > oracleTol && math.Abs(c.Reconstructed-c.Target) > oracleTol*scale {
				t.Errorf("%s image %d seed %d: split residual %.2e", where, b, r, sr)
			}
		}
	}
}

func rowToFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
