#!/usr/bin/env node
// ort_bench.js - bench.py's ONNX Runtime peer: times forward passes of ONNX
// models with npm's onnxruntime-node, in this one process, driven by
// bench.py over stdin/stdout (one JSON request per line, one JSON answer
// per line), so that ORT's blocks interleave with seqrun's and PyTorch's.
//
//   node bench/ort_bench.js MODULE_DIR     (MODULE_DIR: where node_modules/onnxruntime-node is)
//
// Requests:
//   {"op":"hello"}                      -> {"ok":true,"version":"1.30.0","path":"binding"|"api"}
//   {"op":"load","key":K,"model":PATH,"input":RAW,"shape":[..],"threads":T,"target":SECONDS}
//       a session with graph optimisation 'all', intra-op threads T, one
//       inter-op thread, sequential execution; input from RAW (little-endian
//       float32, shape as given); 5 warm-up runs, then a block length of
//       ~SECONDS is calibrated    -> {"ok":true,"iters":N,"one":seconds}
//   {"op":"rate","key":K}             one timed block -> {"ok":true,"rate":samples_per_second}
//   {"op":"output","key":K,"path":P}  one run, output written to P as raw
//                                       float32 -> {"ok":true,"shape":[..]}
//   {"op":"free","key":K}             -> {"ok":true}
// Any failure answers {"ok":false,"error":"..."}.
//
// Timing calls the native binding's synchronous run(), the very call the
// public InferenceSession.run() makes, without the setImmediate + Promise
// hop that API wraps it in (about 10 us a call here, which would tax
// ORT at batch 1); when the package's internals are not where this script
// looks, it falls back to the public API and says so ("path":"api").
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const dir = path.resolve(process.argv[2] || path.join(__dirname, 'ort'));
const req = (m) => require(require.resolve(m, {paths: [dir]}));
const ort = req('onnxruntime-node');
let binding = null;
try {
  const b = req('onnxruntime-node/dist/binding');
  if (b && b.binding && typeof b.binding.InferenceSession === 'function' && typeof b.initOrt === 'function') {
    b.initOrt();
    binding = b.binding;
  }
} catch (e) {
  binding = null;
}

const sessions = new Map();
const now = () => Number(process.hrtime.bigint()) / 1e9;

function options(threads) {
  return {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
}

async function load(r) {
  const buf = fs.readFileSync(r.input);
  const n = r.shape.reduce((a, b) => a * b, 1);
  if (buf.length !== 4 * n) throw new Error(`${r.input}: ${buf.length} bytes, shape needs ${4 * n}`);
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(buf);
  const x = new ort.Tensor('float32', data, r.shape);
  const s = {batch: r.shape[0]};
  if (binding) {
    const h = new binding.InferenceSession();
    h.loadModel(r.model, options(r.threads));
    const inName = h.inputMetadata[0].name, outName = h.outputMetadata[0].name;
    const feeds = {[inName]: x}, fetches = {[outName]: null};
    s.run = () => h.run(feeds, fetches, {})[outName];
    s.dispose = () => h.dispose();
  } else {
    const h = await ort.InferenceSession.create(r.model, options(r.threads));
    const feeds = {[h.inputNames[0]]: x};
    s.runAsync = async () => (await h.run(feeds))[h.outputNames[0]];
    s.dispose = () => h.release();
  }
  const once = async () => (s.run ? s.run() : await s.runAsync());
  for (let i = 0; i < 5; i++) await once();
  const t0 = now();
  for (let i = 0; i < 3; i++) await once();
  const one = (now() - t0) / 3;
  s.once = once;
  s.iters = Math.max(1, Math.floor(r.target / Math.max(one, 1e-7)));
  sessions.set(r.key, s);
  return {iters: s.iters, one};
}

async function rate(r) {
  const s = sessions.get(r.key);
  if (!s) throw new Error(`no session ${r.key}`);
  let dt;
  if (s.run) {
    const t0 = now();
    for (let i = 0; i < s.iters; i++) s.run();
    dt = now() - t0;
  } else {
    const t0 = now();
    for (let i = 0; i < s.iters; i++) await s.runAsync();
    dt = now() - t0;
  }
  return {rate: (s.iters * s.batch) / dt};
}

async function output(r) {
  const s = sessions.get(r.key);
  if (!s) throw new Error(`no session ${r.key}`);
  const y = await s.once();
  const d = y.data;
  fs.writeFileSync(r.path, Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  return {shape: y.dims};
}

async function handle(r) {
  switch (r.op) {
    case 'hello':
      return {version: (ort.env && ort.env.versions && ort.env.versions.node) || '?', path: binding ? 'binding' : 'api'};
    case 'load':
      return load(r);
    case 'rate':
      return rate(r);
    case 'output':
      return output(r);
    case 'free': {
      const s = sessions.get(r.key);
      if (s) {
        await s.dispose();
        sessions.delete(r.key);
      }
      return {};
    }
    default:
      throw new Error(`unknown op ${r.op}`);
  }
}

const rl = readline.createInterface({input: process.stdin});
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    let ans;
    try {
      ans = Object.assign({ok: true}, await handle(JSON.parse(line)));
    } catch (e) {
      ans = {ok: false, error: String((e && e.message) || e)};
    }
    process.stdout.write(JSON.stringify(ans) + '\n');
  });
});
rl.on('close', () => chain.then(() => process.exit(0)));
