/* progress_line.c — step, steps/s, ETA, loss and |V| on one redrawn line on a terminal, plain
 * lines every few seconds otherwise; notes (evaluations, checkpoints, warnings) on their own line. */
#include "cli/progress_line.h"

#include <stdio.h>
#include <unistd.h>

#include "drift/core.h"

void progress_line_init(progress_line *p, int quiet)
{
    p->quiet = quiet;
    p->tty = isatty(2);
    p->start = p->last_print = drift_now();
    p->first_step = 0;
    p->started = 0;
}

static void format_eta(double s, char *buf, size_t n)
{
    if (s < 0 || s > 1e7) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

void progress_line_report(void *ctx, const drift_step_info *info, int64_t total, const char *note)
{
    progress_line *p = ctx;
    if (p->quiet) return;
    if (!p->started) {
        p->started = 1;
        p->first_step = info->step - 1;
        p->start = drift_now() - info->seconds;
    }
    if (note) {
        fprintf(stderr, "%s%s\n", p->tty ? "\r\033[K" : "", note);
        return;
    }
    double now = drift_now();
    int last = info->step == total;
    if (!p->tty && now - p->last_print < 5.0 && !last && info->step != p->first_step + 1) return;
    if (p->tty && now - p->last_print < 0.2 && !last) return;
    p->last_print = now;
    double done = (double)(info->step - p->first_step), rate = done / (now - p->start + 1e-9);
    char eta[32];
    format_eta((double)(total - info->step) / rate, eta, sizeof eta);
    fprintf(stderr, "%sstep %lld/%lld  %.2f steps/s  ETA %s  loss %.4g  |V| %.4g  diversity %.3f  grad %.3g%s",
            p->tty ? "\r\033[K" : "", (long long)info->step, (long long)total, rate, eta, info->stats.loss,
            info->stats.v_rms, info->stats.diversity, info->grad_norm, p->tty ? "" : "\n");
    fflush(stderr);
}

void progress_line_finish(progress_line *p)
{
    if (!p->quiet && p->tty && p->started) fputc('\n', stderr);
}
