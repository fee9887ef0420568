/*
 * bench_sam.c - speed and memory of the native SAM-Audio model on this
 * machine, on a model folder (random weights from mkweights, or the real
 * files).
 *
 *   bench_sam --peak [--threads N]
 *       sgemm 2048^3: OpenBLAS on 1 thread, OpenBLAS on N threads, and
 *       nn_matmul on an nn_ctx of N threads (the path the model takes).
 *   bench_sam --stages --model DIR [--threads N] [--seconds S] [--text T]
 *       one chunk stage by stage, on the model's parts opened as
 *       sam_model_open opens them: T5 text encoding, codec encode, DiT conditioning, the 32
 *       DiT evaluations (each timed), codec decode of the 2 rows; achieved
 *       GFLOP/s of each stage from analytic FLOP counts.
 *   bench_sam --chunks K --model DIR [--threads N] [--seconds S]
 *       K consecutive chunks through sam_model_open, sam_state_create,
 *       sam_set_text and sam_separate
 *       (the engine's calls), with wall and CPU time, peak RSS (ru_maxrss)
 *       and current RSS after each. --target-only decodes only the target
 *       (the engine's --residual subtract).
 *   bench_sam --units --model DIR [--seconds S] [--tokens L]
 *       the work units the thread pool gets in each kernel of each stage
 *       (T5, codec encode, one DiT evaluation, codec decode of one row),
 *       counted from DIR/config.json and DIR/t5/config.json alone (no
 *       weights needed), and the speed-up they allow at 1 to 64 threads.
 *   bench_sam --prompts N --model DIR [--threads N] [--seconds S]
 *       the cost of several prompts: one chunk through sam_separate (one
 *       prompt) and through sam_separate_prompts with 1 .. N prompts (one
 *       codec encode, the DiT on a batch of N, N decodes), wall and CPU.
 *   bench_sam --keys FILE
 *       "name<TAB>[shape]" of every tensor of a .safetensors / .pt file,
 *       read by the project's own reader (validates mkweights' output).
 *   bench_sam --kernels [--threads N] [--rounds R]
 *       the products of `small` at their shapes with fp32 and bf16 weights,
 *       alternately, best of R each: the bf16 speed-up kernel by kernel.
 *
 * Every mode first prints the machine: the CPU model, the ISA features the
 * kernels can use, and the path each kind of kernel runs (nn_ctx_path);
 * --stages also measures the fp32 peak (nn_matmul 2048^3 on the same
 * context, the best path at hand) and gives each stage's GFLOP/s as a
 * fraction of it.
 *
 *   --precision fp32|bf16 (stages, chunks): the weights' precision (nn.h);
 *   --save FILE (chunks): the last chunk's target and residual as raw
 *   float32, to compare the two precisions (bench/sam/snr.py).
 *
 * Results are printed as "RESULT key value" lines (for bench/sam/run.sh)
 * between human-readable lines on stderr.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine/sam/dacvae.h"
#include "engine/sam/dit.h"
#include "engine/sam/sam.h"
#include "engine/sam/text/t5.h"
#include "engine/sam/text/tokenizer.h"
#include "nn/cpu/isa.h"
#include "nn/io/tensors.h"
#include "nn/nn.h"
#include "nn/weights.h"
#include "samsep.h"

#define ODE_STEPS 16
#define NFE (2 * ODE_STEPS)

static int g_precision = NN_PRECISION_F32;
static const char *g_save;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long maxrss_kib(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static long rss_now_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void loadavg(char *out, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;

    if (f != NULL && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(out, n, "%.2f %.2f %.2f", a, b, c);
    else
        snprintf(out, n, "?");
    if (f != NULL)
        fclose(f);
}

static void result(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void result(const char *key, const char *fmt, ...)
{
    va_list ap;

    printf("RESULT %s ", key);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void note_load(const char *when)
{
    char la[64];

    loadavg(la, sizeof la);
    fprintf(stderr, "  [load average %s: %s]\n", when, la);
    result("loadavg", "%s %s", when, la);
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_sam: %s: %s\n", what, err);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* ---- the machine ----------------------------------------------------------- */

static void cpu_model(char *out, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];

    snprintf(out, n, "?");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        char *c = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && c != NULL) {
            c += c[1] == ' ' ? 2 : 1;
            c[strcspn(c, "\n")] = '\0';
            snprintf(out, n, "%s", c);
            break;
        }
    }
    fclose(f);
}

/* CPU model, ISA, and the path of each kernel family on k. */
static void print_machine(const nn_ctx *k)
{
    static const nn_op ops[] = { NN_OP_MATMUL,    NN_OP_CONV1D, NN_OP_CONVT1D,
                                 NN_OP_ATTENTION, NN_OP_LSTM,   NN_OP_SNAKE };
    char model[256], flags[256], key[64];
    size_t i;

    cpu_model(model, sizeof model);
    nn_cpu_isa_describe(flags, sizeof flags);
    fprintf(stderr, "cpu: %s; isa %s (%s)\n", model, nn_isa_name(nn_cpu_isa()), flags);
    result("cpu_model", "%s", model);
    result("cpu_isa", "%s", nn_isa_name(nn_cpu_isa()));
    result("cpu_flags", "%s", flags);
    fprintf(stderr, "kernel paths:");
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        fprintf(stderr, " %s=%s", nn_op_name(ops[i]), nn_ctx_path(k, ops[i]));
        snprintf(key, sizeof key, "path_%s", nn_op_name(ops[i]));
        result(key, "%s", nn_ctx_path(k, ops[i]));
    }
    fprintf(stderr, "\n");
}

/* ---- sgemm peak ------------------------------------------------------------ */

#define PEAK_N 2048
#define PEAK_REPS 5

static double time_sgemm(const float *A, const float *B, float *C, nn_ctx *k,
                         double *median)
{
    double t[PEAK_REPS], best;
    int r;

    for (r = -1; r < PEAK_REPS; r++) { /* r = -1: warm-up */
        double t0 = now();

        if (k != NULL)
            nn_matmul(k, A, B, NULL, C, PEAK_N, PEAK_N, PEAK_N);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, PEAK_N, PEAK_N, PEAK_N,
                        1.0f, A, PEAK_N, B, PEAK_N, 0.0f, C, PEAK_N);
        if (r >= 0)
            t[r] = now() - t0;
    }
    qsort(t, PEAK_REPS, sizeof t[0], cmp_double);
    best = t[0];
    *median = t[PEAK_REPS / 2];
    return best;
}

static void run_peak(int threads)
{
    size_t n = (size_t)PEAK_N * PEAK_N;
    float *A = malloc(n * sizeof *A), *B = malloc(n * sizeof *B),
          *C = malloc(n * sizeof *C);
    double flop = 2.0 * PEAK_N * (double)PEAK_N * PEAK_N, best, med;
    char err[512];
    nn_ctx *k = NULL;
    size_t i;

    if (A == NULL || B == NULL || C == NULL)
        die("peak", "out of memory");
    for (i = 0; i < n; i++) {
        A[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
        B[i] = (float)((i * 40503u) % 997) * 1e-3f - 0.5f;
    }
    note_load("peak");
    openblas_set_num_threads(1);
    best = time_sgemm(A, B, C, NULL, &med);
    fprintf(stderr,
            "sgemm %d^3 OpenBLAS 1 thread: best %.3f s = %.1f GFLOP/s (median %.1f)\n",
            PEAK_N, best, flop / best * 1e-9, flop / med * 1e-9);
    result("peak_blas_1t_gflops", "%.1f", flop / best * 1e-9);
    result("peak_blas_1t_median_gflops", "%.1f", flop / med * 1e-9);
    openblas_set_num_threads(threads);
    best = time_sgemm(A, B, C, NULL, &med);
    fprintf(stderr,
            "sgemm %d^3 OpenBLAS %d threads: best %.3f s = %.1f GFLOP/s (median %.1f)\n",
            PEAK_N, threads, best, flop / best * 1e-9, flop / med * 1e-9);
    result("peak_blas_nt_gflops", "%.1f", flop / best * 1e-9);
    result("peak_blas_nt_median_gflops", "%.1f", flop / med * 1e-9);
    /* the CPU backend sets OpenBLAS back to 1 thread: the pool does the rest */
    {
        nn_params p = { NULL, threads };
        if (nn_ctx_create(&p, &k, err, sizeof err) != SAMSEP_OK)
            die("nn_ctx_create", err);
    }
    print_machine(k);
    best = time_sgemm(A, B, C, k, &med);
    fprintf(stderr,
            "nn_matmul %d^3 on a %d-thread nn_ctx: best %.3f s = %.1f GFLOP/s (median "
            "%.1f)\n",
            PEAK_N, threads, best, flop / best * 1e-9, flop / med * 1e-9);
    result("peak_kmatmul_nt_gflops", "%.1f", flop / best * 1e-9);
    result("peak_kmatmul_nt_median_gflops", "%.1f", flop / med * 1e-9);
    result("threads", "%d", threads);
    nn_ctx_destroy(k);
    free(A);
    free(B);
    free(C);
}

/* ---- analytic FLOP counts ---------------------------------------------------- */

static const cJSON *jget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    if (v == NULL)
        die("config.json", k);
    return v;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = jget(o, k);

    if (!cJSON_IsNumber(v))
        die("config.json: not a number", k);
    return v->valuedouble;
}

/* One DiT function evaluation (SAMAudio.forward) for B = 1, T frames, L
 * text tokens, counting multiply-adds as 2 FLOPs, of the matrix products
 * and attention only (norms, activations, RoPE are O(T D)). What
 * dit_condition precomputes once per chunk (the audio-feature columns of
 * proj, memory_proj of the text) is not counted. */
static double dit_flops(double D, double F, double layers, double C2, double T, double L,
                        double fdim)
{
    double per_layer, f = 0;

    per_layer = 8 * T * D * D    /* self q, k, v, o */
                + 4 * T * T * D  /* q k^T and p v, all heads */
                + 4 * T * D * D  /* cross q, o */
                + 4 * L * D * D  /* cross k, v of the text */
                + 4 * T * L * D  /* cross scores and p v */
                + 6 * T * D * F; /* SwiGLU w1, w3, w2 */
    f += layers * per_layer;
    f += 2 * T * C2 * D;        /* proj of the noisy state */
    f += 2 * 2 * T * D * D * 3; /* x_embedder: 2 convs k3 */
    f += 3 * 2 * L * D * D;     /* y_embedder SwiGLU (memory depends on t) */
    f += 2 * (2 * fdim * D + D * D) + 2 * 6 * D * D; /* t_embedder, t_block */
    f += 2 * T * D * C2;                             /* output */
    return f;
}

