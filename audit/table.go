package audit

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/paneonnx/paneonnx/internal/stats"
	"github.com/paneonnx/paneonnx/metrics"
)

// Table is the data-set summary written as table.md, table.csv and in
// report.html.
type Table struct {
	// Methods are the method names in row order; Display their table names.
	Methods, Display []string
	Summary          *metrics.Summary
	// Completeness is set for the excitation methods.
	Completeness map[string]*CompletenessStats
	// Images lists the audited images (those with at least one result), in
	// order.
	Images []ImageInfo
}

// CompletenessStats summarise the completeness of a method's rows.
type CompletenessStats struct {
	Images                                int
	MaxResidual, MedianEPos, MedianENeg   float64
	MaxSplitResidual, MedianEPosOverLogit float64 // split residual; median E+/|logit|
}

// ImageInfo describes one audited image.
type ImageInfo struct {
	Index                    int
	Name                     string
	Label, Predicted, Target int
	Y                        float64
}

// paperNames are the table names of the paper's methods, by normalised
// command-line name.
var paperNames = map[string]string{
	"iom": "IOM", "gradcam": "Grad-CAM", "gradcampp": "Grad-CAM++", "scorecam": "Score-CAM",
	"ablationcam": "Ablation-CAM", "xgradcam": "XGrad-CAM", "eigencam": "Eigen-CAM", "layercam": "Layer-CAM",
	"fullgrad": "Full-Grad", "iomneg": "IOM (r-Exc-)", "pane": "PANE P", "paneneg": "PANE M",
	"iomxinput": "IOM x input", "grad": "Gradient", "gradxinput": "Gradient x input",
}

// paperOrder is the row order of the paper's Table 1.
var paperOrder = []string{"iom", "gradcam", "gradcampp", "scorecam", "ablationcam", "xgradcam", "eigencam", "layercam", "fullgrad"}

