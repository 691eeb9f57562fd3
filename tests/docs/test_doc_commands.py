"""Every `drift ...` command written in README.md and docs/*.md is run, so the docs cannot drift from
the program (issue 14).

What counts as a command: a line of a fenced code block that starts with `drift`, `build/drift` or
`mpirun ... drift` (a trailing `# comment` dropped, `[optional parts]` dropped), and an inline code
span that starts with `drift ` and gives at least one option. Each one is run

- as a dry run (DRIFT_DRY_RUN=1, in the source tree): the command parses and checks its options
  (drift train resolves its whole configuration) and does nothing. An unknown or renamed option, a
  bad value, a missing required option fails here;
- and, for the commands in REAL below (cheap ones whose output the docs describe), for real in a
  scratch directory.

Commands continued with a trailing backslash are joined. Patterns are left out: commands of a shell
loop (`$d`), and commands whose dry run fails on a placeholder value (CKPT, N, `...`; an inline
mention with a placeholder, `drift train --eval-every K`, whatever its failure) — a command
with placeholders that parses (X.npy as a file name) is still checked; SKIP lists the rest, each
with its reason. The test fails if a command fails, and also if it finds fewer commands
than it should (the extraction itself must not silently break)."""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import struct
import tempfile
import zlib

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pychecks import Checks  # noqa: E402

BIN = os.path.abspath(os.environ.get("DRIFT_BIN", "build/drift"))
SRC = os.environ.get("DRIFT_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
t = Checks()

# Run for real (besides the dry run): fast, no data or checkpoints needed. The value: what makes
# them fast enough for the suite (appended to the command; the docs' own options come first, so
# these only shrink sizes the docs leave at their defaults).
REAL = {
    ("curl",): ["--probes", "8", "--grid-points", "21"],
    ("info",): ["--probe-seconds", "0"],
}
# Not run even dry, with the reason.
SKIP = {
    "drift <command> [options]": "the usage pattern",
    "drift sample --n n --seed s": "docs/PYTHON.md: the CLI equivalent of a Python call, n and s its arguments",
}
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*(?:\.[a-z]+)?|[A-Z]+/\S*|\S*\.\.\.\S*|<[^>]+>)$")