typedef struct codec_cfg {
    int ed, er[4], latent, dd, dr[4], cbd;
    int wm_hidden, wm_ch, wm_out;
} codec_cfg;

static const int WM_RATES[4] = { 8, 5, 4, 2 };

static double conv_f(double cout, double cin, double k, double lout)
{
    return 2 * cout * cin * k * lout;
}

/* Encoder + in_proj for one row of N = T * hop samples. */
static double enc_flops(const codec_cfg *c, double T)
{
    double hop = 1, L, f = 0, dim = c->ed;
    int i;

    for (i = 0; i < 4; i++)
        hop *= c->er[i];
    L = T * hop;
    f += conv_f(c->ed, 1, 7, L);
    for (i = 0; i < 4; i++) {
        double ch = dim; /* residual units run at dim, the block doubles it */

        f += 3 * (conv_f(ch, ch, 7, L) + conv_f(ch, ch, 1, L));
        L /= c->er[i];
        dim *= 2;
        f += conv_f(dim, ch, 2 * c->er[i], L);
    }
    f += conv_f(c->latent, dim, 3, T);
    f += conv_f(2 * c->cbd, c->latent, 1, T);
    return f;
}

/* Watermark branch for one row of N samples. */
static double wm_flops(const codec_cfg *c, double N, double last_ch, double *lstm)
{
    double f = 0, L, H = c->wm_hidden, hi, lo;
    int i;

    f += conv_f(1, last_ch, 7, N);  /* pre.1 */
    f += conv_f(c->wm_ch, 1, 7, N); /* pre.3 */
    /* down chain: blocks last..first, at lengths N, N/2, ... */
    L = N;
    for (i = 3; i >= 0; i--) {
        lo = H / (double)(1 << (i + 1));
        hi = 2 * lo;
        f += conv_f(lo / 2, lo, 3, L) + conv_f(lo, lo / 2, 1, L); /* RU_elu */
        L /= WM_RATES[i];
        f += conv_f(hi, lo, 2 * WM_RATES[i], L); /* block.11 */
    }
    /* two 2-layer LSTMs over N/320 steps: per layer and step 2 x (4H x H) */
    *lstm = 2 * 2 * (2 * 2 * 4 * H * H) * L;
    f += *lstm;
    f += conv_f(c->wm_out, H, 7, L); /* post.2 */
    f += conv_f(H, c->wm_out, 7, L); /* decoder pre.0 */
    /* up chain: blocks first..last */
    for (i = 0; i < 4; i++) {
        hi = H / (double)(1 << i);
        lo = hi / 2;
        f += conv_f(lo, hi, 2 * WM_RATES[i], L); /* block.3 (transposed) */
        L *= WM_RATES[i];
        f += conv_f(lo / 2, lo, 3, L) + conv_f(lo, lo / 2, 1, L);
    }
    f += conv_f(1, c->wm_ch, 7, N); /* post.1 */
    return f;
}

/* out_proj + decoder + watermark for one row. */
static double dec_flops(const codec_cfg *c, double T, double *wm, double *lstm)
{
    double L = T, f = 0, in = c->dd, out;
    int i;

    f += conv_f(c->latent, c->cbd, 1, T);
    f += conv_f(c->dd, c->latent, 7, T);
    for (i = 0; i < 4; i++) {
        out = in / 2;
        f += conv_f(out, in, 2 * c->dr[i], L); /* transposed: each input x 2s taps */
        L *= c->dr[i];
        f += 3 * (conv_f(out, out, 7, L) + conv_f(out, out, 1, L));
        in = out;
    }
    *wm = wm_flops(c, L, in, lstm);
    return f + *wm;
}

/* FLOPs of the stage that ends at codec tap `name` (one row), or -1. */
static double tap_flops(const codec_cfg *c, const char *name, double T)
{
    double hop = 1, N, L, dim = c->ed, lstm_step, H = c->wm_hidden;
    int i, b;

    for (i = 0; i < 4; i++)
        hop *= c->er[i];
    N = T * hop;
    lstm_step = 2 * (2 * 2 * 4 * H * H); /* 2 layers, W_ih and W_hh */
    if (sscanf(name, "enc_block%d_out", &b) == 1) {
        if (b == 0)
            return conv_f(c->ed, 1, 7, N);
        if (b >= 1 && b <= 4) {
            L = N;
            for (i = 0; i < b - 1; i++) {
                L /= c->er[i];
                dim *= 2;
            }
            return 3 * (conv_f(dim, dim, 7, L) + conv_f(dim, dim, 1, L)) +
                   conv_f(2 * dim, dim, 2 * c->er[b - 1], L / c->er[b - 1]);
        }
        if (b == 5)
            return 0;
        if (b == 6)
            return conv_f(c->latent, 16.0 * c->ed, 3, T);
        return -1;
    }
    if (strcmp(name, "quantizer_in_proj_out") == 0)
        return conv_f(2 * c->cbd, c->latent, 1, T);
    if (strcmp(name, "dec_out_proj_out") == 0)
        return conv_f(c->latent, c->cbd, 1, T);
    if (sscanf(name, "dec_model%d_out", &b) == 1) {
        double in = c->dd, out;

        if (b == 0)
            return conv_f(c->dd, c->latent, 7, T);
        L = T;
        for (i = 0; i < b - 1; i++) {
            L *= c->dr[i];
            in /= 2;
        }
        out = in / 2;
        return conv_f(out, in, 2 * c->dr[b - 1], L) +
               3 * (conv_f(out, out, 7, L * c->dr[b - 1]) +
                    conv_f(out, out, 1, L * c->dr[b - 1]));
    }
    if (strcmp(name, "wm_encoder_post_out") == 0)
        return lstm_step * N / 320 + conv_f(c->wm_out, H, 7, N / 320);
    if (strcmp(name, "wm_decoder_block_out") == 0)
        return lstm_step * N / 320 + conv_f(H, c->wm_out, 7, N / 320);
    return -1;
}

#define MAX_TAPS 64

typedef struct tap_timer {
    const codec_cfg *c;
    double T, last, cpu_last;
    int n;
    char name[MAX_TAPS][40];
    long long row[MAX_TAPS];
    double dt[MAX_TAPS], cpu[MAX_TAPS];
} tap_timer;

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_tap(void *user, const char *name, int64_t row, const float *data,
                   int64_t channels, int64_t len)
{
    tap_timer *tt = user;
    double n = now(), cn = cpu_now();

    (void)data;
    (void)channels;
    (void)len;
    if (tt->n < MAX_TAPS) {
        snprintf(tt->name[tt->n], sizeof tt->name[0], "%s", name);
        tt->row[tt->n] = (long long)row;
        tt->dt[tt->n] = n - tt->last;
        tt->cpu[tt->n] = cn - tt->cpu_last;
        tt->n++;
    }
    tt->last = n;
    tt->cpu_last = cn;
}

static double sum_cpu(const tap_timer *tt)
{
    double c = 0;
    int i;

    for (i = 0; i < tt->n; i++)
        c += tt->cpu[i];
    return c;
}

/* The fp32 peak of this run (run_stages), GFLOP/s; 0 until measured. */
static double g_peak, g_peak_cpu; /* per second, per CPU-second */
static const char *g_conv_path = "?";
static double cpu_now(void);

static void tap_report(const tap_timer *tt, const char *what)
{
    int i;

    fprintf(stderr,
            "  %s, time since the previous tap (row 0; 'cpu' = process CPU s; "
            "path %s; %% of the %.1f GFLOP/s peak):\n",
            what, g_conv_path, g_peak);
    for (i = 0; i < tt->n; i++) {
        double f = tap_flops(tt->c, tt->name[i], tt->T);
        char key[96];

        if (tt->row[i] != 0)
            continue;
        if (f > 0)
            fprintf(stderr,
                    "    %-24s %7.3f s  cpu %7.3f s  %8.1f GFLOP  %6.1f GFLOP/s  "
                    "%6.1f GFLOP/cpu-s  peak %3.0f%% (cpu %3.0f%%)\n",
                    tt->name[i], tt->dt[i], tt->cpu[i], f * 1e-9, f / tt->dt[i] * 1e-9,
                    f / tt->cpu[i] * 1e-9,
                    g_peak > 0 ? 100 * f / tt->dt[i] * 1e-9 / g_peak : 0.0,
                    g_peak_cpu > 0 ? 100 * f / tt->cpu[i] * 1e-9 / g_peak_cpu : 0.0);
        else
            fprintf(stderr, "    %-24s %7.3f s  cpu %7.3f s\n", tt->name[i], tt->dt[i],
                    tt->cpu[i]);
        snprintf(key, sizeof key, "tap_%s_s", tt->name[i]);
        result(key, "%.3f", tt->dt[i]);
        if (f > 0) {
            snprintf(key, sizeof key, "tap_%s_gflop", tt->name[i]);
            result(key, "%.2f", f * 1e-9);
            snprintf(key, sizeof key, "tap_%s_peak_frac", tt->name[i]);
            result(key, "%.3f", g_peak > 0 ? f / tt->dt[i] * 1e-9 / g_peak : 0.0);
        }
    }
}

/* GFLOP/s of nn_matmul for y[M,N] = x[M,K] W[N,K]^T, best of `reps`. */
static double matmul_gflops(nn_ctx *k, int64_t M, int64_t N, int64_t K, int reps)
{
    float *x = malloc((size_t)(M * K) * sizeof *x),
          *W = malloc((size_t)(N * K) * sizeof *W),
          *y = malloc((size_t)(M * N) * sizeof *y);
    double best = 1e30;
    int64_t i;
    int r;

    if (x == NULL || W == NULL || y == NULL)
        die("matmul", "out of memory");
    for (i = 0; i < M * K; i++)
        x[i] = (float)(i % 17) * 0.01f;
    for (i = 0; i < N * K; i++)
        W[i] = (float)(i % 13) * 0.01f;
    for (r = -1; r < reps; r++) {
        double t0 = now(), dt;

        nn_matmul(k, x, W, NULL, y, M, N, K);
        dt = now() - t0;
        if (r >= 0 && dt < best)
            best = dt;
    }
    free(x);
    free(W);
    free(y);
    return 2.0 * (double)M * (double)N * (double)K / best * 1e-9;
}