// normName folds a method name for matching: lower case, "++" and "plusplus"
// as "pp", other punctuation dropped.
func normName(s string) string {
	s = strings.ToLower(s)
	s = strings.ReplaceAll(strings.ReplaceAll(s, "plusplus", "pp"), "++", "pp")
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// DisplayName is a method's name in tables: the paper's spelling for its
// methods, the command-line name otherwise.
func DisplayName(method string) string {
	if d, ok := paperNames[normName(method)]; ok {
		return d
	}
	return method
}

// buildTable computes the table from the records of results.jsonl.
func (a *auditor) buildTable(recs []Record) (*Table, error) {
	names := make([]string, len(a.methods))
	for i, m := range a.methods {
		names[i] = m.Name()
	}
	byImage := map[int]map[string]*Record{}
	for k := range recs {
		r := &recs[k]
		if r.Skipped != "" || r.Index >= a.n {
			continue
		}
		if byImage[r.Index] == nil {
			byImage[r.Index] = map[string]*Record{}
		}
		if _, dup := byImage[r.Index][r.Method]; !dup {
			byImage[r.Index][r.Method] = r
		}
	}
	idx := make([]int, 0, len(byImage))
	for i := range byImage {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	t := &Table{Methods: names, Completeness: map[string]*CompletenessStats{}}
	for _, n := range names {
		t.Display = append(t.Display, DisplayName(n))
	}
	comp := map[string][]*Completeness{}
	logits := map[string][]float64{}
	var samples []metrics.Sample
	for _, i := range idx {
		var first *Record
		s := metrics.Sample{Results: map[string]*metrics.Result{}}
		for _, n := range names {
			r := byImage[i][n]
			if r == nil {
				continue
			}
			if first == nil {
				first = r
			}
			s.Results[n] = r.result()
			if r.Completeness != nil {
				comp[n] = append(comp[n], r.Completeness)
				logits[n] = append(logits[n], r.Logit)
			}
		}
		if first == nil {
			continue
		}
		s.Y, s.NoHeatmap = first.Y, first.NoHeatmap
		samples = append(samples, s)
		t.Images = append(t.Images, ImageInfo{Index: i, Name: first.Image, Label: first.Label, Predicted: first.Predicted,
			Target: first.Target, Y: first.Y})
	}
	a.pairTimes = map[string]pairTime{}
	for _, i := range idx {
		for n, r := range byImage[i] {
			pt := a.pairTimes[n]
			pt.Pairs++
			pt.TotalSeconds += r.Seconds
			pt.MeanSeconds = pt.TotalSeconds / float64(pt.Pairs)
			a.pairTimes[n] = pt
		}
	}
	sum, err := metrics.Aggregate(names, samples)
	if err != nil {
		return nil, err
	}
	t.Summary = sum
	for n, cs := range comp {
		st := &CompletenessStats{Images: len(cs)}
		var pos, neg, rel []float64
		for k, c := range cs {
			st.MaxResidual = math.Max(st.MaxResidual, c.Residual)
			st.MaxSplitResidual = math.Max(st.MaxSplitResidual, c.SplitResidual)
			pos, neg = append(pos, c.EPos), append(neg, c.ENeg)
			if l := logits[n][k]; l != 0 {
				rel = append(rel, c.EPos/math.Abs(l))
			}
		}
		st.MedianEPos, st.MedianENeg, st.MedianEPosOverLogit = stats.Median(pos), stats.Median(neg), stats.Median(rel)
		t.Completeness[n] = st
	}
	return t, nil
}

// columns are the table's headings after Methods.
var columns = []string{"Avg. Area%", "Avg. Value", "Avg. Drop%", "% Win", "Confi. Drop",
	"Incr. in Confi.", "Avg. Drop% (S⊙X)", "Deletion AUC", "Insertion AUC", "Completeness resid. (max)", "E+ (median)", "E− (median)"}

// csvColumns are table.csv's headings.
var csvColumns = []string{"method", "name", "images", "avg_area", "avg_value", "avg_drop", "win", "confidence_drop",
	"increase_in_confidence", "avg_drop_product", "deletion_auc", "insertion_auc", "completeness_residual_max",
	"e_pos_median", "e_neg_median"}

// cells returns a row's values (NaN: not applicable) in column order.
func (t *Table) cells(i int) []float64 {
	r := t.Summary.Rows[i]
	nan := math.NaN()
	out := []float64{r.AvgArea, r.AvgValue, r.AvgDrop, r.Win, r.ConfDrop, r.Increase, r.AvgDropProduct,
		r.DeletionAUC, r.InsertionAUC, nan, nan, nan}
	if r.ValueImages == 0 {
		out[1] = nan
	}
	if c := t.Completeness[r.Method]; c != nil {
		out[9], out[10], out[11] = c.MaxResidual, c.MedianEPos, c.MedianENeg
	}
	return out
}

// noHeatmapCells is the "No heatmap" row.
func (t *Table) noHeatmapCells() []float64 {
	nan := math.NaN()
	return []float64{nan, nan, t.Summary.NoHeatmapDrop, nan, nan, t.Summary.NoHeatmapIncrease, nan, nan, nan, nan, nan, nan}
}

// fmtCell formats a table cell: 4 decimals for fractions and AUCs, 2
// significant digits in exponent form for residuals, 4 for E±.
func fmtCell(col int, v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case col == 9:
		return fmt.Sprintf("%.1e", v)
	case col >= 10:
		return fmt.Sprintf("%.4g", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// Markdown renders table.md.
func (t *Table) Markdown(title string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "%d images", t.Summary.Images)
	if t.Summary.WinImages != t.Summary.Images {
		fmt.Fprintf(&b, " (%% Win over the %d with every method)", t.Summary.WinImages)
	}
	b.WriteString(". Avg. Area% and Avg. Drop% are fractions, as in the paper's Table 1; Deletion AUC: lower is better, Insertion AUC: higher is better.\n\n")
	b.WriteString("| Methods | " + strings.Join(columns, " | ") + " |\n")
	b.WriteString("|---" + strings.Repeat("|---:", len(columns)) + "|\n")
	row := func(name string, cells []float64) {
		b.WriteString("| " + name)
		for c, v := range cells {
			b.WriteString(" | " + fmtCell(c, v))
		}
		b.WriteString(" |\n")
	}
	row("No heatmap", t.noHeatmapCells())
	for i := range t.Methods {
		row(t.Display[i], t.cells(i))
	}
	return b.Bytes()
}

// CSV renders table.csv: full precision, empty cells where a metric does
// not apply.
func (t *Table) CSV() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	format := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	write := func(method, name string, images int, cells []float64) error {
		rec := []string{method, name, strconv.Itoa(images)}
		for _, v := range cells {
			rec = append(rec, format(v))
		}
		return w.Write(rec)
	}
	if err := w.Write(csvColumns); err != nil {
		return nil, err
	}
	if err := write("no-heatmap", "No heatmap", t.Summary.Images, t.noHeatmapCells()); err != nil {
		return nil, err
	}
	for i, m := range t.Methods {
		if err := write(m, t.Display[i], t.Summary.Rows[i].Images, t.cells(i)); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// finish computes the table from results.jsonl and writes the tables and
// the report.
func (a *auditor) finish() (*Table, error) {
	recs, _, err := readResults(filepath.Join(a.cfg.Out, ResultsFile))
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	t, err := a.buildTable(recs)
	if err != nil {
		return nil, err
	}
	title := fmt.Sprintf("Audit of %s on %s", filepath.Base(filepath.Dir(a.cfg.Model.Path))+"/"+filepath.Base(a.cfg.Model.Path), a.ds.Path)
	if err := writeFileAtomic(filepath.Join(a.cfg.Out, TableMD), t.Markdown(title)); err != nil {
		return nil, err
	}
	data, err := t.CSV()
	if err != nil {
		return nil, fmt.Errorf("audit: %s: %w", TableCSV, err)
	}
	if err := writeFileAtomic(filepath.Join(a.cfg.Out, TableCSV), data); err != nil {
		return nil, err
	}
	page, err := a.report(t, title)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(a.cfg.Out, ReportFile), page); err != nil {
		return nil, err
	}
	return t, nil
}