def commands():
    """(file, line number, command text, inline?) of every drift command in the docs."""
    out = []
    files = [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
    for path in files:
        fence = False
        held = ""
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.lstrip().startswith("```"):
                    fence = not fence
                    held = ""
                    continue
                if fence:
                    if line.rstrip().endswith("\\"):  # a command continued on the next line
                        held += line.rstrip()[:-1] + " "
                        continue
                    line, held = held + line, ""
                    cmd = line.split(" #")[0].strip()
                    if re.match(r"^(?:mpirun\b.*?\s)?(?:build/)?drift\s", cmd):
                        out.append((os.path.relpath(path, SRC), n, cmd, False))
                else:
                    for m in re.finditer(r"`((?:build/)?drift [^`]*--[^`]*)`", line):
                        out.append((os.path.relpath(path, SRC), n, m.group(1).strip(), True))
    return out


def argv_of(cmd):
    """The drift arguments of a command line: mpirun and its options dropped, [optional] parts
    dropped, shell chains cut at && or |."""
    cmd = re.sub(r"\[[^\]]*\]", " ", cmd)
    cmd = re.split(r"\s(?:&&|\|\||\||;)\s", cmd)[0]
    try:
        words = shlex.split(cmd)
    except ValueError:
        return None
    for i, w in enumerate(words):
        if w in ("drift", "build/drift") or w.endswith("/drift"):
            return words[i + 1:]
    return None


def known_commands():
    r = subprocess.run([BIN, "--help"], capture_output=True, text=True)
    return {m.group(1) for m in re.finditer(r"^  ([a-z]+)  ", r.stdout, re.M)}


KNOWN = known_commands()
t.check({"train", "sample", "eval", "curl", "info"} <= KNOWN, f"drift --help lists the commands: {KNOWN}")

# The dry runs' directory: the source tree's entries (studies/, data/, docs/, ...) linked in, and a
# runs/ whose run directories hold a real 1-step toy run's files, so that --config, --resume,
# --ckpt, --init-from and drift info of runs/NAME/... find a config.json and checkpoints.
scratch = tempfile.TemporaryDirectory()
for name in os.listdir(SRC):
    if name not in ("runs", ".git") and not name.startswith("build"):
        os.symlink(os.path.join(SRC, name), os.path.join(scratch.name, name))
proto = os.path.join(scratch.name, ".proto")
r = subprocess.run([BIN, "train", "--data", "swiss_roll", "--preset", "quick", "--steps", "2", "--n-pos", "16",
                    "--n-neg", "16", "--width", "8", "--eval-every", "0", "--eval-n", "32", "--sample-every", "0",
                    "--out", proto, "--quiet"], capture_output=True, text=True)
t.check(r.returncode == 0, f"a toy run to stand in for the docs' run directories: {r.stderr}")


def provide_runs(args):
    """runs/NAME/(config.json|*.safetensors) named by the command: a copy of the toy run."""
    for a in args:
        m = re.match(r"^runs/([^/]+)/(?:config\.json|checkpoint\.safetensors|best\.safetensors)$", a)
        d = m and os.path.join(scratch.name, "runs", m.group(1))
        if d and not os.path.exists(d):
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copytree(proto, d)


def write_png(path, img):
    """An 8-bit gray PNG (for stand-in PNG folders)."""
    h, w = img.shape
    raw = b"".join(b"\0" + bytes(img[y].astype(np.uint8)) for y in range(h))

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def provide_data(args):
    """Stand-ins for the user's own data the docs name (--data my.npy, an IDX file, a PNG folder,
    --labels, --ref): tiny random 28x28 images in 2 classes, so that the dry run can read the
    shape that chooses the recipe."""
    rng = np.random.default_rng(0)
    for i in range(len(args) - 1):
        if args[i] not in ("--data", "--labels", "--ref", "--ref-labels"):
            continue
        v = args[i + 1]
        dst = os.path.join(scratch.name, v)
        if os.path.exists(dst) or (args[i] == "--data" and "." not in v and "/" not in v and "ubyte" not in v):
            continue
        os.makedirs(os.path.dirname(dst.rstrip("/")) or ".", exist_ok=True)
        labels = args[i] in ("--labels", "--ref-labels")
        if v.endswith("/"):
            for c in range(2):
                os.makedirs(os.path.join(dst, str(c)), exist_ok=True)
                for k in range(16):
                    write_png(os.path.join(dst, str(c), f"{k}.png"), rng.integers(0, 256, (28, 28)))
        elif v.endswith(".npy"):
            np.save(dst, (np.arange(64) % 2).astype(np.int64) if labels else
                    rng.random((64, 28, 28), dtype=np.float32))
        elif "ubyte" in v:
            with open(dst, "wb") as f:
                if labels or "labels" in v:
                    f.write(struct.pack(">II", 0x801, 64) + bytes(np.arange(64) % 2))
                else:
                    f.write(struct.pack(">IIII", 0x803, 64, 28, 28) + bytes(rng.integers(0, 256, 64 * 784).astype(np.uint8)))


found = commands()
t.check(len(found) >= 60, f"found {len(found)} drift commands in README.md and docs/*.md (expected 60 or more)")
ran = dry = skipped = 0
# The sanitizer build (several times slower per process) checks every 4th command; the Release
# build checks them all. The wait policy is fixed so that no command restarts itself for it.
SANITIZE = os.environ.get("DRIFT_SANITIZE") in ("1", "ON", "TRUE")
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
for k, (path, n, cmd, inline) in enumerate(found):
    if SANITIZE and k % 4:
        continue
    where = f"{path}:{n}: {cmd}"
    if cmd in SKIP:
        skipped += 1
        continue
    args = argv_of(cmd)
    if not args or args[0] not in KNOWN:  # program output quoted in the docs ("drift eval: ...")
        skipped += 1
        continue
    if inline and len(args) == 2 and args[1].startswith("--") and "=" not in args[1]:
        skipped += 1  # an inline mention of an option (`drift sample --ckpt`), not a command
        continue
    if any("$" in a for a in args):  # a shell loop's variable: the command is a pattern
        skipped += 1
        continue
    values = [a for i, a in enumerate(args) if i > 0 and not a.startswith("-")]
    holders = [v for v in values if PLACEHOLDER.match(v)]
    env = dict(os.environ, DRIFT_DRY_RUN="1")
    provide_runs(args)
    provide_data(args)
    r = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=scratch.name, env=env, timeout=120)
    if r.returncode != 0 and holders and (inline or any(f"'{h}'" in r.stderr or h in r.stderr for h in holders)):
        skipped += 1  # a placeholder (CKPT, N, ...) where a real value is needed: a pattern, not a command
        continue
    dry += 1
    t.check(r.returncode == 0, f"{where}\n    dry run: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    extra = REAL.get(tuple(args[:1]))
    if extra is not None and r.returncode == 0 and not (len(args) > 1 and not args[1].startswith("-")):
        given = {a.split("=")[0] for a in args if a.startswith("--")}
        add = []
        for i in range(0, len(extra), 2):
            if extra[i] not in given:
                add += extra[i:i + 2]
        with tempfile.TemporaryDirectory() as tmp:
            for a in args:  # outputs into the scratch directory, with their folders
                if "/" in a and not a.startswith("-") and a.endswith((".png", ".npy", ".json", ".svg")):
                    os.makedirs(os.path.join(tmp, os.path.dirname(a)), exist_ok=True)
            r = subprocess.run([BIN, *args, *add], capture_output=True, text=True, cwd=tmp, timeout=300,
                               env=dict(os.environ, DRIFT_DRY_RUN="0"))
        ran += 1
        t.check(r.returncode == 0, f"{where}\n    run: exit {r.returncode}: {r.stderr.strip()[-400:]}")

print(f"{len(found)} commands: {dry} dry runs, {ran} real runs, {skipped} skipped (placeholders)")
t.check(dry >= (12 if SANITIZE else 50) and ran >= (1 if SANITIZE else 3), f"enough commands checked: {dry} dry, {ran} real")
sys.exit(t.summary())
