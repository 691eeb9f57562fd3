"""Check counting for the Python tests, like tests/test.h: every check counts, the closing line
is "N passed, N failed", and summary() is the exit status (non-zero on any failure)."""
import sys


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL", what, file=sys.stderr)

    def close(self, got, want, rtol, atol, what):
        self.check(abs(got - want) <= atol + rtol * abs(want), "%s: %r vs %r" % (what, got, want))

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0
