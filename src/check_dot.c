/*
 * check_dot.c - the --check report as a Graphviz digraph: one box per
 * module (a module used several times drawn once), Sequentials as
 * clusters, the chain of tensors as labelled edges, mismatches in red.
 */
#include "check_report.h"
#include "layers/layers.h"

#include <stdio.h>
#include <string.h>

/* ---- Graphviz dot ------------------------------------------------------- */

/* Text inside a dot "string": quotes and backslashes escaped, control
 * characters as spaces, bytes that are not UTF-8 as '?'. */
static void dot_text(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc((int)c, out);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            fputc(' ', out);
            p++;
        } else if (c < 0x80) {
            fputc((int)c, out);
            p++;
        } else {
            int n = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : -1;
            int ok = n > 0;
            for (int k = 1; ok && k <= n; k++)
                ok = (p[k] & 0xc0) == 0x80;
            if (ok) {
                fwrite(p, 1, (size_t)n + 1, out);
                p += n + 1;
            } else {
                fputc('?', out);
                p++;
            }
        }
    }
}

/* s in lines of about width characters, each ended by \l (left-aligned). */
static void dot_wrapped(FILE *out, const char *s, size_t width)
{
    char buf[SR_ERRLEN * 2];
    size_t len = strlen(s);
    while (len) {
        size_t take = len;
        if (len > width) {
            take = width;
            while (take > width / 2 && s[take] != ' ')
                take--;
            if (s[take] != ' ')
                take = width;
        }
        size_t t = take < sizeof buf ? take : sizeof buf - 1;
        memcpy(buf, s, t);
        buf[t] = '\0';
        dot_text(out, buf);
        fputs("\\l", out);
        s += take;
        len -= take;
        while (len && *s == ' ')
            s++, len--;
    }
}

/* Is node i one box of the chain: a shown leaf, a folded Sequential, or
 * an empty one (it passes its input on)? */
static int dot_box(const report *R, int i)
{
    const sr_node *nd = &R->m->node[i];
    if (!R->ni[i].shown)
        return 0;
    return sr_node_is_leaf(nd) || R->ni[i].folded || chk_subtree_end(R->m, i) == i;
}

/* The error diagnostics about node i (or, folded, any layer in it). */
static void dot_diags(const report *R, int i, FILE *out)
{
    const sr_node *nd = &R->m->node[i];
    size_t pl = strlen(nd->path);
    int shown = 0, more = 0;
    for (int k = 0; k < R->d->n; k++) {
        const sr_diag *g = &R->d->item[k];
        if (g->sev != SR_SEV_ERROR || !g->layer)
            continue;
        if (strcmp(g->layer, nd->path) && !(R->ni[i].folded && !strncmp(g->layer, nd->path, pl) && g->layer[pl] == '.'))
            continue;
        if (shown++) {
            more++;
            continue;
        }
        char buf[SR_ERRLEN * 2];
        if (strcmp(g->layer, nd->path))
            snprintf(buf, sizeof buf, "layer %s: %s%s%s", g->layer, g->msg ? g->msg : "", g->hint ? "; hint: " : "",
                     g->hint ? g->hint : "");
        else
            snprintf(buf, sizeof buf, "%s%s%s", g->msg ? g->msg : "", g->hint ? "; hint: " : "", g->hint ? g->hint : "");
        fputs("\\n", out);
        dot_wrapped(out, buf, 60);
    }
    if (more)
        fprintf(out, "(and %d more: see stderr)\\l", more);
}

/* Node i's output shape, or "?" where it is unknown. */
static char *out_shape(const report *R, int i, char *s, size_t len)
{
    if (R->S->node[i].known)
        return chk_shape_of(R, &R->S->node[i].sout, s, len);
    snprintf(s, len, "?");
    return s;
}

static void dot_node(const report *R, int i, FILE *out)
{
    sr_model *m = R->m;
    const sr_node *nd = &m->node[i];
    const sr_nodeshape *ns = &R->S->node[i];
    int leaf = sr_node_is_leaf(nd);
    int bad = leaf ? ns->bad : R->ni[i].bad_inside >= 0;
    for (int k = 0; k < R->d->n && !bad; k++) /* a size past 64 bits */
        bad = R->d->item[k].layer && !strcmp(R->d->item[k].layer, nd->path);
    fprintf(out, "  m%d [label=\"", nd->mod->index);
    /* every use's index */
    int uses = 0;
    for (int j = 0; j < m->nnode; j++)
        if (m->node[j].mod == nd->mod && dot_box(R, j))
            fprintf(out, "%s%s", uses++ ? ", " : "", m->node[j].path);
    char repr[512], s[192];
    if (leaf)
        sr_layer_repr(nd->mod, repr, sizeof repr);
    else if (R->ni[i].folded)
        snprintf(repr, sizeof repr, "Sequential (%d layers folded)", chk_subtree_end(m, i) - i);
    else
        snprintf(repr, sizeof repr, "Sequential() (empty: passes its input on)");
    fputs(": ", out);
    dot_text(out, repr);
    /* the output shape of each use (one line when they agree) */
    char first[192] = "";
    int same = 1;
    for (int j = 0, n = 0; j < m->nnode; j++) {
        if (m->node[j].mod != nd->mod || !dot_box(R, j))
            continue;
        out_shape(R, j, s, sizeof s);
        if (!n++)
            snprintf(first, sizeof first, "%s", s);
        else if (strcmp(first, s))
            same = 0;
    }
    if (same) {
        fputs("\\nout: ", out);
        dot_text(out, first);
    } else {
        for (int j = 0; j < m->nnode; j++) {
            if (m->node[j].mod != nd->mod || !dot_box(R, j))
                continue;
            out_shape(R, j, s, sizeof s);
            fprintf(out, "\\nout (%s): ", m->node[j].path);
            dot_text(out, s);
        }
    }
    char c[48];
    if (R->ni[i].params < 0)
        fputs("\\nparams: overflow", out);
    else
        fprintf(out, "\\n%s param%s", chk_commas(R->ni[i].params, c, sizeof c), R->ni[i].params == 1 ? "" : "s");
    if (uses > 1)
        fprintf(out, " (one module, %d uses)", uses);
    if (R->ni[i].macs >= 0 && R->ni[i].macs > 0 && uses == 1)
        fprintf(out, ", %s mult-adds", chk_commas(R->ni[i].macs, c, sizeof c));
    if (bad) {
        /* every use's diagnostics */
        for (int j = 0; j < m->nnode; j++)
            if (m->node[j].mod == nd->mod && dot_box(R, j))
                dot_diags(R, j, out);
        fputs("\", color=\"#cc0000\", fontcolor=\"#cc0000\", fillcolor=\"#ffe5e5\", penwidth=2];\n", out);
    } else {
        fputs("\"];\n", out);
    }
}

