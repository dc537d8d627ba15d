// Package viz draws what a trained VAE does: grids of images (samples,
// reconstructions, the decoded latent manifold, traversals along each latent
// unit), a scatter of the data's posterior means, and training curves.
//
// Image grids need only the standard library (image/png); the scatter and
// the curves are drawn with gonum.org/v1/plot. viz knows nothing of the
// model: callers decode latent points themselves (with the training graph or
// with the ONNX runtime) and hand viz the pixels. The helpers ManifoldZ and
// TraversalZ produce the latent points to decode.
//
// Pixel values are expected in [0, 1] (the model's scaled input space for
// 8-bit images); values outside are clamped. Rescale maps any range onto
// [0, 1] for data that was scaled otherwise.
package viz

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"

	"github.com/vaec/vaec/checkpoint"
)

// Pad is the gap in pixels between cells of a grid, and around it; the gap
// keeps neighbouring digits from running into each other.
const Pad = 2

// ImageShape reports whether a per-sample input shape is a picture, and its
// channels, height and width. Only [C, H, W] with 1 (grey) or 3 (RGB)
// channels counts: a flat [D] vector has no known layout.
func ImageShape(shape []int) (c, h, w int, ok bool) {
	if len(shape) != 3 {
		return 0, 0, 0, false
	}
	c, h, w = shape[0], shape[1], shape[2]
	if (c != 1 && c != 3) || h <= 0 || w <= 0 {
		return 0, 0, 0, false
	}
	return c, h, w, true
}

// Grid lays images out row by row, cols per row, each one c×h×w in CHW
// order (the layout of the model's input). One channel gives an *image.Gray,
// three an *image.RGBA. Values are clamped to [0, 1].
func Grid(images [][]float32, c, h, w, cols int) (image.Image, error) {
	if len(images) == 0 {
		return nil, errors.New("viz: grid of no images")
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("viz: %d channels: grids draw 1 (grey) or 3 (RGB)", c)
	}
	if h <= 0 || w <= 0 || h > 1<<14 || w > 1<<14 {
		return nil, fmt.Errorf("viz: image size %d×%d out of range", h, w)
	}
	if cols <= 0 {
		return nil, fmt.Errorf("viz: %d columns: need at least 1", cols)
	}
	size := c * h * w
	for i, im := range images {
		if len(im) != size {
			return nil, fmt.Errorf("viz: image %d has %d values, want %d (%d×%d×%d)", i, len(im), size, c, h, w)
		}
	}
	if cols > len(images) {
		cols = len(images)
	}
	rows := (len(images) + cols - 1) / cols
	bounds := image.Rect(0, 0, Pad+cols*(w+Pad), Pad+rows*(h+Pad))
	if bounds.Dx()*bounds.Dy() > 1<<28 {
		return nil, fmt.Errorf("viz: grid of %d×%d pixels is too large", bounds.Dx(), bounds.Dy())
	}
	origin := func(i int) (x0, y0 int) {
		return Pad + (i%cols)*(w+Pad), Pad + (i/cols)*(h+Pad)
	}
	if c == 1 {
		g := image.NewGray(bounds)
		fill(g.Pix, 0x40) // dark grey gaps: distinct from black backgrounds
		for i, im := range images {
			x0, y0 := origin(i)
			for y := 0; y < h; y++ {
				row := g.Pix[(y0+y)*g.Stride+x0:]
				for x := 0; x < w; x++ {
					row[x] = toByte(im[y*w+x])
				}
			}
		}
		return g, nil
	}
	rgba := image.NewRGBA(bounds)
	fill(rgba.Pix, 0x40)
	plane := h * w
	for i, im := range images {
		x0, y0 := origin(i)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := y*w + x
				rgba.SetRGBA(x0+x, y0+y, color.RGBA{toByte(im[p]), toByte(im[plane+p]), toByte(im[2*plane+p]), 0xff})
			}
		}
	}
	return rgba, nil
}

// Zoom enlarges img by an integer factor, each pixel becoming a
// factor×factor block, so that 28×28 digits stay sharp when shown large
// (a browser's smooth scaling blurs them). Factor 1 returns img itself.
func Zoom(img image.Image, factor int) (image.Image, error) {
	if factor < 1 || factor > 16 {
		return nil, fmt.Errorf("viz: zoom %d: want 1 to 16", factor)
	}
	if factor == 1 {
		return img, nil
	}
	b := img.Bounds()
	if b.Dx()*b.Dy()*factor*factor > 1<<28 {
		return nil, fmt.Errorf("viz: zooming %d×%d pixels by %d is too large", b.Dx(), b.Dy(), factor)
	}
	r := image.Rect(0, 0, b.Dx()*factor, b.Dy()*factor)
	var out interface {
		image.Image
		Set(x, y int, c color.Color)
	}
	if _, ok := img.(*image.Gray); ok {
		out = image.NewGray(r)
	} else {
		out = image.NewRGBA(r)
	}
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			out.Set(x, y, img.At(b.Min.X+x/factor, b.Min.Y+y/factor))
		}
	}
	return out, nil
}

// Pairs interleaves originals and their reconstructions so that
// a grid with an even column count shows each original left of its copy.
func Pairs(originals, reconstructions [][]float32) ([][]float32, error) {
	if len(originals) != len(reconstructions) {
		return nil, fmt.Errorf("viz: %d originals but %d reconstructions", len(originals), len(reconstructions))
	}
	out := make([][]float32, 0, 2*len(originals))
	for i := range originals {
		out = append(out, originals[i], reconstructions[i])
	}
	return out, nil
}

// Split cuts a row-major [n, size] matrix into n rows (sharing its memory).
func Split(data []float32, n, size int) ([][]float32, error) {
	if n < 0 || size <= 0 || len(data) != n*size {
		return nil, fmt.Errorf("viz: %d values do not split into %d rows of %d", len(data), n, size)
	}
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = data[i*size : (i+1)*size : (i+1)*size]
	}
	return rows, nil
}

// Rescale maps the range of all values (jointly, so images stay comparable)
// linearly onto [0, 1], in place. It does nothing when the range is already
// inside [0, 1], so 8-bit images scaled by 1/255 keep their true contrast.
func Rescale(images [][]float32) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, im := range images {
		for _, v := range im {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			lo, hi = math.Min(lo, f), math.Max(hi, f)
		}
	}
	if lo >= 0 && hi <= 1 || !(hi > lo) {
		return
	}
	for _, im := range images {
		for i, v := range im {
			im[i] = float32((float64(v) - lo) / (hi - lo))
		}
	}
}

// EncodePNG returns img as PNG bytes.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("viz: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// WritePNG writes img to path atomically, so a reader never sees half a file.
func WritePNG(path string, img image.Image) error {
	b, err := EncodePNG(img)
	if err != nil {
		return err
	}
	if err := checkpoint.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("viz: writing %s: %w", path, err)
	}
	return nil
}

func fill(pix []byte, v byte) {
	for i := range pix {
		pix[i] = v
	}
}

// toByte maps [0, 1] to 0..255 with rounding; NaN becomes 0.
func toByte(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(v*255 + 0.5)
}
