/* The training loop: exact resume, determinism, divergence handling, sampling, conv smoke run. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/models.h"
#include "drift/npy.h"
#include "drift/rng.h"
#include "drift/safetensors.h"
#include "drift/train.h"
#include "test.h"
#include "trainer_util.h"
#include "train/trainer_internal.h"

static char tmpdir[256];

static void small_toy_config(drift_train_config *c, const char *out)
{
    drift_train_config_defaults(c, "two_mode", "quick");
    c->width = 32;
    c->depth = 2;
    c->noise_dim = 8;
    c->n_pos = 48;
    c->n_neg = 48;
    c->steps = 6;
    c->log_every = 2;
    c->sample_every = 0;
    c->ckpt_every = 0;
    c->eval_every = -1;
    c->seed = 7;
    c->threads = 2;
    snprintf(c->out, sizeof c->out, "%s/%s", tmpdir, out);
}

static void test_resume_gives_the_same_weights(void)
{
    drift_train_config full, part;
    small_toy_config(&full, "full");
    small_toy_config(&part, "part");
    CHECK_OK(run(&full, NULL));
    part.steps = 3;
    CHECK_OK(run(&part, NULL));
    char ck[512];
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", part.out);
    part.steps = 6;
    CHECK_OK(run(&part, ck)); /* continue the "killed" run */
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/checkpoint.safetensors", full.out);
    snprintf(b, sizeof b, "%s/checkpoint.safetensors", part.out);
    const char *names[] = {"params", "ema", "adam.m", "adam.v"};
    for (int k = 0; k < 4; k++) {
        size_t na = 0, nb = 0;
        float *ta = read_tensor(a, names[k], &na), *tb = read_tensor(b, names[k], &nb);
        CHECK(ta && tb && na == nb && na > 0);
        if (ta && tb && na == nb) CHECK_MSG(!memcmp(ta, tb, na * sizeof(float)), "%s differs after resume", names[k]);
        free(ta);
        free(tb);
    }
    drift_checkpoint ck1;
    CHECK_OK(drift_checkpoint_load(b, &ck1));
    CHECK(ck1.step == 6);
    drift_checkpoint_free(&ck1);
    /* metrics.jsonl of the resumed run holds each logged step once */
    char mpath[512];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", part.out);
    size_t len = 0;
    char *m = test_read_file(mpath, &len);
    CHECK(m != NULL);
    int lines = 0;
    for (size_t i = 0; m && i < len; i++) lines += m[i] == '\n';
    /* first run: steps 1, 2, 3 (its last); resumed run: 4 and 6 */
    CHECK_MSG(lines == 5, "%d metric lines (steps 1, 2, 3, 4, 6 expected)", lines);
    free(m);
}

static void test_same_seed_same_bytes(void)
{
    drift_train_config c;
    small_toy_config(&c, "det");
    char path[512];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", c.out);
    size_t l1 = 0, l2 = 0;
    CHECK_OK(run(&c, NULL));
    char *b1 = test_read_file(path, &l1);
    CHECK_OK(run(&c, NULL));
    char *b2 = test_read_file(path, &l2);
    CHECK(b1 && b2 && l1 == l2 && l1 > 0 && !memcmp(b1, b2, l1));
    free(b1);
    free(b2);
    /* another seed gives other weights */
    c.seed = 8;
    CHECK_OK(run(&c, NULL));
    size_t l3 = 0;
    char *b3 = test_read_file(path, &l3);
    b1 = test_read_file(path, &l1);
    CHECK(b3 != NULL && l3 == l1);
    size_t n1 = 0, n2 = 0;
    float *p8 = read_tensor(path, "params", &n1);
    c.seed = 7;
    CHECK_OK(run(&c, NULL));
    float *p7 = read_tensor(path, "params", &n2);
    CHECK(p7 && p8 && n1 == n2 && memcmp(p7, p8, n1 * sizeof(float)) != 0);
    free(p7);
    free(p8);
    free(b1);
    free(b3);
}

