package metrics

import "fmt"

// Sample is everything measured on one image: its reference values and the
// result of each method, by method name.
type Sample struct {
	Y, NoHeatmap float64
	Results      map[string]*Result
}

// Row is the data-set summary of one method.
type Row struct {
	Method string
	// Images counts the samples with a result of this method (and Y > 0).
	Images int
	// AvgArea and AvgValue average Result.Area and Result.Value; AvgValue
	// over the ValueImages images whose map has a positive element.
	AvgArea, AvgValue float64
	ValueImages       int
	// AvgDrop (E = 0.5·X + 0.5·S), AvgDropProduct (E = S ⊙ X), Win,
	// Increase (in confidence) and ConfDrop as in the package documentation.
	AvgDrop, AvgDropProduct, Win, Increase, ConfDrop float64
	// DeletionAUC and InsertionAUC are the mean AUCs; MeanDeletion and
	// MeanInsertion the mean curves, step by step, over MeanFractions (the
	// mean abscissae).
	DeletionAUC, InsertionAUC                  float64
	MeanFractions, MeanDeletion, MeanInsertion []float64
}

// Summary is the data-set table.
type Summary struct {
	// Images counts the samples used (Y > 0); ZeroY those left out because
	// the target's probability underflowed to 0, where relative drops are
	// undefined.
	Images, ZeroY int
	// WinImages counts the samples that have a result of every method: the
	// images Win is computed over.
	WinImages int
	// NoHeatmapDrop and NoHeatmapIncrease are the "No heatmap" row
	// (E = 0.5·X).
	NoHeatmapDrop, NoHeatmapIncrease float64
	Rows                             []Row
}

// Aggregate summarises samples for methods (rows in that order). The sums
// run in sample order, so equal inputs give bit-identical summaries. It
// fails when the curves of one method differ in length.
func Aggregate(methods []string, samples []Sample) (*Summary, error) {
	sum := &Summary{Rows: make([]Row, len(methods))}
	for i, m := range methods {
		sum.Rows[i].Method = m
	}
	wins := make([]float64, len(methods))
	for _, s := range samples {
		if !(s.Y > 0) {
			sum.ZeroY++
			continue
		}
		sum.Images++
		sum.NoHeatmapDrop += max(0, s.Y-s.NoHeatmap) / s.Y
		if s.NoHeatmap > s.Y {
			sum.NoHeatmapIncrease++
		}
		all := true
		for i, m := range methods {
			r := s.Results[m]
			if r == nil {
				all = false
				continue
			}
			row := &sum.Rows[i]
			if err := row.add(s.Y, r); err != nil {
				return nil, err
			}
		}
		if !all || len(methods) == 0 {
			continue
		}
		sum.WinImages++
		best := s.Results[methods[0]].O
		for _, m := range methods[1:] {
			best = max(best, s.Results[m].O) // smallest (Y − O)/Y
		}
		var tied float64
		for _, m := range methods {
			if s.Results[m].O == best {
				tied++
			}
		}
		for i, m := range methods {
			if s.Results[m].O == best {
				wins[i] += 1 / tied
			}
		}
	}
	if sum.Images > 0 {
		sum.NoHeatmapDrop /= float64(sum.Images)
		sum.NoHeatmapIncrease /= float64(sum.Images)
	}
	for i := range sum.Rows {
		sum.Rows[i].finish()
		if sum.WinImages > 0 {
			sum.Rows[i].Win = wins[i] / float64(sum.WinImages)
		}
	}
	return sum, nil
}

// add accumulates one image's result.
func (row *Row) add(y float64, r *Result) error {
	if row.Images > 0 && (len(r.Deletion) != len(row.MeanDeletion) || len(r.Insertion) != len(row.MeanInsertion) ||
		len(r.Fractions) != len(row.MeanFractions)) {
		return fmt.Errorf("metrics: %s: curves of %d/%d points after curves of %d/%d", row.Method,
			len(r.Deletion), len(r.Insertion), len(row.MeanDeletion), len(row.MeanInsertion))
	}
	if row.Images == 0 {
		row.MeanFractions = make([]float64, len(r.Fractions))
		row.MeanDeletion = make([]float64, len(r.Deletion))
		row.MeanInsertion = make([]float64, len(r.Insertion))
	}
	row.Images++
	row.AvgArea += r.Area
	if r.Area > 0 {
		row.AvgValue += r.Value
		row.ValueImages++
	}
	row.AvgDrop += max(0, y-r.O) / y
	row.AvgDropProduct += max(0, y-r.OProduct) / y
	if r.O > y {
		row.Increase++
	}
	row.ConfDrop += (y - r.OMasked) / y
	row.DeletionAUC += r.DeletionAUC
	row.InsertionAUC += r.InsertionAUC
	for k := range r.Fractions {
		row.MeanFractions[k] += r.Fractions[k]
	}
	for k := range r.Deletion {
		row.MeanDeletion[k] += r.Deletion[k]
	}
	for k := range r.Insertion {
		row.MeanInsertion[k] += r.Insertion[k]
	}
	return nil
}

// finish turns the sums into means.
func (row *Row) finish() {
	if row.Images == 0 {
		return
	}
	n := float64(row.Images)
	row.AvgArea /= n
	if row.ValueImages > 0 {
		row.AvgValue /= float64(row.ValueImages)
	}
	row.AvgDrop /= n
	row.AvgDropProduct /= n
	row.Increase /= n
	row.ConfDrop /= n
	row.DeletionAUC /= n
	row.InsertionAUC /= n
	for _, c := range [][]float64{row.MeanFractions, row.MeanDeletion, row.MeanInsertion} {
		for k := range c {
			c[k] /= n
		}
	}
}
