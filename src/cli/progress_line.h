/* progress_line.h — how `drift train` shows a run: a reporter for drift_trainer_run. */
#ifndef DRIFT_CLI_PROGRESS_LINE_H
#define DRIFT_CLI_PROGRESS_LINE_H

#include <stdint.h>

#include "drift/train.h"

typedef struct progress_line {
    int quiet, tty;
    double start, last_print;
    int64_t first_step;
    int started;
} progress_line;

void progress_line_init(progress_line *p, int quiet);
void progress_line_report(void *ctx, const drift_step_info *info, int64_t total, const char *note);
void progress_line_finish(progress_line *p);

#endif
