/* drift/progress.h — progress display for long loops (training, sweeps, evaluation).
 *
 * On a terminal it redraws one status line in place (at most ~10 times a second):
 *   train  1200/5000  24%  85.3 it/s  ETA 0:44  loss 0.123 |V| 4.5
 * where the tail is a caller-provided string of extra fields. When the stream is not a
 * terminal (a log file, CI) it prints plain lines instead, every `every_steps` steps or
 * `every_seconds` seconds, whichever comes first, so logs stay short but never silent.
 * Output goes to stderr: stdout stays clean for results.
 */
#ifndef DRIFT_PROGRESS_H
#define DRIFT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drift_progress drift_progress;

typedef struct drift_progress_opts {
    const char *label;    /* first word of each line ("train") */
    int64_t total;        /* steps expected; 0 = unknown (no percentage, no ETA) */
    int64_t every_steps;  /* plain mode: print every K steps (0: total/20, or 100 if unknown) */
    double every_seconds; /* plain mode: or after this long without a line (0: 10 s) */
    FILE *stream;         /* NULL: stderr */
    int tty;              /* -1: detect with isatty; 0: plain lines; 1: redraw in place */
    int width;            /* terminal columns (0: ask the terminal, else 100) */
    double (*clock)(void);/* seconds, monotonic (NULL: drift_now); tests pass a fake one */
    int64_t start_step;   /* steps already done before this process (a resumed run): the rate,
                           * the ETA and the final count cover only the steps after it */
} drift_progress_opts;

drift_progress_opts drift_progress_defaults(void);

int drift_progress_start(drift_progress **out, const char *label, int64_t total);
int drift_progress_start_opts(drift_progress **out, const drift_progress_opts *opts);
/* `step` = steps completed so far (counting from 0, not from start_step); extra may be NULL.
 * Cheap to call every step. The rate is steps done in this process over wall time, measured
 * over windows of at least 0.2 s from the start (so a first line after one fast step shows no
 * rate rather than a wild one) and smoothed over about a second. */
int drift_progress_update(drift_progress *p, int64_t step, const char *extra);
/* Prints a one-line message (an evaluation result, a warning) on a line of its own, above the
 * status line on a terminal. The step rate restarts after a note, so the time of the slow
 * event it reports (an evaluation, a checkpoint) does not distort the rate and the ETA. */
int drift_progress_note(drift_progress *p, const char *line);
/* Prints the final line (the steps done since the start, elapsed time, mean rate; after a
 * resume also the step range, "from step 40 to 80"; extra), ends it with a newline and frees p. */
int drift_progress_finish(drift_progress *p, const char *extra);

#ifdef __cplusplus
}
#endif
#endif
