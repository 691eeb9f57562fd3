"""Writes the "your own data" example sets of docs/TRAINING.md into a folder (default ./own):

  fm_train.npy (20000, 28, 28) uint8 + fm_train_labels.npy   Fashion-MNIST's first 20,000 train images,
  fm_test.npy  (10000, 28, 28) uint8 + fm_test_labels.npy    its test split, as a user's own NPY files
  rgb32.npy    (6000, 32, 32, 3) uint8 + rgb32_labels.npy    synthetic RGB: red discs, green squares,
  rgb32_test.npy (2000, 32, 32, 3) + rgb32_test_labels.npy   blue discs on a dark background (3 classes)

usage: /usr/bin/python3 examples/own_data.py [DIR]   (needs numpy and Debian's dataset-fashion-mnist)
"""
import gzip
import os
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "own"
os.makedirs(out, exist_ok=True)
src = "/usr/share/datasets/fashion-mnist/"


def idx(name, offset):
    return np.frombuffer(gzip.open(src + name).read(), np.uint8, offset=offset)


x = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
y = idx("train-labels-idx1-ubyte.gz", 8)
xt = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
yt = idx("t10k-labels-idx1-ubyte.gz", 8)
np.save(f"{out}/fm_train.npy", x[:20000])
np.save(f"{out}/fm_train_labels.npy", y[:20000].astype(np.int64))
np.save(f"{out}/fm_test.npy", xt)
np.save(f"{out}/fm_test_labels.npy", yt.astype(np.int64))

rng = np.random.default_rng(0)
yy, xx = np.mgrid[:32, :32]
colours = np.array([[230, 40, 40], [40, 200, 60], [50, 80, 230]])


def rgb(n):
    images, labels = np.zeros((n, 32, 32, 3), np.uint8), np.zeros(n, np.int32)
    for i in range(n):
        k = rng.integers(3)
        cx, cy = rng.uniform(10, 22, 2)
        r = rng.uniform(5, 9)
        img = np.full((32, 32, 3), rng.integers(0, 60), np.float32)
        if k == 1:
            mask = (abs(xx - cx) < r * 0.8) & (abs(yy - cy) < r * 0.8)
        else:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[mask] = colours[k] * rng.uniform(0.7, 1.0)
        images[i], labels[i] = np.clip(img, 0, 255), k
    return images, labels


for name, n in (("rgb32", 6000), ("rgb32_test", 2000)):
    images, labels = rgb(n)
    np.save(f"{out}/{name}.npy", images)
    np.save(f"{out}/{name}_labels.npy", labels)
print(f"wrote the example sets into {out}/")
