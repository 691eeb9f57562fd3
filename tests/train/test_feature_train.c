/* Training in a frozen encoder's features (--features): a tiny encoder on tiny images, a few
 * steps; the run resumes to the same bytes, records the encoder's hash, and refuses a changed or
 * missing encoder with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/encoder.h"
#include "drift/npy.h"
#include "drift/rng.h"
#include "drift/safetensors.h"
#include "drift/train.h"
#include "test.h"
#include "trainer_util.h"

static char tmpdir[256], xp[512], lp[512];
enum { N = 120, H = 8 };

static void write_data(void)
{
    float *img = malloc(sizeof(float) * N * H * H);
    int32_t lab[N];
    drift_rng r;
    drift_rng_init(&r, 5, 0);
    for (int i = 0; i < N; i++) {
        lab[i] = i % 3;
        for (int k = 0; k < H * H; k++)
            img[i * H * H + k] = (k % 3 == lab[i] ? 0.8f : -0.8f) + 0.1f * (float)drift_rng_normal(&r);
    }
    snprintf(xp, sizeof xp, "%s/imgs.npy", tmpdir);
    snprintf(lp, sizeof lp, "%s/labels.npy", tmpdir);
    int64_t shape[3] = {N, H, H}, ln = N;
    CHECK_OK(drift_npy_write(xp, DRIFT_DTYPE_F32, 3, shape, img));
    CHECK_OK(drift_npy_write(lp, DRIFT_DTYPE_I32, 1, &ln, lab));
    free(img);
}

static void train_encoder(uint64_t seed, const char *path)
{
    drift_dataset d;
    drift_dataset_opts o = {.split = "train"};
    CHECK_OK(drift_dataset_open(xp, &o, &d));
    drift_encoder_opts eo;
    drift_encoder_opts_default(&eo, xp);
    eo.dataset = xp;
    eo.arch.channels = 1, eo.arch.height = H, eo.arch.width = H;
    eo.arch.n_widths = 2, eo.arch.widths[0] = 4, eo.arch.widths[1] = 8, eo.arch.groups = 2;
    eo.steps = 4;
    eo.batch = 8;
    eo.patch = 4;
    eo.seed = seed;
    drift_encoder *e = NULL;
    CHECK_OK(drift_encoder_train_on(&d, &eo, &e));
    if (e) CHECK_OK(drift_encoder_save(e, path));
    drift_encoder_free(e);
    drift_dataset_free(&d);
}

static void config(drift_train_config *c, const char *enc, const char *out)
{
    CHECK_OK(drift_train_config_defaults(c, xp, "quick"));
    snprintf(c->labels, sizeof c->labels, "%s", lp);
    snprintf(c->model, sizeof c->model, "conv");
    c->conditional = 1;
    c->width = 8;
    c->n_pos = 16;
    c->n_neg = 8;
    c->n_unc = 4;
    c->alpha_max = 3.0;
    c->steps = 4;
    c->ckpt_every = 2;
    c->sample_every = 0;
    c->eval_every = -1;
    c->log_every = 1;
    c->threads = 2;
    snprintf(c->features, sizeof c->features, "%s", enc);
    snprintf(c->feature_keys, sizeof c->feature_keys, "release"); /* the tiny encoder has no layer2 */
    snprintf(c->out, sizeof c->out, "%s/%s", tmpdir, out);
}

static void test_feature_run_resumes_exactly(void)
{
    char enc[512], enc2[512], ck[512], ck_full[512];
    snprintf(enc, sizeof enc, "%s/enc.safetensors", tmpdir);
    snprintf(enc2, sizeof enc2, "%s/enc2.safetensors", tmpdir);
    train_encoder(1, enc);
    train_encoder(2, enc2);
    drift_train_config full, part;
    config(&full, enc, "full");
    config(&part, enc, "part");
    CHECK_OK(run(&full, NULL));
    part.steps = 2;
    CHECK_OK(run(&part, NULL));
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", part.out);
    snprintf(ck_full, sizeof ck_full, "%s/checkpoint.safetensors", full.out);
    drift_checkpoint info;
    CHECK_OK(drift_checkpoint_load(ck, &info));
    drift_encoder *e = NULL;
    CHECK_OK(drift_encoder_load(enc, NULL, NULL, &e));
    CHECK(e && !strcmp(info.cfg.feature_hash, e->hash) && !strcmp(info.cfg.features, enc));
    drift_encoder_free(e);
    drift_checkpoint_free(&info);
    /* the run's encoder file replaced by another encoder (a retrained cache): refused, naming both */
    char keep[512];
    snprintf(keep, sizeof keep, "%s/enc.keep", tmpdir);
    CHECK(rename(enc, keep) == 0 && link(enc2, enc) == 0);
    drift_train_config other = part;
    other.steps = 4;
    drift_trainer *t = NULL;
    int st = drift_trainer_create(&other, ck, &t);
    if (!st) st = drift_trainer_run(t);
    drift_trainer_free(t);
    CHECK(st == DRIFT_EINVAL);
    CHECK_MSG(strstr(drift_last_error(), "another") != NULL, "%s", drift_last_error());
    CHECK(unlink(enc) == 0 && rename(keep, enc) == 0);
    /* the run's own encoder: continues to the same bytes as the uninterrupted run */
    part.steps = 4;
    CHECK_OK(run(&part, ck));
    const char *names[] = {"params", "ema", "adam.m", "adam.v"};
    for (int k = 0; k < 4; k++) {
        size_t na = 0, nb = 0;
        float *a = read_tensor(ck_full, names[k], &na), *b = read_tensor(ck, names[k], &nb);
        CHECK(a && b && na == nb && na > 0);
        if (a && b && na == nb) CHECK_MSG(!memcmp(a, b, na * sizeof(float)), "%s differs after resume", names[k]);
        free(a), free(b);
    }
    /* a missing encoder file */
    drift_train_config miss;
    config(&miss, "/nonexistent/enc.safetensors", "miss");
    CHECK(run(&miss, NULL) != DRIFT_OK);
    CHECK_MSG(strstr(drift_last_error(), "nonexistent") != NULL, "%s", drift_last_error());
    /* a corrupted one (one weight byte changed) */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.safetensors", tmpdir);
    size_t len = 0;
    char *bytes = test_read_file(enc, &len);
    CHECK(bytes && len > 100);
    if (bytes) {
        bytes[len - 3] ^= 0x40;
        FILE *f = fopen(bad, "wb");
        CHECK(f && fwrite(bytes, 1, len, f) == len);
        if (f) fclose(f);
        free(bytes);
    }
    config(&miss, bad, "bad");
    CHECK(run(&miss, NULL) != DRIFT_OK);
    CHECK_MSG(strstr(drift_last_error(), "bad.safetensors") != NULL, "%s", drift_last_error());
    /* options that cannot go with the released loss */
    config(&miss, enc, "opt");
    miss.objective = DRIFT_OBJECTIVE_POTENTIAL;
    miss.field.family = DRIFT_FAMILY_SHARP;
    CHECK(drift_train_config_check(&miss) == DRIFT_EINVAL);
    config(&miss, enc, "opt");
    snprintf(miss.feature_keys, sizeof miss.feature_keys, "layer7.mean");
    CHECK(run(&miss, NULL) == DRIFT_EINVAL);
    CHECK_MSG(strstr(drift_last_error(), "layer7") != NULL, "%s", drift_last_error());
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/drift_test_feature_train_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    write_data();
    RUN(test_feature_run_resumes_exactly);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
