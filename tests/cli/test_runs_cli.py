"""`drift train` run directories and configuration (issue 14): a new run refuses a non-empty --out
unless --overwrite (which deletes only drift's own files) or --resume; best.safetensors beside the
last checkpoint, chosen by the lowest evaluation score and kept across a resume; config.json and
`drift info CKPT`; --config FILE (the command line wins); --init-from (weights and EMA of a
checkpoint, a fresh optimizer and step count); on/off spellings; --help shows every default; the
global --threads; curl's renamed options."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pychecks import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
t = Checks()


SANITIZE = os.environ.get("DRIFT_SANITIZE") in ("1", "ON", "TRUE")  # several times slower: fewer runs
ENV = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))  # no restart per run


def drift(*args, cwd=None):
    return subprocess.run([os.path.abspath(BIN), *args], capture_output=True, text=True, cwd=cwd, env=ENV)


TOY = ["--data", "two_mode", "--preset", "quick", "--n-pos", "32", "--n-neg", "32", "--width", "16",
       "--log-every", "5", "--sample-every", "0", "--eval-n", "64"]


def metrics(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [json.loads(l) for l in f]


def tensor(path, name):
    """A float32 tensor of a safetensors file."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        head = json.loads(f.read(n))
        b, e = head[name]["data_offsets"]
        f.seek(8 + n + b)
        return np.frombuffer(f.read(e - b), dtype=np.float32)


