/* sgemm_peak - what OpenBLAS's cblas_sgemm alone achieves on this machine,
 * the yardstick bench.py divides seqrun's GFLOP/s by.
 *
 *   sgemm_peak THREADS square N [SECONDS]
 *       C[N,N] = A[N,N] * B[N,N], row-major: the machine's sgemm peak.
 *   sgemm_peak THREADS chain B K0xN0,K1xN1,... [SECONDS]
 *       a Linear stack's GEMMs alone, nothing else: Y_i[B,N_i] =
 *       X_i[B,K_i] * W_i[N_i,K_i]^T (W as PyTorch stores a Linear weight),
 *       each layer's output feeding the next; no bias, no activation.
 *
 *   sgemm_peak 1 stream 1 K0xN0,K1xN1,... [SECONDS]
 *       no GEMM: only reads every weight of the stack once per pass, layer
 *       after layer, each swept in the opposite direction to the last pass
 *       (as seqrun's batch-1 GEMV does, so that what the last pass read
 *       last is still cached), summing them in vector registers.  That is
 *       the least any batch-1 forward pass must do: its time is the memory
 *       floor for one sample, reported as the GFLOP/s a GEMV would reach
 *       if it took no longer (2*N*K FLOPs per layer).  One thread.
 *
 * Runs one warm-up call, then timed blocks of calls (each block at least
 * 20 ms) until SECONDS (default 0.5) have passed; prints one line
 *
 *   gflops MEDIAN max MAX blocks N
 *
 * with FLOPs = 2*M*N*K per GEMM.  THREADS goes to openblas_set_num_threads.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float *randbuf(size_t n)
{
    /* 64-byte aligned, as seqrun keeps its packed weights (whole vector loads) */
    float *p = aligned_alloc(64, ((n ? n : 1) * sizeof *p + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "sgemm_peak: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return p;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define MAXL 32
static int nl, bsz, kk[MAXL], nn[MAXL];
static float *w[MAXL], *act[MAXL + 1];

static int stream;

typedef float v16 __attribute__((vector_size(64)));

/* Sum of p[0..n) read in blocks of 64 floats, forwards or backwards. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static float sweep(const float *p, size_t n,
                                                                              int backwards)
{
    v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, f0, f1, f2, f3;
    size_t nb = n / 64;
    for (size_t q = 0; q < nb; q++) {
        const float *b = p + 64 * (backwards ? nb - 1 - q : q);
        memcpy(&f0, b, sizeof f0);
        memcpy(&f1, b + 16, sizeof f1);
        memcpy(&f2, b + 32, sizeof f2);
        memcpy(&f3, b + 48, sizeof f3);
        a0 += f0;
        a1 += f1;
        a2 += f2;
        a3 += f3;
    }
    v16 a = (a0 + a1) + (a2 + a3);
    float s = 0;
    for (int l = 0; l < 16; l++)
        s += a[l];
    for (size_t i = 64 * nb; i < n; i++)
        s += p[i];
    return s;
}

static volatile float sink;

static void run_once(void)
{
    static unsigned pass;
    if (stream) {
        int backwards = (int)(pass++ & 1);
        float s = 0;
        for (int i = 0; i < nl; i++)
            s += sweep(w[i], (size_t)nn[i] * (size_t)kk[i], backwards);
        sink = s;
        return;
    }
    for (int i = 0; i < nl; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bsz, nn[i], kk[i], 1.0f, act[i], kk[i], w[i],
                    kk[i], 0.0f, act[i + 1], nn[i]);
}

static void usage(void)
{
    fprintf(stderr, "usage: sgemm_peak THREADS square N [SECONDS]\n"
                    "       sgemm_peak THREADS chain B K0xN0,K1xN1,... [SECONDS]\n"
                    "       sgemm_peak 1 stream 1 K0xN0,K1xN1,... [SECONDS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        usage();
    int threads = atoi(argv[1]);
    stream = !strcmp(argv[2], "stream");
    int chain = stream || !strcmp(argv[2], "chain");
    int si = chain ? 5 : 4; /* index of the optional SECONDS */
    double secs = argc > si ? atof(argv[si]) : 0.5;
    if (threads < 1 || secs <= 0 || argc > si + 1)
        usage();
    openblas_set_num_threads(threads);
    double flops = 0;
    if (!strcmp(argv[2], "square")) {
        /* C = A * B^T with square operands is the same work as A * B; one
         * code path for both modes. */
        int n = atoi(argv[3]);
        if (n < 1)
            usage();
        nl = 1;
        bsz = kk[0] = nn[0] = n;
    } else if (chain) {
        if (argc < 5 || sscanf(argv[3], "%d", &bsz) != 1 || bsz < 1 || (stream && (bsz != 1 || threads != 1)))
            usage();
        char *spec = strdup(argv[4]);
        for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
            if (nl == MAXL || sscanf(tok, "%dx%d", &kk[nl], &nn[nl]) != 2 || kk[nl] < 1 || nn[nl] < 1)
                usage();
            if (nl && kk[nl] != nn[nl - 1]) {
                fprintf(stderr, "sgemm_peak: layer %d has K=%d but the previous N=%d\n", nl, kk[nl],
                        nn[nl - 1]);
                return 2;
            }
            nl++;
        }
        free(spec);
        if (!nl)
            usage();
    } else
        usage();
    act[0] = randbuf((size_t)bsz * (size_t)kk[0]);
    for (int i = 0; i < nl; i++) {
        w[i] = randbuf((size_t)nn[i] * (size_t)kk[i]);
        act[i + 1] = randbuf((size_t)bsz * (size_t)nn[i]);
        flops += 2.0 * bsz * nn[i] * kk[i];
    }

    run_once(); /* warm-up: thread pool, buffers, caches */
    double t1 = now();
    run_once();
    double one = now() - t1;
    long per_block = one > 0 ? (long)(0.02 / one) + 1 : 1;

    enum { MAXB = 4096 };
    static double rate[MAXB];
    int nb = 0;
    double start = now();
    while (nb < MAXB && (nb < 3 || now() - start < secs)) {
        double t0 = now();
        for (long r = 0; r < per_block; r++)
            run_once();
        double dt = now() - t0;
        rate[nb++] = flops * (double)per_block / dt / 1e9;
    }
    qsort(rate, (size_t)nb, sizeof *rate, cmp);
    double med = nb % 2 ? rate[nb / 2] : (rate[nb / 2 - 1] + rate[nb / 2]) / 2;
    printf("gflops %.3f max %.3f blocks %d\n", med, rate[nb - 1], nb);
    return 0;
}
