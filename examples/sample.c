/* sample.c — draw samples from a checkpoint written by `drift train`, through libdrift.
 *
 *   cc sample.c $(pkg-config --cflags --libs drift) -o sample
 *   ./sample RUN/checkpoint.safetensors 1000 samples.npy [seed]
 *
 * Same draw as `drift sample --ckpt ... --n 1000 --seed s --out samples.npy`: EMA weights,
 * batches of 512, a conditional generator cycles through its classes (sample i: class i mod C). */
#include <stdio.h>
#include <stdlib.h>

#include <drift/drift.h>

int main(int argc, char **argv)
{
    if (argc < 4 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: %s CHECKPOINT N OUT.npy [SEED]\n", argv[0]);
        return 2;
    }
    const int n = atoi(argv[2]);
    const uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
    drift_model *m = NULL;
    drift_checkpoint info;
    float *x = NULL;
    int *labels = NULL, st = drift_generator_load(argv[1], 1, 512, &m, &info);
    if (st == DRIFT_OK) {
        const int classes = m->cfg.n_classes;
        x = drift_alloc((size_t)n * (size_t)m->out_dim, sizeof(float));
        labels = classes ? drift_alloc((size_t)n, sizeof(int)) : NULL;
        st = !x || (classes && !labels) ? DRIFT_ENOMEM : DRIFT_OK;
        for (int i = 0; labels && i < n; i++) labels[i] = i % classes;
        if (st == DRIFT_OK) st = drift_generate(m, n, labels, 1.0f, seed, x);
        if (st == DRIFT_OK) st = drift_npy_write_f32(argv[3], x, n, m->out_dim);
        if (st == DRIFT_OK)
            printf("%d samples of dimension %d from a %s generator (step %lld) -> %s\n", n, m->out_dim,
                   drift_model_kind_name(m->cfg.kind), (long long)info.step, argv[3]);
    }
    if (st != DRIFT_OK) fprintf(stderr, "sample: %s\n", drift_last_error());
    drift_free(labels);
    drift_free(x);
    drift_model_free(m);
    return st == DRIFT_OK ? 0 : 1;
}