with tempfile.TemporaryDirectory() as tmp:
    run = os.path.join(tmp, "r")
    r = drift("train", *TOY, "--steps", "20", "--eval-every", "5", "--out", run)
    t.check(r.returncode == 0, f"first run: {r.stderr}")
    files = set(os.listdir(run))
    t.check({"config.json", "checkpoint.safetensors", "best.safetensors", "metrics.jsonl"} <= files, f"files: {files}")
    t.check(os.path.realpath(run) in r.stderr, "the banner names the absolute run directory")
    # best.safetensors holds the state of the lowest MMD² (toy data) among the evaluations
    ms = [m for m in metrics(run) if "toy_mmd2" in m]
    t.check(len(ms) == 4, f"4 evaluations: {len(ms)}")
    best_step = min(ms, key=lambda m: m["toy_mmd2"])["step"]
    st = tensor(os.path.join(run, "best.safetensors"), "state")
    state = np.frombuffer(st.tobytes(), dtype=np.int64)
    t.check(state[0] == best_step, f"best.safetensors is step {state[0]}, the lowest MMD² is at {best_step}")
    t.check(f"best so far: {run}/best.safetensors" in r.stderr, "the run says when it writes best.safetensors")

    # config.json: every option, typed; drift info CKPT prints the same configuration
    cfg = json.load(open(os.path.join(run, "config.json")))
    t.check(cfg["steps"] == 20 and cfg["n-pos"] == 32 and cfg["tau"] == [0.05] and cfg["feature-norm"] is False,
            f"config.json: {cfg}")
    r = drift("info", os.path.join(run, "checkpoint.safetensors"), "--json")
    t.check(r.returncode == 0, f"drift info CKPT: {r.stderr}")
    info = json.loads(r.stdout) if r.returncode == 0 else {}
    t.check(info.get("config") == cfg and info.get("step") == 20, "drift info CKPT --json == config.json")
    r = drift("info", os.path.join(run, "checkpoint.safetensors"))
    t.check(r.returncode == 0 and "n-pos              32" in r.stdout and "step:       20 of 20" in r.stdout,
            f"drift info CKPT text: {r.stdout[:300]}")

    # a non-empty --out is refused in one line, and nothing in it changes
    before = {f: os.path.getmtime(os.path.join(run, f)) for f in os.listdir(run)}
    r = drift("train", *TOY, "--steps", "5", "--out", run)
    t.check(r.returncode == 2 and r.stderr.count("\n") == 1 and "not empty" in r.stderr and "--overwrite" in r.stderr,
            f"non-empty --out refused: {r.returncode} {r.stderr!r}")
    t.check({f: os.path.getmtime(os.path.join(run, f)) for f in os.listdir(run)} == before, "refusal touched nothing")
    # --overwrite with a file drift did not write: refused, nothing deleted
    with open(os.path.join(run, "notes.txt"), "w") as f:
        f.write("mine")
    r = drift("train", *TOY, "--steps", "5", "--out", run, "--overwrite")
    t.check(r.returncode == 2 and "notes.txt" in r.stderr and os.path.exists(os.path.join(run, "best.safetensors")),
            f"--overwrite refuses unknown files: {r.stderr!r}")
    os.remove(os.path.join(run, "notes.txt"))
    # --overwrite: the old run's grids and best checkpoint are gone, the new run is alone
    with open(os.path.join(run, "samples_000999.png"), "wb") as f:
        f.write(b"old grid")
    r = drift("train", *TOY, "--steps", "5", "--eval-every", "-1", "--out", run, "--overwrite")
    t.check(r.returncode == 0 and "--overwrite: removed" in r.stderr, f"--overwrite: {r.stderr[-300:]}")
    left = set(os.listdir(run))
    t.check("samples_000999.png" not in left and "best.safetensors" not in left, f"old files removed: {left}")
    t.check([m["step"] for m in metrics(run)][-1] == 5, "the new run's metrics only")

    # resume keeps the best of the kept metrics: a later, worse evaluation does not replace it
    # (run2's checkpoint is also what --init-from starts from below)
    run2 = os.path.join(tmp, "r2")
    r = drift("train", *TOY, "--steps", "10", "--eval-every", "5", "--out", run2)
    t.check(r.returncode == 0, f"run2: {r.stderr}")
    best0 = tensor(os.path.join(run2, "best.safetensors"), "params").copy()
    r = drift("train", "--resume", os.path.join(run2, "checkpoint.safetensors"), "--steps", "14" if SANITIZE else "20")
    t.check(r.returncode == 0, f"resume: {r.stderr}")
    ms = [m for m in metrics(run2) if "toy_mmd2" in m]
    best_step = min(ms, key=lambda m: m["toy_mmd2"])["step"]
    st = np.frombuffer(tensor(os.path.join(run2, "best.safetensors"), "state").tobytes(), dtype=np.int64)
    t.check(st[0] == best_step, f"after resume, best is step {st[0]}, lowest MMD² at {best_step}")
    if best_step <= 10:
        t.check(np.array_equal(best0, tensor(os.path.join(run2, "best.safetensors"), "params")), "best kept")

    # --config: a JSON object of options; the command line overrides it
    conf = os.path.join(tmp, "c.json")
    with open(conf, "w") as f:
        json.dump({"data": "two_mode", "preset": "quick", "steps": 9, "n_pos": 32, "n-neg": 32, "width": 16,
                   "tau": [0.05, 0.2], "drift-norm": True, "sample-every": 0, "eval-every": -1}, f)
    run3 = os.path.join(tmp, "r3")
    r = drift("train", "--config", conf, "--steps", "6", "--out", run3, "--quiet")
    c3 = json.load(open(os.path.join(run3, "config.json"))) if r.returncode == 0 else {}
    t.check(r.returncode == 0 and c3.get("steps") == 6 and c3.get("tau") == [0.05, 0.2] and c3.get("drift-norm") is True
            and c3.get("n-pos") == 32, f"--config + override: {r.stderr} {c3}")
    # a run's config.json is itself a --config (with another --out)
    r = drift("train", "--config", os.path.join(run3, "config.json"), "--out", os.path.join(tmp, "r3b"), "--quiet",
              *(["--steps", "6"] if SANITIZE else []))
    c3b = json.load(open(os.path.join(tmp, "r3b", "config.json"))) if r.returncode == 0 else {}
    c3b.pop("out", None)
    c3.pop("out", None)
    t.check(r.returncode == 0 and c3b == c3, f"config.json round trip: {r.stderr}")
    with open(conf, "w") as f:
        json.dump({"data": "two_mode", "stpes": 9}, f)
    r = drift("train", "--config", conf, "--out", os.path.join(tmp, "bad"))
    t.check(r.returncode == 2 and "stpes" in r.stderr and r.stderr.count("\n") == 1, f"unknown key: {r.stderr!r}")

    # --init-from: weights and EMA from the checkpoint, step 0, fresh AdamW, new options
    src = os.path.join(run2, "checkpoint.safetensors")
    run4 = os.path.join(tmp, "r4")
    r = drift("train", "--init-from", src, "--steps", "1", "--lr", "0.0002", "--eval-every", "-1", "--out", run4)
    t.check(r.returncode == 0 and "fine-tuning" in r.stderr, f"--init-from: {r.stderr}")
    ck4 = os.path.join(run4, "checkpoint.safetensors")
    if r.returncode == 0:
        st = np.frombuffer(tensor(ck4, "state").tobytes(), dtype=np.int64)
        t.check(st[0] == 1 and st[1] == 1, f"fresh step and AdamW counts: {st}")
        c4 = json.load(open(os.path.join(run4, "config.json")))
        t.check(c4["lr"] == 0.0002 and c4["n-pos"] == 32 and c4["steps"] == 1, f"new options on the old ones: {c4}")
        # one AdamW step from the checkpoint's weights: small, not a fresh initialisation
        p0, p1 = tensor(src, "params"), tensor(ck4, "params")
        t.check(np.max(np.abs(p1 - p0)) <= 0.0002 * 1.5 + 1e-7, f"one step from the old weights: {np.max(np.abs(p1 - p0))}")
    r = drift("train", "--init-from", src, "--width", "32", "--out", os.path.join(tmp, "r5"))
    t.check(r.returncode != 0 and "must match" in r.stderr, f"another generator refused: {r.stderr}")

    # on/off: 0|1, the aliases, and the bare flag mean the same; bad values refused
    spellings = [["--drift-norm", "1"], ["--drift-norm=yes"], ["--drift-norm"], ["--drift-norm", "true"]]
    if os.environ.get("DRIFT_SANITIZE") in ("1", "ON", "TRUE"):
        spellings = spellings[1:3]  # the sanitizer build: the two that differ most from 0|1
    for spelling in spellings:
        d = os.path.join(tmp, "b" + str(abs(hash(tuple(spelling)))))
        r = drift("train", *TOY, "--steps", "1", "--eval-every", "-1", *spelling, "--out", d, "--quiet")
        ok = r.returncode == 0 and json.load(open(os.path.join(d, "config.json")))["drift-norm"] is True
        t.check(ok, f"{spelling}: {r.stderr}")
    r = drift("train", *TOY, "--drift-norm", "maybe", "--out", os.path.join(tmp, "x"))
    t.check(r.returncode == 2 and "0 or 1" in r.stderr, f"bad on/off: {r.stderr}")

    # --help shows every option's default (for the dataset given)
    r = drift("train", "--help")
    opts = [l for l in r.stdout.splitlines() if l.startswith("  --") and l.split()[0] not in
            ("--preset", "--config", "--resume", "--init-from", "--overwrite", "--quiet", "--help")]
    t.check(len(opts) > 40 and all("[default: " in l for l in opts), "every training option shows its default")
    t.check("--steps N" in r.stdout and "[default: 4000]" in r.stdout and "9,000" in r.stdout, "image defaults, mnist subset")
    r = drift("train", "--data", "swiss_roll", "--preset", "quick", "--help")
    t.check(any(l.strip().startswith("--steps") and "[default: 4000]" in l for l in r.stdout.splitlines())
            and "--data swiss_roll --preset quick" in r.stdout, "toy quick defaults")

    # --threads: a global option (eval, curl, particles, study did not take it)
    r = drift("study", "--help")
    t.check("--threads T" in r.stdout, "study --help lists --threads")
    r = drift("curl", "--families", "deng", "--kernels", "laplace", "--probes", "4", "--threads", "1", "--json")
    t.check(r.returncode == 0, f"curl --threads: {r.stderr}")
    r = drift("curl", "--help")
    t.check("--threads T" in r.stdout and "--png FIG.png" in r.stdout and "--grid-points N" in r.stdout,
            "curl --help: --threads, --png, --grid-points")
    png = os.path.join(tmp, "c.png")
    r = drift("curl", "--families", "deng", "--kernels", "laplace", "--probes", "4", "--grid", "11", "--out", png)
    t.check(r.returncode == 0 and os.path.exists(png) and "--out is deprecated; it is now --png" in r.stderr,
            f"curl's old spellings still work, with a note: {r.stderr}")

