package audit

import (
	"sort"

	"github.com/paneonnx/paneonnx/iom"
	"github.com/paneonnx/paneonnx/saliency"
)

// PaperMethods returns the methods of the paper's Table 1 that are
// registered: IOM and the CAM baselines, in the paper's order, then any
// other registered method outside package iom (further baselines).
func PaperMethods() []string {
	out := []string{string(iom.IOM)}
	return append(out, baselines()...)
}

// AllMethods returns every registered method: package iom's in its display
// order, then the baselines as in PaperMethods.
func AllMethods() []string {
	var out []string
	for _, m := range iom.Methods {
		if _, err := saliency.Lookup(string(m)); err == nil {
			out = append(out, string(m))
		}
	}
	return append(out, baselines()...)
}

// baselines returns the registered methods outside package iom: the
// paper's in its order, the others sorted by name.
func baselines() []string {
	rank := map[string]int{}
	for i, n := range paperOrder {
		rank[n] = i
	}
	var out []string
	for _, n := range saliency.Names() {
		if !isIOM(n) {
			out = append(out, n)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, oki := rank[normName(out[i])]
		rj, okj := rank[normName(out[j])]
		switch {
		case oki && okj:
			return ri < rj
		case oki != okj:
			return oki
		}
		return out[i] < out[j]
	})
	return out
}
