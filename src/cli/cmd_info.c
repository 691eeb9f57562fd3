/* cmd_info.c — `drift info`: version, CPU, the BLAS and kernel in use, who chose the kernel,
 * threads, and a short SGEMM probe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <omp.h>

#include "cli/cli.h"
#include "drift/blas.h"
#include "drift/core.h"
#include "drift/json.h"
#include "drift/train.h"

static const char *USAGE = "drift info [--probe-seconds S] [--probe-size N] [--threads T] [--json]\n"
                           "       drift info CKPT [--json]    (a checkpoint: step, generator, training configuration)";
static const char *DESCRIPTION =
    "Prints the drift version, the CPU (vendor, family/model, the vector features its kernels can\n"
    "use), the BLAS library and its configuration, the GEMM kernel in use and who chose it\n"
    "(OpenBLAS, OPENBLAS_CORETYPE, or drift: when OpenBLAS falls back to a generic kernel below\n"
    "what the CPU runs, drift restarts itself with OPENBLAS_CORETYPE set; DRIFT_BLAS_CORETYPE=keep\n"
    "turns that off, DRIFT_BLAS_CORETYPE=NAME asks for a kernel), the thread count, and an SGEMM\n"
    "probe (N^3 products for about S seconds on T threads; median and best GFLOP/s).";

static const struct {
    unsigned bit;
    const char *name;
} feature_names[] = {
    {DRIFT_CPU_AVX, "avx"},           {DRIFT_CPU_FMA, "fma"},           {DRIFT_CPU_AVX2, "avx2"},
    {DRIFT_CPU_AVX512F, "avx512f"},   {DRIFT_CPU_AVX512DQ, "avx512dq"}, {DRIFT_CPU_AVX512CD, "avx512cd"},
    {DRIFT_CPU_AVX512BW, "avx512bw"}, {DRIFT_CPU_AVX512VL, "avx512vl"}, {DRIFT_CPU_AVX512_BF16, "avx512_bf16"},
};
#define N_FEATURES (int)(sizeof feature_names / sizeof feature_names[0])

/* `drift info CKPT [--json]`: what a checkpoint holds — its step, generator and data shape,
 * and the whole training configuration it was written with (as a run's config.json). */
static int info_checkpoint(const char *path, int json)
{
    drift_checkpoint ck;
    if (drift_checkpoint_load(path, &ck)) return cli_fail("info", "cannot read the checkpoint");
    drift_jsonw w;
    drift_jsonw_init(&w);
    int st = drift_train_config_write_json(&ck.cfg, &w);
    if (!st && json) {
        /* {"checkpoint": ..., "step": ..., "model": ..., "params": ..., "config": {...}} */
        drift_jsonw out;
        drift_jsonw_init(&out);
        drift_jsonw_begin_object(&out);
        drift_jsonw_key(&out, "checkpoint"); drift_jsonw_string(&out, path);
        drift_jsonw_key(&out, "step"); drift_jsonw_int(&out, ck.step);
        drift_jsonw_key(&out, "model"); drift_jsonw_string(&out, ck.model_config);
        drift_jsonw_key(&out, "params"); drift_jsonw_int(&out, (int64_t)ck.n_params);
        drift_jsonw_key(&out, "shape");
        drift_jsonw_begin_array(&out);
        drift_jsonw_int(&out, ck.h); drift_jsonw_int(&out, ck.w); drift_jsonw_int(&out, ck.c);
        drift_jsonw_end_array(&out);
        drift_jsonw_key(&out, "classes"); drift_jsonw_int(&out, ck.n_classes);
        drift_jsonw_end_object(&out);
        st = drift_jsonw_status(&out);
        /* splice the config object in as the last member */
        if (!st) printf("%.*s, \"config\": %s}\n", (int)(out.len - 1), out.buf, w.buf);
        drift_jsonw_free(&out);
    } else if (!st) {
        printf("checkpoint: %s\nstep:       %lld of %lld\ngenerator:  %s (%zu parameters)\n", path,
               (long long)ck.step, (long long)ck.cfg.steps, ck.model_config, ck.n_params);
        if (ck.h > 0) printf("data:       %d x %d x %d images, %d classes\n", ck.h, ck.w, ck.c, ck.n_classes);
        else printf("data:       %d-dimensional rows, %d classes\n", ck.w, ck.n_classes);
        printf("configuration (drift train --config takes it as JSON: drift info CKPT --json):\n");
        int n;
        const drift_train_option *o = drift_train_options(&n);
        for (int i = 0; i < n; i++) {
            char val[600];
            drift_train_config_get(&ck.cfg, o[i].key, val, sizeof val);
            printf("  %-18s %s\n", o[i].key, val);
        }
    }
    drift_jsonw_free(&w);
    drift_checkpoint_free(&ck);
    if (st) return cli_fail("info", "cannot write the configuration");
    return 0;
}

