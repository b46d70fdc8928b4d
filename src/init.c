/* init.c - torch.nn.init schemes over a xoshiro256** generator. */
#include "init.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint64_t sr_hash64(uint64_t x)
{
    /* splitmix64's finaliser: a bijection with good avalanche */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t sr_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then mixed */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return sr_hash64(h);
}

void sr_rng_seed(sr_rng *r, uint64_t seed, const char *key)
{
    uint64_t x = sr_hash64(seed) ^ sr_hash_str(key ? key : "");
    for (int i = 0; i < 4; i++) {
        x = sr_hash64(x);
        r->s[i] = x;
    }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sr_rng_next(sr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double sr_rng_uniform(sr_rng *r) { return (double)(sr_rng_next(r) >> 11) * 0x1.0p-53; }

double sr_rng_normal(sr_rng *r)
{
    /* Box-Muller; 1 - u keeps the log's argument in (0, 1]. */
    double u = 1.0 - sr_rng_uniform(r), v = sr_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* ---- schemes ------------------------------------------------------------- */

static const sr_argdef a_uniform[] = {{"a", SR_T_FLOAT, "0.0", NULL, 0}, {"b", SR_T_FLOAT, "1.0", NULL, 0}};
static const sr_argdef a_normal[] = {{"mean", SR_T_FLOAT, "0.0", NULL, 0}, {"std", SR_T_FLOAT, "1.0", NULL, 0}};
static const sr_argdef a_constant[] = {{"val", SR_T_FLOAT, NULL, NULL, 0}};
static const sr_argdef a_xavier[] = {{"gain", SR_T_FLOAT, "1.0", NULL, 0}};
#define NONLIN "linear|conv1d|conv2d|conv3d|conv_transpose1d|conv_transpose2d|conv_transpose3d|sigmoid|tanh|relu|leaky_relu|selu"
static const sr_argdef a_kaiming[] = {
    {"a", SR_T_FLOAT, "0", NULL, 0},
    {"mode", SR_T_STR, "'fan_in'", "fan_in|fan_out", 0},
    {"nonlinearity", SR_T_STR, "'leaky_relu'", NONLIN, 0},
};
static const sr_argdef a_trunc[] = {
    {"mean", SR_T_FLOAT, "0.0", NULL, 0}, {"std", SR_T_FLOAT, "1.0", NULL, 0},
    {"a", SR_T_FLOAT, "-2.0", NULL, 0}, {"b", SR_T_FLOAT, "2.0", NULL, 0},
};

#define S(n, a) {n, a, (int)(sizeof a / sizeof *a)}
const sr_initscheme sr_initschemes[] = {
    {"zeros", NULL, 0},
    {"ones", NULL, 0},
    S("constant", a_constant),
    S("uniform", a_uniform),
    S("normal", a_normal),
    S("xavier_uniform", a_xavier),
    S("xavier_normal", a_xavier),
    S("kaiming_uniform", a_kaiming),
    S("kaiming_normal", a_kaiming),
    S("trunc_normal", a_trunc),
};
const int sr_ninitschemes = (int)(sizeof sr_initschemes / sizeof *sr_initschemes);

const sr_initscheme *sr_initscheme_find(const char *name)
{
    /* torch spells them with a trailing underscore; accept both */
    size_t n = strlen(name);
    if (n && name[n - 1] == '_')
        n--;
    for (int i = 0; i < sr_ninitschemes; i++)
        if (strlen(sr_initschemes[i].name) == n && strncmp(sr_initschemes[i].name, name, n) == 0)
            return &sr_initschemes[i];
    return NULL;
}

const char *sr_initscheme_suggest(const char *name)
{
    for (int i = 0; i < sr_ninitschemes; i++)
        if (strstr(name, sr_initschemes[i].name) || strstr(sr_initschemes[i].name, name))
            return sr_initschemes[i].name;
    return NULL;
}

double sr_calculate_gain(const char *nl, double param, int param_given)
{
    if (!strcmp(nl, "tanh"))
        return 5.0 / 3;
    if (!strcmp(nl, "relu"))
        return sqrt(2.0);
    if (!strcmp(nl, "leaky_relu")) {
        double ns = param_given ? param : 0.01;
        return sqrt(2.0 / (1 + ns * ns));
    }
    if (!strcmp(nl, "selu"))
        return 3.0 / 4;
    return 1.0; /* linear, conv*, sigmoid */
}

sr_status sr_init_from_args(const sr_initscheme *s, const sr_argval *av, sr_init *o, char *err)
{
    memset(o, 0, sizeof *o);
    int k = (int)(s - sr_initschemes);
    static const sr_initkind kinds[] = {
        SR_INIT_ZEROS, SR_INIT_ONES, SR_INIT_CONSTANT, SR_INIT_UNIFORM, SR_INIT_NORMAL,
        SR_INIT_XAVIER_UNIFORM, SR_INIT_XAVIER_NORMAL, SR_INIT_KAIMING_UNIFORM,
        SR_INIT_KAIMING_NORMAL, SR_INIT_TRUNC_NORMAL,
    };
    o->kind = kinds[k];
    switch (o->kind) {
    case SR_INIT_CONSTANT:
        o->a = av[0].f;
        break;
    case SR_INIT_UNIFORM:
    case SR_INIT_NORMAL:
    case SR_INIT_XAVIER_UNIFORM:
    case SR_INIT_XAVIER_NORMAL:
        o->a = av[0].f;
        o->b = s->nargs > 1 ? av[1].f : 0;
        if (o->kind == SR_INIT_NORMAL && o->b < 0)
            return sr_err(err, SR_EUSAGE, "std must be non-negative");
        break;
    case SR_INIT_KAIMING_UNIFORM:
    case SR_INIT_KAIMING_NORMAL:
        o->a = av[0].f;
        o->fan_out = strcmp(av[1].s, "fan_out") == 0;
        o->gain = sr_calculate_gain(av[2].s, av[0].f, 1);
        break;
    case SR_INIT_TRUNC_NORMAL:
        o->a = av[0].f;
        o->b = av[1].f;
        o->c = av[2].f;
        o->d = av[3].f;
        if (o->c >= o->d)
            return sr_err(err, SR_EUSAGE, "trunc_normal needs a < b");
        break;
    default:
        break;
    }
    return SR_OK;
}

sr_init sr_init_uniform(double a, double b) { return (sr_init){.kind = SR_INIT_UNIFORM, .a = a, .b = b}; }
sr_init sr_init_normal(double mean, double std) { return (sr_init){.kind = SR_INIT_NORMAL, .a = mean, .b = std}; }
sr_init sr_init_const(sr_initkind k) { return (sr_init){.kind = k}; }
sr_init sr_init_kaiming_uniform_a(double a)
{
    return (sr_init){.kind = SR_INIT_KAIMING_UNIFORM, .a = a, .gain = sr_calculate_gain("leaky_relu", a, 1)};
}

/* torch.nn.init._calculate_fan_in_and_fan_out */
static int fans(const sr_tensor *t, double *fan_in, double *fan_out)
{
    if (t->shape.ndim < 2)
        return -1;
    double recept = 1;
    for (int i = 2; i < t->shape.ndim; i++)
        recept *= (double)t->shape.d[i];
    *fan_in = (double)t->shape.d[1] * recept;
    *fan_out = (double)t->shape.d[0] * recept;
    return 0;
}

/* erfinv by Giles' single-precision approximation refined with two Newton
 * steps on erf, which brings it to double precision. */
static double erfinv_approx(double x)
{
    double w = -log((1.0 - x) * (1.0 + x)), p;
    if (w < 5.0) {
        w -= 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w;
        p = -3.5233877e-06 + p * w;
        p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w;
        p = -0.00125372503 + p * w;
        p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w;
        p = 1.50140941 + p * w;
    } else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w;
        p = 0.00134934322 + p * w;
        p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w;
        p = -0.0076224613 + p * w;
        p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w;
        p = 2.83297682 + p * w;
    }
    double y = p * x;
    for (int i = 0; i < 2; i++)
        y -= (erf(y) - x) / (2.0 / sqrt(M_PI) * exp(-y * y));
    return y;
}

static double phi(double x) { return 0.5 * (1 + erf(x / sqrt(2.0))); }

static int needs_fans(const sr_init *in)
{
    return in->kind == SR_INIT_XAVIER_UNIFORM || in->kind == SR_INIT_XAVIER_NORMAL ||
           in->kind == SR_INIT_KAIMING_UNIFORM || in->kind == SR_INIT_KAIMING_NORMAL;
}

sr_status sr_init_check(const sr_shape *s, const sr_init *in, char *err)
{
    if (needs_fans(in) && s->ndim < 2)
        return sr_err(err, SR_EUSAGE, "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions");
    return SR_OK;
}

sr_status sr_init_fill(sr_tensor *t, const sr_init *in, sr_rng *r, char *err)
{
    int64_t n = sr_shape_numel(&t->shape);
    float *w = sr_f32(t);
    double fan_in = 0, fan_out = 0, lo = 0, hi = 0, std = 0;
    sr_status st = sr_init_check(&t->shape, in, err);
    if (st != SR_OK)
        return st;
    if (needs_fans(in))
        fans(t, &fan_in, &fan_out);
    switch (in->kind) {
    case SR_INIT_ZEROS:
    case SR_INIT_ONES:
    case SR_INIT_CONSTANT: {
        float v = in->kind == SR_INIT_ZEROS ? 0.0f : in->kind == SR_INIT_ONES ? 1.0f : (float)in->a;
        for (int64_t i = 0; i < n; i++)
            w[i] = v;
        return SR_OK;
    }
    case SR_INIT_UNIFORM:
        lo = in->a, hi = in->b;
        break;
    case SR_INIT_XAVIER_UNIFORM:
        hi = in->a * sqrt(6.0 / (fan_in + fan_out)), lo = -hi;
        break;
    case SR_INIT_KAIMING_UNIFORM: {
        double fan = in->fan_out ? fan_out : fan_in;
        if (fan == 0) /* PyTorch warns and leaves the empty tensor alone */
            return SR_OK;
        hi = in->gain * sqrt(3.0 / fan), lo = -hi;
        break;
    }
    case SR_INIT_NORMAL:
        for (int64_t i = 0; i < n; i++)
            w[i] = (float)(in->a + in->b * sr_rng_normal(r));
        return SR_OK;
    case SR_INIT_XAVIER_NORMAL:
    case SR_INIT_KAIMING_NORMAL:
        if (in->kind == SR_INIT_XAVIER_NORMAL) {
            std = in->a * sqrt(2.0 / (fan_in + fan_out));
        } else {
            double fan = in->fan_out ? fan_out : fan_in;
            if (fan == 0)
                return SR_OK;
            std = in->gain / sqrt(fan);
        }
        for (int64_t i = 0; i < n; i++)
            w[i] = (float)(std * sr_rng_normal(r));
        return SR_OK;
    case SR_INIT_TRUNC_NORMAL: {
        /* inverse-CDF sampling, as torch.nn.init.trunc_normal_ does */
        double l = phi((in->c - in->a) / in->b), u = phi((in->d - in->a) / in->b);
        for (int64_t i = 0; i < n; i++) {
            double p = 2 * (l + (u - l) * sr_rng_uniform(r)) - 1;
            if (p <= -1)
                p = nextafter(-1.0, 0.0);
            double x = in->a + in->b * sqrt(2.0) * erfinv_approx(p);
            w[i] = (float)(x < in->c ? in->c : x > in->d ? in->d : x);
        }
        return SR_OK;
    }
    }
    for (int64_t i = 0; i < n; i++)
        w[i] = (float)(lo + (hi - lo) * sr_rng_uniform(r));
    return SR_OK;
}
