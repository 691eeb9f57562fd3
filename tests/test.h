/* test.h — the project's tiny test harness.
 *
 * A test file defines functions `static void test_xxx(void)` and a main that calls
 * RUN(test_xxx) for each, then returns TEST_SUMMARY(). Every CHECK counts: the closing
 * line is "N passed, N failed" (checks), and the exit code is non-zero on any failure.
 * A test function that makes no CHECK counts as a failure, and so does a file with no checks.
 */
#ifndef DRIFT_TEST_H
#define DRIFT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed_ = 0, test_failed_ = 0;
static const char *test_current_ = "";

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (cond) {                                                                     \
            test_passed_++;                                                             \
        } else {                                                                        \
            test_failed_++;                                                             \
            fprintf(stderr, "FAIL %s (%s:%d): %s\n", test_current_, __FILE__, __LINE__, \
                    #cond);                                                             \
        }                                                                               \
    } while (0)

#define CHECK_MSG(cond, ...)                                                            \
    do {                                                                                \
        if (cond) {                                                                     \
            test_passed_++;                                                             \
        } else {                                                                        \
            test_failed_++;                                                             \
            fprintf(stderr, "FAIL %s (%s:%d): %s: ", test_current_, __FILE__, __LINE__, \
                    #cond);                                                             \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
        }                                                                               \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                                   \
    do {                                                                                \
        double a_ = (double)(a), b_ = (double)(b);                                      \
        CHECK_MSG(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_), "%.10g vs %.10g", a_, b_); \
    } while (0)

/* A call that must succeed (status 0); prints the library's message otherwise. */
#define CHECK_OK(call)                                                                  \
    do {                                                                                \
        int st_ = (call);                                                               \
        CHECK_MSG(st_ == 0, "status %d: %s", st_, drift_last_error());                  \
    } while (0)

/* A whole file in memory, NUL-terminated (text can be used as a string); *len, when not NULL,
 * gets its size in bytes. NULL when it cannot be opened or read completely. Caller frees. */
static inline void *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (!b) return NULL;
    b[n] = 0;
    if (len) *len = (size_t)n;
    return b;
}

/* A test function that made no CHECK at all fails: it cannot have tested anything (a loop
 * that never ran, an early return, checks compiled out). */
#define RUN(fn)                                                                         \
    do {                                                                                \
        test_current_ = #fn;                                                            \
        int failed_before_ = test_failed_, checks_before_ = test_passed_ + test_failed_; \
        fn();                                                                           \
        if (test_passed_ + test_failed_ == checks_before_) {                            \
            test_failed_++;                                                             \
            fprintf(stderr, "FAIL %s: made no checks\n", #fn);                          \
        }                                                                               \
        fprintf(stderr, "%s %s\n", test_failed_ == failed_before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

#define TEST_SUMMARY()                                                                  \
    (printf("%d passed, %d failed%s\n", test_passed_, test_failed_,                      \
            test_passed_ + test_failed_ ? "" : " (no checks made: a failure)"),         \
     test_failed_ || !(test_passed_ + test_failed_) ? 1 : 0)

#endif
