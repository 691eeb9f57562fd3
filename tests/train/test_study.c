/* test_study.c — plans (drift/study.h): the cross product's order and names, option overrides,
 * explicit cells, groups, refusals; lock files (exclusive, stale local pids reclaimed, other
 * hosts respected); result files and the aggregate's mean and sd against a direct computation. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drift/error.h"
#include "drift/json.h"
#include "drift/study.h"
#include "test.h"

static char tmpdir[256];

static drift_study_plan *parse(const char *text)
{
    drift_study_plan *p = NULL;
    int st = drift_study_plan_parse(text, strlen(text), "plan", tmpdir, &p);
    return st ? NULL : p;
}

static const char *opt(const drift_study_cell *c, const char *key)
{
    const char *v = NULL;
    for (int k = 0; k < c->n_opts; k++)
        if (!strcmp(c->keys[k], key)) v = c->vals[k];
    return v;
}

static void test_cross_product(void)
{
    drift_study_plan *p = parse("{\"name\": \"x\", \"base\": {\"data\": \"moons\", \"preset\": \"quick\", \"steps\": 7, "
                                "\"tau\": 0.05, \"lr\": 0.001},"
                                " \"axes\": {\"seed\": [3, 4], \"v\": [{\"label\": \"a b\", \"lr\": 0.002},"
                                " {\"family\": \"sharp\", \"objective\": \"potential\"}, {\"tau\": \"0.1,0.2\"}]}}");
    CHECK_MSG(p != NULL, "%s", drift_last_error());
    if (!p) return;
    CHECK(p->n_cells == 6 && p->eval_n == 10000 && !strcmp(p->name, "x"));
    /* first axis slowest; labels sanitized; bundles without a label named by their values */
    static const char *const names[] = {"seed=3,v=a-b", "seed=3,v=sharp-potential", "seed=3,v=0.1-0.2",
                                        "seed=4,v=a-b", "seed=4,v=sharp-potential", "seed=4,v=0.1-0.2"};
    for (int i = 0; i < 6 && i < p->n_cells; i++) CHECK_MSG(!strcmp(p->cells[i].name, names[i]), "%s", p->cells[i].name);
    CHECK(!strcmp(p->cells[0].group, "v=a-b") && !strcmp(p->cells[3].group, "v=a-b"));
    /* numbers as they were written; later options override the base */
    CHECK(p->cells[0].cfg.seed == 3 && p->cells[4].cfg.seed == 4 && p->cells[0].cfg.steps == 7);
    CHECK(fabs(p->cells[0].cfg.lr - 0.002) < 1e-15 && fabs(p->cells[1].cfg.lr - 0.001) < 1e-15);
    CHECK(!strcmp(opt(&p->cells[0], "tau"), "0.05"));
    CHECK(p->cells[2].cfg.field.n_tau == 2 && fabs(p->cells[2].cfg.field.tau[1] - 0.2) < 1e-15);
    CHECK(p->cells[1].cfg.field.family == DRIFT_FAMILY_SHARP && p->cells[1].cfg.objective == DRIFT_OBJECTIVE_POTENTIAL);
    char out[1200];
    snprintf(out, sizeof out, "%s/seed=4,v=0.1-0.2/run", tmpdir);
    CHECK(!strcmp(p->cells[5].cfg.out, out));
    drift_study_plan_free(p);
}

static void test_explicit_cells(void)
{
    drift_study_plan *p = parse("{\"base\": {\"data\": \"moons\"}, \"cells\": [{\"label\": \"one\", \"seed\": 2},"
                                " {\"label\": \"one\", \"seed\": 5}, {\"lr\": 0.01}], \"eval\": {\"n\": 300, \"seed\": 9}}");
    CHECK_MSG(p != NULL, "%s", drift_last_error());
    if (!p) return;
    CHECK(p->n_cells == 3 && p->eval_n == 300 && p->eval_seed == 9 && !strcmp(p->name, "study"));
    CHECK(!strcmp(p->cells[0].name, "cell=one,seed=2") && !strcmp(p->cells[1].name, "cell=one,seed=5"));
    CHECK(!strcmp(p->cells[0].group, "cell=one") && !strcmp(p->cells[1].group, "cell=one"));
    CHECK(!strcmp(p->cells[2].name, "cell=cell2") && p->cells[2].cfg.seed == 0);
    drift_study_plan_free(p);
}

