/*
 * init.h - torch.nn.init's schemes, a seeded random generator, and the
 * default initialisation of a model's parameters.
 *
 * The distributions are PyTorch's; the random stream is ours.  Each tensor
 * draws from its own stream derived from the seed and its state_dict key,
 * so the same seed gives the same bytes, and adding a layer does not
 * change the values of the others.
 */
#ifndef SR_INIT_H
#define SR_INIT_H

#include "layer.h"

typedef struct {
    uint64_t s[4];
} sr_rng;

void sr_rng_seed(sr_rng *r, uint64_t seed, const char *key);
uint64_t sr_rng_next(sr_rng *r);
double sr_rng_uniform(sr_rng *r);   /* [0, 1) with 53 random bits */
double sr_rng_normal(sr_rng *r);
uint64_t sr_hash64(uint64_t x);
uint64_t sr_hash_str(const char *s);

typedef struct {
    const char *name;
    const sr_argdef *args;
    int nargs;
} sr_initscheme;

const sr_initscheme *sr_initscheme_find(const char *name);
const char *sr_initscheme_suggest(const char *name);
extern const sr_initscheme sr_initschemes[];
extern const int sr_ninitschemes;

/* Builds an sr_init from a scheme's bound arguments. */
sr_status sr_init_from_args(const sr_initscheme *s, const sr_argval *av, sr_init *out, char *err);

/* Fills t (SR_F32) as the scheme says; SR_EUSAGE if the scheme needs fans
 * and t has fewer than 2 dimensions. */
sr_status sr_init_fill(sr_tensor *t, const sr_init *in, sr_rng *r, char *err);
/* The same check alone, for a tensor of shape s that will not be filled. */
sr_status sr_init_check(const sr_shape *s, const sr_init *in, char *err);

/* gain as torch.nn.init.calculate_gain(nonlinearity, param) */
double sr_calculate_gain(const char *nonlinearity, double param, int param_given);

/* Shorthands used by layer tables for their defaults. */
sr_init sr_init_uniform(double a, double b);
sr_init sr_init_normal(double mean, double std);
sr_init sr_init_const(sr_initkind k);
sr_init sr_init_kaiming_uniform_a(double a); /* mode fan_in, leaky_relu(a) */

#endif
