"""drift eval reads only the samples it scores: its peak memory (max RSS of the process) stays far
below the size of a large samples file when --n asks for a few rows.

The file is sparse: a header declaring tens of millions of rows and the data as a hole (zeros),
so it costs no disk and no time to make, yet reading it whole (what drift eval did) takes its full
size in memory. Toy samples (n, 2) for the toy metrics; (n, 28, 28) images for the image path when
Fashion-MNIST is installed (that part stops after loading: the classifier may be missing, so
--no-train; only the memory is checked there)."""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pychecks import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
t = Checks()


def sparse_npy(path, shape, first_rows):
    """An .npy of float32 `shape` whose first rows are `first_rows` and the rest a hole."""
    np.save(path, first_rows.astype(np.float32))
    with open(path, "rb") as f:
        raw = f.read()
    hlen = int.from_bytes(raw[8:10], "little")
    header = raw[10:10 + hlen].decode("latin1")
    old = "(%s)" % ", ".join(str(s) for s in first_rows.shape)
    new = "(%s)" % ", ".join(str(s) for s in shape)
    header = header.replace(old, new).rstrip("\n").rstrip(" ")
    header = header + " " * ((-(10 + len(header) + 1)) % 64) + "\n"
    data = raw[10 + hlen:]
    with open(path, "wb") as f:
        f.write(raw[:8] + len(header).to_bytes(2, "little") + header.encode("latin1") + data)
    total = 10 + len(header) + int(np.prod(shape)) * 4
    os.truncate(path, total)
    return total


def run_rss(args):
    """Exit status, stderr and max RSS in MiB of `drift args`."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen([BIN, *args], stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), err.read().decode(errors="replace"), ru.ru_maxrss / 1024


with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(3)
    toy = os.path.join(tmp, "toy.npy")
    size = sparse_npy(toy, (100_000_000, 2), rng.normal(size=(3000, 2)))  # 800 MB declared
    rc, err, rss = run_rss(["eval", "--samples", toy, "--data", "swiss_roll", "--n", "2000", "--json"])
    t.check(rc == 0, f"drift eval on the first 2000 of 1e8 toy rows: {err[-300:]}")
    t.check(rss < 200, f"max RSS {rss:.0f} MiB for 2000 rows of an {size / 2**20:.0f} MiB file (< 200 expected)")
    print(f"toy: max RSS {rss:.0f} MiB, file {size / 2**20:.0f} MiB", file=sys.stderr)

    # rows used must all be there; what follows them need not be
    rc, err, _ = run_rss(["eval", "--samples", toy, "--data", "swiss_roll", "--n", "2000"])
    t.check(rc == 0, "the hole after the rows used is not read")

    img = os.path.join(tmp, "img.npy")
    size = sparse_npy(img, (500_000, 28, 28), rng.uniform(-1, 1, size=(300, 28, 28)))  # 1.5 GB declared
    rc, err, rss = run_rss(["eval", "--samples", img, "--data", "fashion-mnist", "--n", "300", "--no-train",
                            "--classifier", os.path.join(tmp, "no-such-classifier.bin")])
    if "not found" in err and "Fashion-MNIST" in err:
        print("Fashion-MNIST not installed: image path not checked", file=sys.stderr)
    else:
        t.check(rss < 300, f"image samples: max RSS {rss:.0f} MiB for 300 rows of a {size / 2**20:.0f} MiB file "
                           f"(< 300 expected); stderr: {err[-300:]}")
        print(f"images: max RSS {rss:.0f} MiB, file {size / 2**20:.0f} MiB (exit {rc})", file=sys.stderr)

sys.exit(t.summary())
