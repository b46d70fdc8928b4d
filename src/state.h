/*
 * state.h - a model's parameters and buffers: default initialisation,
 * init: rules, strict loading from safetensors, and --save-state.
 */
#ifndef SR_STATE_H
#define SR_STATE_H

#include "model.h"

/* Declares every module's parameters (after shape inference, so LazyLinear
 * knows in_features), allocates them and fills them with PyTorch's default
 * initialisation or the spec's init: rules, drawn from seed. */
sr_status sr_state_init(sr_model *m, uint64_t seed, sr_diags *d);

/* Declares every parameter and buffer without allocating or filling them,
 * for a weights file that gives them all (sr_state_load); checks the spec's
 * init: rules as sr_state_init does. */
sr_status sr_state_declare(sr_model *m, sr_diags *d);

/* Strict load: every missing key, unexpected key, wrong shape and wrong
 * dtype is listed
 * in d ("FILE: ..."); returns SR_ERUN if any.  Parameters stored as aligned
 * F32 become views of the mapped file (kept in m until sr_model_free or the
 * next declare/init); buffers and converted data are copied. */
sr_status sr_state_load(sr_model *m, const char *path, sr_diags *d);

/* Checks a weights file as sr_state_load would, loading nothing: every
 * missing, unexpected, wrong-shape and wrong-dtype key goes to d, and
 * SR_ERUN if any.  skip (per module index, or NULL) marks modules whose
 * sizes are unknown (a lazy layer whose input never fitted): their keys
 * are neither required nor checked.  *ntensors (may be NULL) gets the
 * file's tensor count. */
sr_status sr_state_check(sr_model *m, const char *path, const char *skip, int *ntensors, sr_diags *d);

/* Writes every parameter and buffer (shared modules once, under their first
 * occurrence) as safetensors, atomically. */
sr_status sr_state_save(const sr_model *m, const char *path, char *err);

#endif
