/* libFuzzer harness: drift_checkpoint_load and drift_generator_load (checkpoint metadata,
 * the training config stored in it, the model description, the tensors and step counters)
 * on a real file. A success must hold finite tensors of the stated size and step counters
 * within the run; the generator must then run one forward pass.
 * Seeds: LLVMFuzzerInitialize writes a valid tiny checkpoint into $DRIFT_FUZZ_SEED_DIR when
 * that is set (fuzz/run.sh sets it). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/models.h"
#include "drift/train.h"
#include "fuzz_file.h"

static void write_seed(const char *dir)
{
    drift_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    if (drift_train_config_defaults(&ck.cfg, "swiss_roll", "quick")) return;
    drift_model_config mc;
    drift_model_config_default(DRIFT_MODEL_MLP, &mc);
    mc.noise_dim = 2, mc.n_widths = 1, mc.widths[0] = 4;
    drift_model *m = NULL;
    if (drift_model_create(&mc, 4, &m)) return;
    drift_model_config_format(&mc, ck.model_config, sizeof ck.model_config);
    ck.w = 2;
    ck.step = ck.adam_step = ck.ema_updates = 5;
    ck.n_params = m->n_params;
    float *zeros = drift_alloc(m->n_params, sizeof(float));
    ck.params = ck.ema = m->params;
    ck.adam_m = ck.adam_v = zeros;
    char path[1024];
    snprintf(path, sizeof path, "%s/tiny_mlp.safetensors", dir);
    drift_checkpoint_save(path, &ck);
    drift_free(zeros);
    drift_model_free(m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *dir = getenv("DRIFT_FUZZ_SEED_DIR");
    if (dir) write_seed(dir);
    drift_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_write_file("checkpoint.safetensors", data, size);
    drift_checkpoint ck;
    if (drift_checkpoint_load(p, &ck) == 0) {
        if (!ck.params || !ck.ema || !ck.adam_m || !ck.adam_v || ck.n_params < 1) __builtin_trap();
        if (ck.step < 0 || ck.step > ck.cfg.steps) __builtin_trap();
        for (size_t i = 0; i < ck.n_params; i++)
            if (!isfinite(ck.params[i]) || !isfinite(ck.ema[i]) || !isfinite(ck.adam_m[i]) || !isfinite(ck.adam_v[i]))
                __builtin_trap();
        drift_checkpoint_free(&ck);
    } else if (ck.params || drift_last_error()[0] == '\0') {
        __builtin_trap();
    }
    drift_model *m = NULL;
    drift_checkpoint info;
    if (drift_generator_load(p, 1, 2, &m, &info) == 0) {
        /* one forward pass: two samples (labels cycle through the classes, if any) */
        const int n = 2;
        int labels[2] = {0, m->cfg.n_classes > 1 ? 1 : 0};
        float *out = drift_alloc((size_t)n * (size_t)m->out_dim, sizeof(float));
        if (out && m->out_dim < (1 << 20)) drift_generate(m, n, m->cfg.n_classes ? labels : NULL, 1.0f, 0, out);
        drift_free(out);
        drift_model_free(m);
    }
    return 0;
}