/* The whole optimizer state of a trainer (weights, AdamW moments and counts, EMA, step). */
typedef struct {
    size_t n;
    float *params, *m, *v, *ema;
    int64_t opt_step, ema_updates, step;
} state_copy;

static void state_take(const drift_trainer *t, state_copy *s)
{
    s->n = t->model->n_params;
    s->params = malloc(s->n * sizeof(float));
    s->m = malloc(s->n * sizeof(float));
    s->v = malloc(s->n * sizeof(float));
    s->ema = malloc(s->n * sizeof(float));
    memcpy(s->params, t->model->params, s->n * sizeof(float));
    memcpy(s->m, t->opt.m, s->n * sizeof(float));
    memcpy(s->v, t->opt.v, s->n * sizeof(float));
    memcpy(s->ema, t->ema.shadow, s->n * sizeof(float));
    s->opt_step = t->opt.step;
    s->ema_updates = t->ema.updates;
    s->step = t->step;
}

static void state_free(state_copy *s)
{
    free(s->params); free(s->m); free(s->v); free(s->ema);
    memset(s, 0, sizeof *s);
}

/* The trainer's state equals s exactly. */
static void check_state(const drift_trainer *t, const state_copy *s, const char *what)
{
    const size_t b = s->n * sizeof(float);
    CHECK_MSG(!memcmp(t->model->params, s->params, b), "%s: weights changed", what);
    CHECK_MSG(!memcmp(t->opt.m, s->m, b), "%s: AdamW first moments changed", what);
    CHECK_MSG(!memcmp(t->opt.v, s->v, b), "%s: AdamW second moments changed", what);
    CHECK_MSG(!memcmp(t->ema.shadow, s->ema, b), "%s: EMA weights changed", what);
    CHECK_MSG(t->opt.step == s->opt_step, "%s: AdamW step %lld, was %lld", what, (long long)t->opt.step,
              (long long)s->opt_step);
    CHECK_MSG(t->ema.updates == s->ema_updates, "%s: EMA updates changed", what);
    CHECK_MSG(t->step == s->step, "%s: step %lld, was %lld", what, (long long)t->step, (long long)s->step);
}

static void test_divergence_is_an_error_and_keeps_weights(void)
{
    /* a learning rate that blows the generator up within a few steps: the failing step is an
     * error, and the state is exactly what it was before that step */
    drift_train_config c;
    small_toy_config(&c, "div");
    c.lr = 1e30;
    c.warmup = 0;
    c.steps = 50;
    drift_trainer *t = NULL;
    CHECK_OK(drift_trainer_create(&c, NULL, &t));
    int st = 0;
    state_copy before = {0};
    for (int i = 0; i < 50 && !st; i++) {
        state_free(&before);
        state_take(t, &before);
        st = drift_trainer_step(t, NULL);
    }
    CHECK(st == DRIFT_ENUMERIC);
    CHECK(strlen(drift_last_error()) > 0);
    check_state(t, &before, "lr 1e30, failed step");
    state_free(&before);
    drift_trainer_free(t);

    /* the AdamW path itself: three good steps (moments non-zero), then a learning rate whose
     * update overflows float32 (step size lr/(1 − β1^t) = 3e38/0.34 > FLT_MAX). Weights, moments and the
     * optimizer's step count come back; with the old rate the run then continues. */
    small_toy_config(&c, "div2");
    t = NULL;
    CHECK_OK(drift_trainer_create(&c, NULL, &t));
    for (int i = 0; i < 3; i++) CHECK_OK(drift_trainer_step(t, NULL));
    state_take(t, &before);
    double nz = 0;
    for (size_t k = 0; k < before.n; k++) nz += fabs(before.m[k]);
    CHECK_MSG(nz > 0 && before.opt_step == 3, "moments after 3 steps: sum |m| %g, step %lld", nz, (long long)before.opt_step);
    const double lr = t->sched.base_lr;
    t->sched.base_lr = 3e38;
    t->sched.warmup_steps = 0;
    CHECK(drift_trainer_step(t, NULL) == DRIFT_ENUMERIC);
    CHECK_MSG(strstr(drift_last_error(), "weights became non-finite") != NULL, "message: %s", drift_last_error());
    check_state(t, &before, "overflowing AdamW update");
    t->sched.base_lr = lr;
    CHECK_OK(drift_trainer_step(t, NULL));
    CHECK(t->step == 4 && t->opt.step == 4);
    state_free(&before);
    drift_trainer_free(t);
}

