#!/usr/bin/python3
"""PyTorch CPU peer of bench_field: Deng et al.'s Algorithm 2, the plain form (docs/MATH.md §3).

    T = [X; Y+],  K_ij = exp(-||x_i - t_j|| / tau) with the self entries K_ii = 0,
    A = K / sqrt(rowsum(K) * colsum(K)),
    V_i = sum_{j in Y+} A_ij (sum_{l in X} A_il) y_j - sum_{l in X} A_il (sum_{j in Y+} A_ij) x_l,
    summed over tau in {0.02, 0.05, 0.2} (raw values: the data have mean distance about 1).

Written the way the authors' notebook writes it (torch.cdist, dense K per temperature, two
matmuls), float32, torch.set_num_threads(2), no autograd. Reads DIR/x.npy and DIR/y.npy
written by bench_field, times the median of --repeats calls after one warm-up call, and
compares with bench_field's field DIR/v.npy.

Usage: /usr/bin/python3 bench/field/peer.py DIR [--repeats R] [--threads T] [--device cuda]
(--device cuda: the same on a GPU, each call timed to its torch.cuda.synchronize()).
Prints one line: torch_ms=... max_rel_diff=... (max |V_torch - V_ours| / max |V_torch|).
"""
import argparse
import os
import time

import numpy as np
import torch

TAUS = (0.02, 0.05, 0.2)


def deng_field(x, y, taus=TAUS):
    n = x.shape[0]
    targets = torch.cat([x, y])
    dist = torch.cdist(x, targets)
    idx = torch.arange(n, device=x.device)
    v = torch.zeros_like(x)
    for tau in taus:
        k = torch.exp(-dist / tau)
        k[idx, idx] = 0.0  # self-masking: a query is not its own negative
        a = k / torch.sqrt(k.sum(1, keepdim=True) * k.sum(0, keepdim=True))
        a_neg, a_pos = a[:, :n], a[:, n:]
        w_pos = a_pos * a_neg.sum(1, keepdim=True)
        w_neg = a_neg * a_pos.sum(1, keepdim=True)
        v += w_pos @ y - w_neg @ x
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    torch.set_num_threads(args.threads)
    x = torch.from_numpy(np.load(os.path.join(args.dir, "x.npy"))).to(args.device)
    y = torch.from_numpy(np.load(os.path.join(args.dir, "y.npy"))).to(args.device)
    ours = np.load(os.path.join(args.dir, "v.npy"))
    with torch.no_grad():
        v = deng_field(x, y)  # warm-up, and the field compared below
        times = []
        for _ in range(args.repeats):
            sync()
            t0 = time.perf_counter()
            deng_field(x, y)
            sync()
            times.append(time.perf_counter() - t0)
    v = v.cpu().numpy()
    rel = float(np.max(np.abs(v - ours)) / np.max(np.abs(v)))
    print(f"torch_ms={1e3 * float(np.median(times)):.3f} max_rel_diff={rel:.3g} torch={torch.__version__}")


if __name__ == "__main__":
    main()