int cmd_info(int argc, char **argv)
{
    if (argc >= 2 && strncmp(argv[1], "-", 1)) { /* drift info CKPT [--json] */
        int json = argc == 3 && !strcmp(argv[2], "--json");
        if (argc > 3 || (argc == 3 && !json)) {
            fprintf(stderr, "drift info: usage: drift info CKPT [--json]\n");
            return 2;
        }
        return cli_dry_run() ? 0 : info_checkpoint(argv[1], json);
    }
    double probe_seconds = 1.0;
    int probe_size = 2048, threads = 0, json = 0;
    cli_opt opts[] = {
        {"--probe-seconds", OPT_DOUBLE, &probe_seconds, "S", "SGEMM probe length (default 1; 0 = no probe)", 0},
        {"--probe-size", OPT_INT, &probe_size, "N", "probe matrix size N (N x N times N x N; default 2048)", 0},
        {"--threads", OPT_INT, &threads, "T", "threads (default: all cores)", 0},
        {"--json", OPT_FLAG, &json, NULL, "one JSON object instead of text", 0},
    };
    int pr = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), USAGE, DESCRIPTION);
    if (pr) return pr > 0 ? 0 : 2;
    if (threads < 0 || !(probe_seconds >= 0 && probe_seconds <= 600) || probe_size < 16 || probe_size > 16384) {
        fprintf(stderr, "drift info: --threads must be >= 0, --probe-seconds in [0, 600], --probe-size in [16, 16384]\n");
        return 2;
    }
    drift_set_threads(threads);
    drift_blas_info b;
    drift_blas_get_info(&b);
    const char *who = cli_blas_chooser(&b);
    drift_blas_probe probe;
    int probed = 0;
    if (probe_seconds > 0) {
        if (drift_blas_probe_sgemm(probe_seconds, probe_size, &probe)) return cli_fail("info", "SGEMM probe failed");
        probed = 1;
    }
    if (json) {
        drift_jsonw w;
        drift_jsonw_init(&w);
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "drift_version"); drift_jsonw_string(&w, DRIFT_VERSION_STRING);
        drift_jsonw_key(&w, "cpu");
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "vendor"); drift_jsonw_string(&w, b.cpu.vendor);
        drift_jsonw_key(&w, "family"); drift_jsonw_int(&w, b.cpu.family);
        drift_jsonw_key(&w, "model"); drift_jsonw_int(&w, b.cpu.model);
        drift_jsonw_key(&w, "features");
        drift_jsonw_begin_array(&w);
        for (int i = 0; i < N_FEATURES; i++)
            if (b.cpu.features & feature_names[i].bit) drift_jsonw_string(&w, feature_names[i].name);
        drift_jsonw_end_array(&w);
        drift_jsonw_end_object(&w);
        drift_jsonw_key(&w, "blas");
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "library"); drift_jsonw_string(&w, "OpenBLAS");
        drift_jsonw_key(&w, "config"); drift_jsonw_string(&w, b.config ? b.config : "");
        drift_jsonw_key(&w, "kernel"); drift_jsonw_string(&w, b.corename ? b.corename : "");
        drift_jsonw_key(&w, "dynamic_arch"); drift_jsonw_bool(&w, b.dynamic);
        drift_jsonw_key(&w, "chosen_by"); drift_jsonw_string(&w, who);
        drift_jsonw_key(&w, "openblas_choice");
        if (b.chosen_from) drift_jsonw_string(&w, b.chosen_from); else drift_jsonw_null(&w);
        drift_jsonw_key(&w, "openblas_coretype");
        if (b.env_coretype) drift_jsonw_string(&w, b.env_coretype); else drift_jsonw_null(&w);
        drift_jsonw_key(&w, "recommended");
        if (b.recommended) drift_jsonw_string(&w, b.recommended); else drift_jsonw_null(&w);
        drift_jsonw_key(&w, "threads"); drift_jsonw_int(&w, b.threads);
        drift_jsonw_end_object(&w);
        drift_jsonw_key(&w, "omp_threads"); drift_jsonw_int(&w, omp_get_max_threads());
        drift_jsonw_key(&w, "omp_wait_policy");
        if (getenv("OMP_WAIT_POLICY")) drift_jsonw_string(&w, getenv("OMP_WAIT_POLICY")); else drift_jsonw_null(&w);
        drift_jsonw_key(&w, "omp_wait_policy_chosen_by_drift");
        if (getenv("DRIFT_WAIT_CHOSEN")) drift_jsonw_string(&w, getenv("DRIFT_WAIT_CHOSEN")); else drift_jsonw_null(&w);
        drift_jsonw_key(&w, "probe");
        if (probed) {
            drift_jsonw_begin_object(&w);
            drift_jsonw_key(&w, "size"); drift_jsonw_int(&w, probe.size);
            drift_jsonw_key(&w, "calls"); drift_jsonw_int(&w, probe.calls);
            drift_jsonw_key(&w, "seconds"); drift_jsonw_double(&w, probe.seconds);
            drift_jsonw_key(&w, "median_gflops"); drift_jsonw_double(&w, probe.median_gflops);
            drift_jsonw_key(&w, "best_gflops"); drift_jsonw_double(&w, probe.best_gflops);
            drift_jsonw_end_object(&w);
        } else {
            drift_jsonw_null(&w);
        }
        drift_jsonw_end_object(&w);
        int st = drift_jsonw_status(&w);
        if (!st) printf("%s\n", w.buf);
        drift_jsonw_free(&w);
        if (st) return cli_fail("info", "cannot write JSON");
        return 0;
    }
    printf("drift %s\n", DRIFT_VERSION_STRING);
    printf("cpu:     %s family %d model %d;", b.cpu.vendor[0] ? b.cpu.vendor : "unknown", b.cpu.family, b.cpu.model);
    int any = 0;
    for (int i = 0; i < N_FEATURES; i++)
        if (b.cpu.features & feature_names[i].bit) printf(" %s", feature_names[i].name), any = 1;
    printf("%s\n", any ? "" : " no AVX");
    printf("blas:    %s\n", b.config ? b.config : "(unknown)");
    printf("kernel:  %s, chosen by %s", b.corename ? b.corename : "(unknown)", who);
    if (b.chosen_from) printf(" (OpenBLAS's own choice here: %s)", b.chosen_from);
    else if (b.recommended)
        printf(" (a fallback: this CPU runs %s kernels; %s)", b.recommended,
               b.env_coretype ? "unset OPENBLAS_CORETYPE to let drift choose them"
                              : "DRIFT_BLAS_CORETYPE=auto or unset lets drift choose them");
    printf("\nthreads: %d (OpenMP %d)\n", b.threads, omp_get_max_threads());
    cli_wait_banner(stdout);
    if (probed)
        printf("sgemm:   %.1f GFLOP/s median, %.1f best (%d^3, %d calls in %.2f s)\n", probe.median_gflops,
               probe.best_gflops, probe.size, probe.calls, probe.seconds);
    return 0;
}
