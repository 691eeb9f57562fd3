/* libFuzzer harness: drift_classifier_load (metadata, architecture text, tensor table,
 * finiteness) on a real file; a success must be a classifier model.
 * Seeds: LLVMFuzzerInitialize writes a valid tiny classifier into $DRIFT_FUZZ_SEED_DIR when
 * that is set (fuzz/run.sh sets it). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/eval.h"
#include "drift/models.h"
#include "fuzz_file.h"

static void write_seed(const char *dir)
{
    drift_model_config mc;
    drift_model_config_default(DRIFT_MODEL_CLASSIFIER, &mc);
    mc.widths[0] = 2, mc.widths[1] = 2, mc.widths[2] = 4;
    drift_classifier c;
    memset(&c, 0, sizeof c);
    if (drift_model_create(&mc, 2, &c.model)) return;
    snprintf(c.dataset, sizeof c.dataset, "mnist");
    c.n_classes = 10;
    c.outlier_class = -1;
    c.test_accuracy = 0.5;
    c.steps = 10;
    c.train_images = 100;
    char path[1024];
    snprintf(path, sizeof path, "%s/tiny_classifier.safetensors", dir);
    drift_classifier_save(&c, path);
    drift_model_free(c.model);
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
    const char *p = fuzz_write_file("classifier.safetensors", data, size);
    drift_classifier *c = NULL;
    if (drift_classifier_load(p, NULL, &c) != 0) {
        if (c || drift_last_error()[0] == '\0') __builtin_trap();
        return 0;
    }
    if (!c->model || c->model->cfg.kind != DRIFT_MODEL_CLASSIFIER) __builtin_trap();
    drift_classifier_free(c);
    return 0;
}
