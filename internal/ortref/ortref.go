//go:build ort

package ortref

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// EnvLibrary names the environment variable that, when set, gives the path of
// libonnxruntime.so and overrides the default location under .cache/ort.
const EnvLibrary = "PANEONNX_ORT_LIB"

// DefaultThreads is the intra-op thread count used unless WithThreads says
// otherwise; it matches the two cores of the reference machine.
const DefaultThreads = 2

// defaultLibDir is where scripts/install-ort.sh puts the library, relative to
// the repository root.
var defaultLibDir = filepath.Join(".cache", "ort", "node_modules", "onnxruntime-node",
	"bin", "napi-v6", "linux", "x64")

// ErrLibraryNotFound is returned (wrapped) by Init when no ONNX Runtime shared
// library could be located.
var ErrLibraryNotFound = errors.New("ortref: ONNX Runtime library not found (run scripts/install-ort.sh or set " + EnvLibrary + ")")

var (
	initOnce sync.Once
	initErr  error
	libPath  string
)

// Init loads ONNX Runtime and creates its environment. It is safe to call
// more than once and from several goroutines; every call returns the result
// of the first one.
func Init() error {
	initOnce.Do(func() {
		p, err := findLibrary()
		if err != nil {
			initErr = err
			return
		}
		ort.SetSharedLibraryPath(p)
		if err := ort.InitializeEnvironment(); err != nil {
			initErr = fmt.Errorf("ortref: initialising ONNX Runtime from %s: %w", p, err)
			return
		}
		libPath = p
	})
	return initErr
}

// LibraryPath returns the path of the loaded library ("" before a successful Init).
func LibraryPath() string { return libPath }

// Version returns the version string reported by the loaded library.
func Version() string {
	if libPath == "" {
		return ""
	}
	return ort.GetVersion()
}

func findLibrary() (string, error) {
	if p := os.Getenv(EnvLibrary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrLibraryNotFound, EnvLibrary, p, err)
		}
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrLibraryNotFound, err)
	}
	dir := filepath.Join(root, defaultLibDir)
	for _, name := range []string{"libonnxruntime.so", "libonnxruntime.so.1"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "libonnxruntime.so.*")); len(m) > 0 {
		return m[0], nil
	}
	return "", fmt.Errorf("%w: nothing in %s", ErrLibraryNotFound, dir)
}

// RepoRoot returns the first folder at or above the working directory that
// holds a go.mod file.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("ortref: no go.mod found above the working directory")
		}
		dir = parent
	}
}

// Option configures a Session.
type Option func(*config)

type config struct {
	intraThreads int
	interThreads int
	noOptimize   bool
}

// WithThreads sets the number of intra-op threads (default DefaultThreads).
func WithThreads(n int) Option { return func(c *config) { c.intraThreads = n } }

// WithInterOpThreads sets the number of inter-op threads (ONNX Runtime's
// default when unset).
func WithInterOpThreads(n int) Option { return func(c *config) { c.interThreads = n } }

// WithoutGraphOptimization turns ONNX Runtime's graph rewrites (fusions,
// constant folding) off, so that the model runs node by node as written.
func WithoutGraphOptimization() Option { return func(c *config) { c.noOptimize = true } }

// Session runs one single-input, single-output float32 model with a fixed
// input shape. It is not safe for concurrent use.
type Session struct {
	sess       *ort.DynamicAdvancedSession
	inputName  string
	outputName string
	inShape    []int64
	in         *ort.Tensor[float32]
	out        *ort.Tensor[float32] // allocated after the first Run
}

