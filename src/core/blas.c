/* blas.c — which OpenBLAS kernel runs, whether it is a fallback below what the CPU can run,
 * and an SGEMM probe. See include/drift/blas.h for the reasons. */
#include "drift/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>

#include "drift/core.h"
#include "drift/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DRIFT_X86 1
#endif

/* CPU classes, in the order of OpenBLAS's x86-64 kernel generations. */
enum { CLASS_SSE = 0, CLASS_AVX = 1, CLASS_AVX2 = 2, CLASS_AVX512 = 3 };

/* Every core name OpenBLAS's DYNAMIC_ARCH x86-64 builds report (openblas_get_corename), with
 * the instruction class of its kernels. `runnable` marks the kernels drift will name itself or
 * accept in DRIFT_BLAS_CORETYPE: generic x86-64 ones whose only needs are the class's features.
 * The old AMD ones (FMA4/XOP, 3DNow!) and the 32-bit-era ones are left out. */
static const struct {
    const char *name;
    int cls;
    int runnable;
} kernels[] = {
    {"Unknown", CLASS_SSE, 0},      {"Katmai", CLASS_SSE, 0},      {"Coppermine", CLASS_SSE, 0},
    {"Northwood", CLASS_SSE, 0},    {"Prescott", CLASS_SSE, 1},    {"Banias", CLASS_SSE, 0},
    {"Atom", CLASS_SSE, 0},         {"Core2", CLASS_SSE, 1},       {"Penryn", CLASS_SSE, 1},
    {"Dunnington", CLASS_SSE, 1},   {"Nehalem", CLASS_SSE, 1},     {"Athlon", CLASS_SSE, 0},
    {"Opteron", CLASS_SSE, 0},      {"Opteron_SSE3", CLASS_SSE, 0}, {"Barcelona", CLASS_SSE, 0},
    {"Nano", CLASS_SSE, 0},         {"Bobcat", CLASS_SSE, 0},      {"Sandybridge", CLASS_AVX, 1},
    {"Bulldozer", CLASS_AVX, 0},    {"Piledriver", CLASS_AVX, 0},  {"Steamroller", CLASS_AVX, 0},
    {"Excavator", CLASS_AVX, 0},    {"Haswell", CLASS_AVX2, 1},    {"Zen", CLASS_AVX2, 1},
    {"SkylakeX", CLASS_AVX512, 1},  {"Cooperlake", CLASS_AVX512, 1},
    {"SapphireRapids", CLASS_AVX512, 0},
};
#define N_KERNELS (sizeof kernels / sizeof kernels[0])

static int kernel_index(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < N_KERNELS; i++)
        if (!strcasecmp(name, kernels[i].name)) return (int)i;
    return -1;
}

unsigned drift_cpu_features_from_cpuid(uint32_t leaf1_ecx, uint32_t leaf7_ebx, uint32_t leaf7s1_eax,
                                       uint64_t xcr0)
{
    const int osxsave = (leaf1_ecx >> 27) & 1;
    /* XCR0: bit 1 SSE, bit 2 AVX (YMM upper halves), bits 5-7 opmask, ZMM0-15 upper, ZMM16-31. */
    const int ymm_os = osxsave && (xcr0 & 0x6) == 0x6;
    const int zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0;
    unsigned f = 0;
    if (!ymm_os || !((leaf1_ecx >> 28) & 1)) return 0;
    f |= DRIFT_CPU_AVX;
    if ((leaf1_ecx >> 12) & 1) f |= DRIFT_CPU_FMA;
    if ((leaf7_ebx >> 5) & 1) f |= DRIFT_CPU_AVX2;
    if (!zmm_os) return f;
    if ((leaf7_ebx >> 16) & 1) f |= DRIFT_CPU_AVX512F;
    if (!(f & DRIFT_CPU_AVX512F)) return f;
    if ((leaf7_ebx >> 17) & 1) f |= DRIFT_CPU_AVX512DQ;
    if ((leaf7_ebx >> 28) & 1) f |= DRIFT_CPU_AVX512CD;
    if ((leaf7_ebx >> 30) & 1) f |= DRIFT_CPU_AVX512BW;
    if ((leaf7_ebx >> 31) & 1) f |= DRIFT_CPU_AVX512VL;
    if ((leaf7s1_eax >> 5) & 1) f |= DRIFT_CPU_AVX512_BF16;
    return f;
}

