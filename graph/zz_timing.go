package graph

import (
	"fmt"
	"sort"
	"time"
)

var TimingOn bool
var Timing = map[string]time.Duration{}

func AddTiming(k string, d time.Duration) {
	if TimingOn {
		Timing[k] += d
	}
}

func DumpTiming(n int) {
	var ks []string
	var tot, fwd time.Duration
	for k, v := range Timing {
		ks = append(ks, k)
		if k[:4] == "bwd " {
			tot += v
		}
		if k[:4] == "fwd " {
			fwd += v
		}
	}
	fmt.Printf("%-40s %8.3f ms\n", "FWD", float64(fwd.Microseconds())/1000/float64(n))
	sort.Slice(ks, func(i, j int) bool { return Timing[ks[i]] > Timing[ks[j]] })
	for _, k := range ks {
		fmt.Printf("%-40s %8.3f ms\n", k, float64(Timing[k].Microseconds())/1000/float64(n))
	}
	fmt.Printf("%-40s %8.3f ms\n", "BWD", float64(tot.Microseconds())/1000/float64(n))
	Timing = map[string]time.Duration{}
}

func KindOf(n *Node, in []*Tensor) string { return kindOf(n, in) }

func kindOf(n *Node, in []*Tensor) string {
	if n.Op.Type() != "Conv" {
		return ""
	}
	if len(in) == 0 || len(in[0].Shape) < 2 {
		return ""
	}
	neg := false
	type grouper interface{ GroupCount() int }
	g := 1
	if gg, ok := n.Op.(grouper); ok {
		g = gg.GroupCount()
	}
	k := " 1x1"
	if g > 1 {
		k = " dw"
	} else if in[0].Shape[1] == 3 {
		k = " stem"
	}
	if neg {
		k += " mixed"
	}
	return k
}
