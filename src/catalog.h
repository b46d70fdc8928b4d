/*
 * catalog.h - `seqrun --list-layers`: every layer type of the table with
 * its signature, summary and state_dict keys, as text or as JSON for tools
 * (the exporter, the man page's checks).
 */
#ifndef SR_CATALOG_H
#define SR_CATALOG_H

#include <stdio.h>

#include "layer.h"

/* Writes the catalog to out; json: one JSON object {"layers": [...]}. */
void sr_catalog_write(FILE *out, int json);

/* The state_dict suffixes ("weight", "running_mean") a layer of type t has
 * with its default arguments (required ones set to 1); returns their count,
 * or -1 if such a layer cannot be built.  decl gets SR_MAXPARAMS entries. */
int sr_catalog_state(const sr_layertype *t, sr_paramdecl *decl);

#endif
