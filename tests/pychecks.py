"""Check counting for the Python tests, like tests/test.h: every check counts, the closing line
is "N passed, N failed", and summary() is the exit status (non-zero on any failure, or when no
check was made at all)."""
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
        """The exit status: non-zero on any failure, and when no check was made at all (a test
        that checked nothing cannot have passed)."""
        none = self.passed + self.failed == 0
        print("%d passed, %d failed%s" % (self.passed, self.failed, " (no checks made: a failure)" if none else ""))
        return 1 if self.failed or none else 0
