/* test_blas.c — the OpenBLAS kernel choice (drift/blas.h) against mocked CPUs and core names,
 * the cpuid/XCR0 feature decoding, the restart decision, and the SGEMM probe. */
#include <string.h>

#include <cblas.h>

#include "drift/blas.h"
#include "drift/core.h"
#include "test.h"

static const char *CFG_DYN = "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY USE_OPENMP Prescott MAX_THREADS=64";
static const char *CFG_OLD = "OpenBLAS 0.3.8 DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64";
static const char *CFG_STATIC = "OpenBLAS 0.3.21 NO_AFFINITY USE_OPENMP HASWELL MAX_THREADS=64";

#define SKX (DRIFT_CPU_AVX | DRIFT_CPU_FMA | DRIFT_CPU_AVX2 | DRIFT_CPU_AVX512_SKX)
#define HSW (DRIFT_CPU_AVX | DRIFT_CPU_FMA | DRIFT_CPU_AVX2)

static drift_cpu_info cpu(const char *vendor, int family, int model, unsigned features)
{
    drift_cpu_info c;
    memset(&c, 0, sizeof c);
    strcpy(c.vendor, vendor);
    c.family = family;
    c.model = model;
    c.features = features;
    return c;
}

static int same(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }
static const char *str(const char *s) { return s ? s : "NULL"; }

#define CHECK_REC(c, core, cfg, want)                                                          \
    do {                                                                                       \
        drift_cpu_info c_ = (c);                                                               \
        const char *got_ = drift_blas_recommend_coretype(&c_, (core), (cfg));                  \
        CHECK_MSG(same(got_, (want)), "%s on %s: got %s, want %s", str(core), c_.vendor,       \
                  str(got_), str(want));                                                       \
    } while (0)

/* The machine of the issue: Emerald Rapids (family 6, model 207), AVX-512 with bf16, which
 * OpenBLAS 0.3.21 does not know and runs with its Prescott kernels. */
static void test_emerald_rapids(void)
{
    const drift_cpu_info emr = cpu("GenuineIntel", 6, 207, SKX | DRIFT_CPU_AVX512_BF16);
    CHECK_REC(emr, "Prescott", CFG_DYN, "COOPERLAKE");
    CHECK_REC(emr, "Core2", CFG_DYN, "COOPERLAKE");
    CHECK_REC(emr, "Nehalem", CFG_DYN, "COOPERLAKE");
    CHECK_REC(emr, "Sandybridge", CFG_DYN, "COOPERLAKE");
    CHECK_REC(emr, "Haswell", CFG_DYN, "COOPERLAKE");
    CHECK_REC(emr, "Unknown", CFG_DYN, "COOPERLAKE");
    CHECK_REC(emr, "prescott", CFG_DYN, "COOPERLAKE"); /* names compare without case */
    /* Already an AVX-512 kernel: keep it. */
    CHECK_REC(emr, "Cooperlake", CFG_DYN, NULL);
    CHECK_REC(emr, "SkylakeX", CFG_DYN, NULL);
    CHECK_REC(emr, "SapphireRapids", CFG_DYN, NULL);
    /* An OpenBLAS from before the Cooperlake target (0.3.10): SkylakeX. */
    CHECK_REC(emr, "Prescott", CFG_OLD, "SKYLAKEX");
    /* Not a DYNAMIC_ARCH build: nothing can be chosen. */
    CHECK_REC(emr, "Prescott", CFG_STATIC, NULL);
    CHECK_REC(emr, "Prescott", NULL, NULL);
    /* Names drift does not know (a newer OpenBLAS, another architecture): leave them. */
    CHECK_REC(emr, "GraniteRapids", CFG_DYN, NULL);
    CHECK_REC(emr, "NEOVERSEN1", CFG_DYN, NULL);
    CHECK_REC(emr, NULL, CFG_DYN, NULL);
}

static void test_intel_without_bf16(void)
{
    const drift_cpu_info skx = cpu("GenuineIntel", 6, 85, SKX);
    CHECK_REC(skx, "Prescott", CFG_DYN, "SKYLAKEX");
    CHECK_REC(skx, "Haswell", CFG_DYN, "SKYLAKEX");
    CHECK_REC(skx, "SkylakeX", CFG_DYN, NULL);
    /* AVX-512F alone (e.g. Knights Landing: no BW/DQ/VL) is not what SkylakeX kernels need. */
    const drift_cpu_info knl = cpu("GenuineIntel", 6, 87, HSW | DRIFT_CPU_AVX512F | DRIFT_CPU_AVX512CD);
    CHECK_REC(knl, "Prescott", CFG_DYN, "HASWELL");
    CHECK_REC(knl, "Haswell", CFG_DYN, NULL);
}