/* The run's last checkpoint: none before the first, then each one written; a resumed run starts
 * with the one it resumed from. */
static void test_last_checkpoint(void)
{
    drift_train_config c;
    small_toy_config(&c, "last");
    c.steps = 4;
    c.ckpt_every = 2;
    drift_trainer *t = NULL;
    CHECK_OK(drift_trainer_create(&c, NULL, &t));
    int64_t step = -1;
    CHECK(drift_trainer_last_checkpoint(t, &step) == NULL);
    CHECK_OK(drift_trainer_run(t));
    const char *ck = drift_trainer_last_checkpoint(t, &step);
    char want[600];
    snprintf(want, sizeof want, "%s/checkpoint.safetensors", c.out);
    CHECK(ck && !strcmp(ck, want) && step == 4);
    drift_trainer_free(t);
    c.steps = 6;
    CHECK_OK(drift_trainer_create(&c, want, &t));
    ck = drift_trainer_last_checkpoint(t, &step);
    CHECK(ck && !strcmp(ck, want) && step == 4);
    drift_trainer_free(t);
}

/* A sample grid that cannot be written (here: samples.png is a directory; on a full disk the
 * same) stops the run with an error, but after the step's checkpoint. */
static void test_failed_samples_keep_the_checkpoint(void)
{
    drift_train_config c;
    small_toy_config(&c, "full_disk");
    c.steps = 4;
    c.ckpt_every = 0; /* only the final checkpoint, on the step that also writes samples.png */
    char path[600];
    mkdir(c.out, 0777);
    snprintf(path, sizeof path, "%s/samples.png", c.out);
    CHECK(mkdir(path, 0777) == 0);
    drift_trainer *t = NULL;
    CHECK_OK(drift_trainer_create(&c, NULL, &t));
    CHECK(drift_trainer_run(t) != DRIFT_OK);
    int64_t step = -1;
    CHECK(drift_trainer_last_checkpoint(t, &step) != NULL && step == 4);
    drift_trainer_free(t);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", c.out);
    drift_checkpoint ck;
    CHECK_OK(drift_checkpoint_load(path, &ck));
    CHECK_MSG(ck.step == 4, "checkpoint at step %lld, 4 expected", (long long)ck.step);
    drift_checkpoint_free(&ck);
}

/* The stop flag (what drift train's SIGINT/SIGTERM handler sets) ends the run between steps with
 * a checkpoint of the steps done; resuming from it finishes the run with the same weights as an
 * uninterrupted one. */
static volatile sig_atomic_t stop_flag;
static void stop_after_two(void *ctx, const drift_step_info *info, int64_t total, const char *note)
{
    (void)ctx; (void)total;
    if (!note && info->step == 2) stop_flag = 1;
}

static void test_stop_flag_checkpoints(void)
{
    drift_train_config c, whole;
    small_toy_config(&c, "stop");
    small_toy_config(&whole, "nostop");
    c.ckpt_every = 0;
    drift_trainer *t = NULL;
    CHECK_OK(drift_trainer_create(&c, NULL, &t));
    stop_flag = 0;
    drift_trainer_set_stop_flag(t, &stop_flag);
    drift_trainer_set_reporter(t, stop_after_two, NULL);
    CHECK_OK(drift_trainer_run(t));
    CHECK(drift_trainer_steps_done(t) == 2);
    int64_t step = -1;
    CHECK(drift_trainer_last_checkpoint(t, &step) != NULL && step == 2);
    drift_trainer_free(t);
    char ck[600], ck2[600];
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", c.out);
    CHECK_OK(run(&c, ck));
    CHECK_OK(run(&whole, NULL));
    snprintf(ck2, sizeof ck2, "%s/checkpoint.safetensors", whole.out);
    size_t n1 = 0, n2 = 0;
    float *a = read_tensor(ck, "params", &n1), *b = read_tensor(ck2, "params", &n2);
    CHECK(a && b && n1 == n2 && n1 > 0 && !memcmp(a, b, n1 * sizeof(float)));
    free(a);
    free(b);
}

