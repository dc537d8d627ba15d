package serve

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vaec/vaec/runtime"
)

// TestBatchingIsRowIndependent checks the two runtime facts the batcher is
// built on, on the trained MNIST encoder and decoder: in any call of 2 or
// more rows, a row's outputs are the same bits whatever the other rows and
// its position; and (logged, not required) a single-row call may differ,
// which is why the batcher never makes one.
func TestBatchingIsRowIndependent(t *testing.T) {
	mm := trainedMNIST(t)
	for _, c := range []struct {
		name string
		file []byte
		d    int
	}{{"encoder", mm.enc, 784}, {"decoder", mm.dec, mm.m.Latent}} {
		t.Run(c.name, func(t *testing.T) {
			m, err := runtime.Load(c.file)
			if err != nil {
				t.Fatal(err)
			}
			input := m.Inputs()[0].Name
			run := func(rows []float32) map[string]runtime.Tensor {
				out, err := m.Run(map[string]runtime.Tensor{input: {Shape: []int{len(rows) / c.d, c.d}, Data: rows}})
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			const total = 300
			r := rand.New(rand.NewPCG(3, 4))
			x := make([]float32, total*c.d)
			for i := range x {
				if c.name == "encoder" {
					x[i] = mm.val.X[i%len(mm.val.X)]
				} else {
					x[i] = float32(r.NormFloat64())
				}
			}
			// Each row alone, as the batcher runs it: twice, in a batch of 2.
			alone := make([]map[string]runtime.Tensor, total)
			single := 0.0
			for i := range total {
				row := x[i*c.d : (i+1)*c.d]
				alone[i] = run(append(slices.Clip(row), row...))
				for name, t1 := range run(row) {
					_, rel := runtime.Compare(t1.Data, alone[i][name].Data[:len(t1.Data)])
					single = max(single, rel)
				}
			}
			t.Logf("largest relative difference of a single-row call from the batched kernel: %.3g", single)
			for _, n := range []int{2, 3, 5, 8, 17, 63, 64, 65, 128, 256, 300} {
				off := r.IntN(total - n + 1)
				out := run(x[off*c.d : (off+n)*c.d])
				for name, got := range out {
					size := len(got.Data) / n
					for i := range n {
						want := alone[off+i][name].Data[:size]
						if !slices.Equal(got.Data[i*size:(i+1)*size], want) {
							a, rel := runtime.Compare(got.Data[i*size:(i+1)*size], want)
							t.Fatalf("%s: row %d of a batch of %d differs from the row alone (abs %g, rel %g)", name, i, n, a, rel)
						}
					}
				}
			}
		})
	}
}

// TestBatchedAnswersEqualAlone sends concurrent requests of 1 to 3 rows
// through a server that batches them (a long MaxDelay makes sure of it) and
// checks that each answer is the same bits as the same request served
// alone.
func TestBatchedAnswersEqualAlone(t *testing.T) {
	mm, models := mnistModels(t)
	_, base, _ := startServer(t, models, Config{MaxBatch: 16, MaxDelay: 20 * time.Millisecond})
	url := base + "/v2/models/encoder/infer"
	type req struct {
		body []byte
		rows int
	}
	var reqs []req
	for i, off := 0, 0; i < 24; i++ {
		rows := 1 + i%3
		x := mm.val.X[off*784 : (off+rows)*784]
		off += rows
		reqs = append(reqs, req{inferBody(strconv.Itoa(i), []tensorJSON{{Name: "x", Shape: []int{rows, 784}, Datatype: "FP32", Data: x}}), rows})
	}
	// Alone: one after the other, so each call holds one request.
	alone := make([]inferJSON, len(reqs))
	for i, q := range reqs {
		alone[i] = decodeInfer(t, do(t, "POST", url, q.body, nil))
	}
	// Together.
	together := make([]inferJSON, len(reqs))
	var wg sync.WaitGroup
	for i, q := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			together[i] = decodeInfer(t, do(t, "POST", url, q.body, nil))
		}()
	}
	wg.Wait()
	for i := range reqs {
		if fmt.Sprint(together[i].Outputs) != fmt.Sprint(alone[i].Outputs) || together[i].ID != strconv.Itoa(i) {
			t.Errorf("request %d (%d rows): batched answer differs from the answer alone", i, reqs[i].rows)
		}
	}
	// The concurrent requests were in fact batched: fewer model calls
	// than requests.
	metrics := string(do(t, "GET", base+"/metrics", nil, nil).body)
	m := regexp.MustCompile(`vaec_serve_batch_rows_count\{model="encoder"\} (\d+)`).FindStringSubmatch(metrics)
	if m == nil {
		t.Fatal("no batch count in /metrics")
	}
	calls, _ := strconv.Atoi(m[1])
	if calls-len(reqs) >= len(reqs) {
		t.Errorf("%d model calls for %d concurrent requests: nothing was batched", calls-len(reqs), len(reqs))
	}
	t.Logf("%d concurrent requests took %d model calls", len(reqs), calls-len(reqs))
}
