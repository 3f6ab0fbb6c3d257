package excitation_test

import (
	"testing"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

func TestZZTiming(t *testing.T) {
	for _, bm := range benchModels[:1] {
		dir := benchModelDir(&testing.B{}, bm.shared, bm.cache)
		m, x := testutil.LoadModel(t, dir)
		x.Shape[0], x.Data = 1, x.Data[:len(x.Data)/x.Shape[0]]
		g := excitation.Canonical(m.Graph)
		logits := excitation.Logits(g)
		run := func() {
			acts, _ := g.Run(graph.RunOptions{KeepAll: true}, x)
			l, _ := excitation.Lower(g, acts)
			seeds := graph.New(acts[logits].Shape...)
			seeds.Data[0] = 1
			l.Backward(excitation.Request{Mode: excitation.ExcPos, SeedTensor: logits, Seeds: seeds})
			g.Release(acts)
		}
		for range 5 {
			run()
		}
		graph.TimingOn = true
		for range 40 {
			run()
		}
		graph.DumpTiming(40)
	}
}