/* Node i's Sequential as a cluster, with the boxes whose module is first
 * used inside it; its subtree ends at `end`. */
static void dot_cluster(const report *R, int i, int end, FILE *out, int indent)
{
    sr_model *m = R->m;
    for (int j = i; j <= end; j++) {
        const sr_node *nd = &m->node[j];
        if (!R->ni[j].shown)
            continue;
        if (dot_box(R, j)) {
            if (nd->first)
                dot_node(R, j, out);
            continue;
        }
        /* a shown, unfolded Sequential: a cluster, if anything of it is
         * drawn there (an alias of a whole Sequential draws nothing anew) */
        int e = chk_subtree_end(m, j), any = 0;
        for (int k = j + 1; k <= e && !any; k++)
            any = dot_box(R, k) && m->node[k].first;
        if (any) {
            fprintf(out, "%*ssubgraph cluster_%d {\n%*s  label=\"", indent, "", j, indent, "");
            dot_text(out, nd->path);
            fprintf(out, ": Sequential%s\"; style=\"rounded,dashed\"; color=\"#888888\";\n", nd->first ? "" : " (shared)");
            dot_cluster(R, j + 1, e, out, indent + 2);
            fprintf(out, "%*s}\n", indent, "");
        }
        j = e;
    }
}

void chk_dot_report(report *R, FILE *out)
{
    sr_model *m = R->m;
    const sr_shapes *S = R->S;
    const totals *t = &R->t;
    char s[192], c[48];
    fputs("digraph seqrun {\n  graph [fontname=\"Helvetica\", labelloc=t, label=\"", out);
    dot_text(out, m->label);
    if (t->params >= 0)
        fprintf(out, "\\ntotal params: %s", chk_commas(t->params, c, sizeof c));
    if (t->macs >= 0)
        fprintf(out, ", mult-adds: %s%s", chk_commas(t->macs, c, sizeof c),
                t->macs_symbolic ? " per sample" : "");
    if (S->nbad + R->ci->contradicted)
        fprintf(out, "\\n%d shape mismatch%s (in red)", S->nbad + R->ci->contradicted,
                S->nbad + R->ci->contradicted == 1 ? "" : "es");
    if (t->weights && t->wproblems)
        fprintf(out, "\\nweights: %d problem%s (see stderr)", t->wproblems, t->wproblems == 1 ? "" : "s");
    fputs("\"];\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\", "
          "fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n", out);
    fputs("  input [shape=ellipse, fillcolor=\"#ffffff\", label=\"input\\n", out);
    dot_text(out, chk_shape_of(R, &S->sym_in, s, sizeof s));
    if (R->ci->contradicted) {
        for (int k = 0; k < R->d->n; k++)
            if (!R->d->item[k].layer && R->d->item[k].line == m->input_line && R->d->item[k].file &&
                !strcmp(R->d->item[k].file, m->label)) {
                fputs("\\n", out);
                dot_wrapped(out, R->d->item[k].msg ? R->d->item[k].msg : "", 60);
                break;
            }
        fputs("\", color=\"#cc0000\", fontcolor=\"#cc0000\", penwidth=2];\n", out);
    } else {
        fputs("\"];\n", out);
    }
    if (m->nnode)
        dot_cluster(R, 0, m->nnode - 1, out, 2);
    /* the chain: one edge per use, labelled with the tensor it carries */
    const char *prev = "input";
    char pid[32] = "input";
    chk_shape_of(R, &S->sym_in, s, sizeof s);
    /* with a module drawn once for several uses, the edges are numbered
     * in the order the tensor takes them */
    int shared = 0, step = 0;
    for (int i = 0; i < m->nnode; i++)
        shared |= dot_box(R, i) && !m->node[i].first;
    for (int i = 0; i < m->nnode; i++) {
        if (!dot_box(R, i))
            continue;
        fprintf(out, "  %s -> m%d [label=\"", prev, m->node[i].mod->index);
        if (shared)
            fprintf(out, "%d: ", ++step);
        dot_text(out, s);
        fputs("\"];\n", out);
        snprintf(pid, sizeof pid, "m%d", m->node[i].mod->index);
        prev = pid;
        out_shape(R, i, s, sizeof s);
    }
    fputs("  output [shape=ellipse, fillcolor=\"#ffffff\", label=\"output\\n", out);
    dot_text(out, s);
    fprintf(out, "\"];\n  %s -> output [label=\"", prev);
    if (shared)
        fprintf(out, "%d: ", ++step);
    dot_text(out, s);
    fputs("\"];\n}\n", out);
}