static void test_avx2_and_avx(void)
{
    const drift_cpu_info hsw = cpu("GenuineIntel", 6, 63, HSW);
    CHECK_REC(hsw, "Prescott", CFG_DYN, "HASWELL");
    CHECK_REC(hsw, "Nehalem", CFG_DYN, "HASWELL");
    CHECK_REC(hsw, "Sandybridge", CFG_DYN, "HASWELL");
    CHECK_REC(hsw, "Haswell", CFG_DYN, NULL);
    CHECK_REC(hsw, "Zen", CFG_DYN, NULL);
    /* AVX2 without FMA is not the Haswell class. */
    const drift_cpu_info nofma = cpu("GenuineIntel", 6, 63, DRIFT_CPU_AVX | DRIFT_CPU_AVX2);
    CHECK_REC(nofma, "Prescott", CFG_DYN, "SANDYBRIDGE");
    const drift_cpu_info snb = cpu("GenuineIntel", 6, 42, DRIFT_CPU_AVX);
    CHECK_REC(snb, "Prescott", CFG_DYN, "SANDYBRIDGE");
    CHECK_REC(snb, "Nehalem", CFG_DYN, "SANDYBRIDGE");
    CHECK_REC(snb, "Sandybridge", CFG_DYN, NULL);
    const drift_cpu_info old = cpu("GenuineIntel", 6, 26, 0);
    CHECK_REC(old, "Prescott", CFG_DYN, NULL);
    CHECK_REC(old, "Nehalem", CFG_DYN, NULL);
}

static void test_amd(void)
{
    const drift_cpu_info zen = cpu("AuthenticAMD", 25, 1, HSW);
    CHECK_REC(zen, "Prescott", CFG_DYN, "ZEN");
    CHECK_REC(zen, "Barcelona", CFG_DYN, "ZEN");
    CHECK_REC(zen, "Excavator", CFG_DYN, "ZEN");
    CHECK_REC(zen, "Zen", CFG_DYN, NULL);
    CHECK_REC(zen, "Haswell", CFG_DYN, NULL); /* what 0.3.21 picks on this project's EPYC VM */
    const drift_cpu_info hygon = cpu("HygonGenuine", 24, 1, HSW);
    CHECK_REC(hygon, "Prescott", CFG_DYN, "ZEN");
    /* Zen 4: AVX-512 with bf16, like upstream OpenBLAS's own later choice for it. */
    const drift_cpu_info zen4 = cpu("AuthenticAMD", 25, 17, SKX | DRIFT_CPU_AVX512_BF16);
    CHECK_REC(zen4, "Prescott", CFG_DYN, "COOPERLAKE");
    CHECK_REC(zen4, "Zen", CFG_DYN, "COOPERLAKE");
}

/* Leaf 1 ECX: FMA bit 12, OSXSAVE bit 27, AVX bit 28. Leaf 7 EBX: AVX2 5, AVX512F 16, DQ 17,
 * CD 28, BW 30, VL 31. Leaf 7.1 EAX: AVX512_BF16 5. XCR0: 0x7 SSE/AVX, 0xe0 AVX-512 state. */
