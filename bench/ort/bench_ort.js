// Times one ONNX model with ONNX Runtime (onnxruntime-node) on a random input:
// warmup, then N timed runs; prints one JSON line {model, threads, shape, median_ms, p90_ms, runs}.
//
//   node bench/ort/bench_ort.js --model M.onnx --shape 1,3,224,224 [--threads 1] [--runs 20] [--warmup 3]
//
// onnxruntime-node is resolved from ORT_NODE_MODULES (default build/ort/node_modules,
// where bench/compare_ort.sh installs it).
'use strict';
const path = require('path');

function parseArgs(argv) {
  const a = { threads: 1, runs: 20, warmup: 3, shape: '1,3,224,224' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in a) && k !== 'model') throw new Error(`unknown option ${argv[i]}`);
    a[k] = argv[i + 1];
  }
  if (!a.model) throw new Error('--model is required');
  a.threads = parseInt(a.threads, 10);
  a.runs = parseInt(a.runs, 10);
  a.warmup = parseInt(a.warmup, 10);
  a.shape = a.shape.split(',').map((x) => parseInt(x, 10));
  return a;
}

function quantile(sorted, q) {  // nearest rank
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const modules = process.env.ORT_NODE_MODULES || path.join(__dirname, '..', '..', 'build', 'ort', 'node_modules');
  const ort = require(path.join(modules, 'onnxruntime-node'));
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const n = a.shape.reduce((x, y) => x * y, 1);
  const data = new Float32Array(n);
  let s = 12345;  // deterministic pseudo-random input in [-1, 1)
  for (let i = 0; i < n; ++i) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = s / 1073741824 - 1;
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, a.shape) };
  for (let i = 0; i < a.warmup; ++i) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < a.runs; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((x, y) => x - y);
  const median = ms.length % 2 ? ms[(ms.length - 1) / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2;
  console.log(JSON.stringify({ model: path.basename(a.model), threads: a.threads, shape: a.shape,
                               median_ms: median, p90_ms: quantile(ms, 0.9), runs: ms.length }));
}

main().catch((e) => { console.error(`bench_ort: ${e.message}`); process.exit(1); });
