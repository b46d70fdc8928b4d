/*
 * micro_layers - one layer's forward(), timed in-process: the kernel work
 * alone, with no file I/O, for comparing kernel variants with less noise
 * than whole runs give on a shared machine.
 *
 *   make build/bench/micro_layers
 *   build/bench/micro_layers [-t THREADS] [-r RELU] [-n REPS] TYPE 'ARGS' N,D,...
 *
 * TYPE is a layer type (Linear, Conv2d, ...), ARGS its positional integer
 * arguments ("784,512" or "32,64,3,2,1"), then the input shape.  With -r 1 a
 * ReLU is fused (as the executor does).  Prints the minimum and median time
 * per call over REPS calls (after 3 warm-up calls) and GFLOP/s for Linear and
 * Conv (2 FLOPs per multiply-add).
 */
#include "cpu.h"
#include "layers/layers.h"
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_list(const char *s, int64_t *v, int max)
{
    int n = 0;
    while (*s && n < max) {
        v[n++] = strtoll(s, (char **)&s, 10);
        if (*s == ',')
            s++;
    }
    return n;
}

int main(int argc, char **argv)
{
    int threads = 1, relu = 0, reps = 50, level = -1, a = 1;
    for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
        if (!strcmp(argv[a], "-t"))
            threads = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "-r"))
            relu = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "-n"))
            reps = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "-l"))
            level = atoi(argv[a + 1]);
    }
    if (argc - a != 3) {
        fprintf(stderr, "usage: micro_layers [-t THREADS] [-r RELU] [-n REPS] [-l LEVEL] TYPE 'ARGS' N,D,...\n");
        return 2;
    }
    sr_cpu_force(level);
    sr_layer L, R;
    const sr_layertype *lt = sr_layertype_find(argv[a]);
    if (!lt) {
        fprintf(stderr, "unknown type %s\n", argv[a]);
        return 2;
    }
    if (sr_layer_init(&L, lt) != 0 || sr_layer_init(&R, sr_layertype_find("ReLU")) != 0)
        return 1;
    int64_t v[SR_MAXARGS];
    int nv = parse_list(argv[a + 1], v, SR_MAXARGS);
    for (int i = 0; i < nv; i++) {
        memset(&L.arg[i], 0, sizeof L.arg[i]);
        L.arg[i].kind = SR_AV_INT;
        L.arg[i].i = v[i];
        L.arg[i].f = (double)v[i];
    }
    sr_shape in = {0}, out;
    in.ndim = parse_list(argv[a + 2], in.d, SR_MAXDIM);
    char err[SR_ERRLEN];
    sr_shapeinfo info = {0};
    if ((L.type->validate && L.type->validate(&L, err) != SR_OK) ||
        L.type->shape(&L, &in, &out, &info, err) != SR_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    L.nparam = L.type->params ? L.type->params(&L, L.decl) : 0;
    for (int k = 0; k < L.nparam; k++) {
        sr_tensor_alloc(&L.param[k], &L.decl[k].shape, L.decl[k].dtype, err);
        for (int64_t i = 0; L.decl[k].dtype == SR_F32 && i < sr_shape_numel(&L.decl[k].shape); i++)
            sr_f32(&L.param[k])[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    }
    int64_t nin = sr_shape_numel(&in), nout = sr_shape_numel(&out);
    float *x = malloc((size_t)nin * sizeof *x), *y = malloc((size_t)nout * sizeof *y);
    for (int64_t i = 0; i < nin; i++)
        x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    size_t wl = L.type->workspace ? L.type->workspace(&L, &in, &out) * (size_t)threads : 0;
    float *work = malloc((wl ? wl : 1) * sizeof *work);
    void *cache = NULL;
    sr_ctx ctx = {.work = work, .work_len = wl, .threads = threads, .post = relu ? &R : NULL, .cache = &cache};
    sr_tensor tin = {.shape = in, .dtype = SR_F32, .data = x}, tout = {.shape = out, .dtype = SR_F32, .data = y};
    double *t = malloc((size_t)reps * sizeof *t);
    for (int i = 0; i < reps + 3; i++) {
        double t0 = bench_clock(CLOCK_MONOTONIC);
        L.type->forward(&L, &tin, &tout, &ctx, err);
        if (i >= 3)
            t[i - 3] = bench_clock(CLOCK_MONOTONIC) - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, bench_cmpd);
    double flops = 0;
    if (L.type->flags & SR_FUSE_AFFINE) {
        int64_t per = L.param[0].shape.d[0] ? sr_shape_numel(&L.param[0].shape) / L.param[0].shape.d[0] : 0;
        flops = 2.0 * (double)nout * (double)per;
    }
    printf("%s %s in %s: min %.1f us, median %.1f us", argv[a], argv[a + 1], argv[a + 2], t[0] * 1e6,
           t[reps / 2] * 1e6);
    if (flops > 0)
        printf(", %.1f GFLOP/s (min), %.1f (median)", flops / t[0] / 1e9, flops / t[reps / 2] / 1e9);
    printf("\n");
    return 0;
}
