"""What include/drift/*.h declares: the public API that libdrift.so exports (and nothing else).
Shared by the tests in this directory; the build's own list comes from cmake/drift_exports.cmake,
this is an independent reading of the same headers."""
import os
import re

SOURCE = os.environ.get("DRIFT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
INCLUDE = os.path.join(SOURCE, "include", "drift")


def headers():
    return sorted(f for f in os.listdir(INCLUDE) if f.endswith(".h"))


def code_of(text):
    """The header without comments and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"^\s*#[^\n]*", "", text, flags=re.M)


def declared_functions():
    """{name: header} for every drift_* identifier followed by '(' in the headers' code."""
    out = {}
    for h in headers():
        with open(os.path.join(INCLUDE, h), encoding="utf-8") as f:
            for name in re.findall(r"\b(drift_[a-z0-9_]+)\s*\(", code_of(f.read())):
                out.setdefault(name, h)
    return out


def version():
    with open(os.path.join(INCLUDE, "version.h"), encoding="utf-8") as f:
        text = f.read()
    return tuple(int(re.search(r"#define DRIFT_VERSION_%s (\d+)" % k, text).group(1)) for k in ("MAJOR", "MINOR", "PATCH"))
