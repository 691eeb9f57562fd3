/* progress.c — the progress line (see drift/progress.h). Together with src/cli this is
 * the only code in the library that prints. */
#include "drift/progress.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/error.h"

#define REDRAW_INTERVAL 0.1 /* seconds between in-place redraws */
#define RATE_WINDOW 0.2     /* shortest time a rate is measured over */
#define ETA_MIN_STEPS 3     /* no ETA before this many steps of this process are timed */
#define LABEL_MAX 64

struct drift_progress {
    drift_progress_opts o;
    char label[LABEL_MAX];
    double start, last_print, last_rate_time;
    int64_t last_print_step, last_rate_step, last_step;
    double rate; /* smoothed steps per second; 0 until measured */
    int drawn;   /* a TTY line is on screen and needs a newline before anything else */
};

drift_progress_opts drift_progress_defaults(void)
{
    drift_progress_opts o = {.label = "", .total = 0, .every_steps = 0, .every_seconds = 0,
                             .stream = NULL, .tty = -1, .width = 0, .clock = NULL,
                             .start_step = 0};
    return o;
}

int drift_progress_start(drift_progress **out, const char *label, int64_t total)
{
    drift_progress_opts o = drift_progress_defaults();
    o.label = label;
    o.total = total;
    return drift_progress_start_opts(out, &o);
}

