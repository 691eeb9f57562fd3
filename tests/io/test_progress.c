/* Tests for the progress reporter with a fake clock: plain-line cadence (steps and
 * seconds), rate and ETA, in-place redraw throttling, truncation to the width. */
#include <unistd.h>

#include "drift/error.h"
#include "drift/progress.h"
#include "test.h"

static double fake_time;
static double fake_clock(void) { return fake_time; }

static char *read_stream(FILE *f)
{
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    return s;
}

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

static void test_plain_lines(void)
{
    FILE *f = tmpfile();
    drift_progress_opts o = drift_progress_defaults();
    o.label = "train";
    o.total = 100;
    o.every_steps = 10;
    o.stream = f;
    o.tty = 0;
    o.clock = fake_clock;
    fake_time = 0;
    drift_progress *p;
    CHECK_OK(drift_progress_start_opts(&p, &o));
    for (int step = 1; step <= 100; step++) {
        fake_time += 0.5; /* 2 steps per second */
        char extra[32];
        snprintf(extra, sizeof extra, "loss %.3f", 1.0 / step);
        CHECK_OK(drift_progress_update(p, step, extra));
    }
    CHECK_OK(drift_progress_finish(p, "final"));
    char *s = read_stream(f);
    fclose(f);
    CHECK(count(s, "\n") == 11); /* steps 10, 20, ..., 100, then the summary */
    CHECK(strstr(s, "train  10/100   10%  2.0 it/s  ETA 0:45  loss 0.100\n") != NULL);
    CHECK(strstr(s, "train  50/100   50%  2.0 it/s  ETA 0:25  loss 0.020\n") != NULL);
    CHECK(strstr(s, "train  100/100  100%  2.0 it/s  loss 0.010\n") != NULL); /* no ETA at end */
    CHECK(strstr(s, "train  done: 100 steps in 0:50 (2.0 it/s)  final\n") != NULL);
    CHECK(!strchr(s, '\r') && !strchr(s, '\033'));
    free(s);
}

static void test_plain_time_cadence_and_unknown_total(void)
{
    FILE *f = tmpfile();
    drift_progress_opts o = drift_progress_defaults();
    o.every_steps = 1000000;
    o.every_seconds = 5;
    o.stream = f;
    o.tty = 0;
    o.clock = fake_clock;
    fake_time = 100;
    drift_progress *p;
    CHECK_OK(drift_progress_start_opts(&p, &o));
    for (int step = 1; step <= 30; step++) { /* 3 s per step: a line every second step */
        fake_time += 3;
        drift_progress_update(p, step, NULL);
    }
    drift_progress_finish(p, NULL);
    char *s = read_stream(f);
    fclose(f);
    CHECK(count(s, "\n") == 15 + 1);
    CHECK(strstr(s, "2  3.0 s/it\n") != NULL); /* slow loops show seconds per step */
    CHECK(!strstr(s, "ETA") && !strstr(s, "%")); /* unknown total */
    CHECK(strstr(s, "done: 30 steps in 1:30") != NULL);
    free(s);
}

static void test_tty_redraw(void)
{
    FILE *f = tmpfile();
    drift_progress_opts o = drift_progress_defaults();
    o.label = "sweep";
    o.total = 1000;
    o.stream = f;
    o.tty = 1;
    o.width = 40;
    o.clock = fake_clock;
    fake_time = 0;
    drift_progress *p;
    CHECK_OK(drift_progress_start_opts(&p, &o));
    for (int step = 1; step <= 1000; step++) {
        fake_time += 0.01; /* 100 it/s for 10 s: about 100 redraws at 10 per second */
        drift_progress_update(p, step, "a long tail of extra fields that will not fit");
    }
    drift_progress_finish(p, NULL);
    char *s = read_stream(f);
    fclose(f);
    int redraws = count(s, "\r\033[K");
    /* every 10 or 11 steps, depending on how the fake clock's sums round */
    CHECK_MSG(redraws >= 90 && redraws <= 102, "%d redraws", redraws - 1);
    CHECK(count(s, "\n") == 1); /* only the final line ends */
    /* Each redrawn line is cut to width - 1 = 39 columns (the final one may wrap). */
    int longest = 0, lines = 0;
    for (char *q = s; (q = strstr(q, "\033[K")); q += 3) {
        int n = (int)strcspn(q + 3, "\r\n");
        if (q[3 + n] != '\r') continue;
        lines++;
        if (n > longest) longest = n;
    }
    CHECK(lines > 80 && longest == 39);
    CHECK(strstr(s, "sweep  500/1000   50%  100.0 it/s") != NULL);
    CHECK(strstr(s, "sweep  done: 1000 steps in 0:10 (100.0 it/s)\n") != NULL);
    free(s);
}

/* The first line after one fast step: no rate yet (it was "41528 it/s  ETA 0:00"), and the
 * rate once measured is the true one. */
