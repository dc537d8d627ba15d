// Package dataset reads training data into float32 matrices scaled as the
// spec says.
//
// Formats (ir.Format):
//
//   - IDX, the MNIST format, plain or gzip-compressed, any IDX element type
//     (uint8, int8, int16, int32, float32, float64);
//   - NPY (NumPy's .npy, header versions 1.0, 2.0 and 3.0), C order, element
//     types float16/32/64, int8/16/32/64, uint8/16/32/64 and bool, either
//     byte order;
//   - CSV of numbers, one record per line, optionally with a header line.
//
// In every format the first dimension counts records and the remaining ones
// are flattened into the D values of a record. Files that start with the gzip
// magic are decompressed whatever their declared format. Problems are
// reported as *Error, which names the file and the byte offset (binary
// formats; of the uncompressed stream for gzip) or the line and column (CSV).
//
// Values that are NaN or infinite after scaling are errors too: one of them
// would silently turn a whole training run into NaN.
//
// Readers check declared sizes against the file before allocating, and read
// compressed data incrementally, so a hostile header cannot make them
// allocate more than the data actually present.
package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vaec/vaec/ir"
)

// Set is N examples of D features each, row-major, already scaled.
type Set struct {
	X      []float32 // len N*D
	N, D   int
	Labels []int // len N, or nil when the source has no labels
	// Columns names the D features when the file has a header (CSV).
	Columns []string
}

// Load reads src, checks that each record has in.Size features, applies the
// scaling x = raw*in.Scale + in.Offset, then the fitted per-feature
// normalisation of in when it has one, and the record range of src. Labels,
// when src names a labels file, are read with the same range; that file must
// hold one integer per record and as many records as the data file. When
// both are CSV, src's header rule applies to both.
//
// Empty and NaN values are errors unless in.Missing is MissingMean: then
// they become in.Fill (raw units, before scaling); with in.Fill nil they
// stay NaN, which is how the compiler reads the records it fits the fill
// on.
//
// The values are converted to float32 as they are read, so that a data
// set costs its float32 size: the file's bytes are never all held.
func Load(src ir.Source, in ir.Input) (*Set, error) {
	return LoadWith(src, in, Options{})
}

// Options are the optional parts of a Load.
type Options struct {
	// Progress, when set, is called as records are read (every megabyte
	// or so of a binary file, every few thousand lines of a CSV file).
	Progress func(Progress)
	// Adapt reads a CSV file given on the command line as the model
	// needs it: by the model's column names (in.Columns) when its header
	// has them all, else whole when it has exactly in.Size columns, else
	// with src's own columns or exclude (the training source's). So a
	// test file laid out as the training file, and vaec's own CSV output,
	// both read.
	Adapt bool
}

// Progress reports a Load under way.
type Progress struct {
	Path    string // the file being read
	Records int    // records read so far
	// Total is the records to read when the file's header says so
	// (binary formats), -1 until the end of a CSV file.
	Total int
	// Bytes of the file read so far (compressed bytes for gzip) and its
	// size, -1 when unknown.
	Bytes, Size int64
}

// LoadWith is Load with options.
func LoadWith(src ir.Source, in ir.Input, opt Options) (*Set, error) {
	if in.Size <= 0 {
		return nil, fmt.Errorf("dataset: input size %d (shape %v) must be positive", in.Size, in.Shape)
	}
	if in.Missing == ir.MissingMean && in.Fill != nil && len(in.Fill) != in.Size {
		return nil, fmt.Errorf("dataset: %d fill values for %d features", len(in.Fill), in.Size)
	}
	q := sourceRequest(src, &in)
	q.conv = &conversion{scale: in.Scale, offset: in.Offset}
	q.progress = opt.Progress
	if opt.Adapt {
		q.adapt = &in
	}
	t, err := readTable(src.Path, src.Format, q)
	if err != nil {
		return nil, err
	}
	x := t.x
	if in.FeatureScale != nil {
		if len(in.FeatureScale) != t.d || len(in.FeatureShift) != t.d {
			return nil, fmt.Errorf("dataset: %d feature scales and %d shifts for %d features", len(in.FeatureScale), len(in.FeatureShift), t.d)
		}
		applyFeatures(x, in.FeatureScale, in.FeatureShift)
	}
	set := &Set{X: x, N: t.count, D: t.d, Columns: t.selNames}
	if src.Labels == "" {
		return set, nil
	}
	lq := &request{
		start: src.Start, limit: src.Limit, header: headerOf(src),
		records: t.total, recordsOf: "data file " + src.Path,
		checkD: func(d int) string {
			if d == 1 {
				return ""
			}
			return fmt.Sprintf("labels have %d values per record, want 1", d)
		},
	}
	lt, err := readTable(src.Labels, src.LabelFormat, lq)
	if err != nil {
		return nil, err
	}
	if set.Labels, err = lt.ints(); err != nil {
		return nil, err
	}
	return set, nil
}