void drift_cpu_detect(drift_cpu_info *out)
{
    memset(out, 0, sizeof *out);
#ifdef DRIFT_X86
    unsigned a, b, c, d;
    const unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 1) return;
    __cpuid(0, a, b, c, d);
    memcpy(out->vendor, &b, 4);
    memcpy(out->vendor + 4, &d, 4);
    memcpy(out->vendor + 8, &c, 4);
    out->vendor[12] = 0;
    __cpuid(1, a, b, c, d);
    const uint32_t leaf1_ecx = c;
    const int base_family = (int)((a >> 8) & 0xf), base_model = (int)((a >> 4) & 0xf);
    out->family = base_family + (base_family == 0xf ? (int)((a >> 20) & 0xff) : 0);
    out->model = base_model + (base_family == 0x6 || base_family == 0xf ? (int)((a >> 16) & 0xf) << 4 : 0);
    uint32_t leaf7_ebx = 0, leaf7s1_eax = 0;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        leaf7_ebx = b;
        const unsigned max_sub = a;
        if (max_sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            leaf7s1_eax = a;
        }
    }
    uint64_t xcr0 = 0;
    if ((leaf1_ecx >> 27) & 1) {
        uint32_t lo, hi;
        __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0)); /* xgetbv */
        xcr0 = ((uint64_t)hi << 32) | lo;
    }
    out->features = drift_cpu_features_from_cpuid(leaf1_ecx, leaf7_ebx, leaf7s1_eax, xcr0);
#endif
}

static int cpu_class(const drift_cpu_info *cpu)
{
    const unsigned f = cpu->features;
    if ((f & DRIFT_CPU_AVX512_SKX) == DRIFT_CPU_AVX512_SKX && (f & DRIFT_CPU_AVX2) && (f & DRIFT_CPU_FMA))
        return CLASS_AVX512;
    if ((f & DRIFT_CPU_AVX2) && (f & DRIFT_CPU_FMA) && (f & DRIFT_CPU_AVX)) return CLASS_AVX2;
    if (f & DRIFT_CPU_AVX) return CLASS_AVX;
    return CLASS_SSE;
}

static int is_amd(const drift_cpu_info *cpu)
{
    return !strcmp(cpu->vendor, "AuthenticAMD") || !strcmp(cpu->vendor, "HygonGenuine");
}

/* OpenBLAS knows the Cooperlake target (SkylakeX kernels plus bfloat16 ones) since 0.3.10. */
static int knows_cooperlake(const char *config)
{
    int major = 0, minor = 0, patch = 0;
    const char *p = config ? strstr(config, "OpenBLAS ") : NULL;
    if (!p || sscanf(p, "OpenBLAS %d.%d.%d", &major, &minor, &patch) != 3) return 0;
    return major > 0 || minor > 3 || (minor == 3 && patch >= 10);
}

static int is_dynamic(const char *config) { return config && strstr(config, "DYNAMIC_ARCH") != NULL; }

const char *drift_blas_recommend_coretype(const drift_cpu_info *cpu, const char *corename,
                                          const char *config)
{
    const int k = kernel_index(corename);
    if (!cpu || k < 0 || !is_dynamic(config)) return NULL;
    const int c = cpu_class(cpu);
    if (kernels[k].cls >= c) return NULL;
    switch (c) {
    case CLASS_AVX512:
        return (cpu->features & DRIFT_CPU_AVX512_BF16) && knows_cooperlake(config) ? "COOPERLAKE" : "SKYLAKEX";
    case CLASS_AVX2:
        return is_amd(cpu) ? "ZEN" : "HASWELL";
    case CLASS_AVX:
        return "SANDYBRIDGE";
    default:
        return NULL;
    }
}

int drift_blas_coretype_runnable(const drift_cpu_info *cpu, const char *name)
{
    const int k = kernel_index(name);
    if (!cpu || k < 0 || !kernels[k].runnable) return 0;
    const int c = cpu_class(cpu);
    if (kernels[k].cls > c) return 0;
    /* Core2 .. Nehalem assume SSSE3/SSE4: vouch for them only on CPUs that have AVX. */
    if (kernels[k].cls == CLASS_SSE && c == CLASS_SSE && strcasecmp(name, "Prescott")) return 0;
    if (!strcasecmp(name, "Cooperlake") && !(cpu->features & DRIFT_CPU_AVX512_BF16)) return 0;
    return 1;
}

static int is_word(const char *s, const char *w) { return s && !strcasecmp(s, w); }

