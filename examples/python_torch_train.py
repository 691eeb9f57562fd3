"""Train a PyTorch generator with drift's loss: a small MLP maps noise to swiss_roll points.

    scripts/setup && scripts/build            # once: builds libdrift.so, makes `import drift` work
    /usr/bin/python3 examples/python_torch_train.py [--steps 300] [--data swiss_roll] [--out samples.npy]

Each step draws a batch from the generator and a batch of data, and drift.torch.DriftLoss computes
the drift objective with libdrift's field engine (the one `drift train` uses); PyTorch does the rest.
MMD² against fresh target points (drift.eval, the same metric as `drift eval --data swiss_roll`) is
printed before and after.
"""
import argparse
import time

import numpy as np
import torch

import drift
import drift.torch

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--data", default="swiss_roll", help="toy: swiss_roll, checkerboard, 8gaussians, moons, two_mode")
ap.add_argument("--steps", type=int, default=300)
ap.add_argument("--batch", type=int, default=256, help="generated samples and data points per step")
ap.add_argument("--tau", type=float, default=0.05, help="laplace temperature (drift train's toy recipe)")
ap.add_argument("--out", help="write 2000 samples of the trained generator to this .npy")
args = ap.parse_args()

torch.manual_seed(0)
data, _ = drift.toy(args.data, 20000, seed=0)          # the library's sampler of the toy
net = torch.nn.Sequential(torch.nn.Linear(16, 128), torch.nn.SiLU(),
                          torch.nn.Linear(128, 128), torch.nn.SiLU(),
                          torch.nn.Linear(128, 2))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
loss_fn = drift.torch.DriftLoss(family="deng", kernel="laplace", tau=args.tau)
noise_eval = torch.randn(2000, 16, generator=torch.Generator().manual_seed(123))


def mmd2():
    with torch.no_grad():
        return drift.eval(net(noise_eval).numpy(), data=args.data)["toy_mmd2"]


print("MMD² before training: %.5f" % mmd2())
rng = np.random.default_rng(0)
t0 = time.monotonic()
for step in range(1, args.steps + 1):
    x = net(torch.randn(args.batch, 16))                         # generated batch, carries the graph
    pos = torch.from_numpy(data[rng.integers(0, len(data), args.batch)])
    loss = loss_fn(x, pos)                                       # drift objective, C engine
    opt.zero_grad()
    loss.backward()                                              # dL/dx = -2V/(D N), then autograd
    opt.step()
    if step % 100 == 0 or step == args.steps:
        s = loss_fn.stats
        print("step %4d  loss %.3g  |V| %.3g  diversity %.2f  %.1f s"
              % (step, loss.item(), s["v_rms"], s["diversity"], time.monotonic() - t0))
print("MMD² after %d steps: %.5f" % (args.steps, mmd2()))
if args.out:
    with torch.no_grad():
        np.save(args.out, net(noise_eval).numpy())
    print("samples ->", args.out)
