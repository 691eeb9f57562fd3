"""PyTorch peer of bench_train_step: the same generator (conv or DiT), the same training
step (forward, backward from a given dL/dx, grad-norm clipping, AdamW), timed the same way.

    /usr/bin/python3 bench/train_step/peer.py [--batch 256,640] [--steps 10] [--threads 2]
                                              [--widths 64,32] [--depth 1]
                                              [--model conv|dit-t|dit-s] [--patch P]

Prints "torch batch=B median_ms=... forward_ms=... backward_ms=... update_ms=... cpu_ms=...
params=N" (cpu_ms: the median CPU time of a step, all threads).
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


class RMSNorm(nn.Module):
    """x · rsqrt(mean(x²) + eps) · weight over the last dimension (weight optional)."""

    def __init__(self, dim=None, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if dim else None

    def forward(self, x):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return y * self.weight if self.weight is not None else y


def rope(x, cos, sin):
    """Interleaved-pair rotation of x (B, S, H, HD) by the (S, HD/2) table."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1).flatten(-2)


def rope2d_table(tokens, gh, gw, hd, base=100.0):
    """src/models/dit.c: in-context tokens at (0, 0), patch (i, j) at (i + 1, j + 1); the first
    HD/4 pairs turn with the row, the last HD/4 with the column, pair k at base^(-k/(HD/4))."""
    rows = [0] * tokens + [t // gw + 1 for t in range(gh * gw)]
    cols = [0] * tokens + [t % gw + 1 for t in range(gh * gw)]
    q = hd // 4
    freq = torch.tensor([base ** (-k / q) for k in range(q)], dtype=torch.float64)
    r = torch.tensor(rows, dtype=torch.float64)[:, None] * freq[None, :]
    c = torch.tensor(cols, dtype=torch.float64)[:, None] * freq[None, :]
    ang = torch.cat([r, c], dim=1)
    return torch.cos(ang).float(), torch.sin(ang).float()


class DiTBlock(nn.Module):
    """adaLN-zero block: x += g1·attn(mod1(RMS(x))); x += g2·SwiGLU(mod2(RMS(x)))"""

    def __init__(self, dim, hidden, heads):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.ada = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim, bias=False) for _ in range(4))
        self.q_norm, self.k_norm = RMSNorm(self.hd), RMSNorm(self.hd)
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.norm = RMSNorm()

    def forward(self, x, cs, cos, sin):
        B, S, D = x.shape
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(cs)[:, None, :].chunk(6, dim=-1)
        h = self.norm(x) * (1 + sc1) + sh1
        q = rope(self.q_norm(self.q(h).view(B, S, self.heads, self.hd)), cos, sin).transpose(1, 2)
        k = rope(self.k_norm(self.k(h).view(B, S, self.heads, self.hd)), cos, sin).transpose(1, 2)
        v = self.v(h).view(B, S, self.heads, self.hd).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.hd), dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, S, D)
        x = x + g1 * self.o(o)
        h = self.norm(x) * (1 + sc2) + sh2
        return x + g2 * self.w2(F.silu(self.w1(h)) * self.w3(h))