/* sgemm peak and single DiT evaluations measured back to back, so that the
 * ratio holds under a load that changes slowly (a shared machine). */
static void interleaved(nn_ctx *k, dit_state *dit, const float *x, float *v,
                        double fl_dit, int threads, int rounds)
{
    size_t n = (size_t)PEAK_N * PEAK_N;
    float *A = malloc(n * sizeof *A), *B = malloc(n * sizeof *B),
          *Cm = malloc(n * sizeof *Cm);
    double flop = 2.0 * PEAK_N * (double)PEAK_N * PEAK_N, med, tp, tb, td, sum_r = 0,
           best_r = 0;
    size_t i;
    int r;

    if (A == NULL || B == NULL || Cm == NULL)
        die("interleaved", "out of memory");
    for (i = 0; i < n; i++) {
        A[i] = (float)(i % 1000) * 1e-3f - 0.5f;
        B[i] = (float)(i % 997) * 1e-3f - 0.5f;
    }
    fprintf(stderr,
            "interleaved: sgemm %d^3 (nn_matmul pool / OpenBLAS %d threads) and one "
            "DiT evaluation, back to back:\n",
            PEAK_N, threads);
    for (r = 0; r < rounds; r++) {
        double t0, peak, ratio;
        char key[64];

        tp = time_sgemm(A, B, Cm, k, &med);
        openblas_set_num_threads(threads);
        tb = time_sgemm(A, B, Cm, NULL, &med);
        openblas_set_num_threads(1);
        t0 = now();
        dit_forward(dit, x, 0.5f, v);
        td = now() - t0;
        peak = flop / (tp < tb ? tp : tb) * 1e-9;
        ratio = fl_dit / td * 1e-9 / peak;
        sum_r += ratio;
        if (ratio > best_r)
            best_r = ratio;
        fprintf(stderr,
                "  round %d: peak %.1f GFLOP/s (pool %.1f, OpenBLAS %.1f), DiT %.3f s = "
                "%.1f GFLOP/s = %.0f%% of peak\n",
                r, peak, flop / tp * 1e-9, flop / tb * 1e-9, td, fl_dit / td * 1e-9,
                100 * ratio);
        snprintf(key, sizeof key, "interleaved%d_peak_gflops", r);
        result(key, "%.1f", peak);
        snprintf(key, sizeof key, "interleaved%d_dit_gflops", r);
        result(key, "%.1f", fl_dit / td * 1e-9);
    }
    result("interleaved_ratio_mean", "%.3f", sum_r / rounds);
    result("interleaved_ratio_best", "%.3f", best_r);
    free(A);
    free(B);
    free(Cm);
}

/* ---- stage by stage -------------------------------------------------------- */

typedef struct nfe_timer {
    double last, cpu_last;
    double t[NFE], cpu[NFE];
    int n;
} nfe_timer;

static int on_nfe(void *user, int nfe, float t, const float *x, const float *v)
{
    nfe_timer *tm = user;
    double n = now(), cn = cpu_now();

    (void)t;
    (void)x;
    (void)v;
    if (nfe >= 0 && nfe < NFE) {
        tm->t[nfe] = n - tm->last;
        tm->cpu[nfe] = cn - tm->cpu_last;
        tm->n = nfe + 1;
    }
    tm->last = n;
    tm->cpu_last = cn;
    return 0;
}

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;
    char *s;
    cJSON *j;

    if (f == NULL)
        die(path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    s = malloc((size_t)n + 1);
    if (s == NULL || fread(s, 1, (size_t)n, f) != (size_t)n)
        die(path, "read error");
    fclose(f);
    s[n] = '\0';
    j = cJSON_Parse(s);
    free(s);
    if (j == NULL)
        die(path, "not JSON");
    return j;
}

static long long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* A test mixture: a few tones and a little noise, different per chunk. */
static void make_audio(float *w, int64_t n, int chunk)
{
    uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(chunk + 1);
    int64_t i;

    for (i = 0; i < n; i++) {
        double t = (double)i / 48000.0;

        s = s * 6364136223846793005ull + 1442695040888963407ull;
        w[i] = (float)(0.3 * sin(2 * M_PI * (220.0 + 30 * chunk) * t) +
                       0.2 * sin(2 * M_PI * 1375.0 * t) *
                           (0.5 + 0.5 * sin(2 * M_PI * 0.7 * t)) +
                       0.05 * ((double)(s >> 40) / 16777216.0 - 0.5));
    }
}

static void weights_size(const char *dir)
{
    char p[4096];
    long long ck, t5;

    snprintf(p, sizeof p, "%s/checkpoint.safetensors", dir);
    ck = file_size(p);
    if (ck < 0) {
        snprintf(p, sizeof p, "%s/checkpoint.pt", dir);
        ck = file_size(p);
    }
    snprintf(p, sizeof p, "%s/t5/model.safetensors", dir);
    t5 = file_size(p);
    result("weights_checkpoint_bytes", "%lld", ck);
    result("weights_t5_bytes", "%lld", t5);
    result("weights_total_bytes", "%lld", ck + t5);
}

/* One row of the stage table: wall time, CPU time, and the rates against
 * the peak by each (per CPU-second holds up under a load from others). */
static void stage_line(const char *name, const char *path, double t, double cpu,
                       double fl)
{
    fprintf(stderr, "  %-20s %-9s %8.2f %8.2f %8.1f %8.1f %5.0f%% %8.1f %5.0f%%\n", name,
            path, t, cpu, fl * 1e-9, fl / t * 1e-9,
            g_peak > 0 ? 100 * fl / t * 1e-9 / g_peak : 0.0, fl / cpu * 1e-9,
            g_peak_cpu > 0 ? 100 * fl / cpu * 1e-9 / g_peak_cpu : 0.0);
}

