"""Your own data end to end (issue 14), on tiny synthetic sets: image-shaped NPY ((n,h,w) uint8,
(n,c,h,w) channel first, (n,h,w,3) RGB), an IDX file and a folder of PNGs (class subfolders) get
the image recipe sized to their shape (conv generator, class-conditional when labelled), flat
vectors the MLP recipe, (n,2) points the 2-D recipe; every run ends with its evaluation and a
checkpoint (the final evaluation failed before, and IDX files trained with the toy settings:
loss 0, |V| 0); image data in 0..255 floats is refused. `drift eval --ref` scores against the
user's own reference (labels optional), `drift sample --png-dir` writes one PNG per sample, RGB
grids are in colour."""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pychecks import Checks  # noqa: E402
from pngread import read_png  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
ASAN = bool(os.environ.get("DRIFT_SANITIZE"))
t = Checks()
# small and fast: 8x8 images, a few steps, few evaluation samples
FAST = ["--n-pos", "8", "--n-neg", "8", "--n-unc", "4", "--steps", "2" if ASAN else "3", "--eval-n", "40",
        "--log-every", "1"]


def drift(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=env)


def kinds(n, c=1):
    """n 8x8 images of 3 kinds (bright left, bright right, bright top), uint8, channel last."""
    lab = np.arange(n) % 3
    y, x = np.mgrid[:8, :8]
    masks = [x < 4, x >= 4, y < 4]
    img = np.stack([np.where(masks[k], 200, 30) for k in lab]).astype(np.uint8)
    img = np.clip(img + np.random.default_rng(0).integers(0, 20, img.shape), 0, 255).astype(np.uint8)
    if c == 3:
        img = np.stack([img, img // 2, 255 - img], axis=-1).astype(np.uint8)
    return img, lab


def metrics(run):
    return [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]


def banner(stderr):
    return next((line for line in stderr.splitlines() if line.startswith("drift train:")), "")


def write_idx(path, arr):
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


def write_png(path, img):
    import zlib
    h, w = img.shape[:2]
    ct = 2 if img.ndim == 3 else 0
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ct, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


with tempfile.TemporaryDirectory() as tmp:
    j = lambda *p: os.path.join(tmp, *p)  # noqa: E731
    env = dict(os.environ, DRIFT_CACHE_DIR=j("cache"))
    imgs, lab = kinds(120)
    np.save(j("g.npy"), imgs)
    np.save(j("g_labels.npy"), lab.astype(np.int64))

    # (n, h, w) uint8 with labels: conv, conditional, evaluated at the end in a feature network
    # trained on the training rows, checkpoint written
    r = drift("train", "--data", j("g.npy"), "--labels", j("g_labels.npy"), *FAST, "--out", j("run_g"), env=env)
    t.check(r.returncode == 0, f"own gray npy trains: {r.stderr[-2000:]}")
    b = banner(r.stderr)
    t.check("conv generator" in b, f"image recipe (conv): {b!r}")
    params = int(b.split("with ")[1].split(" ")[0]) if "with " in b else 0
    t.check(0 < params < 1_000_000, f"sized to the data, not 48.6 M parameters: {params}")
    t.check("3 classes" in r.stderr and "alpha input" in r.stderr, "class-conditional with guidance when labelled")
    t.check(os.path.exists(j("run_g", "checkpoint.safetensors")), "checkpoint written")
    m = metrics(j("run_g")) if os.path.exists(j("run_g", "metrics.jsonl")) else []
    ev = [x for x in m if x.get("fid") is not None]
    t.check(len(ev) == 1 and ev[0]["n_samples"] == 40 and ev[0]["class_accuracy"] is not None,
            f"the final evaluation ran (FID, class accuracy): {ev}")
    steps = [x for x in m if "loss" in x]
    t.check(steps and all(x["loss"] > 0 and x["v_rms"] > 0 for x in steps), f"a training signal: {steps[:2]}")
    cfg = json.load(open(j("run_g", "config.json"))) if os.path.exists(j("run_g", "config.json")) else {}
    t.check(cfg.get("conditional") in (True, 1) and cfg.get("model") == "conv", f"resolved config: {cfg.get('conditional')}")

    # unlabelled: unconditional, no guidance (the recipe-only runs are skipped under the sanitizers,
    # where the C tests cover the readers: the whole file stays well under a minute there)
    if not ASAN:
        r = drift("train", "--data", j("g.npy"), *FAST, "--eval-every", "-1", "--out", j("run_u"), env=env)
        cfg = json.load(open(j("run_u", "config.json"))) if os.path.exists(j("run_u", "config.json")) else {}
        t.check(r.returncode == 0 and cfg.get("conditional") in (False, 0) and cfg.get("n-unc") == 0 and cfg.get("alpha-max") == 1,
                f"unlabelled: unconditional without guidance: {cfg} {r.stderr[-500:]}")

    # IDX: the image recipe, not the toy one (loss and |V| were 0)
    write_idx(j("imgs-idx3-ubyte"), imgs)
    write_idx(j("labels-idx1-ubyte"), lab)
    r = drift("train", "--data", j("imgs-idx3-ubyte"), "--labels", j("labels-idx1-ubyte"), *FAST, "--eval-every", "-1",
              "--out", j("run_idx"), env=env)
    m = metrics(j("run_idx")) if os.path.exists(j("run_idx", "metrics.jsonl")) else []
    steps = [x for x in m if "loss" in x]
    t.check(r.returncode == 0 and "conv generator" in banner(r.stderr) and steps and
            all(x["loss"] > 0 and x["v_rms"] > 0 for x in steps), f"IDX: image recipe with a signal: {r.stderr[-800:]} {steps[:2]}")

    # (n, c, h, w) channel first and (n, h, w, 3) RGB; RGB grids in colour
    rgb, lab3 = kinds(120, c=3)
    np.save(j("rgb.npy"), rgb)
    np.save(j("rgb_labels.npy"), lab3.astype(np.int32))
    np.save(j("chw.npy"), imgs[:, None])
    if not ASAN:
        r = drift("train", "--data", j("chw.npy"), *FAST, "--eval-every", "-1", "--out", j("run_chw"), env=env)
        t.check(r.returncode == 0 and "1x8x8 image" in r.stderr, f"(n,1,h,w): {r.stderr[-500:]}")
    r = drift("train", "--data", j("rgb.npy"), "--labels", j("rgb_labels.npy"), *FAST, "--out", j("run_rgb"), env=env)
    t.check(r.returncode == 0 and "3x8x8 image" in r.stderr, f"RGB trains and evaluates: {r.stderr[-1500:]}")
    ck = j("run_rgb", "checkpoint.safetensors")
    r = drift("sample", "--ckpt", ck, "--n", "30", "--out", j("s.npy"), "--grid", j("s.png"), "--png-dir", j("pngs"))
    t.check(r.returncode == 0, f"RGB sample: {r.stderr}")
    if r.returncode == 0:
        g = read_png(j("s.png"))
        t.check(g.ndim == 3 and g.shape[2] == 3, f"the RGB grid is in colour: {g.shape}")
        x = np.load(j("s.npy")).reshape(30, 8, 8, 3)
        files = sorted(os.listdir(j("pngs")))
        t.check(files == [f"{i:06d}.png" for i in range(30)], f"--png-dir: one PNG per sample: {files[:3]}...")
        want = np.clip(np.floor((x + 1) * 127.5 + 0.5), 0, 255).astype(np.uint8)
        worst = max(int(np.abs(read_png(j("pngs", f)).astype(int) - want[i]).max()) for i, f in enumerate(files))
        t.check(worst == 0, f"--png-dir pixels = round((x + 1) * 127.5): off by {worst}")
    r = drift("sample", "--ckpt", ck, "--n", "3", "--out", j("s2.npy"), "--png-dir", j("pngs"))
    t.check(r.returncode == 1 and "not empty" in r.stderr and len(os.listdir(j("pngs"))) == 30,
            f"--png-dir refuses a folder with images of another draw: {r.stderr}")

    # drift eval --ref: own RGB reference, labelled and not
    ref, rlab = kinds(90, c=3)
    np.save(j("ref.npy"), ref)
    np.save(j("ref_labels.npy"), rlab)
    r = drift("eval", "--samples", j("s.npy"), "--labels", j("s_labels.npy"), "--ref", j("ref.npy"), "--ref-labels",
              j("ref_labels.npy"), "--json", env=env)
    d = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}
    t.check(d.get("n_reference") == 90 and d.get("class_accuracy") is not None and d.get("fid", -1) >= 0,
            f"eval --ref with labels: {r.stderr[-800:]} {d}")
    r = drift("eval", "--samples", j("ref.npy"), "--ref", j("ref.npy"), "--json", env=env)
    d = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}
    t.check(d.get("fid", 1) < 1e-6 and d.get("precision") == 1 and d.get("class_accuracy", 0) is None,
            f"eval --ref without labels: the reference against itself scores FID 0: {r.stderr[-800:]} {d}")
    r = drift("eval", "--samples", j("s.npy"), "--labels", j("s_labels.npy"), "--ref", j("ref.npy"), env=env)
    t.check(r.returncode == 2 and "--ref-labels" in r.stderr, f"--labels needs a labelled reference: {r.stderr}")
    r = drift("eval", "--samples", j("s.npy"), "--data", j("ref.npy"), env=env)
    t.check(r.returncode == 2 and "--ref " + j("ref.npy") in r.stderr, f"--data FILE points to --ref: {r.stderr}")
    r = drift("eval", "--samples", j("s.npy"), "--ref", j("ref.npy"), "--data", "mnist", env=env)
    t.check(r.returncode == 2 and "not both" in r.stderr, f"--ref with --data refused: {r.stderr}")
    r = drift("eval", "--samples", j("s.npy"), "--ref", j("g.npy"), env=env)
    t.check(r.returncode == 1 and "192 values" in r.stderr and "8x8x1" in r.stderr, f"shape mismatch named: {r.stderr}")

    # a folder of PNGs, one subfolder per class
    for k in range(3):
        os.makedirs(j("folder", f"class{k}"))
    for i in range(60):
        write_png(j("folder", f"class{lab3[i]}", f"{i:03d}.png"), rgb[i])
    r = drift("train", "--data", j("folder"), *FAST, "--steps", "1", "--eval-every", "-1", "--out", j("run_png"), env=env)
    t.check(r.returncode == 0 and "3x8x8 image" in r.stderr and "3 classes" in r.stderr, f"PNG folder: {r.stderr[-800:]}")

    # flat vectors: the MLP recipe, evaluated by MMD against the rows; (n, 2): the 2-D recipe
    vec = np.random.default_rng(1).normal(size=(200, 16)).astype(np.float32)
    np.save(j("vec.npy"), vec)
    r = drift("train", "--data", j("vec.npy"), *FAST, "--out", j("run_vec"), env=env)
    m = metrics(j("run_vec")) if os.path.exists(j("run_vec", "metrics.jsonl")) else []
    t.check(r.returncode == 0 and "mlp generator" in banner(r.stderr) and any(x.get("toy_mmd2") is not None for x in m),
            f"vectors: MLP, evaluated: {r.stderr[-800:]}")
    if not ASAN:
        pts = np.random.default_rng(2).normal(size=(300, 2)).astype(np.float32)
        np.save(j("pts.npy"), pts)
        r = drift("train", "--data", j("pts.npy"), "--steps", "3", "--n-pos", "64", "--n-neg", "64", "--eval-n", "50",
                  "--out", j("run_pts"), env=env)
        cfg = json.load(open(j("run_pts", "config.json"))) if os.path.exists(j("run_pts", "config.json")) else {}
        t.check(r.returncode == 0 and cfg.get("tau") == [0.05] and cfg.get("width") == 256, f"(n, 2): the 2-D recipe: {r.stderr[-500:]}")

    # float images in 0..255 are refused (tanh generators, [-1, 1] grids), nothing trained
    np.save(j("f255.npy"), imgs.astype(np.float32))
    r = drift("train", "--data", j("f255.npy"), *FAST, "--out", j("run_f"), env=env)
    t.check(r.returncode == 1 and "[-1, 1]" in r.stderr and "uint8" in r.stderr, f"0..255 floats refused: {r.stderr}")

sys.exit(t.summary())