// sourceRequest is the request for src's records, checked against in when
// it is not nil.
func sourceRequest(src ir.Source, in *ir.Input) *request {
	q := &request{
		start: src.Start, limit: src.Limit, header: headerOf(src),
		columns: src.Columns, exclude: src.Exclude, records: -1,
	}
	if in != nil {
		q.checkD = featureCheck(*in)
		q.checkRecord = layoutCheck(*in)
		q.missing = in.Missing
		if in.Missing == ir.MissingMean {
			q.fill = in.Fill
		}
	}
	return q
}

// featureCheck is the check of the values per record against the input.
func featureCheck(in ir.Input) func(d int) string {
	return func(d int) string {
		if d == in.Size {
			return ""
		}
		return fmt.Sprintf("records have %d values, the spec's input shape %v needs %d", d, in.Shape, in.Size)
	}
}

// layoutCheck refuses image records stored channels last: an array of
// [H, W, C] records (NHWC, as NumPy and Keras often write images) for an
// input [C, H, W] has the right number of values in the wrong order, and
// reading it as it is would train on scrambled images. vaec does not
// convert; the hint says how. A single channel is the same either way, and
// records of another rank (IDX's [H, W] for [1, H, W]) are left to the
// value count.
func layoutCheck(in ir.Input) func(rec []int) string {
	return func(rec []int) string {
		if len(in.Shape) != 3 || len(rec) != 3 || ir.Shape(rec).Equal(in.Shape) {
			return ""
		}
		c, h, w := in.Shape[0], in.Shape[1], in.Shape[2]
		if rec[0] == h && rec[1] == w && rec[2] == c {
			if c == 1 {
				return ""
			}
			return fmt.Sprintf("records are %v, channels last (NHWC); the spec's input shape %v is channels first: transpose the array, e.g. numpy.transpose(x, (0, 3, 1, 2))", ir.Shape(rec), in.Shape)
		}
		if ir.Shape(rec).Size() == in.Size {
			return fmt.Sprintf("records are %v, the spec's input shape is %v", ir.Shape(rec), in.Shape)
		}
		return ""
	}
}

