/* The file-access rules of src/io/atomic.c (docs/FORMATS.md "Writing files"): outputs never
 * replace a symlink, FIFO, directory or device; temps are exclusive, unpredictable and cleaned
 * up after dead processes; inputs never block on a FIFO; run directories lock. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "drift/error.h"
#include "drift/image.h"
#include "drift/log.h"
#include "drift/npy.h"
#include "drift/safetensors.h"
#include "io/atomic.h"
#include "test.h"

static char dir[256];

static const char *in_dir(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int has(const char *path, const char *text)
{
    char *b = test_read_file(path, NULL);
    int ok = b && !strcmp(b, text);
    free(b);
    return ok;
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* entries of dir whose name starts with prefix */
static int count_prefix(const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    closedir(d);
    return n;
}

/* the pid of a process that has exited (fork, wait) */
static long dead_pid(void)
{
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return (long)p;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: blocked (a FIFO was opened without O_NONBLOCK?)\n";
    if (write(2, msg, sizeof msg - 1)) {}
    _exit(3);
}

static void test_regular_write(void)
{
    const char *p = in_dir("a.txt");
    put(p, "old");
    CHECK_OK(drift_write_file_atomic(p, "new", 3));
    CHECK(has(p, "new"));
    CHECK(count_prefix("a.txt.tmp.") == 0);
}

static void test_symlink_target_refused(void)
{
    const char *victim = in_dir("victim.txt"), *link = in_dir("link.txt");
    put(victim, "precious");
    CHECK(symlink(victim, link) == 0);
    int st = drift_write_file_atomic(link, "x", 1);
    CHECK(st == DRIFT_EIO);
    CHECK_MSG(strstr(drift_last_error(), "symbolic link") != NULL, "%s", drift_last_error());
    struct stat sb;
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode)); /* the link is still a link */
    CHECK(has(victim, "precious"));
    CHECK(count_prefix("link.txt.tmp.") == 0);
    /* the npy writer goes through the same gate */
    float v = 1;
    CHECK(drift_npy_write_f32(link, &v, 1, 1) == DRIFT_EIO);
    CHECK(has(victim, "precious"));
}

static void test_non_regular_targets_refused(void)
{
    const char *fifo = in_dir("fifo"), *sub = in_dir("subdir");
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(mkdir(sub, 0700) == 0);
    alarm(10);
    int st = drift_write_file_atomic(fifo, "x", 1);
    CHECK(st == DRIFT_EIO);
    CHECK_MSG(strstr(drift_last_error(), "FIFO") != NULL, "%s", drift_last_error());
    struct stat sb;
    CHECK(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
    st = drift_write_file_atomic(sub, "x", 1);
    CHECK(st == DRIFT_EIO);
    CHECK_MSG(strstr(drift_last_error(), "directory") != NULL, "%s", drift_last_error());
    CHECK(lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode));
    alarm(0);
}

static void test_character_devices_in_place(void)
{
    /* /dev/null is written in place and stays a device (even for root, who could rename over it) */
    CHECK_OK(drift_write_file_atomic("/dev/null", "abc", 3));
    struct stat sb;
    CHECK(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));
    float v[4] = {1, 2, 3, 4};
    CHECK_OK(drift_npy_write_f32("/dev/null", v, 2, 2));
    /* /dev/full: the failed write is reported */
    if (stat("/dev/full", &sb) == 0) {
        CHECK(drift_npy_write_f32("/dev/full", v, 2, 2) == DRIFT_EIO);
        CHECK(stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode));
    }
    /* /dev/fd/N writes to descriptor N: here a pipe we read back */
    int fds[2];
    CHECK(pipe(fds) == 0);
    char alias[64];
    snprintf(alias, sizeof alias, "/dev/fd/%d", fds[1]);
    CHECK_OK(drift_write_file_atomic(alias, "hello", 5));
    close(fds[1]);
    char got[16] = "";
    CHECK(read(fds[0], got, sizeof got) == 5 && !memcmp(got, "hello", 5));
    close(fds[0]);
}

