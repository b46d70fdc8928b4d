/* output.c - tensor sinks: npy records, raw float32, text and top-k lines. */
#include "output.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The output as messages name it: the path as given, or <stdout>. */
static const char *sink_name(const sr_sink *w)
{
    return w->o.name ? w->o.name : "<stdout>";
}

/* A text write that failed (a full disk, `ulimit -f`), naming the file as
 * every writer's message does; buffered, it may surface records later. */
static sr_status text_written(const sr_sink *w, char *err)
{
    if (ferror(w->o.f))
        return sr_err(err, SR_ERUN, "%s: write failed: %s", sink_name(w), strerror(errno ? errno : EIO));
    return SR_OK;
}

sr_status sr_sink_header(sr_sink *w, const sr_shape *s, char *err)
{
    if (w->fmt == SR_FMT_NPY)
        return sr_npy_write_header(w->o.f, s, err);
    if (w->fmt == SR_FMT_TEXT) {
        /* one line per sample, as the man page says: a batch [N, ...]
         * prints N lines of every value of its sample; a vector one line */
        w->row = 1;
        for (int k = s->ndim >= 2 ? 1 : 0; k < s->ndim; k++)
            w->row *= s->d[k];
        w->written = 0;
        if (w->top) {
            free(w->rowbuf);
            w->rowbuf = malloc((size_t)(w->row > 0 ? w->row : 1) * sizeof(float));
            if (!w->rowbuf)
                return sr_err(err, SR_ERUN, "%s: out of memory for --top's row of %lld values", sink_name(w),
                              (long long)w->row);
            fprintf(w->o.f, "# shape %s; top %d classes per sample: class (probability)\n", sr_shp(s), w->top);
        } else {
            fprintf(w->o.f, "# shape %s\n", sr_shp(s));
        }
        return text_written(w, err);
    }
    return SR_OK;
}

/* Probabilities for --top: a row that already is a distribution is taken
 * as it is (Softmax output); anything else -- logits, or LogSoftmax's
 * log-probabilities, for which softmax gives back the probabilities -- goes
 * through softmax. */
static void row_probs(float *x, int64_t n)
{
    double sum = 0;
    int dist = 1;
    for (int64_t i = 0; i < n; i++) {
        dist &= x[i] >= 0 && x[i] <= 1;
        sum += x[i];
    }
    if (dist && sum > 0.999 && sum < 1.001)
        return;
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += exp((double)x[i] - mx);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(exp((double)x[i] - mx) / sum);
}

static void write_top(sr_sink *w)
{
    int64_t n = w->row, sample = w->written / n - 1;
    row_probs(w->rowbuf, n);
    fprintf(w->o.f, "%lld:", (long long)sample);
    /* selection by repeated scans: K is small; ties go to the lower index */
    for (int k = 0; k < w->top && k < n; k++) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++)
            if (!(w->rowbuf[i] < 0) && (best < 0 || w->rowbuf[i] > w->rowbuf[best]))
                best = i;
        if (best < 0)
            break;
        fprintf(w->o.f, "%s%lld (%.4f)", k ? "  " : " ", (long long)best, (double)w->rowbuf[best]);
        w->rowbuf[best] = -1; /* taken */
    }
    fputc('\n', w->o.f);
}

sr_status sr_sink_data(sr_sink *w, const float *x, size_t n, char *err)
{
    if (w->fmt != SR_FMT_TEXT)
        return sr_npy_write_f32(w->o.f, x, n, err);
    for (size_t i = 0; i < n; i++) {
        int64_t col = w->row > 0 ? w->written % w->row : 0;
        w->written++;
        int eol = w->row <= 0 || col == w->row - 1;
        if (w->top) {
            w->rowbuf[col] = x[i];
            if (eol)
                write_top(w);
        } else {
            fprintf(w->o.f, "%12.6g%s", (double)x[i], eol ? "\n" : " ");
        }
    }
    return text_written(w, err);
}

void sr_sink_free(sr_sink *w)
{
    free(w->rowbuf);
    w->rowbuf = NULL;
}
