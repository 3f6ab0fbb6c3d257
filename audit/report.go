package audit

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"math"
	"os"
	"strings"

	"github.com/paneonnx/paneonnx/render"
	"github.com/paneonnx/paneonnx/saliency"
)

// palette colours the methods in the charts (matplotlib's tab10, then
// greys).
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
	"#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"}

func colour(i int) string { return palette[i%len(palette)] }

// minTile is the smallest side a picture is enlarged to for the report.
const minTile = 112

// savePhoto writes the photo the model saw.
func savePhoto(path string, photo render.Map) error {
	img, err := render.Photo(photo)
	if err != nil {
		return err
	}
	return render.SavePNG(path, render.Enlarge(img, minTile))
}

// saveView writes a map over the photo: the paper's |map| colour view for
// IOM-family maps, the CAM jet overlay otherwise.
func saveView(path string, photo render.Map, m saliency.Map, iomView bool) error {
	rm := render.Map{C: m.C, H: m.H, W: m.W, Data: m.Data}
	draw := render.Jet
	if iomView {
		draw = render.AbsRGB
	}
	img, err := draw(photo, rm)
	if err != nil {
		return err
	}
	return render.SavePNG(path, render.Enlarge(img, minTile))
}

// report renders report.html.
func (a *auditor) report(t *Table, title string) ([]byte, error) {
	var b bytes.Buffer
	esc := html.EscapeString
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
td.best{font-weight:bold;background:#e8f4e8}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.charts svg{border:1px solid #ddd;background:#fff}
.img{margin:14px 0;border-top:1px solid #ddd;padding-top:8px}
.img figure{display:inline-block;margin:2px 4px;text-align:center;font-size:12px}
.img img{display:block;width:112px;height:auto;image-rendering:pixelated}
.note{font-size:13px;color:#555}
</style></head><body>
<h1>%s</h1>
`, esc(title), esc(title))
	fmt.Fprintf(&b, "<p class=note>%d images audited", t.Summary.Images)
	if len(a.skipped) > 0 {
		fmt.Fprintf(&b, ", %d skipped (see audit.json)", len(a.skipped))
	}
	fmt.Fprintf(&b, "; target: the %s class; perturbations in %s space; settings fingerprint %s. ",
		esc(a.cfg.Target), map[bool]string{false: "pixel", true: "tensor"}[a.cfg.TensorSpace], esc(a.fingerprint))
	b.WriteString("Avg. Area% and Avg. Drop% are fractions, as in the paper's Table 1. Best value per column in bold (lower is better for Avg. Drop%, Deletion AUC; higher for % Win, Confi. Drop, Incr. in Confi., Insertion AUC).</p>\n")
	a.htmlTable(&b, t)
	b.WriteString("<h2>Metrics</h2>\n<div class=charts>\n")
	for _, c := range []struct {
		col   int
		title string
	}{{2, "Avg. Drop% (lower is better)"}, {3, "% Win"}, {4, "Confi. Drop"}, {5, "Increase in Confidence"},
		{6, "Avg. Drop% with E = S⊙X"}, {7, "Deletion AUC (lower is better)"}, {8, "Insertion AUC"},
		{0, "Avg. Area%"}, {1, "Avg. Value"}} {
		vals := make([]float64, len(t.Methods))
		for i := range t.Methods {
			vals[i] = t.cells(i)[c.col]
		}
		barChart(&b, c.title, t.Display, vals)
	}
	b.WriteString("</div>\n<h2>Mean deletion and insertion curves</h2>\n<div class=charts>\n")
	curveChart(&b, "Deletion: p(target) as values are set to 0", t, false)
	curveChart(&b, "Insertion: p(target) as values are restored into the blurred image", t, true)
	b.WriteString("</div>\n")
	if len(t.Completeness) > 0 {
		b.WriteString("<h2>Completeness</h2>\n<p class=note>")
		for _, n := range t.Methods {
			if c := t.Completeness[n]; c != nil {
				fmt.Fprintf(&b, "Over %d images the target logit = S·x + Σ S·c to a relative residual of at most %.1e; "+
					"it splits into E+ + E− with a split residual of at most %.1e (median E+ = %.4g, median E− = %.4g, median E+/|logit| = %.4g). ",
					c.Images, c.MaxResidual, c.MaxSplitResidual, c.MedianEPos, c.MedianENeg, c.MedianEPosOverLogit)
				break
			}
		}
		b.WriteString("</p>\n")
	}
	if err := a.imageGrid(&b, t); err != nil {
		return nil, err
	}
	b.WriteString("</body></html>\n")
	return b.Bytes(), nil
}

// htmlTable writes the table with the best value of each column marked.
func (a *auditor) htmlTable(b *bytes.Buffer, t *Table) {
	// lower is better for Avg. Drop (2, 6) and Deletion AUC (7); higher for
	// Win (3), Confi. Drop (4), Increase (5), Insertion AUC (8).
	better := map[int]int{2: -1, 6: -1, 7: -1, 3: 1, 4: 1, 5: 1, 8: 1}
	// A column where every method has the same value marks none.
	best := map[int]float64{}
	for col, dir := range better {
		b, all := math.NaN(), true
		for i := range t.Methods {
			v := t.cells(i)[col]
			if math.IsNaN(v) {
				continue
			}
			if !math.IsNaN(b) && v != b {
				all = false
			}
			if math.IsNaN(b) || float64(dir)*(v-b) > 0 {
				b = v
			}
		}
		if !all || len(t.Methods) == 1 {
			best[col] = b
		}
	}
	b.WriteString("<table><tr><th>Methods</th>")
	for _, c := range columns {
		fmt.Fprintf(b, "<th>%s</th>", html.EscapeString(c))
	}
	b.WriteString("</tr>\n<tr><td>No heatmap</td>")
	for c, v := range t.noHeatmapCells() {
		fmt.Fprintf(b, "<td>%s</td>", fmtCell(c, v))
	}
	b.WriteString("</tr>\n")
	for i := range t.Methods {
		fmt.Fprintf(b, "<tr><td><span style=\"color:%s\">&#9632;</span> %s</td>", colour(i), html.EscapeString(t.Display[i]))
		for c, v := range t.cells(i) {
			class := ""
			if bv, ok := best[c]; ok && v == bv {
				class = " class=best"
			}
			fmt.Fprintf(b, "<td%s>%s</td>", class, fmtCell(c, v))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
}

// barChart draws one horizontal bar per method.
func barChart(b *bytes.Buffer, title string, names []string, vals []float64) {
	const w, rowH, left, right, top = 330, 18, 110, 60, 26
	h := top + rowH*len(names) + 8
	top0 := 0.0
	for _, v := range vals {
		if !math.IsNaN(v) {
			top0 = math.Max(top0, math.Abs(v))
		}
	}
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-size="11" font-family="sans-serif">`, w, h)
	fmt.Fprintf(b, `<text x="6" y="16" font-weight="bold">%s</text>`, html.EscapeString(title))
	zero := float64(left)
	scale := 0.0
	if top0 > 0 {
		scale = float64(w-left-right) / top0
	}
	for i, n := range names {
		y := top + i*rowH
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-4, y+12, html.EscapeString(n))
		v := vals[i]
		if math.IsNaN(v) {
			fmt.Fprintf(b, `<text x="%d" y="%d">-</text>`, left+2, y+12)
			continue
		}
		bw := math.Abs(v) * scale
		x := zero
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x, y+2, bw, rowH-4, colour(i))
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`, x+bw+3, y+12, fmtSigned(v))
	}
	b.WriteString("</svg>\n")
}

func fmtSigned(v float64) string {
	if v < 0 {
		return fmt.Sprintf("−%.4f", -v)
	}
	return fmt.Sprintf("%.4f", v)
}

// curveChart draws the mean deletion or insertion curve of every method.
func curveChart(b *bytes.Buffer, title string, t *Table, insertion bool) {
	const w, h, left, bottom, top, right = 560, 330, 44, 34, 28, 150
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-size="11" font-family="sans-serif">`, w, h)
	fmt.Fprintf(b, `<text x="6" y="16" font-weight="bold">%s</text>`, html.EscapeString(title))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`, left, top, pw, ph)
	for k := 0; k <= 4; k++ {
		f := float64(k) / 4
		x, y := float64(left)+f*pw, float64(top)+ph-f*ph
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#eee"/>`, x, top, x, float64(top)+ph)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%.2f</text>`, x, h-bottom+14, f)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%.2f</text>`, left-4, y+4, f)
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%d" text-anchor="middle">fraction of input values changed</text>`, float64(left)+pw/2, h-4)
	for i := range t.Methods {
		r := t.Summary.Rows[i]
		ys := r.MeanDeletion
		if insertion {
			ys = r.MeanInsertion
		}
		if len(ys) == 0 {
			continue
		}
		var pts []string
		for k, v := range ys {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(left)+r.MeanFractions[k]*pw, float64(top)+ph-v*ph))
		}
		auc := r.DeletionAUC
		if insertion {
			auc = r.InsertionAUC
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, colour(i), strings.Join(pts, " "))
		ly := top + 12 + 15*i
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, w-right+8, ly-4, w-right+24, ly-4, colour(i))
		fmt.Fprintf(b, `<text x="%d" y="%d">%s %.3f</text>`, w-right+28, ly, html.EscapeString(t.Display[i]), auc)
	}
	b.WriteString("</svg>\n")
}