// Open loads modelPath. inputShape fixes the input's shape; when it is nil,
// the shape declared in the model is used with every dynamic dimension (such
// as the batch) set to 1. Init is called if it has not been.
func Open(modelPath string, inputShape []int64, opts ...Option) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	cfg := config{intraThreads: DefaultThreads}
	for _, o := range opts {
		o(&cfg)
	}
	ins, outs, err := ort.GetInputOutputInfo(modelPath)
	if err != nil {
		return nil, fmt.Errorf("ortref: reading inputs/outputs of %s: %w", modelPath, err)
	}
	if len(ins) != 1 || len(outs) != 1 {
		return nil, fmt.Errorf("ortref: %s has %d inputs and %d outputs; only single-input single-output models are supported",
			modelPath, len(ins), len(outs))
	}
	in, out := ins[0], outs[0]
	if in.OrtValueType != ort.ONNXTypeTensor || in.DataType != ort.TensorElementDataTypeFloat {
		return nil, fmt.Errorf("ortref: input %s of %s is not a float32 tensor", in.String(), modelPath)
	}
	if out.OrtValueType != ort.ONNXTypeTensor || out.DataType != ort.TensorElementDataTypeFloat {
		return nil, fmt.Errorf("ortref: output %s of %s is not a float32 tensor", out.String(), modelPath)
	}
	shape := inputShape
	if shape == nil {
		shape = make([]int64, len(in.Dimensions))
		for i, d := range in.Dimensions {
			if d <= 0 {
				d = 1
			}
			shape[i] = d
		}
	}
	for i, d := range shape {
		if d <= 0 {
			return nil, fmt.Errorf("ortref: input shape %v: dimension %d is not positive", shape, i)
		}
	}
	shape = append([]int64(nil), shape...)

	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ortref: session options: %w", err)
	}
	defer so.Destroy()
	if cfg.intraThreads > 0 {
		if err := so.SetIntraOpNumThreads(cfg.intraThreads); err != nil {
			return nil, fmt.Errorf("ortref: intra-op threads: %w", err)
		}
	}
	if cfg.interThreads > 0 {
		if err := so.SetInterOpNumThreads(cfg.interThreads); err != nil {
			return nil, fmt.Errorf("ortref: inter-op threads: %w", err)
		}
	}
	if cfg.noOptimize {
		if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
			return nil, fmt.Errorf("ortref: graph optimisation level: %w", err)
		}
	}
	sess, err := ort.NewDynamicAdvancedSession(modelPath, []string{in.Name}, []string{out.Name}, so)
	if err != nil {
		return nil, fmt.Errorf("ortref: opening %s: %w", modelPath, err)
	}
	inT, err := ort.NewEmptyTensor[float32](ort.NewShape(shape...))
	if err != nil {
		sess.Destroy()
		return nil, fmt.Errorf("ortref: input tensor %v: %w", shape, err)
	}
	return &Session{sess: sess, inputName: in.Name, outputName: out.Name, inShape: shape, in: inT}, nil
}

// InputName returns the name of the model's input.
func (s *Session) InputName() string { return s.inputName }

// OutputName returns the name of the model's output.
func (s *Session) OutputName() string { return s.outputName }

// InputShape returns the input shape the session was opened with.
func (s *Session) InputShape() []int64 { return append([]int64(nil), s.inShape...) }

// InputLen returns the number of float32 values Run expects.
func (s *Session) InputLen() int { return len(s.in.GetData()) }

// Run runs the model on input (NCHW, len(input) == InputLen()) and returns a
// fresh copy of the output together with its shape.
func (s *Session) Run(input []float32) ([]float32, []int64, error) {
	if s.sess == nil {
		return nil, nil, errors.New("ortref: Run on a closed session")
	}
	dst := s.in.GetData()
	if len(input) != len(dst) {
		return nil, nil, fmt.Errorf("ortref: input has %d values, shape %v needs %d", len(input), s.inShape, len(dst))
	}
	copy(dst, input)
	if s.out != nil {
		if err := s.sess.Run([]ort.Value{s.in}, []ort.Value{s.out}); err != nil {
			return nil, nil, fmt.Errorf("ortref: run: %w", err)
		}
		return append([]float32(nil), s.out.GetData()...), []int64(s.out.GetShape().Clone()), nil
	}
	// First run: let ONNX Runtime allocate the output, then keep a tensor of
	// that shape for later runs (the input shape is fixed, so is the output's).
	outs := []ort.Value{nil}
	if err := s.sess.Run([]ort.Value{s.in}, outs); err != nil {
		return nil, nil, fmt.Errorf("ortref: run: %w", err)
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("ortref: output is %T, not a float32 tensor", outs[0])
	}
	shape := t.GetShape().Clone()
	res := append([]float32(nil), t.GetData()...)
	if keep, err := ort.NewEmptyTensor[float32](shape); err == nil {
		s.out = keep
	}
	return res, []int64(shape), nil
}

// Close releases the session. It is safe to call more than once.
func (s *Session) Close() error {
	var errs []error
	if s.sess != nil {
		errs = append(errs, s.sess.Destroy())
		s.sess = nil
	}
	if s.in != nil {
		errs = append(errs, s.in.Destroy())
		s.in = nil
	}
	if s.out != nil {
		errs = append(errs, s.out.Destroy())
		s.out = nil
	}
	return errors.Join(errs...)
}
