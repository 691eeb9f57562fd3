/* fuzz_file.h — for the file-level harnesses: put the fuzzer's bytes into real files, so that
 * the readers' own open/stat/read code (drift_open_input, short reads, sizes from fstat) runs
 * exactly as it does on user input. Files live in one private directory per process
 * (/dev/shm when there is one), removed at exit. */
#ifndef DRIFT_FUZZ_FILE_H
#define DRIFT_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_[256];

static void fuzz_dir_cleanup_(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_);
    if (fuzz_dir_[0] && system(cmd)) {}
}

/* The path of `name` in the private directory. */
static const char *fuzz_path(const char *name)
{
    static char path[4][512];
    static int k;
    if (!fuzz_dir_[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/drift-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_dir_)) abort();
        atexit(fuzz_dir_cleanup_);
    }
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", fuzz_dir_, name);
    return path[k];
}

/* Write bytes to `name` (replacing it); returns its path. */
static const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
    const char *p = fuzz_path(name);
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) abort();
    return p;
}

#endif