int drift_progress_start_opts(drift_progress **out, const drift_progress_opts *opts)
{
    *out = NULL;
    if (opts->total < 0) return drift_error(DRIFT_EINVAL, "progress: negative total");
    if (opts->start_step < 0) return drift_error(DRIFT_EINVAL, "progress: negative start step");
    drift_progress *p = drift_alloc(1, sizeof *p);
    if (!p) return DRIFT_ENOMEM;
    p->o = *opts;
    snprintf(p->label, sizeof p->label, "%s", opts->label ? opts->label : "");
    if (!p->o.stream) p->o.stream = stderr;
    if (!p->o.clock) p->o.clock = drift_now;
    if (p->o.tty < 0) p->o.tty = isatty(fileno(p->o.stream));
    if (p->o.every_steps <= 0) p->o.every_steps = p->o.total >= 20 ? p->o.total / 20 : 100;
    if (p->o.total > 0 && p->o.total < 20) p->o.every_steps = 1;
    if (p->o.every_seconds <= 0) p->o.every_seconds = 10;
    if (p->o.width <= 0) {
        struct winsize ws;
        p->o.width = p->o.tty && ioctl(fileno(p->o.stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0
                         ? ws.ws_col : 100;
    }
    p->start = p->last_print = p->last_rate_time = p->o.clock();
    p->last_print_step = p->last_rate_step = p->last_step = p->o.start_step;
    *out = p;
    return DRIFT_OK;
}

static void format_duration(char *buf, size_t cap, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, cap, "?");
        return;
    }
    long t = lround(s);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void format_rate(char *buf, size_t cap, double rate)
{
    if (rate >= 1 || rate == 0) snprintf(buf, cap, "%.1f it/s", rate);
    else snprintf(buf, cap, "%.1f s/it", 1 / rate);
}

/* The status text without line control: label, step/total, %, rate, ETA, extra. */
static void compose(const drift_progress *p, int64_t step, const char *extra, char *line,
                    size_t cap)
{
    size_t n = 0;
    char rate[32], eta[32];
#define PUT(...) n += (size_t)snprintf(line + n, n < cap ? cap - n : 0, __VA_ARGS__)
    if (p->label[0]) PUT("%s  ", p->label);
    if (p->o.total > 0) {
        PUT("%" PRId64 "/%" PRId64 "  %3d%%", step, p->o.total,
            (int)(100.0 * (double)step / (double)p->o.total));
    } else {
        PUT("%" PRId64, step);
    }
    if (p->rate > 0) {
        format_rate(rate, sizeof rate, p->rate);
        PUT("  %s", rate);
        /* one or two steps (the first ones are often slow: page faults, a first evaluation's
         * setup) say little about the rest: no ETA from them */
        if (p->o.total > 0 && step < p->o.total && step - p->o.start_step >= ETA_MIN_STEPS) {
            format_duration(eta, sizeof eta, (double)(p->o.total - step) / p->rate);
            PUT("  ETA %s", eta);
        }
    }
    if (extra && *extra) PUT("  %s", extra);
#undef PUT
    if (n >= cap) line[cap - 1] = '\0';
}

/* Steps per second, smoothed over about a second so that the display does not flicker
 * but follows real changes (e.g. evaluation pauses). Only steps done in this process count
 * (the window starts at start_step), and a window shorter than RATE_WINDOW is not measured:
 * the first update after a single fast step (or after a resume, steps done long ago) must not
 * read as tens of thousands of steps per second. */
static void update_rate(drift_progress *p, int64_t step, double now)
{
    double dt = now - p->last_rate_time;
    if (!(dt >= RATE_WINDOW) || step <= p->last_rate_step) return;
    double r = (double)(step - p->last_rate_step) / dt;
    double a = p->rate > 0 ? fmin(1.0, dt / 1.0) : 1.0;
    p->rate = a * r + (1 - a) * p->rate;
    p->last_rate_time = now;
    p->last_rate_step = step;
}

int drift_progress_update(drift_progress *p, int64_t step, const char *extra)
{
    double now = p->o.clock();
    p->last_step = step;
    update_rate(p, step, now);
    char line[1024];
    if (p->o.tty) {
        if (now - p->last_print < REDRAW_INTERVAL && p->drawn) return DRIFT_OK;
        compose(p, step, extra, line, sizeof line);
        /* A line longer than the terminal would wrap, and \r would then redraw only its
         * last part: cut it to the width. */
        if ((int)strlen(line) > p->o.width - 1) line[p->o.width > 1 ? p->o.width - 1 : 0] = '\0';
        fprintf(p->o.stream, "\r\033[K%s", line);
        fflush(p->o.stream);
        p->drawn = 1;
        p->last_print = now;
        return DRIFT_OK;
    }
    if (step - p->last_print_step < p->o.every_steps && now - p->last_print < p->o.every_seconds)
        return DRIFT_OK;
    compose(p, step, extra, line, sizeof line);
    fprintf(p->o.stream, "%s\n", line);
    fflush(p->o.stream);
    p->last_print = now;
    p->last_print_step = step;
    return DRIFT_OK;
}

int drift_progress_note(drift_progress *p, const char *line)
{
    if (!p || !line) return DRIFT_OK;
    /* clear the status line, print the note on a line of its own; the next update redraws */
    if (p->o.tty && p->drawn) fprintf(p->o.stream, "\r\033[K");
    fprintf(p->o.stream, "%s\n", line);
    fflush(p->o.stream);
    p->drawn = 0;
    /* notes mark slow events (evaluations, checkpoints): restart the rate window so their
     * time does not read as a collapse of the step rate and a wild ETA */
    p->last_rate_time = p->o.clock();
    p->last_rate_step = p->last_step;
    return DRIFT_OK;
}

int drift_progress_finish(drift_progress *p, const char *extra)
{
    if (!p) return DRIFT_OK;
    double elapsed = p->o.clock() - p->start;
    int64_t steps = p->last_step - p->o.start_step; /* done in this process */
    if (steps < 0) steps = 0;
    char took[32], rate[32], range[96] = "";
    if (p->o.start_step > 0)
        snprintf(range, sizeof range, ", from step %" PRId64 " to %" PRId64, p->o.start_step, p->last_step);
    format_duration(took, sizeof took, elapsed);
    format_rate(rate, sizeof rate, elapsed > 0 ? (double)steps / elapsed : 0);
    if (p->o.tty && p->drawn) fprintf(p->o.stream, "\r\033[K");
    fprintf(p->o.stream, "%s%sdone: %" PRId64 " steps in %s (%s)%s%s%s\n", p->label,
            p->label[0] ? "  " : "", steps, took, rate, range, extra && *extra ? "  " : "",
            extra ? extra : "");
    fflush(p->o.stream);
    drift_free(p);
    return DRIFT_OK;
}
