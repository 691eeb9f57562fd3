"""PyTorch peer of bench_train_step: the same conv generator, the same training step
(forward, backward from a given dL/dx, grad-norm clipping, AdamW), timed the same way.

    /usr/bin/python3 bench/train_step/peer.py [--batch 256,640] [--steps 10] [--threads 2]
                                              [--widths 64,32] [--depth 1]

Prints "torch batch=B median_ms=... forward_ms=... backward_ms=... update_ms=... params=N".
The architecture mirrors src/models/convgen.c and src/models/cond.c layer for layer, so the
parameter counts must agree (run.sh checks that).
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ALPHA_MAX_FREQ = 16.0  # DRIFT_ALPHA_MAX_FREQ


class Cond(nn.Module):
    """c = class_emb[label] + fc2(SiLU(fc1(sinusoid(log alpha))))"""

    def __init__(self, n_classes, dim, freqs):
        super().__init__()
        self.emb = nn.Embedding(n_classes + 1, dim)
        self.fc1 = nn.Linear(2 * freqs, dim)
        self.fc2 = nn.Linear(dim, dim)
        k = torch.arange(freqs, dtype=torch.float32)
        self.register_buffer("freqs", ALPHA_MAX_FREQ ** (k / max(freqs - 1, 1)))

    def forward(self, labels, alpha):
        u = torch.log(alpha)[:, None] * self.freqs[None, :]
        feat = torch.cat([torch.sin(u), torch.cos(u)], dim=1)
        return self.emb(labels) + self.fc2(F.silu(self.fc1(feat)))


class Block(nn.Module):
    """SiLU(FiLM(GroupNorm(conv3x3(h)), linear(cs)))"""

    def __init__(self, cin, cout, groups, cond_dim):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.GroupNorm(groups, cout)
        self.film = nn.Linear(cond_dim, 2 * cout)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, h, cs):
        h = self.norm(self.conv(h))
        scale, shift = self.film(cs)[:, :, None, None].chunk(2, dim=1)
        return F.silu(h * (1 + scale) + shift)


class ConvGenerator(nn.Module):
    def __init__(self, noise_dim=64, n_classes=10, cond_dim=128, freqs=8, widths=(64, 32),
                 depth=1, groups=8, channels=1, size=28):
        super().__init__()
        self.cond = Cond(n_classes, cond_dim, freqs)
        self.c0, self.s0 = widths[0], size >> len(widths)
        self.proj = nn.Linear(noise_dim + cond_dim, self.c0 * self.s0 * self.s0)
        blocks, ups, cin = [], [], widths[0]
        for level, w in enumerate(widths):
            for d in range(depth):
                ups.append(level > 0 and d == 0)
                blocks.append(Block(cin, w, groups, cond_dim))
                cin = w
        self.blocks, self.ups = nn.ModuleList(blocks), ups
        self.out = nn.Conv2d(cin, channels, 3, padding=1)

    def forward(self, z, labels, alpha):
        c = self.cond(labels, alpha)
        cs = F.silu(c)
        h = self.proj(torch.cat([z, c], dim=1)).view(-1, self.c0, self.s0, self.s0)
        for up, block in zip(self.ups, self.blocks):
            if up:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(h, cs)
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        return torch.tanh(self.out(h))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", default="256,640")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--widths", default="64,32")
    ap.add_argument("--depth", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    widths = tuple(int(w) for w in args.widths.split(","))
    for B in (int(b) for b in args.batch.split(",")):
        model = ConvGenerator(widths=widths, depth=args.depth)
        params = list(model.parameters())
        opt = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.01)
        z = torch.randn(B, 64)
        labels = torch.arange(B) % 10
        alpha = torch.rand(B) * 3 + 1
        dout = torch.randn(B, 1, 28, 28) * 1e-3
        t_all, t_fwd, t_bwd, t_upd = [], [], [], []
        for s in range(-2, args.steps):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            x = model(z, labels, alpha)
            t1 = time.perf_counter()
            x.backward(dout)
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(params, 2.0)
            opt.step()
            t3 = time.perf_counter()
            if s >= 0:
                t_all.append(t3 - t0), t_fwd.append(t1 - t0)
                t_bwd.append(t2 - t1), t_upd.append(t3 - t2)
        n = sum(p.numel() for p in params)
        med = lambda v: 1e3 * statistics.median(v)
        print(f"torch batch={B} median_ms={med(t_all):.2f} forward_ms={med(t_fwd):.2f} "
              f"backward_ms={med(t_bwd):.2f} update_ms={med(t_upd):.2f} params={n} "
              f"threads={args.threads}", flush=True)


if __name__ == "__main__":
    main()
