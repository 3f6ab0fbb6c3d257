package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/paneonnx/paneonnx/preprocess"
)

// Dataset is an ordered list of images with optional labels.
type Dataset struct {
	// Kind is "folder", "idx", "list" or "image".
	Kind string
	// Path is the path the data set was opened from.
	Path string
	// Items are the images in audit order.
	Items []Item
	// LabelSource says where the labels come from ("" when there are none).
	LabelSource string
}

// Item is one image of a data set.
type Item struct {
	// Name identifies the image in results: its path relative to the
	// folder, its line in a list, or file#index in an IDX file.
	Name string
	// Label is the class index, or -1 when unknown.
	Label int
	load  func(opt preprocess.Options) (*preprocess.Image, error)
}

// Load decodes and preprocesses the image.
func (it Item) Load(opt preprocess.Options) (*preprocess.Image, error) { return it.load(opt) }

// imageExts are the file extensions a folder audit reads.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".bmp": true,
	".tif": true, ".tiff": true, ".webp": true}

func isImage(name string) bool { return imageExts[strings.ToLower(filepath.Ext(name))] }

// OpenDataset opens a data set (see the package documentation for the
// kinds). labels are the model's class names, used to resolve class names
// in folders and lists; nil when unknown.
func OpenDataset(path string, labels []string) (*Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("data set: %w", err)
	}
	if st.IsDir() {
		return openFolder(path, labels)
	}
	if isIDX(path) {
		return openIDX(path)
	}
	if isImage(path) {
		return &Dataset{Kind: "image", Path: path, Items: []Item{fileItem(filepath.Base(path), path, -1)}}, nil
	}
	return openList(path, labels)
}

func fileItem(name, path string, label int) Item {
	return Item{Name: name, Label: label, load: func(opt preprocess.Options) (*preprocess.Image, error) {
		return preprocess.Load(path, opt)
	}}
}

// normLabel folds case, '_' and ' ' for matching folder names with labels.
func normLabel(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", " ", "", "-", "").Replace(strings.TrimSpace(s)))
}

