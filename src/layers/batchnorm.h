/*
 * batchnorm.h - the shape checking that BatchNorm (batchnorm.c, which
 * defines it) and InstanceNorm (instancenorm.c) share.
 */
#ifndef SR_BATCHNORM_H
#define SR_BATCHNORM_H

#include "layers.h"

/* How a channel-normalising layer names its inputs in messages. */
typedef struct {
    const char *expects;      /* what it takes: "4-D (N, C, H, W)" */
    const char *layout;       /* the same without the rank: "(N, C, H, W)" */
    const char *lower_layout; /* the variant one rank down takes "(N, C, L)", */
    const char *lower_name;   /* and is called "BatchNorm1d"; NULL: none */
    int split_hint;           /* also offer Unflatten to split dim 1 into nf channels */
} sr_norm_layout;

/*
 * The error for an input one rank short whose dim 0 is the model's batch
 * ([N, 28, 28] for BatchNorm2d): the lower variant's data when dim 1 has
 * nf entries, else a batch with no channel dimension, for which *out
 * (equal to *in on entry) becomes the shape the fix gives, with nf
 * channels as dim 1, so the layers after it are checked with that.
 */
sr_status sr_norm_no_channel_dim(const sr_layer *L, const sr_norm_layout *lay, int64_t nf, const sr_shape *in,
                                 sr_shape *out, const sr_shapeinfo *info, char *err);

#endif