static void run_stages(const char *dir, int threads, double seconds, const char *text,
                       int interleave_rounds, int skip_codec)
{
    char path[4096], err[1024];
    nn_weights *ws = NULL;
    nn_ctx *k = NULL, *wk = NULL;
    dacvae_model *cm = NULL;
    dacvae_state *codec = NULL;
    dit_model *dm = NULL;
    dit_state *dit = NULL;
    t5_model *t5m = NULL;
    t5_state *t5 = NULL;
    t5_tokenizer *tok = NULL;
    cJSON *cfg;
    const cJSON *cc, *tr;
    codec_cfg c;
    int32_t ids[T5_TOKENIZER_MAX_LEN];
    int L, i, C, hop, bits, D, F, layers;
    int64_t N, T;
    float *wav, *feat, *af, *noise, *ode, *lat, *msg, *out, *text_feat;
    double t0, t_open, t_text, t_text2, t_enc, t_cond, t_ode, t_dec, sum, mean, fl_dit,
        fl_enc, fl_dec, fl_wm, fl_lstm, t_min, t_max;
    nfe_timer tm;
    tap_timer tt;
    dit_inputs in;
    double cpu_sum = 0, c_text = 0, c_enc = 0, c_dec = 0, c0;

    note_load("stages-start");
    weights_size(dir);
    t0 = now();
    snprintf(path, sizeof path, "%s/config.json", dir);
    cfg = read_json(path);
    snprintf(path, sizeof path, "%s/checkpoint.pt", dir);
    if (file_size(path) < 0)
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    {
        nn_params p = { NULL, threads }, p1 = { NULL, 1 };
        if (nn_ctx_create(&p1, &wk, err, sizeof err) != SAMSEP_OK ||
            nn_ctx_create(&p, &k, err, sizeof err) != SAMSEP_OK)
            die("nn_ctx_create", err);
    }
    print_machine(k);
    g_conv_path = nn_ctx_path(k, NN_OP_CONV1D);
    {
        double pf = 2.0 * PEAK_N * (double)PEAK_N * PEAK_N;
        c0 = cpu_now();
        g_peak = matmul_gflops(k, PEAK_N, PEAK_N, PEAK_N, 3);
        g_peak_cpu = 4 * pf / (cpu_now() - c0) * 1e-9;
    }
    fprintf(stderr,
            "fp32 peak: nn_matmul %d^3 on %d threads (path %s): %.1f GFLOP/s; "
            "%.1f GFLOP per CPU-second\n",
            PEAK_N, nn_ctx_threads(k), nn_ctx_path(k, NN_OP_MATMUL), g_peak, g_peak_cpu);
    result("peak_gflops", "%.1f", g_peak);
    result("peak_gflop_per_cpu_s", "%.1f", g_peak_cpu);
    nn_ctx_set_precision(wk, (nn_precision)g_precision);
    fprintf(stderr, "precision %s (bf16 kernels: %s)\n",
            nn_precision_name((nn_precision)g_precision),
            nn_ctx_path(k, NN_OP_MATMUL_BF16));
    result("precision", "%s", nn_precision_name((nn_precision)g_precision));
    if (nn_weights_open(path, wk, &ws, err, sizeof err) != SAMSEP_OK)
        die("nn_weights_open", err);
    if (dacvae_model_load(ws, "audio_codec.", &cm, err, sizeof err) != SAMSEP_OK ||
        dacvae_state_create(cm, k, &codec, err, sizeof err) != SAMSEP_OK)
        die("dacvae", err);
    if (dit_model_load(ws, cfg, &dm, err, sizeof err) != SAMSEP_OK ||
        dit_state_create(dm, k, &dit, err, sizeof err) != SAMSEP_OK)
        die("dit", err);
    nn_weights_trim(ws);
    snprintf(path, sizeof path, "%s/t5", dir);
    if (t5_model_open(path, wk, &t5m, err, sizeof err) != SAMSEP_OK ||
        t5_state_create(t5m, k, &t5, err, sizeof err) != SAMSEP_OK)
        die("t5", err);
    if (t5_tokenizer_open(path, &tok, err, sizeof err) != SAMSEP_OK)
        die("t5_tokenizer_open", err);
    t_open = now() - t0;
    C = dacvae_latent_channels(cm);
    hop = dacvae_hop(cm);
    bits = dacvae_message_bits(cm);
    D = dit_dim(dm);
    F = dit_ffn_dim(dm);
    layers = dit_layers(dm);
    fprintf(stderr,
            "model %s: DiT %d x %d heads x %d layers (FFN %d), codec C=%d hop=%d, "
            "T5 %d x %d layers; opened in %.2f s on %d threads\n",
            dir, D, dit_heads(dm), layers, F, C, hop, t5_model_dim(t5m),
            t5_model_layers(t5m), t_open, nn_ctx_threads(k));
    result("dit_dim", "%d", D);
    result("dit_heads", "%d", dit_heads(dm));
    result("dit_layers", "%d", layers);
    result("dit_ffn", "%d", F);
    result("open_s", "%.3f", t_open);
    result("threads", "%d", nn_ctx_threads(k));

    /* text */
    L = t5_tokenizer_encode(tok, text, ids, T5_TOKENIZER_MAX_LEN, err, sizeof err);
    if (L < 1)
        die("tokenize", err);
    text_feat = malloc((size_t)L * (size_t)t5_model_dim(t5m) * sizeof *text_feat);
    t0 = now();
    c0 = cpu_now();
    if (t5_encode(t5, ids, NULL, 1, L, text_feat, err, sizeof err) != SAMSEP_OK)
        die("t5", err);
    t_text = now() - t0;
    c_text = cpu_now() - c0;
    t0 = now();
    if (t5_encode(t5, ids, NULL, 1, L, text_feat, err, sizeof err) != SAMSEP_OK)
        die("t5", err);
    t_text2 = now() - t0;
    fprintf(stderr, "T5 \"%s\" (%d tokens): %.3f s first run, %.3f s second\n", text, L,
            t_text, t_text2);
    result("text_tokens", "%d", L);
    result("t5_s", "%.3f", t_text);
    result("t5_warm_s", "%.3f", t_text2);

    /* audio */
    N = (int64_t)(seconds * 48000.0 + 0.5);
    T = (N + hop - 1) / hop;
    wav = malloc((size_t)N * sizeof *wav);
    feat = malloc((size_t)(C * T) * sizeof *feat);
    af = malloc((size_t)(2 * C * T) * sizeof *af);
    noise = malloc((size_t)(2 * C * T) * sizeof *noise);
    ode = malloc((size_t)(2 * C * T) * sizeof *ode);
    lat = malloc((size_t)(2 * C * T) * sizeof *lat);
    msg = malloc((size_t)(2 * bits) * sizeof *msg);
    out = malloc((size_t)(2 * T * hop) * sizeof *out);
    if (wav == NULL || feat == NULL || af == NULL || noise == NULL || ode == NULL ||
        lat == NULL || msg == NULL || out == NULL || text_feat == NULL)
        die("buffers", "out of memory");
    make_audio(wav, N, 0);
    sam_noise(0, 0, noise, 2 * C * T);
    sam_message(0, 0, msg, 2 * bits);
    result("chunk_seconds", "%.3f", seconds);
    result("frames", "%lld", (long long)T);

    /* analytic FLOPs of the codec */
    cc = jget(cfg, "audio_codec");
    c.ed = (int)jnum(cc, "encoder_dim");
    c.latent = (int)jnum(cc, "latent_dim");
    c.dd = (int)jnum(cc, "decoder_dim");
    c.cbd = (int)jnum(cc, "codebook_dim");
    for (i = 0; i < 4; i++) {
        c.er[i] = cJSON_GetArrayItem(jget(cc, "encoder_rates"), i)->valueint;
        c.dr[i] = cJSON_GetArrayItem(jget(cc, "decoder_rates"), i)->valueint;
    }
    {
        const nn_tensor *t = nn_weights_find(ws, "audio_codec.decoder.wm_model.encoder_"
                                                 "block.post.0.lstm.weight_hh_l0");
        const nn_tensor *m = nn_weights_find(ws, "audio_codec.decoder.wm_model.msg_"
                                                 "processor.msg_processor.weight");
        const nn_tensor *p =
            nn_weights_find(ws,
                            "audio_codec.decoder.wm_model.encoder_block.pre.3.weight");

        c.wm_hidden = t != NULL ? (int)t->shape[1] : 512;
        c.wm_out = m != NULL ? (int)m->shape[1] : 128;
        c.wm_ch = p != NULL ? (int)p->shape[0] : 32;
    }
    memset(&tt, 0, sizeof tt);
    tt.c = &c;
    tt.T = (double)T;
    if (skip_codec) { /* --dit-only: random features instead of the encoder's */
        sam_noise(1, 0, feat, C * T);
        t_enc = 0;
    } else {
        dacvae_set_tap(codec, on_tap, &tt);
        note_load("encode");
        tt.last = t0 = now();
        tt.cpu_last = cpu_now();
        if (dacvae_encode(codec, wav, 1, N, feat, err, sizeof err) != SAMSEP_OK)
            die("encode", err);
        t_enc = now() - t0;
        fprintf(stderr,
                "codec encode %.1f s of audio -> %lld frames: %.2f s (cpu %.2f s)\n",
                seconds, (long long)T, t_enc, cpu_now() - tt.cpu_last + sum_cpu(&tt));
        c_enc = cpu_now() - tt.cpu_last + sum_cpu(&tt);
        result("encode_s", "%.3f", t_enc);
        tap_report(&tt, "encoder stages");
    }

    dit_audio_features_from_codec(k, feat, 1, C, T, lat, af);
    memset(&in, 0, sizeof in);
    in.batch = 1;
    in.frames = (int)T;
    in.audio_features = af;
    in.text_len = L;
    in.text_features = text_feat;
    t0 = now();
    if (dit_condition(dit, &in, err, sizeof err) != SAMSEP_OK)
        die("dit_condition", err);
    t_cond = now() - t0;
    result("condition_s", "%.3f", t_cond);

    note_load("dit");
    memset(&tm, 0, sizeof tm);
    tm.last = t0 = now();
    tm.cpu_last = cpu_now();
    if (dit_ode_solve(dit, noise, ODE_STEPS, ode, on_nfe, &tm) != SAMSEP_OK)
        die("ode", "failed");
    t_ode = now() - t0;
    sum = 0;
    t_min = 1e30;
    t_max = 0;
    for (i = 0; i < tm.n; i++) {
        sum += tm.t[i];
        cpu_sum += tm.cpu[i];
        if (tm.t[i] < t_min)
            t_min = tm.t[i];
        if (tm.t[i] > t_max)
            t_max = tm.t[i];
    }
    mean = sum / tm.n;
    tr = jget(cfg, "transformer");
    fl_dit = dit_flops(D, F, layers, 2.0 * C, (double)T, L,
                       jnum(tr, "frequency_embedding_dim"));
    fprintf(stderr,
            "DiT: %d evaluations in %.2f s: mean %.3f s (min %.3f, max %.3f, first "
            "%.3f); "
            "%.1f GFLOP each -> %.1f GFLOP/s (mean), %.1f (best)\n",
            tm.n, t_ode, mean, t_min, t_max, tm.t[0], fl_dit * 1e-9, fl_dit / mean * 1e-9,
            fl_dit / t_min * 1e-9);
    fprintf(stderr,
            "  process CPU time %.2f s for %d evaluations = %.2f cores busy on average; "
            "%.1f GFLOP per CPU-second\n",
            cpu_sum, tm.n, cpu_sum / sum, fl_dit * tm.n / cpu_sum * 1e-9);
    result("dit_cpu_s", "%.3f", cpu_sum);
    result("dit_cores_busy", "%.2f", cpu_sum / sum);
    result("dit_gflop_per_cpu_s", "%.1f", fl_dit * tm.n / cpu_sum * 1e-9);
    fprintf(stderr, "  per evaluation:");
    for (i = 0; i < tm.n; i++)
        fprintf(stderr, " %.3f", tm.t[i]);
    fprintf(stderr, "\n");
    result("dit_nfe", "%d", tm.n);
    result("dit_total_s", "%.3f", t_ode);
    result("dit_eval_mean_s", "%.4f", mean);
    result("dit_eval_min_s", "%.4f", t_min);
    result("dit_eval_max_s", "%.4f", t_max);
    result("dit_eval_first_s", "%.4f", tm.t[0]);
    result("dit_eval_gflop", "%.2f", fl_dit * 1e-9);
    result("dit_gflops_mean", "%.1f", fl_dit / mean * 1e-9);
    result("dit_gflops_best", "%.1f", fl_dit / t_min * 1e-9);

    /* the DiT's matrix shapes on their own */
    {
        double g1 = matmul_gflops(k, T, D, D, 5), g2 = matmul_gflops(k, T, F, D, 5),
               g3 = matmul_gflops(k, T, D, F, 5);

        fprintf(stderr,
                "nn_matmul at the DiT's shapes (M = T = %lld): %lldx%dx%d %.1f GFLOP/s, "
                "%lldx%dx%d %.1f, %lldx%dx%d %.1f\n",
                (long long)T, (long long)T, D, D, g1, (long long)T, F, D, g2,
                (long long)T, D, F, g3);
        result("matmul_TxDxD_gflops", "%.1f", g1);
        result("matmul_TxFxD_gflops", "%.1f", g2);
        result("matmul_TxDxF_gflops", "%.1f", g3);
    }
    if (interleave_rounds > 0)
        interleaved(k, dit, noise, lat, fl_dit, threads, interleave_rounds);

    if (!skip_codec) {
        note_load("decode");
        dit_latent_to_codec(k, ode, 1, T, C, lat);
        memset(&tt, 0, sizeof tt);
        tt.c = &c;
        tt.T = (double)T;
        tt.last = t0 = now();
        tt.cpu_last = cpu_now();
        if (dacvae_decode(codec, lat, 2, T, msg, out, err, sizeof err) != SAMSEP_OK)
            die("decode", err);
        t_dec = now() - t0;
        fprintf(stderr, "codec decode 2 rows x %lld frames: %.2f s (cpu %.2f s)\n",
                (long long)T, t_dec, cpu_now() - tt.cpu_last + sum_cpu(&tt));
        c_dec = cpu_now() - tt.cpu_last + sum_cpu(&tt);
        result("decode_s", "%.3f", t_dec);
        tap_report(&tt, "decoder stages");
        dacvae_set_tap(codec, NULL, NULL);

        fl_enc = enc_flops(&c, (double)T);
        fl_dec = 2 * dec_flops(&c, (double)T, &fl_wm, &fl_lstm);
        fl_wm *= 2;
        fl_lstm *= 2;
        fprintf(stderr,
                "codec FLOPs: encode %.1f GFLOP (%.1f GFLOP/s), decode x2 %.1f GFLOP "
                "(%.1f GFLOP/s; watermark %.1f of it, LSTMs %.1f)\n",
                fl_enc * 1e-9, fl_enc / t_enc * 1e-9, fl_dec * 1e-9,
                fl_dec / t_dec * 1e-9, fl_wm * 1e-9, fl_lstm * 1e-9);
        result("encode_gflop", "%.1f", fl_enc * 1e-9);
        result("encode_gflops", "%.1f", fl_enc / t_enc * 1e-9);
        result("decode_gflop", "%.1f", fl_dec * 1e-9);
        result("decode_gflops", "%.1f", fl_dec / t_dec * 1e-9);
        result("decode_wm_gflop", "%.1f", fl_wm * 1e-9);
        result("chunk_total_s", "%.3f", t_text + t_enc + t_cond + t_ode + t_dec);
        {
            double tot = t_text + t_enc + t_cond + t_ode + t_dec;
            double fl_all = fl_enc + tm.n * fl_dit + fl_dec;
            const char *mp = nn_ctx_path(k, NN_OP_MATMUL);

            fprintf(stderr,
                    "per stage, against the fp32 peak of %.1f GFLOP/s (%.1f per "
                    "CPU-second):\n",
                    g_peak, g_peak_cpu);
            fprintf(stderr, "  %-20s %-9s %8s %8s %8s %8s %6s %8s %6s\n", "stage", "path",
                    "s", "cpu s", "GFLOP", "GFLOP/s", "peak", "/cpu-s", "peak");
            fprintf(stderr, "  %-20s %-9s %8.2f %8.2f   (not counted)\n", "T5 text", mp,
                    t_text, c_text);
            stage_line("codec encode", g_conv_path, t_enc, c_enc, fl_enc);
            stage_line("DiT 32 evaluations", mp, t_ode, cpu_sum, tm.n * fl_dit);
            stage_line("codec decode x2", g_conv_path, t_dec, c_dec, fl_dec);
            stage_line("whole chunk", "-", tot, c_text + c_enc + cpu_sum + c_dec, fl_all);
            result("chunk_gflop_per_cpu_s", "%.1f",
                   fl_all / (c_text + c_enc + cpu_sum + c_dec) * 1e-9);
            result("chunk_cpu_peak_frac", "%.3f",
                   fl_all / (c_text + c_enc + cpu_sum + c_dec) * 1e-9 / g_peak_cpu);
            result("encode_peak_frac", "%.3f", fl_enc / t_enc * 1e-9 / g_peak);
            result("dit_peak_frac", "%.3f", tm.n * fl_dit / t_ode * 1e-9 / g_peak);
            result("decode_peak_frac", "%.3f", fl_dec / t_dec * 1e-9 / g_peak);
            result("chunk_gflops", "%.1f", fl_all / tot * 1e-9);
            result("chunk_peak_frac", "%.3f", fl_all / tot * 1e-9 / g_peak);
            result("process_cpu_s", "%.2f", cpu_now());
        }
        result("maxrss_kib", "%ld", maxrss_kib());
        result("rss_now_kib", "%ld", rss_now_kib());
    }
    note_load("stages-end");

    free(wav);
    free(feat);
    free(af);
    free(noise);
    free(ode);
    free(lat);
    free(msg);
    free(out);
    free(text_feat);
    t5_tokenizer_close(tok);
    t5_state_destroy(t5);
    t5_model_close(t5m);
    dit_state_destroy(dit);
    dit_model_free(dm);
    dacvae_state_destroy(codec);
    dacvae_model_free(cm);
    nn_ctx_destroy(k);
    nn_weights_close(ws);
    nn_ctx_destroy(wk);
    cJSON_Delete(cfg);
}