const char *drift_blas_restart_coretype(const drift_cpu_info *cpu, const char *corename,
                                        const char *config, const char *env_openblas,
                                        const char *env_drift, const char *env_marker,
                                        const char **note)
{
    static char upper[32];
    if (note) *note = NULL;
    if (env_marker) return NULL; /* restarted once already */
    if (env_drift && *env_drift && !is_word(env_drift, "auto")) {
        if (is_word(env_drift, "keep") || is_word(env_drift, "none") || is_word(env_drift, "off"))
            return NULL;
        const int k = kernel_index(env_drift);
        if (!is_dynamic(config)) {
            if (note) *note = "this OpenBLAS is not a DYNAMIC_ARCH build; its kernel cannot be chosen";
            return NULL;
        }
        if (k < 0 || !drift_blas_coretype_runnable(cpu, env_drift)) {
            if (note)
                *note = k < 0 ? "not a kernel name drift knows (Prescott, Nehalem, Sandybridge, Haswell, Zen, "
                                "SkylakeX, Cooperlake)"
                              : "this CPU cannot run that kernel (or drift cannot tell that it can)";
            return NULL;
        }
        if (is_word(env_openblas, env_drift) || is_word(corename, env_drift)) return NULL;
        size_t i = 0;
        for (const char *s = kernels[k].name; *s && i + 1 < sizeof upper; s++)
            upper[i++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
        upper[i] = 0;
        return upper;
    }
    if (env_openblas && *env_openblas) return NULL; /* the user's choice */
    return drift_blas_recommend_coretype(cpu, corename, config);
}

void drift_blas_get_info(drift_blas_info *out)
{
    memset(out, 0, sizeof *out);
    out->config = openblas_get_config();
    out->corename = openblas_get_corename();
    out->threads = openblas_get_num_threads();
    out->dynamic = is_dynamic(out->config);
    const char *e = getenv("OPENBLAS_CORETYPE");
    out->env_coretype = e && *e ? e : NULL;
    e = getenv("DRIFT_BLAS_REEXEC");
    out->chosen_from = e && *e ? e : NULL;
    drift_cpu_detect(&out->cpu);
    out->recommended = drift_blas_recommend_coretype(&out->cpu, out->corename, out->config);
}

const char *drift_blas_recommended_coretype(void)
{
    drift_cpu_info cpu;
    drift_cpu_detect(&cpu);
    return drift_blas_recommend_coretype(&cpu, openblas_get_corename(), openblas_get_config());
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int drift_blas_probe_sgemm(double seconds, int size, drift_blas_probe *out)
{
    memset(out, 0, sizeof *out);
    if (size < 16 || size > 65536 || !(seconds >= 0) || seconds > 3600)
        return drift_error(DRIFT_EINVAL, "SGEMM probe: size must be 16..65536 and seconds 0..3600 (got %d, %g)",
                           size, seconds);
    const size_t nn = (size_t)size * (size_t)size;
    float *a = drift_alloc(nn, sizeof(float)), *b = drift_alloc(nn, sizeof(float)),
          *c = drift_alloc(nn, sizeof(float));
    int cap = 64;
    double *rates = malloc((size_t)cap * sizeof *rates);
    if (!a || !b || !c || !rates) {
        drift_free(a); drift_free(b); drift_free(c); free(rates);
        return drift_error(DRIFT_ENOMEM, "SGEMM probe: out of memory for three %dx%d matrices", size, size);
    }
    for (size_t i = 0; i < nn; i++) { /* values in [-1, 1): no denormals, no overflow */
        a[i] = (float)((int)((i * 2654435761u) >> 7 & 1023) - 512) / 512.0f;
        b[i] = (float)((int)((i * 40503u + 7) >> 3 & 1023) - 512) / 512.0f;
    }
    const double flops = 2.0 * (double)size * (double)size * (double)size;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size, 1.0f, a, size, b, size, 0.0f, c, size);
    const double start = drift_now();
    int n = 0;
    while (n < 3 || drift_now() - start < seconds) {
        if (n == cap) {
            double *r = realloc(rates, (size_t)cap * 2 * sizeof *rates);
            if (!r) break;
            rates = r;
            cap *= 2;
        }
        const double t0 = drift_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size, 1.0f, a, size, b, size, 0.0f, c,
                    size);
        const double dt = drift_now() - t0;
        rates[n++] = flops / (dt > 0 ? dt : 1e-9) * 1e-9;
    }
    out->size = size;
    out->calls = n;
    out->seconds = drift_now() - start;
    qsort(rates, (size_t)n, sizeof *rates, cmp_double);
    out->median_gflops = n % 2 ? rates[n / 2] : 0.5 * (rates[n / 2 - 1] + rates[n / 2]);
    out->best_gflops = rates[n - 1];
    drift_free(a); drift_free(b); drift_free(c); free(rates);
    return DRIFT_OK;
}