func openFolder(root string, labels []string) (*Dataset, error) {
	ds := &Dataset{Kind: "folder", Path: root}
	type file struct {
		rel, class string
	}
	var files []file
	classes := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		depth := strings.Count(filepath.ToSlash(rel), "/")
		if d.IsDir() {
			if p != root && depth > 0 {
				return filepath.SkipDir // only one level of class folders
			}
			return nil
		}
		if !isImage(d.Name()) {
			return nil
		}
		f := file{rel: filepath.ToSlash(rel)}
		if depth == 1 {
			f.class = strings.SplitN(f.rel, "/", 2)[0]
			classes[f.class] = true
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("data set %s: %w", root, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("data set %s: no image files (%s) in the folder or its sub-folders", root, strings.Join(sortedExts(), ", "))
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	classIndex, source := folderClasses(classes, labels)
	ds.LabelSource = source
	for _, f := range files {
		label := -1
		if f.class != "" {
			label = classIndex[f.class]
		}
		ds.Items = append(ds.Items, fileItem(f.rel, filepath.Join(root, filepath.FromSlash(f.rel)), label))
	}
	return ds, nil
}

// folderClasses maps sub-folder names to class indices: by label name when
// every one names a label, by number when every one is a number, else by
// sorted position.
func folderClasses(classes map[string]bool, labels []string) (map[string]int, string) {
	if len(classes) == 0 {
		return nil, ""
	}
	names := make([]string, 0, len(classes))
	for c := range classes {
		names = append(names, c)
	}
	sort.Strings(names)
	byLabel := map[string]int{}
	for i, l := range labels {
		if _, dup := byLabel[normLabel(l)]; !dup {
			byLabel[normLabel(l)] = i
		}
	}
	out := map[string]int{}
	for _, n := range names {
		i, ok := byLabel[normLabel(n)]
		if !ok {
			out = nil
			break
		}
		out[n] = i
	}
	if out != nil {
		return out, "sub-folder names matched with the model's labels"
	}
	out = map[string]int{}
	for _, n := range names {
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 {
			out = nil
			break
		}
		out[n] = i
	}
	if out != nil {
		return out, "sub-folder names as class numbers"
	}
	out = map[string]int{}
	for i, n := range names {
		out[n] = i
	}
	return out, "sub-folder position in sorted order"
}

func sortedExts() []string {
	var out []string
	for e := range imageExts {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// isIDX reports whether the file starts (after gzip decompression) with
// an IDX magic number of unsigned bytes: 00 00 08.
func isIDX(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return false
		}
		defer zr.Close()
		r = zr
	}
	var head [3]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return false
	}
	return head == [3]byte{0, 0, 8}
}

// idxLabelPath returns the labels file beside an IDX image file, or "".
func idxLabelPath(images string) string {
	dir, base := filepath.Split(images)
	name := strings.NewReplacer("images", "labels", "idx3", "idx1").Replace(base)
	if name == base {
		return ""
	}
	for _, cand := range []string{name, strings.TrimSuffix(name, ".gz"), name + ".gz"} {
		p := filepath.Join(dir, cand)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

func openIDX(path string) (*Dataset, error) {
	x, err := preprocess.ReadIDX(path)
	if err != nil {
		return nil, fmt.Errorf("data set: %w", err)
	}
	if len(x.Dims) != 3 {
		return nil, fmt.Errorf("data set %s: IDX dimensions %v are not [n, h, w] images", path, x.Dims)
	}
	n := x.Dims[0]
	ds := &Dataset{Kind: "idx", Path: path}
	var labels []byte
	if lp := idxLabelPath(path); lp != "" {
		l, err := preprocess.ReadIDX(lp)
		if err != nil {
			return nil, fmt.Errorf("data set labels: %w", err)
		}
		if len(l.Dims) != 1 || l.Dims[0] != n {
			return nil, fmt.Errorf("data set labels %s: dimensions %v do not match %d images in %s", lp, l.Dims, n, path)
		}
		labels = l.Data
		ds.LabelSource = lp
	}
	base := filepath.Base(path)
	for i := range n {
		label := -1
		if labels != nil {
			label = int(labels[i])
		}
		ds.Items = append(ds.Items, Item{Name: fmt.Sprintf("%s#%d", base, i), Label: label,
			load: func(opt preprocess.Options) (*preprocess.Image, error) {
				img, err := x.Image(i)
				if err != nil {
					return nil, err
				}
				return preprocess.FromImage(img, opt)
			}})
	}
	return ds, nil
}

// maxListBytes bounds the size of a list file.
const maxListBytes = 64 << 20

func openList(path string, labels []string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data set: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxListBytes+1))
	if err != nil {
		return nil, fmt.Errorf("data set %s: %w", path, err)
	}
	if len(data) > maxListBytes {
		return nil, fmt.Errorf("data set %s: a list of images over %d bytes", path, maxListBytes)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fmt.Errorf("data set %s: not a folder, an IDX file, an image or a text list of images (binary data)", path)
	}
	byLabel := map[string]int{}
	for i, l := range labels {
		if _, dup := byLabel[normLabel(l)]; !dup {
			byLabel[normLabel(l)] = i
		}
	}
	parseLabel := func(s string) (int, bool) {
		if i, err := strconv.Atoi(s); err == nil && i >= 0 {
			return i, true
		}
		i, ok := byLabel[normLabel(s)]
		return i, ok
	}
	ds := &Dataset{Kind: "list", Path: path}
	dir := filepath.Dir(path)
	for no, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, label := line, -1
		if i := strings.LastIndexByte(line, '\t'); i >= 0 {
			name = strings.TrimSpace(line[:i])
			l, ok := parseLabel(strings.TrimSpace(line[i+1:]))
			if !ok {
				return nil, fmt.Errorf("data set %s:%d: label %q is neither a class number nor a label of the model", path, no+1, line[i+1:])
			}
			label = l
		} else if i := strings.LastIndexByte(line, ' '); i >= 0 {
			if l, ok := parseLabel(line[i+1:]); ok {
				name, label = strings.TrimSpace(line[:i]), l
			}
		}
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		ds.Items = append(ds.Items, fileItem(name, p, label))
		if label >= 0 {
			ds.LabelSource = path
		}
	}
	if len(ds.Items) == 0 {
		return nil, fmt.Errorf("data set %s: the list names no image", path)
	}
	return ds, nil
}
