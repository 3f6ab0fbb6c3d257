package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/paneonnx/paneonnx/metrics"
)

// Record is one line of results.jsonl: the scores of one method on one
// image, or (with Skipped set) an image that could not be audited.
type Record struct {
	// Run is the fingerprint of the settings the line was computed with.
	Run   string `json:"run"`
	Index int    `json:"index"`
	Image string `json:"image"`
	// Label is the data set's class (-1: none).
	Label int `json:"label"`
	// Skipped holds the reason an image was not audited; the other fields
	// below are then empty.
	Skipped string `json:"skipped,omitempty"`

	Method    string `json:"method,omitempty"`
	Predicted int    `json:"predicted"`
	Target    int    `json:"target"`
	// Logit is the target's logit; Y its probability; NoHeatmap p_t(0.5·X).
	Logit     float64 `json:"logit"`
	Y         float64 `json:"y"`
	NoHeatmap float64 `json:"o_no_heatmap"`
	// O (E = 0.5·X + 0.5·S), OProduct (E = S ⊙ X), OMasked (X̂).
	O              float64 `json:"o"`
	OProduct       float64 `json:"o_product"`
	OMasked        float64 `json:"o_masked"`
	MaskedFraction float64 `json:"masked_fraction"`
	Area           float64 `json:"area"`
	Value          float64 `json:"value"`
	DeletionAUC    float64 `json:"deletion_auc"`
	InsertionAUC   float64 `json:"insertion_auc"`
	// Elements is the number of map elements E; step k of the curves
	// changed ⌊k·E/Steps⌋ of them.
	Elements  int       `json:"elements"`
	Deletion  []float32 `json:"deletion"`
	Insertion []float32 `json:"insertion"`
	// Completeness is set for the excitation methods.
	Completeness *Completeness `json:"completeness,omitempty"`
	// Seconds is the time the map and its metrics took.
	Seconds float64 `json:"seconds"`
}

// Completeness is the full-PANE decomposition of the target logit (SPEC
// §5.6).
type Completeness struct {
	Residual      float64 `json:"residual"`
	EPos          float64 `json:"e_pos"`
	ENeg          float64 `json:"e_neg"`
	SplitResidual float64 `json:"split_residual"`
}

// result rebuilds the metrics result of a record.
func (r *Record) result() *metrics.Result {
	steps := len(r.Deletion) - 1
	res := &metrics.Result{Area: r.Area, Value: r.Value, O: r.O, OProduct: r.OProduct, OMasked: r.OMasked,
		MaskedFraction: r.MaskedFraction, DeletionAUC: r.DeletionAUC, InsertionAUC: r.InsertionAUC,
		Fractions: make([]float64, steps+1), Deletion: make([]float64, steps+1), Insertion: make([]float64, len(r.Insertion))}
	for k := range res.Fractions {
		if steps > 0 && r.Elements > 0 {
			res.Fractions[k] = float64(k*r.Elements/steps) / float64(r.Elements)
		}
		res.Deletion[k] = float64(r.Deletion[k])
	}
	for k, v := range r.Insertion {
		res.Insertion[k] = float64(v)
	}
	return res
}

// readResults reads results.jsonl. A last line that is cut short (no
// newline, or not valid JSON) is dropped: good is the length of the valid
// prefix. Any other bad line is an error.
func readResults(path string) (recs []Record, good int64, err error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	line := 0
	for len(data) > int(good) {
		line++
		rest := data[good:]
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			break // truncated last line
		}
		var r Record
		if err := json.Unmarshal(rest[:end], &r); err != nil {
			if int(good)+end+1 == len(data) {
				break // a damaged last line: written when the run stopped
			}
			return nil, 0, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		recs = append(recs, r)
		good += int64(end + 1)
	}
	return recs, good, nil
}

// resultsWriter appends records to results.jsonl, one fsynced line each.
type resultsWriter struct {
	mu sync.Mutex
	f  *os.File
}

// openResults opens path for appending after cutting it to good bytes.
func openResults(path string, good int64) (*resultsWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Seek(good, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &resultsWriter{f: f}, nil
}

func (w *resultsWriter) write(r *Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("results of %s, %s: %w", r.Image, r.Method, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("%s: %w", w.f.Name(), err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("%s: %w", w.f.Name(), err)
	}
	return nil
}

func (w *resultsWriter) close() error { return w.f.Close() }
