// Package saliency is the common interface of every explanation method
// paneonnx offers (IOM and its variants from package iom, the CAM baselines
// from package cam): given one forward pass and a target per image, a
// method returns one map per image at the input's resolution. The metrics,
// the audit and the command line work through it.
package saliency

import (
	"fmt"
	"sort"
	"strings"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
)

// Map is one saliency map, C×H×W: C = 3 for per-colour-channel maps (IOM,
// values in [−1,1]), C = 1 for CAM maps (values in [0,1]).
type Map struct {
	C, H, W int
	Data    []float32
	// Raw is the map before smoothing, normalisation and resizing (the
	// method's own quantity, e.g. r-Exc+ at the input for IOM), with its
	// shape; nil when the method has none beyond Data.
	Raw      []float32
	RawShape []int
}

// Pass is one forward pass over a batch of images, lowered for the
// backward engine, that methods read.
type Pass struct {
	G      *graph.Graph // canonical (excitation.Canonical): BatchNormalization and zero paddings folded
	Acts   graph.Activations
	L      *excitation.Lowered
	Logits string
	Input  *graph.Tensor
}

// NewPass runs g (which should be excitation.Canonical of the model)
// on x, keeping every activation, and lowers it.
func NewPass(g *graph.Graph, x *graph.Tensor) (*Pass, error) {
	acts, err := g.Run(graph.RunOptions{KeepAll: true}, x)
	if err != nil {
		return nil, err
	}
	l, err := excitation.Lower(g, acts)
	if err != nil {
		return nil, err
	}
	return &Pass{G: g, Acts: acts, L: l, Logits: excitation.Logits(g), Input: x}, nil
}

// Release gives the pass's activation buffers to later passes; neither the
// pass nor any tensor read from its activations may be used afterwards. Maps
// that methods returned stay valid.
func (p *Pass) Release() {
	p.G.Release(p.Acts)
	p.Acts, p.L = nil, nil
}

// Images returns the batch size.
func (p *Pass) Images() int { return p.Input.Batch() }

// OneHot returns seeds at the logits selecting targets[n] for image n.
func (p *Pass) OneHot(targets []int) *graph.Tensor {
	y := p.Acts[p.Logits]
	s := graph.New(y.Shape...)
	per := len(y.Data) / y.Batch()
	for n, t := range targets {
		s.Data[n*per+t] = 1
	}
	return s
}

// Options are the settings a method may use.
type Options struct {
	// Smooth is IOM's box filter size k.
	Smooth int
	// TargetLayer is the CAM target layer; "" selects the default rule.
	TargetLayer string
}

// Method computes saliency maps.
type Method interface {
	// Name is the method's command-line name, e.g. "iom", "gradcam".
	Name() string
	// Maps returns one map per image of the pass for targets[n] (a logit
	// index per image).
	Maps(p *Pass, targets []int, opt Options) ([]Map, error)
	// Protocol describes the method's settings for result files.
	Protocol(p *Pass, opt Options) map[string]any
}

var registry = map[string]Method{}

// Register makes a method available by name; packages providing methods
// call it from init.
func Register(m Method) {
	if _, dup := registry[m.Name()]; dup {
		panic("saliency: method registered twice: " + m.Name())
	}
	registry[m.Name()] = m
}

// Lookup returns the method called name.
func Lookup(name string) (Method, error) {
	m, ok := registry[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return nil, fmt.Errorf("unknown method %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return m, nil
}

// Names lists the registered methods, sorted.
func Names() []string {
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