static void test_temp_names(void)
{
    const char *p = in_dir("t.bin");
    drift_atomic_file a, b;
    CHECK_OK(drift_atomic_open(&a, p));
    CHECK_OK(drift_atomic_open(&b, p));
    /* <path>.tmp.<pid>.<6 random letters/digits>, different each time */
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s.tmp.%ld.", p, (long)getpid());
    CHECK(!strncmp(a.tmp, prefix, strlen(prefix)) && strlen(a.tmp) == strlen(prefix) + 6);
    CHECK(strcmp(a.tmp, b.tmp) != 0);
    struct stat sb;
    CHECK(stat(a.tmp, &sb) == 0 && S_ISREG(sb.st_mode));
    drift_atomic_abort(&a);
    drift_atomic_abort(&b);
    CHECK(count_prefix("t.bin.tmp.") == 0);

    /* the old predictable name, planted as a symlink to a victim: never followed */
    const char *victim = in_dir("victim2.txt");
    put(victim, "precious");
    char planted[600];
    snprintf(planted, sizeof planted, "%s.tmp.%ld", p, (long)getpid());
    CHECK(symlink(victim, planted) == 0);
    CHECK_OK(drift_write_file_atomic(p, "data", 4));
    CHECK(has(p, "data"));
    CHECK(has(victim, "precious"));
    unlink(planted);
}

static void test_stale_temps_removed(void)
{
    const char *p = in_dir("s.npy");
    const long dead = dead_pid(), self = (long)getpid();
    char names[8][600];
    snprintf(names[0], 600, "%s.tmp.%ld", p, dead);           /* old style, dead: removed */
    snprintf(names[1], 600, "%s.tmp.%ld.Ab3xYz", p, dead);    /* new style, dead: removed */
    snprintf(names[2], 600, "%s.tmp.%ld.abcdef", p, self);    /* ours: kept */
    snprintf(names[3], 600, "%s.tmp.1", p);                    /* pid 1 is alive: kept */
    snprintf(names[4], 600, "%s.tmp.%ld.abcdefg", p, dead);   /* not the pattern: kept */
    snprintf(names[5], 600, "%s/other.npy.tmp.%ld", dir, dead); /* another target's: kept */
    snprintf(names[6], 600, "%s.tmp.%ldx", p, dead);          /* not the pattern: kept */
    snprintf(names[7], 600, "%s.tmp.0%ld", p, dead);          /* leading zero: kept */
    for (int i = 0; i < 8; i++) put(names[i], "junk");
    /* a symlink with a stale name is not a temp we wrote: kept */
    char slink[600];
    snprintf(slink, sizeof slink, "%s.tmp.%ld.ZZZZZZ", p, dead);
    CHECK(symlink("/nonexistent", slink) == 0);
    float v = 1;
    CHECK_OK(drift_npy_write_f32(p, &v, 1, 1));
    CHECK(!exists(names[0]));
    CHECK(!exists(names[1]));
    for (int i = 2; i < 8; i++) CHECK_MSG(exists(names[i]), "%s removed", names[i]);
    CHECK(exists(slink));
    for (int i = 2; i < 8; i++) unlink(names[i]);
    unlink(slink);
}

static void test_inputs_never_block(void)
{
    const char *fifo = in_dir("in_fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(10);
    drift_array a;
    CHECK(drift_npy_read(fifo, &a) == DRIFT_EIO);
    CHECK_MSG(strstr(drift_last_error(), "not a regular file") && strstr(drift_last_error(), "FIFO"), "%s",
              drift_last_error());
    drift_safetensors *st = NULL;
    CHECK(drift_safetensors_read(fifo, &st) == DRIFT_EIO && !st);
    int w, h, c;
    uint8_t *px = NULL;
    CHECK(drift_png_read(fifo, &w, &h, &c, &px) == DRIFT_EIO && !px);
    CHECK(drift_npy_read(dir, &a) == DRIFT_EIO);
    CHECK_MSG(strstr(drift_last_error(), "directory") != NULL, "%s", drift_last_error());
    CHECK(drift_npy_read("/dev/null", &a) == DRIFT_EIO);
    int fd = -1;
    CHECK(drift_open_input(fifo, &fd, NULL) == DRIFT_EIO && fd == -1);
    const char *reg = in_dir("reg.txt");
    put(reg, "x");
    CHECK_OK(drift_open_input(reg, &fd, NULL));
    CHECK(fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK));
    close(fd);
    alarm(0);
}

