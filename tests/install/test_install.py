"""cmake --install into a temporary prefix, then build examples/field.c and examples/sample.c the
way a user would, `cc prog.c $(pkg-config --cflags --libs drift)`: against libdrift.so, and with
--static against libdrift.a alone (a copy of the prefix without the shared library); field.c also
from a CMake project with find_package(drift) (drift::drift and drift::static). Runs both,
checks the field against NumPy and the samples against `drift sample` from the installed CLI
(trained here for a few steps on a toy). In a sanitizer build the examples are compiled with
-fsanitize=address,undefined too (the installed library needs its runtime) and leaks are checked."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from pychecks import Checks  # noqa: E402
import publicapi  # noqa: E402

c = Checks()
SOURCE = publicapi.SOURCE
BUILD = os.environ.get("DRIFT_BUILD_DIR", os.path.join(SOURCE, "build"))
CC = os.environ.get("DRIFT_CC") or shutil.which("cc") or "cc"
SANITIZE = os.environ.get("DRIFT_SANITIZE", "0") == "1"
PKG_CONFIG = shutil.which("pkg-config") or shutil.which("pkgconf")
CMAKE = shutil.which("cmake")
if not PKG_CONFIG or not CMAKE:
    print("skipped: needs pkg-config and cmake on PATH (scripts/setup installs both)")
    sys.exit(0)

# Tools run without the Python test's sanitizer preload; the examples carry their own runtime.
base_env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PKG_CONFIG_PATH", "LD_LIBRARY_PATH")}
if SANITIZE:
    base_env["ASAN_OPTIONS"] = "detect_leaks=1"
major, minor, patch = publicapi.version()
version = "%d.%d.%d" % (major, minor, patch)


def run(cmd, env=None, **kw):
    e = dict(base_env)
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, env=e, **kw)


def libdir_of(prefix):
    """CMAKE_INSTALL_LIBDIR: lib, or lib/<multiarch> for a build configured with prefix /usr."""
    for root, _, files in os.walk(prefix):
        if "libdrift.a" in files:
            return os.path.relpath(root, prefix)
    return "lib"


def pkg(prefix, *args):
    env = {"PKG_CONFIG_PATH": os.path.join(prefix, libdir_of(prefix), "pkgconfig")}
    r = run([PKG_CONFIG, "--define-variable=prefix=" + prefix, *args, "drift"], env)
    c.check(r.returncode == 0, "pkg-config %s: %s" % (" ".join(args), r.stderr))
    return r.stdout.split()


def needed(exe):
    r = run(["readelf", "-d", exe])
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)


def build(prefix, name, static, out):
    flags = pkg(prefix, "--cflags") + pkg(prefix, *(["--static"] if static else []), "--libs")
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"] if SANITIZE else []
    cmd = [CC, "-std=c11", "-Wall", "-Wextra", "-Werror", *san, os.path.join(SOURCE, "examples", name + ".c"),
           "-o", out, *flags]
    r = run(cmd)
    c.check(r.returncode == 0, "%s (%s) builds: %s\n%s" % (name, "static" if static else "shared", " ".join(cmd), r.stderr))
    return r.returncode == 0


def field_reference(x, pos, taus):
    """sharp field, laplace kernel, negatives = the queries without their own row, summed over τ."""
    def side(xi, ys, tau):
        r = np.linalg.norm(ys - xi, axis=1)
        k = np.exp(-r / tau)
        ksharp = tau * (r + tau) * np.exp(-r / tau)
        return (k[:, None] * (ys - xi)).sum(0) / ksharp.sum()
    v = np.zeros_like(x)
    for i, xi in enumerate(x):
        negs = np.delete(x, i, axis=0)
        for tau in taus:
            v[i] += side(xi, pos, tau) - side(xi, negs, tau)
    return v


with tempfile.TemporaryDirectory() as tmp:
    prefix = os.path.join(tmp, "prefix")
    r = run([CMAKE, "--install", BUILD, "--prefix", prefix])
    c.check(r.returncode == 0, "cmake --install %s: %s" % (BUILD, r.stderr))
    libdir = libdir_of(prefix)
    lib = os.path.join(prefix, libdir)
    so_full = "libdrift.so." + version
    so_name = "libdrift.so.%d.%d" % (major, minor) if major == 0 else "libdrift.so.%d" % major
    for rel in ["include/drift/drift.h", "include/drift/version.h", "include/drift/field.h", libdir + "/libdrift.a",
                libdir + "/" + so_full, libdir + "/pkgconfig/drift.pc", libdir + "/cmake/drift/drift-config.cmake",
                "bin/drift"]:
        c.check(os.path.isfile(os.path.join(prefix, rel)), "installed %s" % rel)
    c.check(os.path.realpath(os.path.join(lib, "libdrift.so")) == os.path.join(os.path.realpath(lib), so_full),
            "libdrift.so -> %s" % so_full)
    c.check(os.path.realpath(os.path.join(lib, so_name)) == os.path.join(os.path.realpath(lib), so_full),
            "%s -> %s" % (so_name, so_full))
    c.check(not any(f.endswith(".h") and f not in publicapi.headers() for f in os.listdir(os.path.join(prefix, "include", "drift"))),
            "only public headers installed")
    with open(os.path.join(lib, "pkgconfig", "drift.pc")) as f:
        pc = f.read()
    c.check("prefix=%s\n" % prefix in pc, "drift.pc names the install prefix:\n" + pc)
    c.check(pkg(prefix, "--modversion") == [version], "pkg-config --modversion drift = %s" % version)
    cflags = pkg(prefix, "--cflags")
    c.check(not any(f.startswith(("-march", "-mtune", "-O", "-f")) for f in cflags),
            "no build flags leak into --cflags: %s" % cflags)
    static_libs = pkg(prefix, "--static", "--libs")
    for want in ["-ldrift", "-lopenblas", "-llapacke", "-lz", "-lm"]:
        c.check(want in static_libs, "--static --libs has %s: %s" % (want, static_libs))

    # The static prefix: the same install without the shared library, so -ldrift is libdrift.a.
    sprefix = os.path.join(tmp, "static-prefix")
    shutil.copytree(prefix, sprefix, symlinks=True)
    for f in os.listdir(os.path.join(sprefix, libdir)):
        if f.startswith("libdrift.so"):
            os.remove(os.path.join(sprefix, libdir, f))

    exes = {}
    for static in (False, True):
        kind = "static" if static else "shared"
        for name in ("field", "sample"):
            out = os.path.join(tmp, "%s-%s" % (name, kind))
            if build(sprefix if static else prefix, name, static, out):
                exes[name, kind] = out
                deps = needed(out)
                if static:
                    c.check(not any(d.startswith("libdrift") for d in deps), "%s links no libdrift.so: %s" % (out, deps))
                else:
                    c.check(so_name in deps, "%s needs %s: %s" % (out, so_name, deps))
    run_env = {"LD_LIBRARY_PATH": lib}

    # examples/field.c against NumPy
    x = np.array([[0, 0], [1, 0], [0, 1], [-1, -1]], dtype=np.float64)
    pos = np.array([[2, 2], [2.5, 1.5], [1.5, 2.5], [-2, 2], [2, -2], [3, 3]], dtype=np.float64)
    want_v = field_reference(x, pos, [0.5, 2.0])
    outputs = {}
    for kind in ("shared", "static"):
        exe = exes.get(("field", kind))
        if not exe:
            continue
        r = run([exe], run_env if kind == "shared" else None)
        c.check(r.returncode == 0, "field (%s) runs: %s" % (kind, r.stderr))
        outputs[kind] = r.stdout
        lines = r.stdout.splitlines()
        c.check(bool(lines) and lines[0].startswith("libdrift %s (headers %s)" % (version, version)),
                "field (%s) reports the versions: %r" % (kind, lines[:1]))
        rows = [re.search(r"V = \(\s*(\S+),\s*(\S+)\)", l) for l in lines if "V = (" in l]
        got = np.array([[float(m.group(1)), float(m.group(2))] for m in rows if m])
        c.check(got.shape == want_v.shape and np.allclose(got, want_v, rtol=1e-4, atol=2e-5),
                "field (%s) = NumPy's sharp/laplace field:\n%s\nvs\n%s" % (kind, got, want_v))
    if len(outputs) == 2:
        c.check(outputs["shared"] == outputs["static"], "field: shared and static print the same")

    # CMake users: find_package(drift) and the imported targets drift::drift / drift::static
    proj = os.path.join(tmp, "use-cmake")
    os.makedirs(proj)
    with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
        f.write("cmake_minimum_required(VERSION 3.16)\nproject(use_drift C)\n"
                "find_package(drift %d.%d REQUIRED)\n" % (major, minor) +
                "add_executable(field_shared ${EXAMPLE})\ntarget_link_libraries(field_shared PRIVATE drift::drift)\n"
                "add_executable(field_static ${EXAMPLE})\ntarget_link_libraries(field_static PRIVATE drift::static)\n")
    san = "-fsanitize=address,undefined -fno-omit-frame-pointer" if SANITIZE else ""
    r = run([CMAKE, "-S", proj, "-B", os.path.join(proj, "b"), "-DCMAKE_PREFIX_PATH=" + prefix,
             "-DEXAMPLE=" + os.path.join(SOURCE, "examples", "field.c"), "-DCMAKE_C_FLAGS=" + san,
             "-DCMAKE_EXE_LINKER_FLAGS=" + san])
    c.check(r.returncode == 0, "find_package(drift): %s%s" % (r.stdout, r.stderr))
    if r.returncode == 0:
        r = run([CMAKE, "--build", os.path.join(proj, "b")])
        c.check(r.returncode == 0, "CMake build against drift::drift and drift::static: %s%s" % (r.stdout, r.stderr))
    for kind in ("shared", "static"):
        exe = os.path.join(proj, "b", "field_" + kind)
        if os.path.isfile(exe):
            r = run([exe])
            c.check(r.returncode == 0 and r.stdout == outputs.get("shared"), "CMake-built field (%s) prints what the "
                    "pkg-config one does:\n%s%s" % (kind, r.stdout, r.stderr))
            deps = needed(exe)
            c.check((so_name in deps) == (kind == "shared"), "CMake-built field (%s) needs %s" % (kind, deps))

    # examples/sample.c against `drift sample` from the installed CLI
    drift = os.path.join(prefix, "bin", "drift")
    runs = os.path.join(tmp, "run")
    r = run([drift, "train", "--data", "two_mode", "--preset", "quick", "--steps", "20", "--n-pos", "64",
             "--n-neg", "64", "--width", "32", "--log-every", "10", "--sample-every", "0", "--eval-every", "0",
             "--ckpt-every", "20", "--quiet", "--out", runs])
    ckpt = os.path.join(runs, "checkpoint.safetensors")
    c.check(r.returncode == 0 and os.path.isfile(ckpt), "installed drift trains a toy: %s" % r.stderr)
    if os.path.isfile(ckpt):
        ref = os.path.join(tmp, "cli.npy")
        r = run([drift, "sample", "--ckpt", ckpt, "--n", "300", "--seed", "7", "--out", ref])
        c.check(r.returncode == 0, "drift sample: %s" % r.stderr)
        for kind in ("shared", "static"):
            exe = exes.get(("sample", kind))
            if not exe:
                continue
            out = os.path.join(tmp, "sample-%s.npy" % kind)
            r = run([exe, ckpt, "300", out, "7"], run_env if kind == "shared" else None)
            c.check(r.returncode == 0 and "300 samples of dimension 2 from a mlp generator (step 20)" in r.stdout,
                    "sample (%s) runs: %s%s" % (kind, r.stdout, r.stderr))
            if r.returncode == 0 and os.path.isfile(ref):
                a, b = np.load(out), np.load(ref)
                c.check(a.dtype == np.float32 and a.shape == (300, 2), "sample (%s) wrote %s %s" % (kind, a.dtype, a.shape))
                c.check(np.array_equal(a, b), "sample (%s) = drift sample, max diff %g" % (kind, np.abs(a - b).max()))
        r = run([exes.get(("sample", "shared"), "/bin/false"), os.path.join(tmp, "nothing.safetensors"), "5",
                 os.path.join(tmp, "x.npy")], run_env)
        c.check(r.returncode == 1 and "nothing.safetensors" in r.stderr, "sample reports a missing checkpoint: %s" % r.stderr)

sys.exit(c.summary())
