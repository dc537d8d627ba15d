// Package serve serves exported models over HTTP with the Open Inference
// Protocol (KServe v2, the REST API of Triton Inference Server), running
// them in vaec's runtime in-process, and writes Triton model repositories
// for deployments that outgrow one machine.
//
// # Endpoints
//
//	GET  /v2                                     server metadata (extensions: binary_tensor_data)
//	GET  /v2/health/live, /v2/health/ready       {"live": true}, {"ready": true} (503 while shutting down)
//	GET  /v2/models/NAME[/versions/1]            model metadata: inputs and outputs, FP32, -1 for the batch
//	GET  /v2/models/NAME[/versions/1]/ready      {"name": NAME, "ready": true}
//	POST /v2/models/NAME[/versions/1]/infer      inference
//	GET  /metrics                                Prometheus text format
//
// Models are named by the caller (LoadDir uses encoder, decoder and score,
// the files vaec exports); each has the single version "1".
//
// An inference request carries each model input as a JSON tensor: name,
// shape (the batch first), datatype "FP32" and data, flat in row-major
// order or nested as the shape. The answer echoes the request's "id" and
// holds every output, or the subset the request's "outputs" names. Triton's
// binary tensor data extension is supported both ways: an input with the
// parameter binary_data_size takes its data, little-endian float32, from
// the bytes after the JSON (whose length the Inference-Header-Content-Length
// header gives), and an output requested with "binary_data": true (or every
// output, with the request parameter "binary_data_output": true) comes back
// the same way.
//
// Bad requests are answered with a JSON {"error": "..."} that names the
// problem: 400 for malformed JSON, an unknown input or output, a datatype
// other than FP32, a shape that does not match the model, a wrong element
// count, or a NaN or infinite value (naming the input and element); 404 for
// an unknown model, version or endpoint; 413 for a body over
// Config.MaxBodyBytes; 503 with Retry-After when a model's queue is full;
// 504 when a request gets no answer within Config.Timeout.
//
// # Dynamic batching
//
// Each model has one queue and one goroutine that makes the model calls.
// It takes the first waiting request, then every request already queued,
// and, with Config.MaxDelay set, waits that long after the first for more,
// up to Config.MaxBatch rows; then it makes one runtime call and hands each
// request its rows. A row's answer is the same bits however it was batched:
// a call is never made with a single row (a lone row is computed twice, as a
// batch of 2), because the runtime's single-row kernel sums in another order
// than its batched one, and in the batched kernel a row's result does not
// depend on the others (see batcher and TestBatchingIsRowIndependent).
//
// # Shutdown
//
// Serve stops on its context: it stops accepting connections, lets the
// requests in flight finish, stops the batchers and returns nil.
//
// # Metrics and logs
//
// vaec_serve_requests_total{model,code}, vaec_serve_request_duration_seconds{model}
// (histogram), vaec_serve_batch_rows{model} (rows per model call),
// vaec_serve_queue_depth{model}, and the Go and process collectors. With
// Config.Logger at debug level, every inference request logs one line
// (model, code, elapsed, id, rows, batch).
//
// # Triton
//
// WriteTritonRepository writes NAME/1/model.onnx and NAME/config.pbtxt for
// each model, with platform onnxruntime_onnx, max_batch_size, dynamic
// batching and the inputs and outputs without the batch dimension; the
// tests parse every config with the message definitions of
// internal/tritonpb (Triton's field names and numbers), so a field Triton
// would not know fails a test.
package serve