static void test_streams_refuse_symlinks(void)
{
    const char *victim = in_dir("victim3.txt"), *link = in_dir("log.jsonl");
    put(victim, "precious");
    CHECK(symlink(victim, link) == 0);
    drift_jsonl *l = NULL;
    CHECK(drift_jsonl_open(&l, link, 1) == DRIFT_EIO && !l);
    CHECK_MSG(strstr(drift_last_error(), "symbolic link") != NULL, "%s", drift_last_error());
    const char *hdr[] = {"a"};
    drift_csv *c = NULL;
    CHECK(drift_csv_open(&c, link, 1, hdr) == DRIFT_EIO && !c);
    CHECK(has(victim, "precious"));
    const char *fifo = in_dir("log_fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(10);
    CHECK(drift_csv_open(&c, fifo, 1, hdr) != 0 && !c);
    alarm(0);
}

static void test_dir_lock(void)
{
    int a = -1, b = -1;
    CHECK_OK(drift_dir_lock(dir, "test", &a));
    CHECK(a >= 0);
    /* flock is per open file: a second lock conflicts even in this process */
    CHECK(drift_dir_lock(dir, "drift train", &b) == DRIFT_EIO && b == -1);
    CHECK_MSG(strstr(drift_last_error(), "in use") && strstr(drift_last_error(), "drift train"), "%s",
              drift_last_error());
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    CHECK_MSG(strstr(drift_last_error(), pid) != NULL, "%s", drift_last_error());
    drift_dir_unlock(a);
    CHECK_OK(drift_dir_lock(dir, "test", &b));
    drift_dir_unlock(b);
    /* a symlink planted as the lock file is not followed */
    char sub[300], lockp[400];
    snprintf(sub, sizeof sub, "%s/run", dir);
    snprintf(lockp, sizeof lockp, "%s/.drift.lock", sub);
    mkdir(sub, 0700);
    const char *victim = in_dir("victim4.txt");
    put(victim, "precious");
    CHECK(symlink(victim, lockp) == 0);
    CHECK(drift_dir_lock(sub, "test", &a) == DRIFT_EIO);
    CHECK(has(victim, "precious"));
}

/* mkdir -p, for a directory and for a file's parents: nested levels made, existing ones
 * accepted, a file in the way refused with its name */
static void test_mkdir_p(void)
{
    char base[] = "/tmp/drift_mkdir_XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char path[256], file[256];
    snprintf(path, sizeof path, "%s/a/b/c", base);
    CHECK_OK(drift_mkdir_p(path));
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK_OK(drift_mkdir_p(path)); /* again: nothing to do */
    snprintf(file, sizeof file, "%s/x/y/model.safetensors", base);
    CHECK_OK(drift_mkdir_parents(file));
    snprintf(path, sizeof path, "%s/x/y", base);
    CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK(stat(file, &sb) != 0); /* the file itself is not made */
    CHECK_OK(drift_mkdir_parents("bare-name.bin"));
    snprintf(file, sizeof file, "%s/plain", base);
    int fd = open(file, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    close(fd);
    snprintf(path, sizeof path, "%s/plain/sub", base);
    CHECK(drift_mkdir_p(path) == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "plain") && strstr(drift_last_error(), "in the way"));
    CHECK(drift_mkdir_p("") == DRIFT_EINVAL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/drift_test_atomic_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    signal(SIGALRM, on_alarm);
    RUN(test_regular_write);
    RUN(test_symlink_target_refused);
    RUN(test_non_regular_targets_refused);
    RUN(test_character_devices_in_place);
    RUN(test_temp_names);
    RUN(test_stale_temps_removed);
    RUN(test_inputs_never_block);
    RUN(test_streams_refuse_symlinks);
    RUN(test_dir_lock);
    RUN(test_mkdir_p);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
    return TEST_SUMMARY();
}
