/*
 * pool_common.c - the pieces pool.c and pool3d.c share (pool_common.h).
 */
#include "pool_common.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int64_t sr_pool_out(int64_t in, int64_t k, int64_t p, int64_t s, int64_t d, int ceil)
{
    /* in 128 bits: kernel_size * dilation may pass 2^63 */
    __int128 x = (__int128)in + 2 * (__int128)p - (__int128)d * (k - 1) - 1 + (ceil ? s - 1 : 0);
    __int128 o = (x >= 0 ? x / s : -((-x + s - 1) / s)) + 1; /* floor division, as ATen's div_rtn */
    if (ceil && (o - 1) * s >= (__int128)in + p)
        o--;
    return o > INT64_MAX ? INT64_MAX : o < INT64_MIN ? INT64_MIN : (int64_t)o;
}

/* In closed form: floor((n + 2p - d(k-1) - 1 [+ s-1 with ceil_mode]) / s)
 * >= 0 holds from n = d(k-1) + 1 - 2p [- (s-1)]; ceil_mode's last-window
 * rule never takes the only window away (it starts at -p < n + p). */
int64_t sr_pool_least_input(int64_t k, int64_t p, int64_t s, int64_t d, int ceil)
{
    __int128 n = (__int128)d * (k - 1) + 1 - 2 * (__int128)p - (ceil ? s - 1 : 0);
    return n < 1 ? 1 : n > INT64_MAX ? INT64_MAX : (int64_t)n;
}

/* v's n sizes joined by sep, in brackets when n > 1 and open is given */
static const char *join(const int64_t *v, int n, const char *open, const char *sep, const char *close, char *buf,
                        size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "%s", n > 1 ? open : "");
    for (int i = 0; i < n && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? sep : "", (long long)v[i]);
    if (k < len)
        snprintf(buf + k, len - k, "%s", n > 1 ? close : "");
    return buf;
}

const char *sr_pool_tup(const int64_t *v, int n, char *buf, size_t len)
{
    return join(v, n, "(", ", ", ")", buf, len);
}

const char *sr_pool_ext(const int64_t *v, int n, char *buf, size_t len)
{
    return join(v, n, "", "x", "", buf, len);
}

void sr_pool_adaptive_size(const sr_layer *L, const sr_shape *in, int n, int64_t *o)
{
    const sr_argval *v = &L->arg[0];
    for (int j = 0; j < n; j++) {
        if (v->kind == SR_AV_TUPLE && v->tnone[j])
            o[j] = in->d[in->ndim - n + j];
        else
            o[j] = v->kind == SR_AV_TUPLE ? v->t[j] : v->i;
    }
}

sr_status sr_pool_pad_error(const int64_t *k, const int64_t *p, int n, char *err)
{
    int64_t half[3];
    for (int i = 0; i < n && i < 3; i++)
        half[i] = k[i] / 2;
    char a[80], b[80], c[80];
    return sr_err(err, SR_EUSAGE, "pad should be at most half of kernel size, but got padding=%s and kernel_size=%s; "
                  "hint: padding at most %s", sr_pool_tup(p, n, a, sizeof a), sr_pool_tup(k, n, b, sizeof b),
                  sr_pool_tup(half, n, c, sizeof c));
}

sr_status sr_pool_indices_error(const sr_layer *L, char *err)
{
    return sr_err(err, SR_EUSAGE, "return_indices=True makes %s return (output, indices), which Sequential cannot pass "
                  "to the next layer; hint: remove return_indices", L->type->name);
}

sr_status sr_pool_check_nonempty(const sr_layer *L, int nd, const sr_shape *in, const sr_shapeinfo *info, char *err)
{
    for (int i = in->ndim == nd + 2 ? 1 : 0; i < in->ndim; i++) {
        if (in->d[i] == 0) {
            char src[256];
            return sr_err(err, SR_ESHAPE, "%s needs non-empty channel and spatial dimensions, but input %s%s has "
                          "size 0 in dimension %d; hint: check the layers before it", L->type->name, sr_shp(in),
                          sr_from(info, 1, src, sizeof src), i);
        }
    }
    return SR_OK;
}

sr_status sr_pool_check_output(const sr_layer *L, int nd, const sr_shape *in, const sr_shape *out,
                               const sr_shapeinfo *info, char *err)
{
    for (int i = out->ndim - nd; i < out->ndim; i++)
        if (out->d[i] == 0) {
            char src[256];
            /* PyTorch returns an empty tensor; the contract makes a
             * zero-size output a mismatch */
            return sr_err(err, SR_ESHAPE, "%s would give an empty output %s from input %s%s: output_size has a 0; "
                          "hint: give every output size at least 1 (or None to keep the input's)",
                          L->type->name, sr_shp(out), sr_shp(in), sr_from(info, 1, src, sizeof src));
        }
    return SR_OK;
}
