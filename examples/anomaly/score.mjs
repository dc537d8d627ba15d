// Scores the rows of a CSV with score.onnx in ONNX Runtime for Node.js:
// the raw feature columns go in as the file holds them (vaec put the
// standardisation inside the file), one score per row comes out.
//
//   node score.mjs vaec-build/score.onnx vaec-build/vaec-model.json data.csv
//
// Prints a JSON array of scores, and of outlier flags when the model has a
// threshold (vaec-model.json holds it: ONNX Runtime's Node API cannot read
// an ONNX file's metadata).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const ort = require(process.env.ORT_NODE || "onnxruntime-node");

const [modelPath, sidecarPath, csvPath] = process.argv.slice(2);
const sidecar = JSON.parse(readFileSync(sidecarPath, "utf8"));
const columns = sidecar.input.columns; // the feature columns, by name
const lines = readFileSync(csvPath, "utf8").trim().split(/\r?\n/);
const header = lines[0].split(",");
const pick = columns.map((c) => {
  const i = header.indexOf(c);
  if (i < 0) throw new Error(`${csvPath} has no column ${c}`);
  return i;
});
const rows = lines.slice(1).map((l) => l.split(","));
const x = new Float32Array(rows.length * columns.length);
rows.forEach((r, i) => pick.forEach((j, k) => { x[i * columns.length + k] = Number(r[j]); }));

const session = await ort.InferenceSession.create(modelPath);
const out = await session.run({ x: new ort.Tensor("float32", x, [rows.length, columns.length]) });
const scores = Array.from(out.score.data);
const result = { scores };
if (sidecar.anomaly) {
  result.outlier = scores.map((s) => s > sidecar.anomaly.threshold);
}
console.log(JSON.stringify(result));