/* Training works: a few hundred steps on the swiss roll bring the generator's samples closer to
 * the data. MMD² (gaussian kernel, bandwidth fixed from the data's median pair distance, 2000
 * generated vs 2000 fresh data points) of the raw generator before training and after 300
 * steps: it must fall by a factor of 10 (measured: about 45, in 3 s on one thread). */
static double toy_mmd2(drift_trainer *t, const float *data, int64_t n, double h2, uint64_t seed)
{
    float *s = malloc(sizeof(float) * 2 * n);
    double mmd2 = NAN;
    if (!drift_generate(t->model, n, NULL, 1.0f, seed, s)) drift_mmd2_unbiased(s, n, data, n, 2, h2, &mmd2);
    free(s);
    return mmd2;
}

static void test_training_brings_samples_to_the_data(void)
{
    drift_train_config c;
    CHECK_OK(drift_train_config_defaults(&c, "swiss_roll", "quick"));
    c.n_pos = c.n_neg = 128; /* the preset's 1024 is for pictures; 128 keeps this to seconds */
    c.steps = 200;
    c.log_every = 100;
    c.sample_every = 0;
    c.ckpt_every = 0;
    c.eval_every = -1;
    c.threads = 1;
    snprintf(c.out, sizeof c.out, "%s/%s", tmpdir, "learn");
    drift_trainer *t = NULL;
    CHECK_OK(drift_trainer_create(&c, NULL, &t));
    if (!t) return;
    enum { N = 2000 };
    drift_dataset data;
    CHECK_OK(drift_dataset_toy("swiss_roll", N, 99, 1, &data));
    double h2 = 0;
    CHECK_OK(drift_median_sqdist(data.x, N, 2, &h2));
    const double before = toy_mmd2(t, data.x, N, h2, 5);
    double t0 = drift_now();
    CHECK_OK(drift_trainer_run(t));
    const double secs = drift_now() - t0, after = toy_mmd2(t, data.x, N, h2, 5);
    fprintf(stderr, "swiss_roll: MMD² %.5f before, %.5f after 200 steps (%.1f s)\n", before, after, secs);
    CHECK_MSG(before > 0.05, "MMD² at initialization %.4f: the untrained generator is far from the data", before);
    CHECK_MSG(after < before / 10, "MMD² %.5f -> %.5f: not 10x smaller after 200 steps", before, after);
    drift_dataset_free(&data);
    drift_trainer_free(t);
}

static void test_bad_options(void)
{
    drift_train_config c;
    CHECK(drift_train_config_defaults(&c, "fashion-mnist", "fast") == DRIFT_EINVAL);
    CHECK_OK(drift_train_config_defaults(&c, "fashion-mnist", "quick"));
    CHECK(drift_train_config_set(&c, "lr", "abc") == DRIFT_EINVAL);
    CHECK(drift_train_config_set(&c, "no-such-option", "1") == DRIFT_EINVAL);
    CHECK(drift_train_config_set(&c, "tau", "0.1,-2") == DRIFT_EINVAL);
    CHECK_OK(drift_train_config_set(&c, "objective", "potential"));
    CHECK(drift_train_config_check(&c) == DRIFT_EINVAL); /* deng has no potential */
    CHECK_OK(drift_train_config_set(&c, "family", "sharp"));
    CHECK_OK(drift_train_config_set(&c, "deng-soft-mask", "0"));
    CHECK_OK(drift_train_config_set(&c, "deng-floor", "0"));
    CHECK_OK(drift_train_config_check(&c));
    drift_train_config toy;
    small_toy_config(&toy, "bad");
    snprintf(toy.data, sizeof toy.data, "no_such_toy");
    drift_trainer *t = NULL;
    CHECK(drift_trainer_create(&toy, NULL, &t) != 0 && t == NULL);
}