// imageGrid writes the photo and every method's map of the first images.
func (a *auditor) imageGrid(b *bytes.Buffer, t *Table) error {
	shown := 0
	for _, im := range t.Images {
		if im.Index < a.cfg.ReportImages {
			shown++
		}
	}
	if shown == 0 {
		return nil
	}
	fmt.Fprintf(b, "<h2>Maps of the first %d images</h2>\n<p class=note>IOM-family maps in the paper's view (|map|, channel c drives colour c, over the dimmed photo); CAM maps as the jet overlay.</p>\n", shown)
	for _, im := range t.Images {
		if im.Index >= a.cfg.ReportImages {
			continue
		}
		label := "-"
		if im.Label >= 0 {
			label = a.className(im.Label)
		}
		fmt.Fprintf(b, "<div class=img><div class=note>#%d %s — label %s, predicted %s, target %s (p = %.4f)</div>\n",
			im.Index, html.EscapeString(im.Name), html.EscapeString(label), html.EscapeString(a.className(im.Predicted)),
			html.EscapeString(a.className(im.Target)), im.Y)
		if err := embed(b, a.mapPath(im.Index, "photo"), "photo"); err != nil {
			return err
		}
		for i, m := range t.Methods {
			if err := embed(b, a.mapPath(im.Index, m), t.Display[i]); err != nil {
				return err
			}
		}
		b.WriteString("</div>\n")
	}
	return nil
}

func (a *auditor) className(i int) string {
	if i >= 0 && i < len(a.cfg.Labels) {
		return fmt.Sprintf("%d %s", i, a.cfg.Labels[i])
	}
	return fmt.Sprint(i)
}

// embed writes a PNG file as an inline image with a caption; a missing file
// (a method not computed for the image) shows as a caption only.
func embed(b *bytes.Buffer, path, caption string) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		fmt.Fprintf(b, "<figure>%s<br>(missing)</figure>", html.EscapeString(caption))
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: report: %w", err)
	}
	fmt.Fprintf(b, `<figure><img alt="%s" src="data:image/png;base64,%s">%s</figure>`, html.EscapeString(caption),
		base64.StdEncoding.EncodeToString(data), html.EscapeString(caption))
	return nil
}
