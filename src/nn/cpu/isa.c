/*
 * isa.c - run-time ISA detection (cpuid + xgetbv, and Linux's AMX
 * permission) and the table of kernels by ISA (isa.h).
 *
 * Detection runs once, under pthread_once, and never trusts the
 * compiler's target: the library is built for the x86-64 baseline and the
 * faster kernels live in files compiled for their own ISA (gemm_*.c),
 * reached only through this table after the check. OpenBLAS remains the
 * generic row: it is what runs where none of ours applies.
 */
#include "nn/cpu/isa.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HAVE_CPUID 1
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

static const char *const isa_names[NN_ISA_COUNT] = {
    "generic", "avx2", "avx512", "avx512_bf16", "amx",
};

static const nn_cpu_kern kerns[] = {
    { .name = "avx512",
      .isa = NN_ISA_AVX512,
      .sgemm = nn_sgemm_avx512,
      .tile_m = 144,
      .mr = 12,
      .snake = nn_snake_avx512 },
    { .name = "avx2",
      .isa = NN_ISA_AVX2,
      .sgemm = nn_sgemm_avx2,
      .tile_m = 144,
      .mr = 6,
      .snake = nn_snake_avx2 },
    { .name = "openblas",
      .isa = NN_ISA_GENERIC,
      .sgemm = nn_sgemm_blas,
      .tile_m = 128,
      .mr = 1,
      .snake = nn_snake_c },
};

#define N_KERNS ((int)(sizeof kerns / sizeof kerns[0]))

static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned g_flags;
static nn_isa g_isa;

#ifdef HAVE_CPUID
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Ask Linux for the AMX tile data state; 1 when this process may use it. */
static int amx_permission(void)
{
#if defined(ARCH_REQ_XCOMP_PERM)
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return 0;
#endif
}

static unsigned read_flags(void)
{
    unsigned a, b, c, d, f = 0, max;
    uint64_t xcr0;

    if (__get_cpuid(0, &max, &b, &c, &d) == 0 || max < 7)
        return 0;
    __cpuid(1, a, b, c, d);
    /* OSXSAVE and AVX, else the OS keeps no ymm state */
    if ((c & (1u << 27)) == 0 || (c & (1u << 28)) == 0)
        return 0;
    xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6)
        return 0;
    if (c & (1u << 12))
        f |= NN_CPU_FMA;
    __cpuid_count(7, 0, a, b, c, d);
    if (b & (1u << 5))
        f |= NN_CPU_AVX2;
    if ((xcr0 & 0xE0) == 0xE0) { /* opmask, zmm0-15 upper, zmm16-31 */
        if (b & (1u << 16))
            f |= NN_CPU_AVX512F;
        if (b & (1u << 17))
            f |= NN_CPU_AVX512DQ;
        if (b & (1u << 30))
            f |= NN_CPU_AVX512BW;
        if (b & (1u << 31))
            f |= NN_CPU_AVX512VL;
        if (a >= 1) {
            unsigned a1, b1, c1, d1;
            __cpuid_count(7, 1, a1, b1, c1, d1);
            if (a1 & (1u << 5))
                f |= NN_CPU_AVX512BF16;
        }
    }
    if ((xcr0 & 0x60000) == 0x60000) { /* XTILECFG, XTILEDATA */
        if (d & (1u << 24))
            f |= NN_CPU_AMX_TILE;
        if (d & (1u << 22))
            f |= NN_CPU_AMX_BF16;
        if ((f & NN_CPU_AMX_TILE) && amx_permission())
            f |= NN_CPU_AMX_PERM;
    }
    return f;
}
#else
static unsigned read_flags(void)
{
    return 0;
}
#endif

static nn_isa level_of(unsigned f)
{
    const unsigned avx2 = NN_CPU_AVX2 | NN_CPU_FMA;
    const unsigned avx512 = avx2 | NN_CPU_AVX512F | NN_CPU_AVX512BW | NN_CPU_AVX512DQ |
                            NN_CPU_AVX512VL;
    const unsigned amx = NN_CPU_AMX_TILE | NN_CPU_AMX_BF16 | NN_CPU_AMX_PERM;

    if ((f & avx512) != avx512)
        return (f & avx2) == avx2 ? NN_ISA_AVX2 : NN_ISA_GENERIC;
    if ((f & NN_CPU_AVX512BF16) == 0)
        return NN_ISA_AVX512;
    return (f & amx) == amx ? NN_ISA_AMX : NN_ISA_AVX512_BF16;
}

static void detect(void)
{
    g_flags = read_flags();
    g_isa = level_of(g_flags);
}

nn_isa nn_cpu_isa(void)
{
    pthread_once(&once, detect);
    return g_isa;
}

unsigned nn_cpu_isa_flags(void)
{
    pthread_once(&once, detect);
    return g_flags;
}

const char *nn_isa_name(nn_isa isa)
{
    return (unsigned)isa < NN_ISA_COUNT ? isa_names[isa] : NULL;
}

int nn_isa_parse(const char *s)
{
    int i;
    size_t n;

    if (s == NULL)
        return -1;
    n = strlen(s);
    for (i = 0; i < NN_ISA_COUNT; i++) {
        size_t j;
        if (strlen(isa_names[i]) != n)
            continue;
        for (j = 0; j < n && tolower((unsigned char)s[j]) == isa_names[i][j]; j++)
            ;
        if (j == n)
            return i;
    }
    return -1;
}

void nn_cpu_isa_describe(char *buf, size_t len)
{
    static const char *const words[] = {
        "avx2",     "fma",         "avx512f",  "avx512bw", "avx512dq",
        "avx512vl", "avx512_bf16", "amx-tile", "amx-bf16", "amx-permitted",
    };
    unsigned f = nn_cpu_isa_flags();
    size_t used = 0;
    int i;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (i = 0; i < (int)(sizeof words / sizeof words[0]); i++) {
        int w;
        if ((f & (1u << i)) == 0)
            continue;
        w = snprintf(buf + used, len - used, "%s%s", used > 0 ? " " : "", words[i]);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
    if (used == 0)
        snprintf(buf, len, "(baseline only)");
}

const nn_cpu_kern *nn_cpu_kern_for(nn_isa cap)
{
    nn_isa have = nn_cpu_isa();
    int i;

    if (cap > have)
        cap = have;
    for (i = 0; i < N_KERNS - 1 && kerns[i].isa > cap; i++)
        ;
    return &kerns[i];
}

const nn_cpu_kern *nn_cpu_kern_at(int index)
{
    return index >= 0 && index < N_KERNS ? &kerns[index] : NULL;
}
