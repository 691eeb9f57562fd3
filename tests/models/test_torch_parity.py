"""The drift models against PyTorch, through libdrift ($DRIFT_LIB) and ctypes.

The conv and DiT generators of bench/train_step/peer.py (the benchmark's PyTorch peer) and a
PyTorch classifier get drift's parameters copied in by tensor name; then outputs, classifier
features and every parameter gradient must agree. This checks the C layers against an
independent implementation (group norm, FiLM, upsampling, strided conv, max pool, ...) and
that the benchmark compares the same network.
"""
import ctypes
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "train_step"))
from peer import ConvGenerator, DiTGenerator  # noqa: E402

MAX_WIDTHS = 8


class Config(ctypes.Structure):  # drift_model_config
    _fields_ = [("kind", ctypes.c_int), ("noise_dim", ctypes.c_int), ("out_dim", ctypes.c_int),
                ("channels", ctypes.c_int), ("height", ctypes.c_int), ("width", ctypes.c_int),
                ("n_widths", ctypes.c_int), ("widths", ctypes.c_int * MAX_WIDTHS),
                ("depth", ctypes.c_int), ("groups", ctypes.c_int), ("n_classes", ctypes.c_int),
                ("use_alpha", ctypes.c_int), ("cond_dim", ctypes.c_int),
                ("alpha_freqs", ctypes.c_int), ("out_tanh", ctypes.c_int),
                ("patch", ctypes.c_int), ("heads", ctypes.c_int), ("tokens", ctypes.c_int),
                ("style", ctypes.c_int), ("style_vocab", ctypes.c_int)]


class Tensor(ctypes.Structure):  # drift_param_tensor
    _fields_ = [("name", ctypes.c_char * 40), ("offset", ctypes.c_size_t),
                ("count", ctypes.c_size_t), ("ndim", ctypes.c_int), ("shape", ctypes.c_int * 4),
                ("decay", ctypes.c_int)]


class Model(ctypes.Structure):  # drift_model
    _fields_ = [("cfg", Config), ("in_dim", ctypes.c_int), ("out_dim", ctypes.c_int),
                ("feature_dim", ctypes.c_int), ("n_params", ctypes.c_size_t),
                ("params", ctypes.POINTER(ctypes.c_float)),
                ("grads", ctypes.POINTER(ctypes.c_float)), ("n_tensors", ctypes.c_int),
                ("tensors", ctypes.POINTER(Tensor)), ("max_batch", ctypes.c_int),
                ("batch", ctypes.c_int), ("act_floats", ctypes.c_size_t),
                ("impl", ctypes.c_void_p)]


path = os.environ.get("DRIFT_LIB")
if not path or not os.path.exists(path):
    sys.exit("DRIFT_LIB must name a built libdrift.so, got %r" % path)
lib = ctypes.CDLL(path)
lib.drift_last_error.restype = ctypes.c_char_p
lib.drift_model_config_default.argtypes = [ctypes.c_int, ctypes.POINTER(Config)]
lib.drift_model_create.argtypes = [ctypes.POINTER(Config), ctypes.c_int,
                                   ctypes.POINTER(ctypes.POINTER(Model))]
lib.drift_model_init_params.argtypes = [ctypes.POINTER(Model), ctypes.c_uint64]
FP = ctypes.POINTER(ctypes.c_float)
IP = ctypes.POINTER(ctypes.c_int)
lib.drift_model_forward.argtypes = [ctypes.POINTER(Model), FP, IP, FP, ctypes.c_int, FP]
lib.drift_model_backward.argtypes = [ctypes.POINTER(Model), FP]
lib.drift_model_zero_grad.argtypes = [ctypes.POINTER(Model)]
lib.drift_model_features.argtypes = [ctypes.POINTER(Model), FP, ctypes.c_int, FP, FP]
lib.drift_model_free.argtypes = [ctypes.POINTER(Model)]
lib.drift_model_config_dit.argtypes = [ctypes.c_char_p, ctypes.POINTER(Config)]

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", what, file=sys.stderr)


def ok(status, what):
    check(status == 0, "%s: status %d: %s" % (what, status, lib.drift_last_error().decode()))


def fp(a):
    return a.ctypes.data_as(FP)


def create(cfg, batch, seed):
    m = ctypes.POINTER(Model)()
    ok(lib.drift_model_create(ctypes.byref(cfg), batch, ctypes.byref(m)), "create")
    ok(lib.drift_model_init_params(m, seed), "init")
    n = m.contents.n_params
    params = np.ctypeslib.as_array(m.contents.params, shape=(n,))
    grads = np.ctypeslib.as_array(m.contents.grads, shape=(n,))
    # move off the initial values (zero FiLM, unit norms) so every path matters
    rng = np.random.default_rng(seed)
    params += rng.normal(0, 0.05, n).astype(np.float32)
    tensors = {}
    for i in range(m.contents.n_tensors):
        t = m.contents.tensors[i]
        shape = tuple(t.shape[:t.ndim])
        tensors[t.name.decode()] = (t.offset, t.count, shape)
    return m, params, grads, tensors