/* ---- fp32 against bf16 weights, kernel by kernel ------------------------------ */

typedef struct kshape {
    const char *what;
    int op;            /* 0 matmul, 1 conv1d, 2 convt1d */
    int64_t M, N, K;   /* matmul */
    nn_conv1d_args c;  /* conv1d */
    nn_convt1d_args t; /* convt1d */
} kshape;

/* One call of shape s with weights W (fp32 or bf16); returns FLOPs. */
static double kcall(nn_ctx *k, const kshape *s, const float *x, nn_w W, float *y)
{
    int rc;

    if (s->op == 0) {
        rc = nn_matmul_w(k, x, W, NULL, y, s->M, s->N, s->K);
        if (rc != SAMSEP_OK)
            die("kernels", "matmul failed");
        return 2.0 * (double)s->M * (double)s->N * (double)s->K;
    }
    if (s->op == 1) {
        if (nn_conv1d_w(k, &s->c, x, W, NULL, y) != SAMSEP_OK)
            die("kernels", "conv1d failed");
        return 2.0 * (double)s->c.Cout * (double)s->c.Cin * (double)s->c.K *
               (double)nn_conv1d_out_len(&s->c);
    }
    if (nn_convt1d_w(k, &s->t, x, W, NULL, y) != SAMSEP_OK)
        die("kernels", "convt1d failed");
    return 2.0 * (double)s->t.Cout * (double)s->t.Cin * (double)s->t.K * (double)s->t.Lin;
}

/*
 * The products of the `small` model at their real shapes, with float32 and
 * with bf16 weights, measured alternately (best of `reps` each, wall and
 * process CPU time), so that the ratio holds on a shared machine.
 */
static void run_kernels(int threads, int reps)
{
    static const kshape sh[] = {
        { "DiT linear 250x1024x1024", 0, 250, 1024, 1024, { 0 }, { 0 } },
        { "DiT FFN 250x4096x1024", 0, 250, 4096, 1024, { 0 }, { 0 } },
        { "codec conv 768ch K7 L3000",
          1,
          0,
          0,
          0,
          { 1, 768, 3000, 768, 7, 1, 1, 3, 3, 1, NN_PAD_ZERO },
          { 0 } },
        { "codec conv 192ch K7 L24000",
          1,
          0,
          0,
          0,
          { 1, 192, 24000, 192, 7, 1, 3, 9, 9, 1, NN_PAD_ZERO },
          { 0 } },
        { "codec convT 1536->768 K24 s12",
          2,
          0,
          0,
          0,
          { 0 },
          { 1, 1536, 250, 768, 24, 12, 1, 6, 0, 0, 1 } },
    };
    nn_params p = { NULL, threads };
    nn_ctx *k = NULL;
    char err[256];
    size_t i;

    if (nn_ctx_create(&p, &k, err, sizeof err) != SAMSEP_OK)
        die("nn_ctx_create", err);
    fprintf(stderr, "kernels on %d threads: fp32 %s, bf16 %s\n", nn_ctx_threads(k),
            nn_ctx_path(k, NN_OP_MATMUL), nn_ctx_path(k, NN_OP_MATMUL_BF16));
    for (i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        const kshape *s = &sh[i];
        int64_t nx, nw, ny, j;
        float *x, *W32, *y;
        uint16_t *W16;
        double best[2][2] = { { 1e30, 1e30 }, { 1e30, 1e30 } }, fl = 0;
        int r, b;

        if (s->op == 0) {
            nx = s->M * s->K;
            nw = s->N * s->K;
            ny = s->M * s->N;
        } else if (s->op == 1) {
            nx = s->c.Cin * s->c.Lin;
            nw = s->c.Cout * s->c.Cin * s->c.K;
            ny = s->c.Cout * nn_conv1d_out_len(&s->c);
            if (nn_reserve(k, nn_conv1d_scratch(k, &s->c)) != SAMSEP_OK)
                die("kernels", "scratch");
        } else {
            nx = s->t.Cin * s->t.Lin;
            nw = s->t.Cin * s->t.Cout * s->t.K;
            ny = s->t.Cout * nn_convt1d_out_len(&s->t);
            if (nn_reserve(k, nn_convt1d_scratch(k, &s->t)) != SAMSEP_OK)
                die("kernels", "scratch");
        }
        x = nn_alloc_f32(k, nx);
        W32 = nn_alloc_f32(k, nw);
        W16 = nn_alloc(k, (size_t)nw * sizeof *W16);
        y = nn_alloc_f32(k, ny);
        if (x == NULL || W32 == NULL || W16 == NULL || y == NULL)
            die("kernels", "out of memory");
        for (j = 0; j < nx; j++)
            x[j] = (float)(j % 17) * 0.01f - 0.08f;
        for (j = 0; j < nw; j++) {
            W32[j] = (float)(j % 13) * 0.01f - 0.06f;
            W16[j] = nn_bf16_from_f32(W32[j]);
        }
        for (r = -1; r < reps; r++)
            for (b = 0; b < 2; b++) {
                nn_w w = { b ? (const void *)W16 : (const void *)W32, b };
                double t0 = now(), c0 = cpu_now(), dt, dc;

                fl = kcall(k, s, x, w, y);
                dt = now() - t0;
                dc = cpu_now() - c0;
                if (r >= 0 && dt < best[b][0])
                    best[b][0] = dt;
                if (r >= 0 && dc < best[b][1])
                    best[b][1] = dc;
            }
        fprintf(stderr,
                "  %-30s %6.1f GFLOP: fp32 %.3f s (cpu %.3f), bf16 %.3f s (cpu %.3f): "
                "%.1f / %.1f GFLOP/s wall, bf16 x%.2f (cpu x%.2f)\n",
                s->what, fl * 1e-9, best[0][0], best[0][1], best[1][0], best[1][1],
                fl / best[0][0] * 1e-9, fl / best[1][0] * 1e-9, best[0][0] / best[1][0],
                best[0][1] / best[1][1]);
        result("kernel", "%s|fp32_s=%.4f|bf16_s=%.4f|fp32_cpu_s=%.4f|bf16_cpu_s=%.4f",
               s->what, best[0][0], best[1][0], best[0][1], best[1][1]);
        nn_free(k, x);
        nn_free(k, W32);
        nn_free(k, W16);
        nn_free(k, y);
    }
    nn_ctx_destroy(k);
}

