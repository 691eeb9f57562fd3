/* drift_checkpoint_load refuses what would otherwise pass silently: another safetensors file
 * (its message used to be formatted after the file was freed: run under ASan), NaN/Inf in any
 * stored tensor (the EMA weights give all-NaN samples), and step counters beyond the run's
 * configured total or absurdly large (a run "finished" at step 2^62 wrote nothing). */
#include <math.h>
#include <unistd.h>

#include "drift/error.h"
#include "drift/safetensors.h"
#include "drift/train.h"
#include "test.h"

#define NP 12

static char path[256];
static float params[NP], ema[NP], m[NP], v[NP];

static void base(drift_checkpoint *ck)
{
    memset(ck, 0, sizeof *ck);
    drift_train_config_defaults(&ck->cfg, "swiss_roll", "quick");
    snprintf(ck->model_config, sizeof ck->model_config, "mlp");
    ck->h = 0;
    ck->w = 2;
    ck->step = ck->adam_step = ck->ema_updates = 10;
    ck->n_params = NP;
    for (int i = 0; i < NP; i++) params[i] = ema[i] = 0.1f * (float)i, m[i] = 0.01f, v[i] = 0.001f;
    ck->params = params;
    ck->ema = ema;
    ck->adam_m = m;
    ck->adam_v = v;
}

/* save ck, load it: the status of the load (and the message must name the problem) */
static int roundtrip(const drift_checkpoint *ck, const char *want_in_message)
{
    drift_checkpoint back;
    if (drift_checkpoint_save(path, ck)) {
        fprintf(stderr, "save failed: %s\n", drift_last_error());
        return 999;
    }
    int st = drift_checkpoint_load(path, &back);
    if (!st) drift_checkpoint_free(&back);
    if (want_in_message)
        CHECK_MSG(strstr(drift_last_error(), want_in_message) != NULL, "'%s' not in '%s'", want_in_message,
                  drift_last_error());
    return st;
}

static void test_valid_loads(void)
{
    drift_checkpoint ck;
    base(&ck);
    CHECK_OK(roundtrip(&ck, NULL));
    ck.step = ck.cfg.steps; /* a finished run */
    CHECK_OK(roundtrip(&ck, NULL));
}

static void test_not_a_checkpoint(void)
{
    /* a safetensors file of another kind: the message quotes its format */
    float x[2] = {1, 2};
    drift_st_tensor t = {"w", DRIFT_DTYPE_F32, 1, {2}, x};
    drift_st_meta meta = {"format", "drift-classifier-1"};
    CHECK_OK(drift_safetensors_write(path, &t, 1, &meta, 1));
    drift_checkpoint back;
    CHECK(drift_checkpoint_load(path, &back) == DRIFT_EFORMAT);
    CHECK_MSG(strstr(drift_last_error(), "not a drift training checkpoint") &&
                  strstr(drift_last_error(), "'drift-classifier-1'"),
              "%s", drift_last_error());
    CHECK(back.params == NULL);
    CHECK_OK(drift_safetensors_write(path, &t, 1, NULL, 0));
    CHECK(drift_checkpoint_load(path, &back) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "'missing'") != NULL);
}

static void test_non_finite_tensors(void)
{
    drift_checkpoint ck;
    float *arrays[4] = {params, ema, m, v};
    const char *what[4] = {"weights", "EMA weights", "optimizer state", "optimizer state"};
    for (int k = 0; k < 4; k++) {
        base(&ck);
        arrays[k][NP - 1] = k % 2 ? INFINITY : NAN;
        CHECK_MSG(roundtrip(&ck, what[k]) == DRIFT_ENUMERIC, "tensor %d", k);
    }
}

static void test_step_counters(void)
{
    drift_checkpoint ck;
    base(&ck);
    ck.step = (int64_t)1 << 62;
    CHECK(roundtrip(&ck, "beyond its run's") == DRIFT_EFORMAT);
    base(&ck);
    ck.step = ck.cfg.steps + 1;
    CHECK(roundtrip(&ck, "beyond its run's") == DRIFT_EFORMAT);
    base(&ck);
    ck.cfg.steps = (int64_t)1 << 50; /* a configured total that large is still absurd */
    ck.step = (int64_t)1 << 45;
    CHECK(roundtrip(&ck, "step") == DRIFT_EFORMAT);
    base(&ck);
    ck.adam_step = (int64_t)1 << 62;
    CHECK(roundtrip(&ck, "absurd") == DRIFT_EFORMAT);
    base(&ck);
    ck.ema_updates = -1;
    CHECK(roundtrip(&ck, "negative") == DRIFT_EFORMAT);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/drift_test_ckpt_%ld.safetensors", (long)getpid());
    RUN(test_valid_loads);
    RUN(test_not_a_checkpoint);
    RUN(test_non_finite_tensors);
    RUN(test_step_counters);
    unlink(path);
    return TEST_SUMMARY();
}