# the wait policy: drift's choice (forced here with DRIFT_WAIT_POLICY, as a busy machine would make
# it) takes effect through a restart and is reported; one the user set is kept and reported as theirs
def info_json(**env):
    e = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "DRIFT_WAIT_POLICY", "DRIFT_WAIT_CHOSEN")}
    e.update(env)
    r = subprocess.run([os.path.abspath(BIN), "info", "--probe-seconds", "0", "--json"], capture_output=True,
                       text=True, env=e)
    return json.loads(r.stdout) if r.returncode == 0 else {}


j = info_json(DRIFT_WAIT_POLICY="passive")
t.check(j.get("omp_wait_policy") == "passive" and j.get("omp_wait_policy_chosen_by_drift") == "DRIFT_WAIT_POLICY=passive",
        f"drift chooses passive (restart): {j.get('omp_wait_policy')} {j.get('omp_wait_policy_chosen_by_drift')}")
j = info_json(OMP_WAIT_POLICY="active", DRIFT_WAIT_POLICY="passive")
t.check(j.get("omp_wait_policy") == "active" and j.get("omp_wait_policy_chosen_by_drift") is None,
        f"the user's policy is kept: {j.get('omp_wait_policy')} {j.get('omp_wait_policy_chosen_by_drift')}")

sys.exit(t.summary())