/* ---- work units per stage, from the configuration -------------------------- */

/*
 * How the CPU backend cuts each kernel into the fixed units its thread pool
 * shares out (src/nn/cpu/cpu.c: matmul tiles, conv1d / convt1d column
 * tiles, attention query blocks, LSTM hidden slices), computed from a
 * model's config.json alone, so that `large` needs no weights. The pool
 * splits a job's n units into min(threads, n, ranges) contiguous ranges,
 * `ranges` from the job's size (kpar: one range per K_MIN_WORK flops); a
 * stage's bound at P threads is its FLOPs over the sum of each kernel's
 * FLOPs divided by that kernel's balance, n / (P * ceil(n / ranges)): what
 * the unit counts allow if every unit ran at the same speed. The constants
 * mirror cpu.c's and must follow them. The watermark's sizes (hidden 512,
 * 32 channels, 128 out: the published codec's) are not in config.json and
 * are taken as they are.
 */
#define U_MIN_WORK 32768.0
#define U_MM_TM_MAX 128
#define U_MM_TM_MIN 64
#define U_MM_TN_MAX 512
#define U_MM_TN_MIN 256
#define U_MM_UNITS 48
#define U_ATT_QB 32
#define U_LSTM_TB 32
#define U_LSTM_TH 32
#define U_CONV_SLAB (1 << 20)
#define U_MAX_KERNELS 64
#define U_MAX_P 7

static const int U_THREADS[U_MAX_P] = { 1, 2, 4, 8, 16, 32, 64 };

typedef struct ukernel {
    char what[64];
    double flops; /* all calls together */
    double calls;
    int64_t units; /* per call */
    double ranges; /* kpar's range limit per call */
} ukernel;

typedef struct ustage {
    const char *name;
    int n;
    ukernel k[U_MAX_KERNELS];
} ustage;

