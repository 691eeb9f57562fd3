/* drift/blas.h — which BLAS kernel runs drift's GEMMs, and choosing a better one.
 *
 * drift's heavy work (field distances and products, convolutions) is SGEMM in OpenBLAS. A
 * DYNAMIC_ARCH OpenBLAS picks its kernel set ("core") once, when the library is loaded, from
 * the CPU's family and model. A release older than the CPU does not know the model and falls
 * back to a generic kernel: Debian 12's OpenBLAS 0.3.21 runs an Emerald Rapids Xeon (family 6,
 * model 207, AVX-512) with its SSE3 "Prescott" kernels, a fifth of the SGEMM rate its SkylakeX
 * kernels reach on the same cores. The kernel can only be chosen before the library
 * initialises, through the environment variable OPENBLAS_CORETYPE.
 *
 * The `drift` command does this itself: at start it compares OpenBLAS's choice with what the
 * CPU can run (cpuid, and the OS's enabled register state) and, when OpenBLAS fell back to a
 * kernel below the CPU's class, restarts itself once with OPENBLAS_CORETYPE set
 * (drift_blas_restart_coretype says when). Programs that link libdrift get the advice from
 * drift_blas_recommended_coretype() (or `drift info`) and set OPENBLAS_CORETYPE themselves
 * before the process starts (e.g. in the shell or the launcher of a Python process).
 *
 * Environment read by the `drift` command:
 *   OPENBLAS_CORETYPE=NAME       the user's choice: drift leaves it alone.
 *   DRIFT_BLAS_CORETYPE=keep     never restart; run OpenBLAS's own choice (also: none, off).
 *   DRIFT_BLAS_CORETYPE=NAME     restart with OPENBLAS_CORETYPE=NAME when this CPU can run it.
 *   DRIFT_BLAS_CORETYPE=auto     the default described above.
 *   DRIFT_BLAS_REEXEC            set by drift on the restart (OpenBLAS's original choice); a
 *                                process that has it set never restarts again.
 *
 * The functions that decide are pure (CPU description and names in, a name out) so that
 * every case is tested with mocked CPUs; none of them prints or exits.
 */
#ifndef DRIFT_BLAS_H
#define DRIFT_BLAS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CPU features that OpenBLAS's x86-64 kernels need, each set only when the CPU has it AND the
 * OS saves the registers it uses (XCR0): an AVX-512 CPU under an OS or hypervisor that does
 * not enable the ZMM state must not be given AVX-512 kernels. */
enum {
    DRIFT_CPU_AVX = 1u << 0,
    DRIFT_CPU_FMA = 1u << 1,
    DRIFT_CPU_AVX2 = 1u << 2,
    DRIFT_CPU_AVX512F = 1u << 3,
    DRIFT_CPU_AVX512DQ = 1u << 4,
    DRIFT_CPU_AVX512CD = 1u << 5,
    DRIFT_CPU_AVX512BW = 1u << 6,
    DRIFT_CPU_AVX512VL = 1u << 7,
    DRIFT_CPU_AVX512_BF16 = 1u << 8,
};
/* The AVX-512 subsets of Skylake-SP, which OpenBLAS's SkylakeX kernels assume. */
#define DRIFT_CPU_AVX512_SKX                                                                   \
    (DRIFT_CPU_AVX512F | DRIFT_CPU_AVX512DQ | DRIFT_CPU_AVX512CD | DRIFT_CPU_AVX512BW |        \
     DRIFT_CPU_AVX512VL)

typedef struct {
    char vendor[13];   /* "GenuineIntel", "AuthenticAMD", "HygonGenuine", ... ("" if unknown) */
    int family, model; /* display family and model (extended fields folded in) */
    unsigned features; /* DRIFT_CPU_* usable on this machine */
} drift_cpu_info;

/* The usable DRIFT_CPU_* bits from raw cpuid registers: leaf 1 ECX, leaf 7.0 EBX, leaf 7.1
 * EAX, and XCR0 (0 when leaf 1 ECX lacks OSXSAVE). Pure. */
unsigned drift_cpu_features_from_cpuid(uint32_t leaf1_ecx, uint32_t leaf7_ebx, uint32_t leaf7s1_eax,
                                       uint64_t xcr0);

/* This CPU (cpuid; on other architectures all zero). */
void drift_cpu_detect(drift_cpu_info *out);

/* The OPENBLAS_CORETYPE value (upper case: "COOPERLAKE", "SKYLAKEX", "HASWELL", "ZEN",
 * "SANDYBRIDGE") that this CPU should run when `corename` — what OpenBLAS chose,
 * openblas_get_corename() — is a kernel of a lower class than the CPU supports (AVX-512 >
 * AVX2+FMA > AVX > SSE); NULL when the choice is right, when `corename` is a name drift does
 * not know (a newer OpenBLAS), or when `config` (openblas_get_config()) is not a
 * DYNAMIC_ARCH build, whose kernel cannot be changed. Pure. */
const char *drift_blas_recommend_coretype(const drift_cpu_info *cpu, const char *corename,
                                          const char *config);

/* 1 when `name` (any case) is a kernel drift knows to run on `cpu`, 0 otherwise (unknown
 * names, vendor-specific old AMD kernels, kernels needing features the CPU lacks). Pure. */
int drift_blas_coretype_runnable(const drift_cpu_info *cpu, const char *name);

/* What the `drift` command does at start: the OPENBLAS_CORETYPE to restart with, or NULL to
 * run on. The env_* arguments are the values of OPENBLAS_CORETYPE, DRIFT_BLAS_CORETYPE and
 * DRIFT_BLAS_REEXEC (NULL when unset). When a DRIFT_BLAS_CORETYPE=NAME is refused (unknown,
 * not runnable here, or not a DYNAMIC_ARCH build), *note (when not NULL) gets why; it is
 * NULL otherwise. Pure. */
const char *drift_blas_restart_coretype(const drift_cpu_info *cpu, const char *corename,
                                        const char *config, const char *env_openblas,
                                        const char *env_drift, const char *env_marker,
                                        const char **note);

/* The running process's BLAS. */
typedef struct {
    const char *config;          /* openblas_get_config() */
    const char *corename;        /* openblas_get_corename(): the kernel in use */
    int threads;                 /* openblas_get_num_threads() */
    int dynamic;                 /* a DYNAMIC_ARCH build: the kernel can be chosen */
    const char *env_coretype;    /* OPENBLAS_CORETYPE, or NULL */
    const char *chosen_from;     /* DRIFT_BLAS_REEXEC: drift restarted with the kernel in use,
                                    replacing this choice of OpenBLAS's; NULL otherwise */
    const char *recommended;     /* drift_blas_recommend_coretype() for this process, or NULL */
    drift_cpu_info cpu;
} drift_blas_info;

void drift_blas_get_info(drift_blas_info *out);

/* drift_blas_recommend_coretype() for this CPU and the loaded OpenBLAS. */
const char *drift_blas_recommended_coretype(void);

/* SGEMM rate on the current thread count: size³ products (row-major, no transposes), one
 * warm-up call, then calls until `seconds` have passed (at least 3). */
typedef struct {
    int size, calls;
    double seconds;          /* time in the timed calls */
    double median_gflops;    /* median over the calls */
    double best_gflops;
} drift_blas_probe;

/* DRIFT_EINVAL for size < 16 or seconds < 0, DRIFT_ENOMEM when the 3·size² floats cannot be
 * allocated. */
int drift_blas_probe_sgemm(double seconds, int size, drift_blas_probe *out);

#ifdef __cplusplus
}
#endif
#endif
