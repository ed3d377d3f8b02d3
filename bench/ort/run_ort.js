// Runs one ONNX model with ONNX Runtime (onnxruntime-node) on inputs from a raw
// float32 file and writes output 0 as raw float32 (used by tests/quant/test_qdq_ort.cpp).
//
//   node bench/ort/run_ort.js --model M.onnx --input in.f32 --shape 8,1,28,28 --output out.f32 [--threads 1]
//
// onnxruntime-node is resolved from ORT_NODE_MODULES (default build/ort/node_modules).
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const a = { threads: '1' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const k of ['model', 'input', 'shape', 'output']) if (!a[k]) throw new Error(`--${k} is required`);
  const modules = process.env.ORT_NODE_MODULES || path.join(__dirname, '..', '..', 'build', 'ort', 'node_modules');
  const ort = require(path.join(modules, 'onnxruntime-node'));
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: parseInt(a.threads, 10), interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const shape = a.shape.split(',').map((x) => parseInt(x, 10));
  const buf = fs.readFileSync(a.input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, shape) });
  const y = out[session.outputNames[0]].data;
  fs.writeFileSync(a.output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

main().catch((e) => { console.error(`run_ort: ${e.message}`); process.exit(1); });
