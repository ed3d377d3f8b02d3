// Times one ONNX model with ONNX Runtime (onnxruntime-node) on a random input:
// warmup, then N timed runs; prints one JSON line {model, threads, shape, median_ms, cpu_median_ms, p90_ms, runs}
// (cpu_median_ms: the process's user + system CPU time per run, all threads: on a loaded
// machine it leaves out the time spent waiting for a core).
//
//   node bench/ort/bench_ort.js --model M.onnx --shape 1,3,224,224 [--threads 1] [--runs 20] [--warmup 3]
//                               [--profile PREFIX]
//
// --profile PREFIX: ORT's profiler on (enableProfiling; it writes PREFIX_<date>.json) and a
// per-node table on stderr: each node's median kernel time over the timed runs (warmup runs
// dropped), its op and share of the sum, in execution order (compare with
// `lapq bench --per-layer`). The profiler adds overhead: time without it.
//
// onnxruntime-node is resolved from ORT_NODE_MODULES (default build/ort/node_modules,
// where bench/compare_ort.sh installs it).
'use strict';
const path = require('path');

function parseArgs(argv) {
  const a = { threads: 1, runs: 20, warmup: 3, shape: '1,3,224,224', profile: '' };
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

function median(v) {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// Per-node table from ORT's profile file (Chrome trace JSON: one "Node" event named
// <node>_kernel_time per node and run, dur in microseconds).
function printProfile(file, a) {
  const fs = require('fs');
  const events = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nodes = new Map();  // node name -> {op, provider, durs[]}, in first-seen (execution) order
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    if (!nodes.has(name)) nodes.set(name, { op: e.args.op_name, provider: e.args.provider, durs: [] });
    nodes.get(name).durs.push(e.dur);
  }
  const rows = [];
  for (const [name, n] of nodes) rows.push({ name, op: n.op, us: median(n.durs.slice(a.warmup)) });
  const total = rows.reduce((t, r) => t + r.us, 0);
  process.stderr.write(`ORT profile ${file}: ${rows.length} nodes, sum of medians ${(total / 1000).toFixed(3)} ms\n`);
  for (const r of rows)
    process.stderr.write(`${(r.us / 1000).toFixed(3).padStart(8)} ms ${(100 * r.us / total).toFixed(1).padStart(5)} %  ` +
                         `${r.op.padEnd(18)} ${r.name}\n`);
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
    ...(a.profile ? { enableProfiling: true, profileFilePrefix: a.profile } : {}),
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
  const ms = [], cpu = [];
  for (let i = 0; i < a.runs; ++i) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e3);
  }
  if (a.profile) {
    session.endProfiling();  // writes PREFIX_<date>.json; onnxruntime-node returns no file name
    const fs = require('fs');
    const dir = path.dirname(path.resolve(a.profile)), base = path.basename(a.profile) + '_';
    const files = fs.readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json'))
                    .map((f) => path.join(dir, f)).sort((x, y) => fs.statSync(y).mtimeMs - fs.statSync(x).mtimeMs);
    if (!files.length) throw new Error(`no profile file ${a.profile}_*.json`);
    printProfile(files[0], a);
  }
  ms.sort((x, y) => x - y);
  console.log(JSON.stringify({ model: path.basename(a.model), threads: a.threads, shape: a.shape,
                               median_ms: median(ms), cpu_median_ms: median(cpu), p90_ms: quantile(ms, 0.9), runs: ms.length }));
}

main().catch((e) => { console.error(`bench_ort: ${e.message}`); process.exit(1); });
