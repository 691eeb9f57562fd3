"""libdrift.so exports exactly the functions declared in include/drift/*.h, all named drift_*;
its soname carries the version of drift/version.h; drift/drift.h includes every public header;
each public header compiles on its own (C11, -Wall -Wextra -pedantic -Werror) and drift.h in C++."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pychecks import Checks  # noqa: E402
import publicapi  # noqa: E402

c = Checks()
lib = os.environ.get("DRIFT_LIB", "build/libdrift.so")
clean_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, env=clean_env, **kw)


# ---- exported symbols
r = run("nm", "-D", "--defined-only", lib)
c.check(r.returncode == 0, "nm -D %s: %s" % (lib, r.stderr))
exported = set()
for line in r.stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] != "A":  # "A": a version node, not code or data
        exported.add(parts[2])
declared = publicapi.declared_functions()
c.check(len(exported) > 200, "libdrift.so exports the API (%d symbols)" % len(exported))
# Linker-made symbols some toolchains leave global; never code of ours.
allowed = {"_init", "_fini", "_edata", "_end", "__bss_start"}
stray = sorted(s for s in exported if not s.startswith("drift_") and s not in allowed)
c.check(not stray, "exported symbols without the drift_ prefix: %s" % stray)
undocumented = sorted(s for s in exported if s.startswith("drift_") and s not in declared)
c.check(not undocumented, "exported but in no public header: %s" % undocumented)
missing = sorted("%s (%s)" % (s, h) for s, h in declared.items() if s not in exported)
c.check(not missing, "declared in a public header but not exported (no definition?): %s" % missing)
for s in ["drift_version", "drift_version_string", "drift_field_compute", "drift_generate", "drift_last_error"]:
    c.check(s in exported, "%s exported" % s)

# ---- soname = libdrift.so.<major>.<minor> while major is 0, else libdrift.so.<major>
major, minor, patch = publicapi.version()
r = run("readelf", "-d", lib)
m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", r.stdout)
want = "libdrift.so.%d.%d" % (major, minor) if major == 0 else "libdrift.so.%d" % major
c.check(m is not None and m.group(1) == want, "soname %s, want %s" % (m and m.group(1), want))
c.check(os.path.basename(os.path.realpath(lib)) == "libdrift.so.%d.%d.%d" % (major, minor, patch),
        "library file %s is libdrift.so.%d.%d.%d" % (os.path.realpath(lib), major, minor, patch))

# ---- the umbrella header includes every public header
with open(os.path.join(publicapi.INCLUDE, "drift.h"), encoding="utf-8") as f:
    umbrella = set(re.findall(r'#include\s+"drift/([a-z0-9_]+\.h)"', f.read()))
for h in publicapi.headers():
    if h != "drift.h":
        c.check(h in umbrella, "drift/drift.h includes drift/%s" % h)

# ---- headers compile alone, and together in C and C++
cc = os.environ.get("DRIFT_CC") or shutil.which("cc") or "cc"
inc = os.path.join(publicapi.SOURCE, "include")
with tempfile.TemporaryDirectory() as tmp:
    for h in publicapi.headers():
        src = os.path.join(tmp, "h.c")
        with open(src, "w") as f:
            f.write('#include "drift/%s"\n#include "drift/%s"\nint main(void) { return 0; }\n' % (h, h))
        r = run(cc, "-std=c11", "-Wall", "-Wextra", "-pedantic", "-Werror", "-I" + inc, "-fsyntax-only", src)
        c.check(r.returncode == 0, "drift/%s compiles on its own (and twice): %s" % (h, r.stderr.strip()))
    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx:
        src = os.path.join(tmp, "h.cc")
        with open(src, "w") as f:
            f.write('#include "drift/drift.h"\nint main() { return drift_version() == DRIFT_VERSION ? 0 : 1; }\n')
        r = run(cxx, "-Wall", "-Wextra", "-Werror", "-I" + inc, "-fsyntax-only", src)
        c.check(r.returncode == 0, "drift/drift.h compiles as C++: %s" % r.stderr.strip())
    else:
        print("note: no C++ compiler, drift.h not compiled as C++")

sys.exit(c.summary())