static void test_no_rate_before_a_timed_window(void)
{
    FILE *f = tmpfile();
    drift_progress_opts o = drift_progress_defaults();
    o.label = "train";
    o.total = 1000;
    o.every_steps = 1;
    o.stream = f;
    o.tty = 0;
    o.clock = fake_clock;
    fake_time = 50;
    drift_progress *p;
    CHECK_OK(drift_progress_start_opts(&p, &o));
    fake_time += 2e-5; /* a caller that started the bar just before reporting step 1 */
    CHECK_OK(drift_progress_update(p, 1, NULL));
    for (int step = 2; step <= 100; step++) {
        fake_time += 0.01; /* 100 it/s */
        CHECK_OK(drift_progress_update(p, step, NULL));
    }
    drift_progress_finish(p, NULL);
    char *s = read_stream(f);
    fclose(f);
    CHECK(strstr(s, "train  1/1000    0%\n") != NULL); /* neither rate nor ETA */
    /* every shown rate is close to 100 it/s (the first window holds one untimed step) */
    int rates = 0, sane = 1;
    for (const char *q = s; (q = strstr(q, "%  ")); q += 3) {
        double r = atof(q + 3);
        rates++;
        if (r < 90 || r > 110) sane = 0;
    }
    CHECK_MSG(rates > 70 && sane, "%d rates, all sane %d:\n%s", rates, sane, s);
    const char *l50 = strstr(s, "train  50/1000    5%  "), *eta = l50 ? strstr(l50, "ETA ") : NULL;
    CHECK_MSG(eta && (!strncmp(eta, "ETA 0:09\n", 9) || !strncmp(eta, "ETA 0:10\n", 9)), "%s", l50 ? l50 : s);
    free(s);
}

/* A resumed run (start_step 40 of 80): the rate and ETA count the steps of this process only,
 * and so does the summary, which names the step range. */
static void test_resumed_run(void)
{
    FILE *f = tmpfile();
    drift_progress_opts o = drift_progress_defaults();
    o.label = "train";
    o.total = 80;
    o.every_steps = 10;
    o.start_step = 40;
    o.stream = f;
    o.tty = 0;
    o.clock = fake_clock;
    fake_time = 0;
    drift_progress *p;
    CHECK_OK(drift_progress_start_opts(&p, &o));
    for (int step = 41; step <= 80; step++) {
        fake_time += 0.5; /* 2 it/s */
        CHECK_OK(drift_progress_update(p, step, NULL));
    }
    CHECK_OK(drift_progress_finish(p, NULL));
    char *s = read_stream(f);
    fclose(f);
    CHECK(count(s, "\n") == 5); /* steps 50, 60, 70, 80, the summary */
    CHECK_MSG(strstr(s, "train  50/80   62%  2.0 it/s  ETA 0:15\n") != NULL, "%s", s);
    CHECK(strstr(s, "train  80/80  100%  2.0 it/s\n") != NULL);
    CHECK_MSG(strstr(s, "train  done: 40 steps in 0:20 (2.0 it/s), from step 40 to 80\n") != NULL, "%s", s);
    free(s);

    /* the same, reported at once after the start (a bar started lazily at the first report):
     * no rate on that line, and no negative or huge counts */
    f = tmpfile();
    o.every_steps = 1;
    o.stream = f;
    fake_time = 0;
    CHECK_OK(drift_progress_start_opts(&p, &o));
    CHECK_OK(drift_progress_update(p, 41, NULL));
    CHECK_OK(drift_progress_finish(p, NULL));
    s = read_stream(f);
    fclose(f);
    CHECK_MSG(strstr(s, "train  41/80   51%\ntrain  done: 1 steps in 0:00 (0.0 it/s), from step 40 to 41\n") != NULL,
              "%s", s);
    free(s);
    /* a negative start is refused */
    o.start_step = -1;
    CHECK(drift_progress_start_opts(&p, &o) == DRIFT_EINVAL && p == NULL);
}

/* Slow steps (each longer than the rate window) show a rate from the first step on, but no ETA
 * before three steps of this process are timed; after a resume at step 40 the same. */
static void test_no_eta_before_three_steps(void)
{
    for (int resumed = 0; resumed <= 1; resumed++) {
        FILE *f = tmpfile();
        drift_progress_opts o = drift_progress_defaults();
        o.label = "train";
        o.total = 100;
        o.every_steps = 1;
        o.stream = f;
        o.tty = 0;
        o.clock = fake_clock;
        o.start_step = resumed ? 40 : 0;
        fake_time = 10;
        drift_progress *p;
        CHECK_OK(drift_progress_start_opts(&p, &o));
        for (int k = 1; k <= 4; k++) {
            fake_time += 2.0; /* 0.5 it/s */
            CHECK_OK(drift_progress_update(p, o.start_step + k, NULL));
        }
        drift_progress_finish(p, NULL);
        char *s = read_stream(f);
        fclose(f);
        char l1[64], l3[64];
        snprintf(l1, sizeof l1, "train  %d/100", (int)o.start_step + 1);
        snprintf(l3, sizeof l3, "train  %d/100", (int)o.start_step + 3);
        const char *a = strstr(s, l1), *b = strstr(s, l3);
        CHECK_MSG(a && b, "%s", s);
        if (a && b) {
            const char *e1 = strchr(a, '\n'), *e3 = strchr(b, '\n');
            const char *eta1 = strstr(a, "ETA"), *eta3 = strstr(b, "ETA");
            CHECK_MSG(strstr(a, "2.0 s/it") && (!eta1 || eta1 > e1), "rate but no ETA after one step:\n%s", s);
            CHECK_MSG(eta3 && eta3 < e3, "an ETA after three steps:\n%s", s);
        }
        free(s);
    }
}

int main(void)
{
    RUN(test_plain_lines);
    RUN(test_plain_time_cadence_and_unknown_total);
    RUN(test_tty_redraw);
    RUN(test_no_rate_before_a_timed_window);
    RUN(test_resumed_run);
    RUN(test_no_eta_before_three_steps);
    return TEST_SUMMARY();
}
