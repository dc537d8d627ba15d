package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/vaec/vaec/serve"
)

// Serve a decoder and ask it for one row over the Open Inference Protocol.
// (The file is a small PyTorch-exported MLP decoder, z [N, 4] → probs [N, 12].)
func Example() {
	models, err := serve.LoadFiles(map[string]string{"decoder": "../testdata/foreign/mlp_decoder.onnx"})
	if err != nil {
		log.Fatal(err)
	}
	s, err := serve.New(models, serve.Config{})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, l) }()

	resp, err := http.Get("http://" + l.Addr().String() + "/v2/models/decoder")
	if err != nil {
		log.Fatal(err)
	}
	meta, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(meta))

	req := `{"id": "42", "inputs": [{"name": "z", "shape": [1, 4], "datatype": "FP32", "data": [0.5, -1, 0, 2]}]}`
	resp, err = http.Post("http://"+l.Addr().String()+"/v2/models/decoder/infer", "application/json", strings.NewReader(req))
	if err != nil {
		log.Fatal(err)
	}
	var answer struct {
		ID      string `json:"id"`
		Outputs []struct {
			Name  string    `json:"name"`
			Shape []int     `json:"shape"`
			Data  []float32 `json:"data"`
		} `json:"outputs"`
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	o := answer.Outputs[0]
	fmt.Println(resp.StatusCode, answer.ID, o.Name, o.Shape, len(o.Data))

	stop() // graceful: in-flight requests finish first
	fmt.Println(<-done)
	// Output:
	// {"name":"decoder","versions":["1"],"platform":"vaec_onnx","inputs":[{"name":"z","datatype":"FP32","shape":[-1,4]}],"outputs":[{"name":"probs","datatype":"FP32","shape":[-1,12]}]}
	// 200 42 probs [1 12] 12
	// <nil>
}