def copy_into(module, mapping, params, tensors):
    """Copy drift tensors into the named torch parameters; every parameter exactly once."""
    named = dict(module.named_parameters())
    check(sorted(named) == sorted(mapping.values()), "torch parameters match the mapping")
    check(sorted(tensors) == sorted(mapping), "drift tensors match the mapping")
    with torch.no_grad():
        for dname, tname in mapping.items():
            off, cnt, shape = tensors[dname]
            check(tuple(named[tname].shape) == shape, "%s shape %s vs %s" % (dname, shape, tuple(named[tname].shape)))
            named[tname].copy_(torch.from_numpy(params[off:off + cnt].reshape(shape)))


def compare_grads(module, mapping, grads, tensors, what):
    named = dict(module.named_parameters())
    for dname, tname in mapping.items():
        off, cnt, shape = tensors[dname]
        g_torch = named[tname].grad.numpy().ravel()
        g = grads[off:off + cnt]
        err = np.abs(g - g_torch).max() / (np.abs(g_torch).max() + 1e-6)
        check(err < 2e-3, "%s: gradient of %s differs from torch (relative %.2g)" % (what, dname, err))


def conv_generator(depth, widths):
    cfg = Config()
    ok(lib.drift_model_config_default(1, ctypes.byref(cfg)), "config")
    cfg.n_classes, cfg.use_alpha, cfg.depth = 10, 1, depth
    cfg.n_widths = len(widths)
    for i, w in enumerate(widths):
        cfg.widths[i] = w
    B = 12
    m, params, grads, tensors = create(cfg, B, 3 + depth)
    net = ConvGenerator(widths=tuple(widths), depth=depth)
    mapping = {"cond.class_emb": "cond.emb.weight", "proj.weight": "proj.weight",
               "proj.bias": "proj.bias", "out.conv.weight": "out.weight",
               "out.conv.bias": "out.bias"}
    for fc in ("fc1", "fc2"):
        for p in ("weight", "bias"):
            mapping["cond.alpha.%s.%s" % (fc, p)] = "cond.%s.%s" % (fc, p)
    for n in range(len(widths) * depth):
        for part in ("conv", "norm", "film"):
            for p in ("weight", "bias"):
                mapping["blk%d.%s.%s" % (n, part, p)] = "blocks.%d.%s.%s" % (n, part, p)
    copy_into(net, mapping, params, tensors)

    rng = np.random.default_rng(7)
    z = rng.normal(size=(B, 64)).astype(np.float32)
    labels = (np.arange(B) % 10).astype(np.int32)
    labels[3] = -1  # DRIFT_LABEL_NULL: the extra row of the embedding
    alpha = rng.uniform(1, 4, B).astype(np.float32)
    dout = rng.normal(size=(B, 784)).astype(np.float32)
    out = np.zeros((B, 784), np.float32)
    ok(lib.drift_model_forward(m, fp(z), labels.ctypes.data_as(IP), fp(alpha), B, fp(out)), "forward")
    lib.drift_model_zero_grad(m)
    ok(lib.drift_model_backward(m, fp(dout)), "backward")

    t_labels = torch.from_numpy(np.where(labels < 0, 10, labels).astype(np.int64))
    x = net(torch.from_numpy(z), t_labels, torch.from_numpy(alpha))
    x.backward(torch.from_numpy(dout).view(B, 1, 28, 28))
    err = np.abs(out - x.detach().numpy().reshape(B, 784)).max()
    check(err < 1e-4, "conv generator depth %d: output differs from torch by %.2g" % (depth, err))
    compare_grads(net, mapping, grads, tensors, "conv generator depth %d" % depth)
    lib.drift_model_free(m)