static void test_refusals(void)
{
    static const struct {
        const char *plan, *msg;
    } bad[] = {
        {"{\"base\": {\"data\": \"moons\"}}", "needs \"axes\" or \"cells\""},
        {"{\"base\": {\"data\": \"moons\", \"lrr\": 1}, \"axes\": {\"seed\": [0]}}", "\"lrr\" is not a drift train option"},
        {"{\"base\": {\"data\": \"moons\", \"out\": \"x\"}, \"axes\": {\"seed\": [0]}}", "belongs to the study"},
        {"{\"base\": {\"data\": \"moons\"}, \"axes\": {\"family\": [\"dng\"]}}", "cell family=dng"},
        {"{\"base\": {\"data\": \"moons\"}, \"axes\": {\"family\": [\"deng\"], \"objective\": [\"potential\"]}}",
         "conservative"},
        {"{\"base\": {\"data\": \"moons\"}, \"axes\": {\"v\": [1]}}", "must be objects of options"},
        {"{\"base\": {\"data\": \"moons\"}, \"axes\": {\"seed\": []}}", "non-empty array"},
        {"{\"base\": {\"data\": \"moons\"}, \"axes\": {\"seed\": [0, \"0\"]}}", "two cells are named seed=0"},
        {"{\"base\": {\"data\": \"moons\"}, \"axes\": {\"seed\": [0]}, \"eval\": {\"n\": 1}}", "eval.n"},
        {"{\"base\": {\"data\": \"moons\"}, \"axes\": {\"seed\": [0]}, \"extra\": 1}", "unknown plan key"},
        {"[1]", "a plan is a JSON object"},
        {"{\"axes\": {\"seed\": [0]}, }", "plan"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        drift_study_plan *p = NULL;
        int st = drift_study_plan_parse(bad[k].plan, strlen(bad[k].plan), "plan", tmpdir, &p);
        CHECK_MSG(st == DRIFT_EINVAL || st == DRIFT_EFORMAT, "%s: status %d", bad[k].plan, st);
        CHECK_MSG(p == NULL && strstr(drift_last_error(), bad[k].msg), "%s: %s", bad[k].plan, drift_last_error());
        drift_study_plan_free(p);
    }
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_locks(void)
{
    drift_study_plan *p = parse("{\"base\": {\"data\": \"moons\"}, \"axes\": {\"seed\": [0, 1]}}");
    CHECK(p != NULL);
    if (!p) return;
    CHECK_OK(drift_study_prepare(p));
    char holder[300], lock[1200], host[256];
    gethostname(host, sizeof host);
    CHECK(drift_study_lock(p, 0, holder, sizeof holder) == 0);
    CHECK(drift_study_lock(p, 0, holder, sizeof holder) == 0); /* ours already */
    /* a live process of this host holds cell 1: busy, named */
    drift_study_cell_path(p, 1, "lock", lock, sizeof lock);
    char text[400];
    snprintf(text, sizeof text, "%s %ld 0\n", host, (long)getppid());
    write_text(lock, text);
    CHECK(drift_study_lock(p, 1, holder, sizeof holder) == 1);
    char expect[300];
    snprintf(expect, sizeof expect, "%s:%ld", host, (long)getppid());
    CHECK_MSG(!strcmp(holder, expect), "%s", holder);
    drift_study_unlock(p, 1); /* not ours: stays */
    struct stat sb;
    CHECK(stat(lock, &sb) == 0);
    /* a dead pid of this host: stale, reclaimed */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    snprintf(text, sizeof text, "%s %ld 0\n", host, (long)child);
    write_text(lock, text);
    CHECK(drift_study_lock(p, 1, holder, sizeof holder) == 0);
    /* another host: never reclaimed */
    drift_study_unlock(p, 1);
    CHECK(stat(lock, &sb) != 0);
    write_text(lock, "another-host 1 0\n");
    CHECK(drift_study_lock(p, 1, holder, sizeof holder) == 1 && !strcmp(holder, "another-host:1"));
    unlink(lock);
    drift_study_unlock(p, 0);
    drift_study_cell_path(p, 0, "lock", lock, sizeof lock);
    CHECK(stat(lock, &sb) != 0);
    /* a changed plan is refused for this directory */
    drift_study_plan *q = parse("{\"base\": {\"data\": \"moons\", \"lr\": 0.5}, \"axes\": {\"seed\": [0, 1]}}");
    CHECK(q != NULL && drift_study_prepare(q) == DRIFT_EINVAL && strstr(drift_last_error(), "plan changed"));
    drift_study_plan_free(q);
    drift_study_plan_free(p);
}

static void test_results(void)
{
    drift_study_plan *p = parse("{\"name\": \"r\", \"base\": {\"data\": \"moons\"}, \"axes\": {\"seed\": [0, 1, 2],"
                                " \"v\": [{\"label\": \"a\"}, {\"label\": \"b\", \"lr\": 0.002}]}}");
    CHECK(p != NULL);
    if (!p) return;
    CHECK_OK(drift_study_prepare(p));
    /* cells 0..5: seed-major; v=a at even i. Results for all but seed=2,v=b; seed=1,v=b failed */
    const double mmd[6] = {0.5, 2.0, 0.75, 0, 1.25, 0};
    for (int i = 0; i < 5; i++) {
        CHECK(drift_study_cell_state(p, i) == DRIFT_STUDY_NEW);
        if (i == 3) {
            CHECK_OK(drift_study_write_failure(p, i, "drift train: stopped: non-finite loss", 1.0, "h"));
            CHECK(drift_study_cell_failed(p, i));
            continue;
        }
        char ev[200];
        snprintf(ev, sizeof ev, "{\"toy_mmd2\": %.17g, \"toy_energy\": 1}", mmd[i]);
        CHECK_OK(drift_study_write_result(p, i, ev, 10.0 + i, 1.0, "h"));
        CHECK(drift_study_cell_state(p, i) == DRIFT_STUDY_DONE && !drift_study_cell_failed(p, i));
    }
    CHECK(drift_study_write_result(p, 5, "[1]", 1, 1, "h") != 0); /* not an eval object */
    int done = -1;
    CHECK_OK(drift_study_aggregate(p, &done));
    CHECK(done == 5);
    char path[1200];
    snprintf(path, sizeof path, "%s/results.json", tmpdir);
    size_t len;
    char *text = test_read_file(path, &len);
    drift_json *root = NULL;
    CHECK(text && drift_json_parse(text, len, path, &root) == 0);
    const drift_json *groups = root ? drift_json_get(root, "groups") : NULL;
    CHECK(groups && groups->count == 2);
    if (groups && groups->count == 2) {
        /* v=a: seeds 0,1,2 -> 0.5, 0.75, 1.25 */
        const drift_json *m = drift_json_get(drift_json_get(&groups->items[0], "metrics"), "toy_mmd2");
        const double mean = (0.5 + 0.75 + 1.25) / 3;
        const double sd = sqrt(((0.5 - mean) * (0.5 - mean) + (0.75 - mean) * (0.75 - mean) +
                                (1.25 - mean) * (1.25 - mean)) / 2);
        CHECK(m && drift_json_get(m, "n")->integer == 3);
        CHECK(m && fabs(drift_json_get(m, "mean")->number - mean) < 1e-15);
        CHECK(m && fabs(drift_json_get(m, "sd")->number - sd) < 1e-15);
        /* v=b: seed 0 only (seed 1 failed, seed 2 pending): n 1, no sd */
        m = drift_json_get(drift_json_get(&groups->items[1], "metrics"), "toy_mmd2");
        CHECK(m && drift_json_get(m, "n")->integer == 1 && drift_json_get(m, "sd")->type == DRIFT_JSON_NULL);
        CHECK(m && drift_json_get(m, "mean")->number == 2.0);
    }
    drift_json_free(root);
    free(text);
    snprintf(path, sizeof path, "%s/results.md", tmpdir);
    text = test_read_file(path, NULL);
    CHECK(text && strstr(text, "| v=a | 3 | 0.833 ± 0.382 |"));
    CHECK(text && strstr(text, "| v=b | 1 (1 failed) | 2.00 |"));
    CHECK(text && strstr(text, "| seed=2,v=b | 2 | pending |") && strstr(text, "| seed=1,v=b | 1 | failed |"));
    CHECK(text && strstr(text, "- seed=1,v=b: drift train: stopped: non-finite loss"));
    free(text);
    drift_study_plan_free(p);
}

static void test_last_step(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/m.jsonl", tmpdir);
    CHECK(drift_study_last_step(path) == 0); /* none */
    write_text(path, "{\"step\":10,\"loss\":1}\n{\"step\":20,\"loss\":1}\n{\"step\":3");
    CHECK(drift_study_last_step(path) == 20); /* a line being written does not count */
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/drift_test_study_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_cross_product);
    RUN(test_explicit_cells);
    RUN(test_refusals);
    RUN(test_locks);
    RUN(test_results);
    RUN(test_last_step);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