// readTable reads the records q selects from the file at path in format
// (inferred from the name when empty).
func readTable(path string, format ir.Format, q *request) (*table, error) {
	if format == ir.FormatNone {
		format = InferFormat(path)
		if format == ir.FormatNone {
			return nil, &Error{File: path, Offset: -1, Msg: "cannot tell the format from the name; name it (idx, idx.gz, npy or csv)"}
		}
	}
	s, err := openStream(path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return readStream(s, format, q)
}

// readStream reads s in format; compression is told by the stream's magic
// bytes, not the format's name, so a .gz of any format reads.
func readStream(s *stream, format ir.Format, q *request) (*table, error) {
	switch format.Base() {
	case ir.FormatIDX:
		return readIDX(s, q)
	case ir.FormatNPY:
		return readNPY(s, q)
	case ir.FormatCSV:
		return readCSV(s, q)
	}
	return nil, &Error{File: s.path, Offset: -1, Msg: fmt.Sprintf("unknown format %v (want idx, npy or csv, each optionally .gz)", format)}
}

// Header is what a data file says about itself without its values being
// kept: the compiler checks a spec against it, so that build and train read
// every file through the same code.
type Header struct {
	Records  int  // records in the file
	Features int  // values per record (the selected columns of a CSV file)
	Bytes    bool // the values are unsigned bytes, 0..255 (IDX type 08, NPY u1)
	// CSV: the selected columns' header names (nil without a header),
	// whether the header was told from its contents (no header key), and
	// the fields per line.
	Columns     []string
	Guessed     bool
	FileColumns int
}

// ReadHeader reads the header of the file at path in format (inferred from
// the name when FormatNone). Binary formats stop after the header; CSV is
// read through (checking every line) without keeping values. When in is
// not nil, records must have in.Size values, checked where and as Load
// checks it, so that the two refuse a file for the same reason. csvHeader
// forces a header line; without it a CSV file's first line is a header
// when none of its fields is a number.
func ReadHeader(path string, format ir.Format, csvHeader bool, in *ir.Input) (Header, error) {
	return ReadSource(ir.Source{Path: path, Format: format, CSVHeader: csvHeader}, in)
}

// ReadSource is ReadHeader for a source: its header rule and column
// selection apply (its record range does not).
func ReadSource(src ir.Source, in *ir.Input) (Header, error) {
	q := sourceRequest(src, in)
	q.start, q.limit, q.headerOnly = 0, 0, true
	t, err := readTable(src.Path, src.Format, q)
	if err != nil {
		return Header{}, err
	}
	return Header{
		Records: t.total, Features: t.d, Bytes: t.dt == dtU8 && !t.csv,
		Columns: t.selNames, Guessed: t.guessed, FileColumns: t.cols,
	}, nil
}

// InferFormat guesses a file's format from its name: .npy, .csv (and .txt)
// and IDX names (.idx, MNIST's "-ubyte", "idx1", "idx3"), each optionally
// followed by .gz. It returns FormatNone when the name says nothing.
func InferFormat(path string) ir.Format {
	name := strings.ToLower(filepath.Base(path))
	base, gz := strings.CutSuffix(name, ".gz")
	f := ir.FormatNone
	switch {
	case strings.HasSuffix(base, ".npy"):
		f = ir.FormatNPY
	case strings.HasSuffix(base, ".csv"), strings.HasSuffix(base, ".txt"):
		f = ir.FormatCSV
	case strings.HasSuffix(base, ".idx"), strings.HasSuffix(base, "-ubyte"), strings.HasSuffix(base, ".ubyte"),
		strings.Contains(base, "idx1"), strings.Contains(base, "idx2"), strings.Contains(base, "idx3"):
		f = ir.FormatIDX
	}
	if gz {
		switch f {
		case ir.FormatNPY:
			f = ir.FormatNPYGz
		case ir.FormatCSV:
			f = ir.FormatCSVGz
		case ir.FormatIDX:
			f = ir.FormatIDXGz
		}
	}
	return f
}

// Row returns example i (sharing memory with s.X). It panics if i is out of
// range, as slice indexing does.
func (s *Set) Row(i int) []float32 {
	return s.X[i*s.D : (i+1)*s.D : (i+1)*s.D]
}

// Subset returns a new Set holding copies of the examples idx, in that
// order. It panics if an index is out of range, as slice indexing does.
func (s *Set) Subset(idx []int) *Set {
	out := &Set{X: make([]float32, len(idx)*s.D), N: len(idx), D: s.D, Columns: s.Columns}
	if s.Labels != nil {
		out.Labels = make([]int, len(idx))
	}
	for k, i := range idx {
		copy(out.X[k*s.D:(k+1)*s.D], s.Row(i))
		if s.Labels != nil {
			out.Labels[k] = s.Labels[i]
		}
	}
	return out
}

// splitStream is the second PCG seed word of Split, fixed so that a Split
// depends only on its seed argument.
const splitStream = 0x7661_6563_7370_6c74 // "vaecsplt"

// Split holds out round(valFraction·N) examples, chosen by a shuffle seeded
// with seed (PCG), as the validation set; the rest is the training set.
// Both keep the examples in their original order. The same seed always
// gives the same split. valFraction is clamped to [0, 1] (NaN counts as 0).
func (s *Set) Split(valFraction float64, seed uint64) (train, val *Set) {
	if !(valFraction > 0) {
		valFraction = 0
	}
	nVal := int(math.Round(min(valFraction, 1) * float64(s.N)))
	perm := rand.New(rand.NewPCG(seed, splitStream)).Perm(s.N)
	valIdx, trainIdx := perm[:nVal], perm[nVal:]
	slices.Sort(valIdx)
	slices.Sort(trainIdx)
	return s.Subset(trainIdx), s.Subset(valIdx)
}

// Partition is Split without a copy of the training examples: they are
// moved to the front of s's own memory, which train then shares, and only
// the validation examples are copied. s must not be used afterwards. This
// is how training splits a large set without holding it twice.
func (s *Set) Partition(valFraction float64, seed uint64) (train, val *Set) {
	if !(valFraction > 0) {
		valFraction = 0
	}
	nVal := int(math.Round(min(valFraction, 1) * float64(s.N)))
	perm := rand.New(rand.NewPCG(seed, splitStream)).Perm(s.N)
	valIdx := perm[:nVal]
	slices.Sort(valIdx)
	val = s.Subset(valIdx)
	isVal := make([]bool, s.N)
	for _, i := range valIdx {
		isVal[i] = true
	}
	train = &Set{N: s.N - nVal, D: s.D, Columns: s.Columns}
	if s.Labels != nil {
		train.Labels = make([]int, 0, train.N)
	}
	// Rows only move towards the front (k <= i), so copying in order never
	// overwrites a row still to be moved.
	k := 0
	for i := 0; i < s.N; i++ {
		if isVal[i] {
			continue
		}
		if k != i {
			copy(s.X[k*s.D:(k+1)*s.D], s.X[i*s.D:(i+1)*s.D])
		}
		if s.Labels != nil {
			train.Labels = append(train.Labels, s.Labels[i])
		}
		k++
	}
	train.X = s.X[: k*s.D : k*s.D]
	return train, val
}
