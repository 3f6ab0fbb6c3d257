package preprocess

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"os"
)

// IDX is an array of unsigned bytes read from an IDX file, the format of
// the MNIST and Fashion-MNIST data sets: images as [n, h, w], labels as [n].
type IDX struct {
	Dims []int  // dimensions, outermost first
	Data []byte // row-major elements, len = product of Dims
}

// MaxIDXElements bounds the element count an IDX header may claim.
const MaxIDXElements = 1 << 30

// maxIDXDims bounds the number of dimensions of an IDX array.
const maxIDXDims = 8

// ReadIDX reads an IDX file, gzip-compressed or not (detected from its
// first bytes). Only the unsigned byte element type (0x08) is supported.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	defer f.Close()
	x, err := ParseIDX(f)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %s: %w", path, err)
	}
	return x, nil
}

// ParseIDX reads an IDX array, gzip-compressed or not, from r. The data
// must hold exactly the elements the header promises.
func ParseIDX(r io.Reader) (*IDX, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: bad gzip stream: %w", err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}

	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("idx: header: %w", err)
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic %02x %02x (want 00 00)", head[0], head[1])
	}
	if head[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type 0x%02x not supported (only unsigned byte, 0x08)", head[2])
	}
	nd := int(head[3])
	if nd < 1 || nd > maxIDXDims {
		return nil, fmt.Errorf("idx: %d dimensions (want 1..%d)", nd, maxIDXDims)
	}
	dims := make([]int, nd)
	total := int64(1)
	for i := range dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("idx: dimension %d: %w", i, err)
		}
		dims[i] = int(d)
		total *= int64(d) // at most (2^32)^2 before the check below stops it
		if total > MaxIDXElements {
			return nil, fmt.Errorf("idx: dimensions %v… claim more than %d elements", dims[:i+1], MaxIDXElements)
		}
	}
	// ReadAll grows with the data actually present, so a header that lies
	// about the size costs no memory.
	data, err := io.ReadAll(io.LimitReader(r, total+1))
	if err != nil {
		return nil, fmt.Errorf("idx: data: %w", err)
	}
	if int64(len(data)) != total {
		if int64(len(data)) > total {
			return nil, fmt.Errorf("idx: trailing data after the %d elements of dimensions %v", total, dims)
		}
		return nil, fmt.Errorf("idx: truncated: dimensions %v need %d elements, found %d", dims, total, len(data))
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// Image returns image i of a three-dimensional [n, h, w] array as a grey
// image sharing x's memory.
func (x *IDX) Image(i int) (*image.Gray, error) {
	if len(x.Dims) != 3 {
		return nil, fmt.Errorf("idx: dimensions %v are not [n, h, w] images", x.Dims)
	}
	n, h, w := x.Dims[0], x.Dims[1], x.Dims[2]
	if i < 0 || i >= n {
		return nil, fmt.Errorf("idx: image %d out of range [0,%d)", i, n)
	}
	size := h * w
	return &image.Gray{Pix: x.Data[i*size : (i+1)*size : (i+1)*size], Stride: w, Rect: image.Rect(0, 0, w, h)}, nil
}