/* A conditional conv generator on tiny labelled images with guidance: a few steps, then
 * sampling from the checkpoint with every class. */
static void test_conv_conditional_smoke(void)
{
    enum { N = 120, H = 8 };
    float *img = malloc(sizeof(float) * N * H * H);
    int32_t lab[N];
    drift_rng r;
    drift_rng_init(&r, 5, 0);
    for (int i = 0; i < N; i++) {
        lab[i] = i % 3;
        for (int k = 0; k < H * H; k++) img[i * H * H + k] = (k % 3 == lab[i] ? 0.8f : -0.8f) + 0.1f * (float)drift_rng_normal(&r);
    }
    char xp[512], lp[512];
    snprintf(xp, sizeof xp, "%s/imgs.npy", tmpdir);
    snprintf(lp, sizeof lp, "%s/labels.npy", tmpdir);
    int64_t shape[3] = {N, H, H}, ln = N;
    CHECK_OK(drift_npy_write(xp, DRIFT_DTYPE_F32, 3, shape, img));
    CHECK_OK(drift_npy_write(lp, DRIFT_DTYPE_I32, 1, &ln, lab));
    drift_train_config c;
    CHECK_OK(drift_train_config_defaults(&c, xp, "quick"));
    snprintf(c.labels, sizeof c.labels, "%s", lp);
    snprintf(c.model, sizeof c.model, "conv");
    c.conditional = 1;
    c.width = 8;
    c.n_pos = 16;
    c.n_neg = 8;
    c.n_unc = 4;
    c.alpha_max = 3.0;
    c.steps = 3;
    c.sample_every = 3;
    c.eval_every = -1;
    snprintf(c.out, sizeof c.out, "%s/conv", tmpdir);
    CHECK_OK(run(&c, NULL));
    char ck[512];
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", c.out);
    drift_model *m = NULL;
    drift_checkpoint info;
    CHECK_OK(drift_generator_load(ck, 1, 16, &m, &info));
    if (m) {
        CHECK(m->cfg.n_classes == 3 && m->cfg.use_alpha && info.h == H && info.c == 1);
        int labels[6] = {0, 1, 2, 0, 1, 2};
        float out1[6 * H * H], out2[6 * H * H];
        CHECK_OK(drift_generate(m, 6, labels, 2.0f, 3, out1));
        CHECK_OK(drift_generate(m, 6, labels, 2.0f, 3, out2));
        CHECK(!memcmp(out1, out2, sizeof out1));
        int inrange = 1;
        for (int k = 0; k < 6 * H * H; k++) inrange &= out1[k] > -1.0f && out1[k] < 1.0f;
        CHECK(inrange);
        CHECK(drift_generate(m, 6, labels, 0.5f, 3, out1) == DRIFT_EINVAL);
        labels[0] = 7;
        CHECK(drift_generate(m, 6, labels, 1.0f, 3, out1) == DRIFT_EINVAL);
        drift_model_free(m);
    }
    char grid[512];
    snprintf(grid, sizeof grid, "%s/samples.png", c.out);
    CHECK(access(grid, F_OK) == 0);
    free(img);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/drift_test_trainer_%d", (int)getpid());
    mkdir(tmpdir, 0777);
    RUN(test_resume_gives_the_same_weights);
    RUN(test_same_seed_same_bytes);
    RUN(test_divergence_is_an_error_and_keeps_weights);
    RUN(test_last_checkpoint);
    RUN(test_failed_samples_keep_the_checkpoint);
    RUN(test_stop_flag_checkpoints);
    RUN(test_training_brings_samples_to_the_data);
    RUN(test_bad_options);
    RUN(test_conv_conditional_smoke);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