class DiTGenerator(nn.Module):
    """src/models/dit.c layer for layer (dit-t defaults)."""

    def __init__(self, n_classes=10, freqs=8, channels=1, size=28, patch=4, dim=128, hidden=352,
                 heads=4, depth=4, tokens=4, style=32, vocab=64):
        super().__init__()
        self.c, self.size, self.p, self.tokens, self.style, self.vocab = channels, size, patch, tokens, style, vocab
        self.g = size // patch
        pd = channels * patch * patch
        self.cond = Cond(n_classes, dim, freqs)
        self.style_emb = nn.Embedding(vocab, dim)
        self.ctx = nn.Parameter(torch.randn(tokens, dim) * 0.02)
        self.patch_embed = nn.Linear(pd, dim)
        self.blocks = nn.ModuleList(DiTBlock(dim, hidden, heads) for _ in range(depth))
        self.final_ada = nn.Linear(dim, 2 * dim)
        nn.init.zeros_(self.final_ada.weight)
        nn.init.zeros_(self.final_ada.bias)
        self.final_linear = nn.Linear(dim, pd)
        self.norm = RMSNorm()
        cos, sin = rope2d_table(tokens, self.g, self.g, dim // heads)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def style_indices(self, u):
        phi = 0.5 * torch.special.erfc(-u.double() / math.sqrt(2.0))
        return torch.floor(self.vocab * phi).long().clamp(0, self.vocab - 1)

    def forward(self, z, labels, alpha):
        B, C, n, p, g = z.shape[0], self.c, self.size, self.p, self.g
        chw = C * n * n
        c = self.cond(labels, alpha) + self.style_emb(self.style_indices(z[:, chw:])).sum(1)
        cs = F.silu(c)
        img = z[:, :chw].reshape(B, C, g, p, g, p)
        e = self.patch_embed(img.permute(0, 2, 4, 1, 3, 5).reshape(B, g * g, C * p * p))
        x = torch.cat([self.ctx[None] + c[:, None], e], dim=1)
        for blk in self.blocks:
            x = blk(x, cs, self.cos, self.sin)
        sh, sc = self.final_ada(cs)[:, None, :].chunk(2, dim=-1)
        o = self.final_linear(self.norm(x) * (1 + sc) + sh)[:, self.tokens:]
        o = o.reshape(B, g, g, C, p, p).permute(0, 3, 1, 4, 2, 5).reshape(B, C, n, n)
        return torch.tanh(o)


DIT_SIZES = {"dit-t": dict(dim=128, hidden=352, depth=4, heads=4),  # drift_model_config_dit
             "dit-s": dict(dim=256, hidden=688, depth=6, heads=4)}
DIT_SIZES["dit"] = DIT_SIZES["dit-t"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", default="256,640")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--widths", default="64,32")
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--model", default="conv", help="conv | dit-t | dit-s")
    ap.add_argument("--patch", type=int, default=0, help="dit: patch size (0 = the size's default)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    widths = tuple(int(w) for w in args.widths.split(","))
    for B in (int(b) for b in args.batch.split(",")):
        if args.model == "conv":
            model, nz = ConvGenerator(widths=widths, depth=args.depth), 64
        else:
            kw = dict(DIT_SIZES[args.model])
            if args.patch:
                kw["patch"] = args.patch
            model, nz = DiTGenerator(**kw), 784 + 32
        params = list(model.parameters())
        opt = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.01)
        z = torch.randn(B, nz)
        labels = torch.arange(B) % 10
        alpha = torch.rand(B) * 3 + 1
        dout = torch.randn(B, 1, 28, 28) * 1e-3
        t_all, t_fwd, t_bwd, t_upd, t_cpu = [], [], [], [], []
        for s in range(-2, args.steps):
            t0, c0 = time.perf_counter(), time.process_time()
            opt.zero_grad(set_to_none=True)
            x = model(z, labels, alpha)
            t1 = time.perf_counter()
            x.backward(dout)
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(params, 2.0)
            opt.step()
            t3, c3 = time.perf_counter(), time.process_time()
            if s >= 0:
                t_all.append(t3 - t0), t_fwd.append(t1 - t0)
                t_bwd.append(t2 - t1), t_upd.append(t3 - t2), t_cpu.append(c3 - c0)
        n = sum(p.numel() for p in params)
        med = lambda v: 1e3 * statistics.median(v)
        print(f"torch batch={B} median_ms={med(t_all):.2f} forward_ms={med(t_fwd):.2f} "
              f"backward_ms={med(t_bwd):.2f} update_ms={med(t_upd):.2f} cpu_ms={med(t_cpu):.2f} params={n} "
              f"threads={args.threads}", flush=True)


if __name__ == "__main__":
    main()
