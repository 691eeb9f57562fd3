/* rundir.c — the run directory of `drift train`: a new run starts only in an empty (or absent)
 * directory, so that an old run's grids, plots and checkpoints never sit beside a new run's;
 * --overwrite clears what drift train itself writes there and refuses anything else. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drift/error.h"
#include "io/atomic.h"

/* The files drift train writes into a run directory (src/train/run.c): fixed names, the
 * samples_<step>.png grids, and the temporary files of atomic writes a killed run may leave
 * ("<name>.tmp.<pid>.<suffix>"). */
static int own_file(const char *name)
{
    static const char *const fixed[] = {"metrics.jsonl", "checkpoint.safetensors", "best.safetensors", "config.json",
                                        "samples.png", "loss.svg", "loss.png", "diversity.svg", "diversity.png",
                                        "fid.svg", "fid.png", ".drift.lock"};
    char base[256];
    snprintf(base, sizeof base, "%s", name);
    char *tmp = strstr(base, ".tmp.");
    if (tmp && tmp != base) *tmp = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(base, fixed[i])) return 1;
    size_t len = strlen(base);
    if (len > 12 && !strncmp(base, "samples_", 8) && !strcmp(base + len - 4, ".png")) {
        for (size_t i = 8; i < len - 4; i++)
            if (base[i] < '0' || base[i] > '9') return 0;
        return 1;
    }
    return 0;
}

int cli_rundir_scan(const char *dir, int *n_own, char *unknown, size_t size)
{
    *n_own = 0;
    unknown[0] = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return drift_error(DRIFT_EIO, "cannot read the run directory %s: %s", dir, strerror(errno));
    }
    int n_unknown = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[2048];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (own_file(e->d_name) && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (strcmp(e->d_name, ".drift.lock")) (*n_own)++; /* the lock file alone is no run */
        } else if (!n_unknown++) {
            snprintf(unknown, size, "%s", e->d_name);
        }
    }
    closedir(d);
    return n_unknown;
}

int cli_rundir_clear(const char *dir)
{
    /* a run still writing there holds the lock: clearing under it would wreck that run */
    int lock_fd = -1;
    int st = drift_dir_lock(dir, "drift train --overwrite", &lock_fd);
    if (st) return st;
    DIR *d = opendir(dir);
    if (!d) {
        drift_dir_unlock(lock_fd);
        return drift_error(DRIFT_EIO, "cannot read the run directory %s: %s", dir, strerror(errno));
    }
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (!own_file(e->d_name) || !strcmp(e->d_name, ".drift.lock")) continue;
        char path[2048];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && unlink(path) && errno != ENOENT)
            st = drift_error(DRIFT_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    closedir(d);
    drift_dir_unlock(lock_fd);
    return st;
}

void cli_data_dir_default(void)
{
#ifdef DRIFT_SOURCE_DATA_DIR
    /* MNIST lives in the source tree's data/ (scripts/setup): found from any directory, not only
     * from the source tree, unless DRIFT_DATA_DIR or a ./data of the current directory says
     * otherwise (drift_dataset_find_dir's order). */
    struct stat sb;
    if (getenv("DRIFT_DATA_DIR") || (stat("data", &sb) == 0 && S_ISDIR(sb.st_mode))) return;
    if (stat(DRIFT_SOURCE_DATA_DIR, &sb) == 0 && S_ISDIR(sb.st_mode)) setenv("DRIFT_DATA_DIR", DRIFT_SOURCE_DATA_DIR, 1);
#endif
}
