package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/verify"
)

// verifyExport runs the exported files in the runtime against the training
// graph on the model's validation data (random inputs when the data cannot
// be read) and prints the report; it is how `vaec export` ends.
func verifyExport(m *ir.Model, w map[string]checkpoint.Tensor, encoderPath, decoderPath string, tol float64, out io.Writer) error {
	in, err := verify.DataInputs(m, verify.DefaultN)
	if err != nil {
		fmt.Fprintf(out, "verify: %v; using random inputs\n", err)
		in = verify.RandomInputs(m, verify.DefaultN)
	}
	return runVerify(verify.Config{Model: m, Weights: w, EncoderPath: encoderPath, DecoderPath: decoderPath, In: in, Tol: tol}, out)
}

// runVerify runs one verification and prints its report: one line per
// output and judge. It returns an error naming the outputs that fail.
func runVerify(cfg verify.Config, out io.Writer) error {
	rep, err := verify.Run(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "verify: %d inputs from %s; pass when |got-want| <= %g*max(1,|want|) for every value\n", rep.N, rep.Source, rep.Tol)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tOUTPUT\tJUDGE\tMAX ABS ERR\tMAX REL ERR\tRESULT\t")
	for _, r := range rep.Rows {
		res := "PASS"
		if !r.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.File, r.Output, r.Judge, fmtErr(r.MaxAbs, r.Note), fmtErr(r.MaxRel, r.Note), res, r.Note)
	}
	tw.Flush()
	if failed := rep.Failed(); len(failed) > 0 {
		return fmt.Errorf("verification failed at tolerance %g: %s", rep.Tol, strings.Join(failed, ", "))
	}
	fmt.Fprintf(out, "verify: PASS (%d outputs)\n", len(rep.Rows))
	return nil
}

func fmtErr(v float64, note string) string {
	if note != "" && v == 0 {
		return "-"
	}
	if math.IsInf(v, 0) {
		return "inf"
	}
	return fmt.Sprintf("%.3g", v)
}