static void test_cpuid_decoding(void)
{
    const uint32_t l1 = (1u << 12) | (1u << 27) | (1u << 28);
    const uint32_t l7 = (1u << 5) | (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    const uint32_t bf16 = 1u << 5;
    CHECK(drift_cpu_features_from_cpuid(l1, l7, bf16, 0xe7) == (SKX | DRIFT_CPU_AVX512_BF16));
    CHECK(drift_cpu_features_from_cpuid(l1, l7, 0, 0xe7) == SKX);
    /* The OS does not enable the ZMM state (XCR0 bits 5-7): no AVX-512, AVX2 still usable. */
    CHECK(drift_cpu_features_from_cpuid(l1, l7, bf16, 0x7) == HSW);
    /* No YMM state, or no OSXSAVE: nothing. */
    CHECK(drift_cpu_features_from_cpuid(l1, l7, bf16, 0x3) == 0);
    CHECK(drift_cpu_features_from_cpuid(l1 & ~(1u << 27), l7, bf16, 0xe7) == 0);
    /* The CPU lacks AVX itself. */
    CHECK(drift_cpu_features_from_cpuid(l1 & ~(1u << 28), l7, bf16, 0xe7) == 0);
    /* AVX2 without FMA; AVX only. */
    CHECK(drift_cpu_features_from_cpuid(l1 & ~(1u << 12), 1u << 5, 0, 0x7) == (DRIFT_CPU_AVX | DRIFT_CPU_AVX2));
    CHECK(drift_cpu_features_from_cpuid(l1 & ~(1u << 12), 0, 0, 0x7) == DRIFT_CPU_AVX);
    /* AVX-512 subsets without F count for nothing. */
    CHECK(drift_cpu_features_from_cpuid(l1, l7 & ~(1u << 16), bf16, 0xe7) == HSW);

    /* This machine: the decoding agrees with the compiler's view of the CPU. */
    drift_cpu_info me;
    drift_cpu_detect(&me);
#if defined(__x86_64__)
    __builtin_cpu_init();
    CHECK(me.vendor[0] != 0);
    CHECK(!!(me.features & DRIFT_CPU_AVX2) == !!__builtin_cpu_supports("avx2"));
    CHECK(!!(me.features & DRIFT_CPU_FMA) == !!__builtin_cpu_supports("fma"));
    CHECK(!!(me.features & DRIFT_CPU_AVX512F) == !!__builtin_cpu_supports("avx512f"));
    fprintf(stderr, "this cpu: %s family %d model %d features 0x%x; OpenBLAS %s; recommended %s\n", me.vendor,
            me.family, me.model, me.features, openblas_get_corename(),
            drift_blas_recommended_coretype() ? drift_blas_recommended_coretype() : "none");
#endif
}

static void test_runnable(void)
{
    const drift_cpu_info emr = cpu("GenuineIntel", 6, 207, SKX | DRIFT_CPU_AVX512_BF16);
    const drift_cpu_info skx = cpu("GenuineIntel", 6, 85, SKX);
    const drift_cpu_info zen = cpu("AuthenticAMD", 25, 1, HSW);
    const drift_cpu_info none = cpu("GenuineIntel", 6, 26, 0);
    CHECK(drift_blas_coretype_runnable(&emr, "COOPERLAKE"));
    CHECK(drift_blas_coretype_runnable(&emr, "skylakex"));
    CHECK(drift_blas_coretype_runnable(&emr, "Haswell"));
    CHECK(drift_blas_coretype_runnable(&emr, "PRESCOTT"));
    CHECK(!drift_blas_coretype_runnable(&skx, "COOPERLAKE")); /* no bf16 */
    CHECK(drift_blas_coretype_runnable(&skx, "SKYLAKEX"));
    CHECK(!drift_blas_coretype_runnable(&zen, "SKYLAKEX")); /* would be SIGILL (seen here) */
    CHECK(drift_blas_coretype_runnable(&zen, "ZEN"));
    CHECK(drift_blas_coretype_runnable(&zen, "HASWELL"));
    CHECK(drift_blas_coretype_runnable(&zen, "SANDYBRIDGE"));
    CHECK(drift_blas_coretype_runnable(&zen, "NEHALEM"));
    CHECK(!drift_blas_coretype_runnable(&zen, "BULLDOZER")); /* FMA4 kernels: not vouched for */
    CHECK(!drift_blas_coretype_runnable(&zen, "ATHLON"));
    CHECK(!drift_blas_coretype_runnable(&zen, "bogus"));
    CHECK(!drift_blas_coretype_runnable(&zen, NULL));
    CHECK(drift_blas_coretype_runnable(&none, "PRESCOTT"));
    CHECK(!drift_blas_coretype_runnable(&none, "NEHALEM"));
    CHECK(!drift_blas_coretype_runnable(&none, "HASWELL"));
}

#define CHECK_RESTART(c, core, cfg, eo, ed, em, want, want_note)                                \
    do {                                                                                       \
        drift_cpu_info c_ = (c);                                                               \
        const char *note_ = "unset";                                                           \
        const char *got_ = drift_blas_restart_coretype(&c_, (core), (cfg), (eo), (ed), (em), &note_); \
        CHECK_MSG(same(got_, (want)), "restart got %s, want %s", str(got_), str(want));       \
        CHECK_MSG(!!note_ == !!(want_note), "note %s", str(note_));                            \
    } while (0)

static void test_restart_decision(void)
{
    const drift_cpu_info emr = cpu("GenuineIntel", 6, 207, SKX | DRIFT_CPU_AVX512_BF16);
    const drift_cpu_info zen = cpu("AuthenticAMD", 25, 1, HSW);
    /* The default: restart from a fallback, not from a right choice. */
    CHECK_RESTART(emr, "Prescott", CFG_DYN, NULL, NULL, NULL, "COOPERLAKE", 0);
    CHECK_RESTART(emr, "Prescott", CFG_DYN, NULL, "auto", NULL, "COOPERLAKE", 0);
    CHECK_RESTART(emr, "Prescott", CFG_DYN, NULL, "", NULL, "COOPERLAKE", 0);
    CHECK_RESTART(zen, "Haswell", CFG_DYN, NULL, NULL, NULL, NULL, 0);
    /* Once restarted, never again (whatever the kernel turned out to be). */
    CHECK_RESTART(emr, "Prescott", CFG_DYN, "COOPERLAKE", NULL, "Prescott", NULL, 0);
    CHECK_RESTART(emr, "Prescott", CFG_DYN, NULL, "SKYLAKEX", "Prescott", NULL, 0);
    /* The user's OPENBLAS_CORETYPE is left alone, even a slow one. */
    CHECK_RESTART(emr, "Prescott", CFG_DYN, "PRESCOTT", NULL, NULL, NULL, 0);
    CHECK_RESTART(emr, "Prescott", CFG_DYN, "PRESCOTT", "auto", NULL, NULL, 0);
    /* keep / none / off. */
    CHECK_RESTART(emr, "Prescott", CFG_DYN, NULL, "keep", NULL, NULL, 0);
    CHECK_RESTART(emr, "Prescott", CFG_DYN, NULL, "NONE", NULL, NULL, 0);
    CHECK_RESTART(emr, "Prescott", CFG_DYN, NULL, "off", NULL, NULL, 0);
    /* DRIFT_BLAS_CORETYPE=NAME: restart with it (canonical upper case) unless already running it. */
    CHECK_RESTART(emr, "Prescott", CFG_DYN, NULL, "skylakex", NULL, "SKYLAKEX", 0);
    CHECK_RESTART(zen, "Haswell", CFG_DYN, NULL, "prescott", NULL, "PRESCOTT", 0);
    CHECK_RESTART(zen, "Haswell", CFG_DYN, "HASWELL", "zen", NULL, "ZEN", 0);
    CHECK_RESTART(zen, "Haswell", CFG_DYN, NULL, "haswell", NULL, NULL, 0);
    CHECK_RESTART(zen, "Zen", CFG_DYN, "ZEN", "ZEN", NULL, NULL, 0);
    /* ... refused with a note when this CPU cannot run it, the name is unknown, or the build is
     * not DYNAMIC_ARCH. */
    CHECK_RESTART(zen, "Haswell", CFG_DYN, NULL, "SKYLAKEX", NULL, NULL, 1);
    CHECK_RESTART(zen, "Haswell", CFG_DYN, NULL, "bulldozer", NULL, NULL, 1);
    CHECK_RESTART(zen, "Haswell", CFG_DYN, NULL, "fastest", NULL, NULL, 1);
    CHECK_RESTART(zen, "Haswell", CFG_STATIC, NULL, "ZEN", NULL, NULL, 1);
    /* Not DYNAMIC_ARCH and no request: silently nothing. */
    CHECK_RESTART(emr, "Prescott", CFG_STATIC, NULL, NULL, NULL, NULL, 0);
}

static void test_info_and_probe(void)
{
    drift_blas_info b;
    drift_blas_get_info(&b);
    CHECK(b.config && strstr(b.config, "OpenBLAS"));
    CHECK(b.corename && b.corename[0]);
    CHECK(b.threads >= 1);
    drift_blas_probe p;
    CHECK_OK(drift_blas_probe_sgemm(0.0, 64, &p));
    CHECK(p.size == 64 && p.calls >= 3);
    CHECK(p.median_gflops > 0 && p.best_gflops >= p.median_gflops);
    CHECK_OK(drift_blas_probe_sgemm(0.05, 128, &p));
    CHECK(p.seconds >= 0.05 && p.calls >= 3);
    CHECK(drift_blas_probe_sgemm(1.0, 8, &p) == DRIFT_EINVAL);
    CHECK(drift_blas_probe_sgemm(-1.0, 64, &p) == DRIFT_EINVAL);
    CHECK(drift_blas_probe_sgemm(NAN, 64, &p) == DRIFT_EINVAL);
}

int main(void)
{
    RUN(test_emerald_rapids);
    RUN(test_intel_without_bf16);
    RUN(test_avx2_and_avx);
    RUN(test_amd);
    RUN(test_cpuid_decoding);
    RUN(test_runnable);
    RUN(test_restart_decision);
    RUN(test_info_and_probe);
    return TEST_SUMMARY();
}