static int64_t u_cdiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static int64_t u_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Add `calls` runs of a kernel of n units costing `unit_cost` flops each
 * (kpar's estimate) and `flops` in all per call. */
static void u_add(ustage *s, double calls, int64_t n, double unit_cost, double flops,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void u_add(ustage *s, double calls, int64_t n, double unit_cost, double flops,
                  const char *fmt, ...)
{
    char what[64];
    ukernel *k;
    va_list ap;
    int i;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    for (i = 0; i < s->n; i++) /* a kernel seen before: count it again */
        if (strcmp(s->k[i].what, what) == 0)
            break;
    if (i == s->n) {
        if (s->n == U_MAX_KERNELS)
            die("units", "too many kernels in a stage");
        k = &s->k[s->n++];
        memset(k, 0, sizeof *k);
        memcpy(k->what, what, sizeof what);
        k->units = n;
        k->ranges = (double)n * unit_cost / U_MIN_WORK;
    }
    s->k[i].calls += calls;
    s->k[i].flops += calls * flops;
}

/* y[M, N] = x[M, K] W^T: cpu_matmul's tile choice */
static void u_matmul(ustage *s, double calls, int64_t M, int64_t N, int64_t K,
                     const char *what)
{
    int64_t tm = U_MM_TM_MAX, tn = U_MM_TN_MAX;

    while (tn > U_MM_TN_MIN && u_cdiv(M, tm) * u_cdiv(N, tn) < U_MM_UNITS)
        tn /= 2;
    while (tm > U_MM_TM_MIN && u_cdiv(M, tm) * u_cdiv(N, tn) < U_MM_UNITS)
        tm /= 2;
    u_add(s, calls, u_cdiv(M, tm) * u_cdiv(N, tn),
          2.0 * (double)u_min(M, tm) * (double)u_min(N, tn) * (double)(K + 1),
          2.0 * (double)M * (double)N * (double)K, "%s %lldx%lldx%lld", what,
          (long long)M, (long long)N, (long long)K);
}

/* conv1d [Cin, L] -> [Cout, Lout], kernel K; direct: K = 1, stride 1, no pad */
static void u_conv(ustage *s, double calls, int64_t Cin, int64_t Cout, int64_t K,
                   int64_t Lout, int direct, const char *what)
{
    int64_t tl = direct ? 512 : 256;

    while (!direct && tl > 16 && Cin * K * tl > U_CONV_SLAB)
        tl /= 2;
    u_add(s, calls, u_cdiv(Lout, tl),
          2.0 * (double)Cout * (double)Cin * (double)K * (double)u_min(Lout, tl),
          2.0 * (double)Cout * (double)Cin * (double)K * (double)Lout,
          "%s conv %lld->%lld k%lld x%lld", what, (long long)Cin, (long long)Cout,
          (long long)K, (long long)Lout);
}

/* transposed conv1d, kernel K = 2 stride */
static void u_convt(ustage *s, double calls, int64_t Cin, int64_t Cout, int64_t K,
                    int64_t stride, int64_t Lout, const char *what)
{
    int64_t tl = 256;

    while (tl > 16 && Cout * K * ((tl - 1 + K - 1) / stride + 2) > U_CONV_SLAB)
        tl /= 2;
    u_add(s, calls, u_cdiv(Lout, tl),
          2.0 * (double)Cout * (double)Cin * (double)K *
              (double)((tl - 1 + K - 1) / stride + 2),
          2.0 * (double)Cout * (double)Cin * (double)K * (double)Lout / (double)stride,
          "%s convT %lld->%lld k%lld x%lld", what, (long long)Cin, (long long)Cout,
          (long long)K, (long long)Lout);
}

static void u_attention(ustage *s, double calls, int64_t B, int64_t H, int64_t Lq,
                        int64_t Lk, int64_t dh, const char *what)
{
    u_add(s, calls, B * H * u_cdiv(Lq, U_ATT_QB),
          (4.0 * (double)dh + 20.0) * (double)Lk * U_ATT_QB,
          4.0 * (double)B * (double)H * (double)Lq * (double)Lk * (double)dh,
          "%s attention %lldx%lld heads, %lld keys", what, (long long)Lq, (long long)H,
          (long long)Lk);
}

/* a 1-item LSTM of `layers` layers over n steps: input projections per
 * block of steps, then per step the recurrent product in hidden slices */
static void u_lstm(ustage *s, double calls, int layers, int64_t H, int64_t n,
                   const char *what)
{
    char w[48];

    snprintf(w, sizeof w, "%s W_ih", what);
    u_matmul(s, calls * layers * (double)(n / U_LSTM_TB), U_LSTM_TB, 4 * H, H, w);
    if (n % U_LSTM_TB != 0)
        u_matmul(s, calls * layers, n % U_LSTM_TB, 4 * H, H, w);
    u_add(s, calls * layers * (double)n, u_cdiv(H, U_LSTM_TH),
          8.0 * U_LSTM_TH * (double)H, 8.0 * (double)H * (double)H,
          "%s step (W_hh, 1 step; x%lld steps)", what, (long long)n);
}

static double u_balance(const ukernel *k, int P)
{
    double r = k->ranges < 1 ? 1 : k->ranges;
    int64_t ranges = (int64_t)(r < P ? r : P);

    if (ranges > k->units)
        ranges = k->units;
    if (ranges < 1)
        ranges = 1;
    return (double)k->units / ((double)P * (double)u_cdiv(k->units, ranges));
}

/* A stage's FLOPs, and its FLOPs over each kernel's balance at P threads. */
static double u_flops(const ustage *s)
{
    double f = 0;
    int i;

    for (i = 0; i < s->n; i++)
        f += s->k[i].flops;
    return f;
}

static double u_cost(const ustage *s, int P)
{
    double c = 0;
    int i;

    for (i = 0; i < s->n; i++)
        c += s->k[i].flops / u_balance(&s->k[i], P);
    return c;
}

/* The chunk as the engine runs it with --residual subtract: one encode,
 * `nfe` DiT evaluations, one decode (T5 runs once per prompt, not per
 * chunk). */
static void u_chunk(const ustage *enc, const ustage *dit, const ustage *dec, int nfe,
                    const char *preset)
{
    double f = u_flops(enc) + nfe * u_flops(dit) + u_flops(dec);
    char key[384];
    int p;

    fprintf(stderr,
            "%s, chunk (encode, %d DiT evaluations, decode of the target): %.0f GFLOP;"
            "\n    bound on the speed-up:",
            preset, nfe, f * 1e-9);
    for (p = 0; p < U_MAX_P; p++) {
        int P = U_THREADS[p];
        double c = u_cost(enc, P) + nfe * u_cost(dit, P) + u_cost(dec, P);

        fprintf(stderr, " %d: %.1fx", P, P * f / c);
        snprintf(key, sizeof key, "units_%s_chunk_speedup_%dt", preset, P);
        result(key, "%.2f", P * f / c);
    }
    fprintf(stderr, "\n");
}

static void u_report(const ustage *s, const char *preset)
{
    double total = 0, b[U_MAX_P] = { 0 };
    int i, p;
    char key[384];

    for (i = 0; i < s->n; i++)
        total += s->k[i].flops;
    fprintf(stderr, "%s, %s: %.1f GFLOP\n", preset, s->name, total * 1e-9);
    fprintf(stderr, "    %-52s %7s %6s %7s  balance at 2/4/8/16/32/64 threads\n",
            "kernel", "GFLOP", "calls", "units");
    for (i = 0; i < s->n; i++) {
        const ukernel *k = &s->k[i];

        if (k->flops < 0.005 * total)
            continue; /* under 0.5 %: in the total, not listed */
        fprintf(stderr, "    %-52s %7.2f %6.0f %7lld ", k->what, k->flops * 1e-9,
                k->calls, (long long)k->units);
        for (p = 1; p < U_MAX_P; p++)
            fprintf(stderr, " %3.0f%%", 100 * u_balance(k, U_THREADS[p]));
        fprintf(stderr, "\n");
    }
    for (i = 0; i < s->n; i++)
        for (p = 0; p < U_MAX_P; p++)
            b[p] += s->k[i].flops / u_balance(&s->k[i], U_THREADS[p]);
    fprintf(stderr, "    bound on the speed-up:");
    for (p = 0; p < U_MAX_P; p++) {
        double speedup = U_THREADS[p] * total / b[p];

        fprintf(stderr, " %d: %.1fx", U_THREADS[p], speedup);
        snprintf(key, sizeof key, "units_%s_%s_speedup_%dt", preset, s->name,
                 U_THREADS[p]);
        result(key, "%.2f", speedup);
    }
    fprintf(stderr, "\n");
    snprintf(key, sizeof key, "units_%s_%s_gflop", preset, s->name);
    result(key, "%.2f", total * 1e-9);
}

static int cfg_int(const cJSON *o, const char *k)
{
    return (int)jnum(o, k);
}

/* The stages of one chunk of `seconds` with a prompt of L tokens. */
static void run_units(const char *dir, double seconds, int L)
{
    char path[4096], name[64];
    cJSON *cfg, *t5;
    const cJSON *tr, *cc;
    int64_t D, H, layers, F, C2, fdim, T, N, hop = 1, up = 1, Lc, dim, i, r;
    int64_t ed, er[4], latent, dd, dr[4], cbd, wmh = 512, wmc = 32, wmo = 128;
    int64_t td, th, tdkv, tff, tl;
    static const int wm_rates[4] = { 8, 5, 4, 2 };
    ustage *st = calloc(5, sizeof *st);
    const char *preset;

    if (st == NULL)
        die("units", "out of memory");
    snprintf(path, sizeof path, "%s/config.json", dir);
    cfg = read_json(path);
    snprintf(path, sizeof path, "%s/t5/config.json", dir);
    t5 = read_json(path);
    snprintf(name, sizeof name, "%s", dir);
    preset = strrchr(name, '/') != NULL ? strrchr(name, '/') + 1 : name;
    if (strncmp(preset, "sam-", 4) == 0)
        preset += 4;
    tr = jget(cfg, "transformer");
    cc = jget(cfg, "audio_codec");
    D = cfg_int(tr, "dim");
    H = cfg_int(tr, "n_heads");
    layers = cfg_int(tr, "n_layers");
    F = 2 * cfg_int(tr, "ffn_exp") * D / 3;
    F = cfg_int(tr, "multiple_of") * u_cdiv(F, cfg_int(tr, "multiple_of"));
    C2 = cfg_int(tr, "out_channels");
    fdim = cfg_int(tr, "frequency_embedding_dim");
    ed = cfg_int(cc, "encoder_dim");
    latent = cfg_int(cc, "latent_dim");
    dd = cfg_int(cc, "decoder_dim");
    cbd = cfg_int(cc, "codebook_dim");
    for (i = 0; i < 4; i++) {
        er[i] = cJSON_GetArrayItem(jget(cc, "encoder_rates"), (int)i)->valueint;
        dr[i] = cJSON_GetArrayItem(jget(cc, "decoder_rates"), (int)i)->valueint;
        hop *= er[i];
        up *= dr[i];
    }
    td = cfg_int(t5, "d_model");
    th = cfg_int(t5, "num_heads");
    tdkv = cfg_int(t5, "d_kv");
    tff = cfg_int(t5, "d_ff");
    tl = cfg_int(t5, "num_layers");
    N = (int64_t)(seconds * 48000 + 0.5);
    T = u_cdiv(N, hop);
    N = T * hop;
    fprintf(stderr,
            "%s: DiT %lld x %lld heads x %lld layers (FFN %lld); a %.0f s chunk = %lld "
            "frames, a prompt of %d tokens\n",
            preset, (long long)D, (long long)H, (long long)layers, (long long)F, seconds,
            (long long)T, L);

    /* T5, once per prompt */
    st[0].name = "t5";
    u_matmul(&st[0], 3.0 * tl, L, th * tdkv, td, "q/k/v");
    u_attention(&st[0], (double)tl, 1, th, L, L, tdkv, "self");
    u_matmul(&st[0], (double)tl, L, td, th * tdkv, "o");
    u_matmul(&st[0], (double)tl, L, tff, td, "ff in");
    u_matmul(&st[0], (double)tl, L, td, tff, "ff out");

    /* codec encode, one row */
    st[1].name = "encode";
    u_conv(&st[1], 1, 1, ed, 7, N, 0, "in");
    Lc = N;
    dim = ed;
    for (i = 0; i < 4; i++) {
        u_conv(&st[1], 3, dim, dim, 7, Lc, 0, "res");
        u_conv(&st[1], 3, dim, dim, 1, Lc, 1, "res");
        Lc /= er[i];
        u_conv(&st[1], 1, dim, 2 * dim, 2 * er[i], Lc, 0, "down");
        dim *= 2;
    }
    u_conv(&st[1], 1, dim, latent, 3, T, 0, "out");
    u_conv(&st[1], 1, latent, 2 * cbd, 1, T, 1, "in_proj");

    /* one DiT evaluation; 32 per chunk */
    st[2].name = "dit_eval";
    u_matmul(&st[2], 1, T, D, C2, "proj");
    u_matmul(&st[2], 3, L, D, D, "y SwiGLU");
    u_matmul(&st[2], 2, 1, D, fdim, "t SwiGLU in");
    u_matmul(&st[2], 1, 1, D, D, "t SwiGLU out");
    u_matmul(&st[2], 1, 1, 6 * D, D, "t_block");
    u_conv(&st[2], 2, D, D, 3, T, 0, "x_embedder");
    u_matmul(&st[2], 6.0 * layers, T, D, D, "q/k/v/o, cross q/o");
    u_matmul(&st[2], 2.0 * layers, L, D, D, "cross k/v");
    u_attention(&st[2], (double)layers, 1, H, T, T, D / H, "self");
    u_attention(&st[2], (double)layers, 1, H, T, L, D / H, "cross");
    u_matmul(&st[2], 2.0 * layers, T, F, D, "FFN w1/w3");
    u_matmul(&st[2], (double)layers, T, D, F, "FFN w2");
    u_matmul(&st[2], 1, T, C2, D, "output");

    /* codec decode, one row (the target; the residual doubles it) */
    st[3].name = "decode";
    u_conv(&st[3], 1, cbd, latent, 1, T, 1, "out_proj");
    u_conv(&st[3], 1, latent, dd, 7, T, 0, "in");
    Lc = T;
    dim = dd;
    for (i = 0; i < 4; i++) {
        Lc *= dr[i];
        u_convt(&st[3], 1, dim, dim / 2, 2 * dr[i], dr[i], Lc, "up");
        dim /= 2;
        u_conv(&st[3], 3, dim, dim, 7, Lc, 0, "res");
        u_conv(&st[3], 3, dim, dim, 1, Lc, 1, "res");
    }
    /* the watermark at N samples, down to N / 320 and back */
    u_conv(&st[3], 1, dim, 1, 7, N, 0, "wm pre");
    u_conv(&st[3], 1, 1, wmc, 7, N, 0, "wm pre2");
    Lc = N;
    for (r = 3; r >= 0; r--) {
        int64_t lo = wmh >> (r + 1);

        u_conv(&st[3], 1, lo, lo / 2, 3, Lc, 0, "wm res");
        u_conv(&st[3], 1, lo / 2, lo, 1, Lc, 1, "wm res");
        Lc /= wm_rates[r];
        u_conv(&st[3], 1, lo, 2 * lo, 2 * wm_rates[r], Lc, 0, "wm down");
    }
    u_lstm(&st[3], 2, 2, wmh, Lc, "wm LSTM");
    u_conv(&st[3], 1, wmh, wmo, 7, Lc, 0, "wm post");
    u_conv(&st[3], 1, wmo, wmh, 7, Lc, 0, "wm dec pre");
    for (r = 0; r < 4; r++) {
        int64_t hi = wmh >> r;

        Lc *= wm_rates[r];
        u_convt(&st[3], 1, hi, hi / 2, 2 * wm_rates[r], wm_rates[r], Lc, "wm up");
        u_conv(&st[3], 1, hi / 2, hi / 4, 3, Lc, 0, "wm res");
        u_conv(&st[3], 1, hi / 4, hi / 2, 1, Lc, 1, "wm res");
    }
    u_conv(&st[3], 1, wmc, 1, 7, N, 0, "wm post");

    for (i = 0; i < 4; i++)
        u_report(&st[i], preset);
    u_chunk(&st[1], &st[2], &st[3], NFE, preset);
    cJSON_Delete(cfg);
    cJSON_Delete(t5);
    free(st);
}

/* ---- consecutive chunks through sam_separate -------------------------------- */

static void run_chunks(const char *dir, int threads, double seconds, const char *text,
                       int chunks, int targets_only)
{
    char err[1024];
    sam_model *m = NULL;
    sam_state *st = NULL;
    const char *texts[1] = { text };
    int64_t N, T;
    int hop, C, bits, ch, L;
    float *wav, *noise, *msg, *tgt, *res;
    double t0, c0;

    note_load("chunks-start");
    weights_size(dir);
    result("maxrss_start_kib", "%ld", maxrss_kib());
    t0 = now();
    fprintf(stderr, "precision %s\n", nn_precision_name((nn_precision)g_precision));
    result("precision", "%s", nn_precision_name((nn_precision)g_precision));
    if (sam_model_load(dir, NULL, NULL, NULL, g_precision, &m, err, sizeof err) !=
            SAMSEP_OK ||
        sam_state_create(m, threads, &st, err, sizeof err) != SAMSEP_OK)
        die("sam_model_open", err);
    fprintf(stderr, "sam_open: %.2f s, peak RSS %ld KiB\n", now() - t0, maxrss_kib());
    result("sam_open_s", "%.3f", now() - t0);
    result("maxrss_open_kib", "%ld", maxrss_kib());
    t0 = now();
    L = sam_set_text(st, texts, 1, err, sizeof err);
    if (L < 1)
        die("sam_set_text", err);
    result("sam_set_text_s", "%.3f", now() - t0);
    hop = sam_hop(m);
    C = sam_latent_channels(m);
    bits = sam_message_bits(m);
    N = (int64_t)(seconds * sam_sample_rate(m) + 0.5);
    T = (N + hop - 1) / hop;
    wav = malloc((size_t)N * sizeof *wav);
    noise = malloc((size_t)(2 * C * T) * sizeof *noise);
    msg = malloc((size_t)(2 * bits) * sizeof *msg);
    tgt = malloc((size_t)(T * hop) * sizeof *tgt);
    res = malloc((size_t)(T * hop) * sizeof *res);
    if (wav == NULL || noise == NULL || msg == NULL || tgt == NULL || res == NULL)
        die("buffers", "out of memory");
    for (ch = 0; ch < chunks; ch++) {
        double dt;
        char key[64];

        make_audio(wav, N, ch);
        sam_noise(0, (uint64_t)ch, noise, 2 * C * T);
        sam_message(0, (uint64_t)ch, msg, 2 * bits);
        t0 = now();
        c0 = cpu_now();
        if (sam_separate(st, wav, NULL, N, noise, msg, tgt, targets_only ? NULL : res,
                         err, sizeof err) != SAMSEP_OK)
            die("sam_separate", err);
        dt = now() - t0;
        c0 = cpu_now() - c0;
        fprintf(stderr,
                "chunk %d (%.1f s of audio%s): %.2f s (cpu %.2f s), peak RSS %ld KiB, "
                "RSS now %ld KiB\n",
                ch, seconds, targets_only ? ", target only" : "", dt, c0, maxrss_kib(),
                rss_now_kib());
        snprintf(key, sizeof key, "chunk%d_s", ch);
        result(key, "%.3f", dt);
        snprintf(key, sizeof key, "chunk%d_cpu_s", ch);
        result(key, "%.3f", c0);
        snprintf(key, sizeof key, "chunk%d_maxrss_kib", ch);
        result(key, "%ld", maxrss_kib());
        snprintf(key, sizeof key, "chunk%d_rss_now_kib", ch);
        result(key, "%ld", rss_now_kib());
        note_load("chunk");
    }
    if (g_save != NULL) {
        FILE *f = fopen(g_save, "wb");
        if (f == NULL ||
            fwrite(tgt, sizeof *tgt, (size_t)(T * hop), f) != (size_t)(T * hop) ||
            fwrite(res, sizeof *res, (size_t)(T * hop), f) != (size_t)(T * hop) ||
            fclose(f) != 0)
            die(g_save, strerror(errno));
    }
    free(wav);
    free(noise);
    free(msg);
    free(tgt);
    free(res);
    sam_state_destroy(st);
    sam_model_close(m);
}

/* ---- several prompts ------------------------------------------------------------ */

/* What a second and third prompt cost: the model's load, then one chunk of
 * `seconds` through sam_separate (one prompt, the engine's usual path) and
 * through sam_separate_prompts with 1 .. n_max prompts (one encode, one DiT
 * batch of n, n decodes), each with its text encoding, wall and CPU time. */
static void run_prompts(const char *dir, int threads, double seconds, int n_max)
{
    static const char *const texts[] = { "drums", "a bass guitar", "a woman singing",
                                         "a dog barking in the distance" };
    char err[1024], key[64];
    sam_model *m = NULL;
    sam_state *st = NULL;
    int64_t N, T;
    int hop, C, bits, n, j, which[4];
    float *wav, *noise, *msg, *tgt[4], *res[4];
    double t0, c0, t_open, one = 0;

    if (n_max < 1 || n_max > 4)
        die("--prompts", "1 to 4");
    note_load("prompts-start");
    weights_size(dir);
    t0 = now();
    if (sam_model_open(dir, NULL, NULL, NULL, &m, err, sizeof err) != SAMSEP_OK)
        die("sam_model_open", err);
    t_open = now() - t0;
    result("sam_model_open_s", "%.3f", t_open);
    t0 = now();
    if (sam_state_create(m, threads, &st, err, sizeof err) != SAMSEP_OK)
        die("sam_state_create", err);
    result("sam_state_create_s", "%.3f", now() - t0);
    fprintf(stderr, "model load %.2f s, state %.3f s, peak RSS %ld KiB\n", t_open,
            now() - t0, maxrss_kib());
    hop = sam_hop(m);
    C = sam_latent_channels(m);
    bits = sam_message_bits(m);
    N = (int64_t)(seconds * sam_sample_rate(m) + 0.5);
    T = (N + hop - 1) / hop;
    wav = malloc((size_t)N * sizeof *wav);
    noise = malloc((size_t)(2 * C * T) * sizeof *noise);
    msg = malloc((size_t)(2 * bits) * sizeof *msg);
    if (wav == NULL || noise == NULL || msg == NULL)
        die("buffers", "out of memory");
    for (j = 0; j < 4; j++) {
        tgt[j] = malloc((size_t)(T * hop) * sizeof(float));
        res[j] = malloc((size_t)(T * hop) * sizeof(float));
        if (tgt[j] == NULL || res[j] == NULL)
            die("buffers", "out of memory");
        which[j] = j;
    }
    make_audio(wav, N, 0);
    sam_noise(0, 0, noise, 2 * C * T);
    sam_message(0, 0, msg, 2 * bits);
    result("chunk_seconds", "%.3f", seconds);
    /* n = 0: the single-prompt path (sam_separate) as the engine runs it */
    for (n = 0; n <= n_max; n++) {
        double t_text, dt, dc;
        int nt = n > 0 ? n : 1;

        t0 = now();
        if (sam_set_text(st, texts, nt, err, sizeof err) < 1)
            die("sam_set_text", err);
        t_text = now() - t0;
        note_load("prompts");
        t0 = now();
        c0 = cpu_now();
        if (n == 0 ? sam_separate(st, wav, NULL, N, noise, msg, tgt[0], res[0], err,
                                  sizeof err)
                   : sam_separate_prompts(st, wav, N, noise, msg, which, n, tgt, res, err,
                                          sizeof err))
            die("separate", err);
        dt = now() - t0;
        dc = cpu_now() - c0;
        if (n == 1)
            one = dt;
        fprintf(stderr,
                "%s %d prompt(s), %.1f s chunk: text %.3f s, chunk %.2f s wall, "
                "%.2f s CPU%s",
                n == 0 ? "sam_separate        " : "sam_separate_prompts", nt, seconds,
                t_text, dt, dc, n > 1 ? "" : "\n");
        if (n > 1)
            fprintf(stderr, " (%.2fx one prompt)\n", dt / one);
        snprintf(key, sizeof key, n == 0 ? "single_text_s" : "p%d_text_s", n);
        result(key, "%.3f", t_text);
        snprintf(key, sizeof key, n == 0 ? "single_chunk_s" : "p%d_chunk_s", n);
        result(key, "%.3f", dt);
        snprintf(key, sizeof key, n == 0 ? "single_chunk_cpu_s" : "p%d_chunk_cpu_s", n);
        result(key, "%.3f", dc);
    }
    result("maxrss_kib", "%ld", maxrss_kib());
    free(wav);
    free(noise);
    free(msg);
    for (j = 0; j < 4; j++) {
        free(tgt[j]);
        free(res[j]);
    }
    sam_state_destroy(st);
    sam_model_close(m);
}

/* ---- key listing -------------------------------------------------------------- */

static void run_keys(const char *path)
{
    nn_tensor_file *tf = NULL;
    char err[1024];
    int i, j;

    if (nn_tensor_file_open(path, &tf, err, sizeof err) != SAMSEP_OK)
        die("tensor_file_open", err);
    for (i = 0; i < nn_tensor_file_count(tf); i++) {
        const nn_tensor *t = nn_tensor_file_at(tf, i);

        printf("%s\t[", t->name);
        for (j = 0; j < t->ndim; j++)
            printf("%s%lld", j ? ", " : "", (long long)t->shape[j]);
        printf("]\n");
    }
    nn_tensor_file_close(tf);
}

static void usage(void)
{
    fputs(
        "usage: bench_sam --peak [--threads N]\n"
        "       bench_sam --stages --model DIR [--threads N] [--seconds S] [--text T]\n"
        "       bench_sam --chunks K --model DIR [--threads N] [--seconds S] [--text T]\n"
        "                 [--target-only]\n"
        "       bench_sam --units --model DIR [--seconds S] [--tokens L]\n"
        "       bench_sam --prompts N --model DIR [--threads N] [--seconds S]\n"
        "       bench_sam --keys FILE\n"
        "       bench_sam --kernels [--threads N] [--rounds R]\n"
        "       (--stages, --chunks: [--precision fp32|bf16]; --chunks: [--save FILE])\n",
        stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *model = NULL, *keys = NULL, *text = "a dog barking in the distance";
    int threads = 2, peak = 0, stages = 0, chunks = 0, rounds = 3, skip_codec = 0, i;
    int units = 0, tokens = 8, targets_only = 0, prompts = 0;
    int kernels = 0;
    double seconds = 10.0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--peak") == 0)
            peak = 1;
        else if (strcmp(argv[i], "--stages") == 0)
            stages = 1;
        else if (strcmp(argv[i], "--chunks") == 0 && i + 1 < argc)
            chunks = atoi(argv[++i]);
        else if (strcmp(argv[i], "--prompts") == 0 && i + 1 < argc)
            prompts = atoi(argv[++i]);
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            model = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--text") == 0 && i + 1 < argc)
            text = argv[++i];
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--target-only") == 0)
            targets_only = 1;
        else if (strcmp(argv[i], "--units") == 0)
            units = 1;
        else if (strcmp(argv[i], "--tokens") == 0 && i + 1 < argc)
            tokens = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dit-only") == 0)
            skip_codec = 1;
        else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
            keys = argv[++i];
        else if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc &&
                 (g_precision = nn_precision_parse(argv[i + 1])) >= 0)
            i++;
        else if (strcmp(argv[i], "--save") == 0 && i + 1 < argc)
            g_save = argv[++i];
        else if (strcmp(argv[i], "--kernels") == 0)
            kernels = 1;
        else
            usage();
    }
    if (threads < 1 || seconds <= 0)
        usage();
    if (keys != NULL) {
        run_keys(keys);
        return 0;
    }
    if (peak)
        run_peak(threads);
    if (kernels)
        run_kernels(threads, rounds);
    if ((stages || chunks > 0 || units || prompts > 0) && model == NULL)
        usage();
    if (units) {
        if (tokens < 1)
            usage();
        run_units(model, seconds, tokens);
    }
    if (stages)
        run_stages(model, threads, seconds, text, rounds, skip_codec);
    if (chunks > 0)
        run_chunks(model, threads, seconds, text, chunks, targets_only);
    if (prompts > 0)
        run_prompts(model, threads, seconds, prompts);
    if (!peak && !stages && chunks <= 0 && !units && !kernels && prompts <= 0)
        usage();
    return 0;
}