def dit_generator(size, **over):
    """A DiT (dit-t, or dit-t with fields overridden) against peer.DiTGenerator."""
    cfg = Config()
    ok(lib.drift_model_config_dit(size.encode(), ctypes.byref(cfg)), "config")
    cfg.n_classes, cfg.use_alpha = 10, 1
    for k, v in over.items():
        if k == "dim":
            cfg.widths[0] = v
        elif k == "hidden":
            cfg.widths[1] = v
        else:
            setattr(cfg, k, v)
    B = 6
    m, params, grads, tensors = create(cfg, B, 21)
    net = DiTGenerator(dim=cfg.widths[0], hidden=cfg.widths[1], heads=cfg.heads, depth=cfg.depth,
                       patch=cfg.patch, tokens=cfg.tokens, style=cfg.style, vocab=cfg.style_vocab)
    mapping = {"cond.class_emb": "cond.emb.weight", "style_emb": "style_emb.weight",
               "ctx_tokens": "ctx"}
    for fc in ("fc1", "fc2"):
        for p in ("weight", "bias"):
            mapping["cond.alpha.%s.%s" % (fc, p)] = "cond.%s.%s" % (fc, p)
    for p in ("weight", "bias"):
        mapping["patch_embed." + p] = "patch_embed." + p
        mapping["final.ada." + p] = "final_ada." + p
        mapping["final.linear." + p] = "final_linear." + p
    for n in range(cfg.depth):
        for p in ("weight", "bias"):
            mapping["blk%d.ada.%s" % (n, p)] = "blocks.%d.ada.%s" % (n, p)
        for w in ("q", "k", "v", "o"):
            mapping["blk%d.attn.%s.weight" % (n, w)] = "blocks.%d.%s.weight" % (n, w)
        for w in ("q_norm", "k_norm"):
            mapping["blk%d.attn.%s" % (n, w)] = "blocks.%d.%s.weight" % (n, w)
        for w in ("w1", "w3", "w2"):
            mapping["blk%d.mlp.%s.weight" % (n, w)] = "blocks.%d.%s.weight" % (n, w)
    copy_into(net, mapping, params, tensors)

    rng = np.random.default_rng(9)
    nd = m.contents.in_dim
    z = rng.normal(size=(B, nd)).astype(np.float32)
    labels = (np.arange(B) % 10).astype(np.int32)
    labels[2] = -1
    alpha = rng.uniform(1, 4, B).astype(np.float32)
    dout = rng.normal(size=(B, 784)).astype(np.float32)
    out = np.zeros((B, 784), np.float32)
    ok(lib.drift_model_forward(m, fp(z), labels.ctypes.data_as(IP), fp(alpha), B, fp(out)), "forward")
    lib.drift_model_zero_grad(m)
    ok(lib.drift_model_backward(m, fp(dout)), "backward")

    t_labels = torch.from_numpy(np.where(labels < 0, 10, labels).astype(np.int64))
    x = net(torch.from_numpy(z), t_labels, torch.from_numpy(alpha))
    x.backward(torch.from_numpy(dout).view(B, 1, 28, 28))
    what = "dit %s %s" % (size, over)
    err = np.abs(out - x.detach().numpy().reshape(B, 784)).max()
    check(err < 1e-4, "%s: output differs from torch by %.2g" % (what, err))
    compare_grads(net, mapping, grads, tensors, what)
    lib.drift_model_free(m)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.relu(self.conv2(h)).flatten(1)
        f = F.relu(self.fc1(h))
        return f, self.fc2(f)


def classifier():
    cfg = Config()
    ok(lib.drift_model_config_default(2, ctypes.byref(cfg)), "config")
    B = 9
    m, params, grads, tensors = create(cfg, B, 11)
    net = Classifier()
    mapping = {"%s.%s" % (l, p): "%s.%s" % (l, p)
               for l in ("conv1", "conv2", "fc1", "fc2") for p in ("weight", "bias")}
    copy_into(net, mapping, params, tensors)
    rng = np.random.default_rng(8)
    images = rng.uniform(-1, 1, (B, 784)).astype(np.float32)
    feats = np.zeros((B, 128), np.float32)
    logits = np.zeros((B, 10), np.float32)
    ok(lib.drift_model_features(m, fp(images), B, fp(feats), fp(logits)), "features")
    dlogits = rng.normal(size=(B, 10)).astype(np.float32)
    lib.drift_model_zero_grad(m)
    ok(lib.drift_model_backward(m, fp(dlogits)), "backward")
    f, z = net(torch.from_numpy(images).view(B, 1, 28, 28))
    z.backward(torch.from_numpy(dlogits))
    check(np.abs(feats - f.detach().numpy()).max() < 1e-4, "classifier features differ from torch")
    check(np.abs(logits - z.detach().numpy()).max() < 1e-4, "classifier logits differ from torch")
    compare_grads(net, mapping, grads, tensors, "classifier")
    lib.drift_model_free(m)


torch.manual_seed(0)
conv_generator(1, [64, 32])
conv_generator(2, [16, 16])
dit_generator("dit-t")
dit_generator("dit-t", patch=7, tokens=2, depth=2, dim=64, hidden=96, heads=2, style=8, style_vocab=5)
classifier()
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
