/*
 * test_check.c - unit tests for the --check report (src/check.c) and the
 * symbolic shapes and reprs it prints.
 *
 * Every --check --format json report over models/broken and tests/check
 * must be valid JSON (checked by a strict validator below, RFC 8259 and
 * UTF-8), and file names and messages with quotes, backslashes, control
 * characters and bad UTF-8 must come out escaped.  Run from the repository
 * root.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "layer.h"
#include "shape.h"
#include "unit.h"

/* ---- a strict JSON validator ---------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
    int depth;
} jp;

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int lit(jp *j, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, s, n))
        return 0;
    j->p += n;
    return 1;
}

static int hex4(jp *j)
{
    for (int i = 0; i < 4; i++, j->p++)
        if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p))
            return 0;
    return 1;
}

static int string(jp *j)
{
    if (j->p >= j->end || *j->p != '"')
        return 0;
    j->p++;
    while (j->p < j->end) {
        unsigned c = *j->p;
        if (c == '"') {
            j->p++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end)
                return 0;
            c = *j->p++;
            if (c == 'u') {
                if (!hex4(j))
                    return 0;
            } else if (!strchr("\"\\/bfnrt", (int)c)) {
                return 0;
            }
            continue;
        }
        if (c < 0x80) {
            j->p++;
            continue;
        }
        int n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
        if (n < 0 || j->end - j->p <= n)
            return 0;
        for (int k = 1; k <= n; k++)
            if ((j->p[k] & 0xc0) != 0x80)
                return 0;
        if ((c == 0xe0 && j->p[1] < 0xa0) || (c == 0xed && j->p[1] >= 0xa0) || (c == 0xf0 && j->p[1] < 0x90) ||
            (c == 0xf4 && j->p[1] >= 0x90))
            return 0;
        j->p += n + 1;
    }
    return 0;
}

static int number(jp *j)
{
    const unsigned char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (j->p < j->end && *j->p >= '1' && *j->p <= '9')
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    else
        return 0;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return j->p > s;
}

static int value(jp *j);

static int members(jp *j, char close, int keyed)
{
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 1;
    }
    for (;;) {
        ws(j);
        if (keyed) {
            if (!string(j))
                return 0;
            ws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return 0;
        }
        if (!value(j))
            return 0;
        ws(j);
        if (j->p >= j->end)
            return 0;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == close) {
            j->p++;
            return 1;
        }
        return 0;
    }
}

static int value(jp *j)
{
    ws(j);
    if (j->p >= j->end || ++j->depth > 64)
        return 0;
    int ok;
    switch (*j->p) {
    case '{': ok = members(j, '}', 1); break;
    case '[': ok = members(j, ']', 0); break;
    case '"': ok = string(j); break;
    case 't': ok = lit(j, "true"); break;
    case 'f': ok = lit(j, "false"); break;
    case 'n': ok = lit(j, "null"); break;
    default: ok = number(j); break;
    }
    j->depth--;
    return ok;
}

static int json_valid(const char *s, size_t n)
{
    jp j = {(const unsigned char *)s, (const unsigned char *)s + n, 0};
    if (!value(&j))
        return 0;
    ws(&j);
    return j.p == j.end;
}

/* ---- helpers --------------------------------------------------------------- */

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The JSON report of one spec; its --input-shape from NAME.args. */
static char *report(sr_model *m, const char *args_path, sr_status *st, sr_diags *d)
{
    sr_runopts o = {.output = "-", .format = SR_FMT_JSON};
    FILE *a = fopen(args_path, "r");
    if (a) {
        char line[256] = "";
        if (fgets(line, sizeof line, a) && !strncmp(line, "--input-shape ", 14)) {
            char *p = line + 14;
            while (*p && *p != '\n') {
                o.input_shape.d[o.input_shape.ndim++] = strtoll(p, &p, 10);
                if (*p == ',')
                    p++;
            }
            o.has_input_shape = 1;
        }
        fclose(a);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    *st = sr_check(m, &o, f, d);
    fclose(f);
    return buf;
}

static void check_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    CHECK(dp != NULL, "cannot open %s", dir);
    if (!dp)
        return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dp))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".yaml"))
            continue;
        char path[512], args[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(args, sizeof args, "%s/%.*s.args", dir, (int)(l - 5), e->d_name);
        sr_diags d = {0};
        sr_model m;
        if (sr_spec_load(&m, path, &d) != SR_OK) {
            /* an invalid spec among the broken models says so: exit 2 */
            char exp[512], first[64] = "";
            snprintf(exp, sizeof exp, "%s/%.*s.expected", dir, (int)(l - 5), e->d_name);
            FILE *x = fopen(exp, "r");
            if (x) {
                if (!fgets(first, sizeof first, x))
                    first[0] = '\0';
                fclose(x);
            }
            CHECK(!strcmp(first, "exit 2\n") && d.n > 0, "%s does not load", path);
            sr_diags_free(&d);
            sr_model_free(&m);
            continue;
        }
        sr_status st;
        char *out = report(&m, args, &st, &d);
        CHECK(out && json_valid(out, strlen(out)), "%s: invalid JSON:\n%s", path, out ? out : "(none)");
        if (out) {
            CHECK(count(out, "\n    {\"index\": ") == m.nnode, "%s: %d layer objects for %d nodes", path,
                  count(out, "\n    {\"index\": "), m.nnode);
            CHECK(count(out, "\n    {\"file\": ") == d.n, "%s: %d diagnostic objects for %d lines", path,
                  count(out, "\n    {\"file\": "), d.n);
            char tp[64];
            if (sr_model_param_count(&m) < 0)
                snprintf(tp, sizeof tp, "\"total_params\": null\n}");
            else
                snprintf(tp, sizeof tp, "\"total_params\": %lld\n}", (long long)sr_model_param_count(&m));
            CHECK(strstr(out, tp) != NULL, "%s: no %s", path, tp);
            CHECK((st == SR_OK) == (d.n == 0), "%s: status %d with %d diagnostics", path, st, d.n);
        }
        free(out);
        sr_diags_free(&d);
        sr_model_free(&m);
        n++;
    }
    closedir(dp);
    CHECK(n > 0, "no specs in %s", dir);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_escaping(void)
{
    /* a label with everything JSON must escape, and a mismatch that quotes it */
    const char *label = "we\"ird\\name\t\x01\xff\xc3\xa9.yaml";
    const char *spec = "input: [N, 4]\nlayers:\n  - Linear: [5, 2]\n  - GELU: {approximate: tanh}\n";
    sr_diags d = {0};
    sr_model m;
    sr_status st = sr_spec_parse(&m, spec, strlen(spec), label, ".", &d);
    CHECK(st == SR_OK, "spec does not parse");
    if (st != SR_OK)
        return;
    char *out = report(&m, "/nonexistent", &st, &d);
    CHECK(st == SR_ESHAPE, "status %d, want 3", st);
    CHECK(out && json_valid(out, strlen(out)), "invalid JSON:\n%s", out ? out : "");
    const char *esc = "\"we\\\"ird\\\\name\\t\\u0001\\ufffd\xc3\xa9.yaml\"";
    CHECK(out && count(out, esc) == 2, "label not escaped as %s (file and diagnostic):\n%s", esc, out ? out : "");
    CHECK(out && strstr(out, "\"repr\": \"GELU(approximate='tanh')\""), "GELU repr:\n%s", out ? out : "");
    CHECK(out && strstr(out, "\"line\": 3, \"col\": 5, \"layer\": \"0\", \"type\": \"Linear\""),
          "diagnostic fields:\n%s", out ? out : "");
    CHECK(out && strstr(out, "\"hint\": \"in_features should be 4, or use LazyLinear\""), "hint:\n%s", out ? out : "");
    free(out);
    sr_diags_free(&d);
    sr_model_free(&m);
}

static void test_symshape(void)
{
    sr_symshape s = {.ndim = 5, .k = {1, 0, 8, 2, -1}, .c = {0, 3, 0, 1, 10}};
    char buf[128];
    CHECK(!strcmp(sr_symshape_str(&s, "N", 4, buf, sizeof buf), "[N, 3, N*8, N*2+1, N*(-1)+10]"), "got %s", buf);
    CHECK(!strcmp(sr_symshape_str(&s, "", 4, buf, sizeof buf), "[4, 3, 32, 9, 6]"), "got %s", buf);
    sr_shape at = sr_symshape_at(&s, 2);
    CHECK(at.ndim == 5 && at.d[0] == 2 && at.d[2] == 16 && at.d[3] == 5 && at.d[4] == 8, "symshape_at");
    sr_symshape t = {.ndim = 1, .k = {3}, .c = {-2}};
    CHECK(!strcmp(sr_symshape_str(&t, "batch", 1, buf, sizeof buf), "[batch*3-2]"), "got %s", buf);
}

/* Floats as Python's repr() writes them, as PyTorch's reprs show them. */
static void test_float_repr(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {1e-05, "1e-05"}, {0.1, "0.1"}, {1.0, "1.0"}, {-2.0, "-2.0"}, {0.01, "0.01"}, {1e-4, "0.0001"},
        {2.5e-5, "2.5e-05"}, {1e16, "1e+16"}, {123456789.0, "123456789.0"}, {0.3, "0.3"}, {20.0, "20.0"},
        {1e15, "1000000000000000.0"}, {0.001, "0.001"}, {1.5e300, "1.5e+300"}, {0.0, "0.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sr_argval v = {.kind = SR_AV_FLOAT, .f = cases[i].v};
        char buf[64];
        sr_argval_repr(&v, buf, sizeof buf);
        CHECK(!strcmp(buf, cases[i].want), "repr(%.17g) = %s, want %s", cases[i].v, buf, cases[i].want);
    }
}

/* sr_infer lists every independent mistake, each once, in layer order. */
static void test_every_mismatch(void)
{
    const char *spec = "input: [N, 3, 8, 8]\n"
                       "layers:\n"
                       "  - Conv2d: [3, 4, 3]\n"
                       "  - Conv2d: [5, 6, 3]\n"
                       "  - Flatten\n"
                       "  - Linear: [10, 7]\n"
                       "  - LayerNorm: 8\n";
    sr_diags d = {0};
    sr_model m;
    CHECK(sr_spec_parse(&m, spec, strlen(spec), "t.yaml", ".", &d) == SR_OK, "parse");
    sr_shape in = {.ndim = 4, .d = {4, 3, 8, 8}};
    sr_shapes S;
    sr_status st = sr_infer(&m, &in, 0, 0, &S, &d);
    CHECK(st == SR_ESHAPE && S.nbad == 3 && d.n == 3, "status %d, %d bad, %d lines", st, S.nbad, d.n);
    CHECK(d.n >= 3 && !strncmp(d.item[0].text, "t.yaml:4:5: layer 1 (Conv2d): ", 30), "line 0: %s", d.n ? d.item[0].text : "");
    CHECK(d.n >= 3 && !strncmp(d.item[1].text, "t.yaml:6:5: layer 3 (Linear): ", 30) &&
              strstr(d.item[1].text, "input [N, 96]") && strstr(d.item[1].text, "in_features should be 96"),
          "line 1: %s", d.n > 1 ? d.item[1].text : "");
    CHECK(d.n >= 3 && !strncmp(d.item[2].text, "t.yaml:7:5: layer 4 (LayerNorm): ", 33) &&
              strstr(d.item[2].text, "normalized_shape should be (7,)"),
          "line 2: %s", d.n > 2 ? d.item[2].text : "");
    /* symbolic shapes: the batch of 4 follows as N */
    char buf[64];
    CHECK(!strcmp(sr_symshape_str(&S.node[3].sin, S.free_name, S.free_size, buf, sizeof buf), "[N, 96]"), "got %s", buf);
    sr_shapes_free(&S);
    sr_diags_free(&d);
    sr_model_free(&m);
}

/* --check's view of a spec without data: input:'s free dim at the
 * placeholder size 1, as src/check.c sets it up. */
static sr_status check_spec(const char *spec, sr_model *m, sr_shapes *S, sr_diags *d)
{
    if (sr_spec_parse(m, spec, strlen(spec), "t.yaml", ".", d) != SR_OK)
        return SR_EUSAGE;
    sr_shape in = m->input;
    int free_dim = m->input_free;
    if (free_dim >= 0)
        in.d[free_dim] = 1;
    return sr_infer_free(m, &in, free_dim, free_dim >= 0 ? m->input_free_name : "", free_dim >= 0, 0, 0, S, d);
}

static const char *sym_out(const sr_shapes *S, int i, char *buf, size_t len)
{
    return sr_symshape_str(&S->node[i].sout, S->free_name, S->free_size, buf, len);
}

/*
 * A named batch dim 0 and no channel dim: the channel dim is missing (not
 * an unbatched sample with N channels), said once, at that layer, without
 * the probe's N, and what follows is checked with the channels in.  A fixed
 * dim 0 keeps PyTorch's unbatched reading.
 */
static void test_missing_channel(void)
{
    static const struct {
        const char *spec;
        const char *head;       /* the one diagnostic starts so */
        const char *hint;       /* and contains */
        const char *out[4];     /* the table's output shapes */
    } cases[] = {
        {"input: [N, 28, 28]\nlayers:\n  - Conv2d: [1, 8, 3]\n  - ReLU\n  - Flatten\n  - Linear: [5408, 10]\n",
         "t.yaml:3:5: layer 0 (Conv2d): Conv2d expects a batch as 4-D (N, C, H, W), but input [N, 28, 28] ",
         "has no channel dimension; hint: insert Unflatten: [1, [1, 28]] before this layer, or make the model's "
         "input [N, 1, 28, 28]",
         {"[N, 8, 26, 26]", "[N, 8, 26, 26]", "[N, 5408]", "[N, 10]"}},
        {"input: [B, 28]\nlayers:\n  - Conv1d: [1, 4, 3]\n  - ReLU\n  - Flatten\n  - Linear: [104, 10]\n",
         "t.yaml:3:5: layer 0 (Conv1d): Conv1d expects a batch as 3-D (N, C, L), but input [B, 28] ",
         "hint: insert Unflatten: [1, [1, 28]] before this layer, or make the model's input [B, 1, 28]",
         {"[B, 4, 26]", "[B, 4, 26]", "[B, 104]", "[B, 10]"}},
        /* reshaped by a layer: still the batch, but input: is not the fix */
        {"input: [N, 784]\nlayers:\n  - Unflatten: [1, [28, 28]]\n  - Conv2d: [1, 8, 3]\n  - Flatten\n"
         "  - Linear: [5408, 10]\n",
         "t.yaml:4:5: layer 1 (Conv2d): Conv2d expects a batch as 4-D (N, C, H, W), but input [N, 28, 28] "
         "(from layer 0 (Unflatten)), ",
         "hint: insert Unflatten: [1, [1, 28]] before this layer",
         {"[N, 28, 28]", "[N, 8, 26, 26]", "[N, 5408]", "[N, 10]"}},
        {"input: [N, 28, 28]\nlayers:\n  - BatchNorm2d: 1\n  - Conv2d: [1, 4, 3]\n  - Flatten\n"
         "  - Linear: [2704, 10]\n",
         "t.yaml:3:5: layer 0 (BatchNorm2d): BatchNorm2d expects 4-D (N, C, H, W) input, but input [N, 28, 28] ",
         "has no channel dimension; hint: insert Unflatten: [1, [1, 28]] before this layer, or make the model's "
         "input [N, 1, 28, 28]",
         {"[N, 1, 28, 28]", "[N, 4, 26, 26]", "[N, 2704]", "[N, 10]"}},
        {"input: [N, 28, 28]\nlayers:\n  - BatchNorm2d: 28\n  - Flatten\n  - Linear: [784, 10]\n  - ReLU\n",
         "t.yaml:3:5: layer 0 (BatchNorm2d): BatchNorm2d expects 4-D (N, C, H, W) input, but input [N, 28, 28] ",
         "is 3-D; hint: this is (N, C, L) data with C = 28: use BatchNorm1d",
         {"[N, 28, 28]", "[N, 784]", "[N, 10]", "[N, 10]"}},
        /* a fixed dim 0: one unbatched image of 3 channels, as PyTorch reads it */
        {"input: [3, 28, 28]\nlayers:\n  - Conv2d: [1, 8, 3]\n  - ReLU\n  - Flatten\n  - Linear: [676, 10]\n",
         "t.yaml:3:5: layer 0 (Conv2d): Conv2d(in_channels=1) expects 1 channels, but input [3, 28, 28] ",
         "hint: in_channels should be 3; or, if dim 0 of [3, 28, 28] is the batch, insert Unflatten: [1, [1, 28]] "
         "before this layer",
         {"[8, 26, 26]", "[8, 26, 26]", "[8, 676]", "[8, 10]"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        sr_diags d = {0};
        sr_model m;
        sr_shapes S = {0};
        sr_status st = check_spec(cases[c].spec, &m, &S, &d);
        CHECK(st == SR_ESHAPE && S.nbad == 1 && d.n == 1, "case %zu: status %d, %d bad, %d lines", c, st, S.nbad, d.n);
        const char *l0 = d.n ? d.item[0].text : "";
        CHECK(!strncmp(l0, cases[c].head, strlen(cases[c].head)) && strstr(l0, cases[c].hint) &&
                  !strstr(l0, "N=2") && !strstr(l0, "[2,") && !strstr(l0, "[1, 28, 28] "),
              "case %zu: %s", c, l0);
        for (int i = 0; st == SR_ESHAPE && i < 4; i++) {
            char buf[64];
            CHECK(S.node[i].known && !strcmp(sym_out(&S, i, buf, sizeof buf), cases[c].out[i]),
                  "case %zu: layer %d gives %s, want %s", c, i, buf, cases[c].out[i]);
        }
        if (st != SR_EUSAGE) {
            sr_shapes_free(&S);
            sr_model_free(&m);
        }
        sr_diags_free(&d);
    }
}

/* The fixed-shape unbatched model that fits stays fine. */
static void test_unbatched_fits(void)
{
    sr_diags d = {0};
    sr_model m;
    sr_shapes S = {0};
    const char *spec = "input: [3, 28, 28]\nlayers:\n  - Conv2d: [3, 8, 3]\n  - MaxPool2d: 2\n  - Flatten\n"
                       "  - Linear: [169, 10]\n";
    sr_status st = check_spec(spec, &m, &S, &d);
    CHECK(st == SR_OK && d.n == 0, "status %d, %d lines: %s", st, d.n, d.n ? d.item[0].text : "");
    char buf[64];
    CHECK(st == SR_OK && !strcmp(sym_out(&S, 3, buf, sizeof buf), "[8, 10]"), "output %s", buf);
    if (st != SR_EUSAGE) {
        sr_shapes_free(&S);
        sr_model_free(&m);
    }
    sr_diags_free(&d);
}

/* ---- the report's columns, formats and checks (issue 13) --------------------- */

/* The report of spec (label t.yaml) with these options; status in *st,
 * diagnostics (as text, one per line) in *diag.  Caller frees both. */
static char *check_text(const char *spec, const char *input_shape, const sr_checkopts *c, sr_status *st,
                        char **diag)
{
    sr_diags d = {0};
    sr_model m;
    *diag = NULL;
    *st = sr_spec_parse(&m, spec, strlen(spec), "t.yaml", ".", &d);
    char *buf = NULL;
    size_t len = 0;
    if (*st == SR_OK) {
        sr_runopts o = {.output = "-", .format = c->format == SR_CHECK_JSON ? SR_FMT_JSON : SR_FMT_TEXT};
        if (input_shape) {
            char *p = (char *)input_shape;
            while (*p) {
                o.input_shape.d[o.input_shape.ndim++] = strtoll(p, &p, 10);
                if (*p == ',')
                    p++;
            }
            o.has_input_shape = 1;
        }
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            *st = sr_check_ex(&m, &o, c, f, &d);
            fclose(f);
        }
    }
    size_t dl = 1;
    for (int i = 0; i < d.n; i++)
        dl += strlen(d.item[i].text) + 1;
    *diag = calloc(1, dl);
    for (int i = 0; *diag && i < d.n; i++) {
        strcat(*diag, d.item[i].text);
        strcat(*diag, "\n");
    }
    sr_diags_free(&d);
    sr_model_free(&m);
    return buf;
}

/* The JSON layer objects' "mult_adds", in order, into v (at most n). */
static int json_macs(const char *json, long long *v, int n)
{
    int k = 0;
    for (const char *p = json; k < n && (p = strstr(p, "\"mult_adds\": ")); k++) {
        p += 13;
        v[k] = *p == 'n' ? -1 : strtoll(p, NULL, 10);
        if (strstr(p, "\n  ],") && strstr(p, "\n  ],") < strchr(p, '\n'))
            break;
    }
    return k;
}

/*
 * Mult-adds as torchinfo 1.8 counts them: a parameter named weight or bias
 * costs its size times output dim 0, or for "Conv*" classes times dim 0
 * and every spatial output dim; RNN-style weights (weight_ih) times dims 0
 * and 1; parameter-free layers 0.  The expected numbers were computed in
 * PyTorch 1.13 with torchinfo's calculate_macs over real modules and
 * outputs at batch size 2.
 */
static void test_macs(void)
{
    static const struct {
        const char *spec, *shape;
        long long want[12];
        int n;
    } cases[] = {
        {"input: [N, 3, 16, 16]\nlayers:\n  - Conv2d: {in_channels: 3, out_channels: 8, kernel_size: 3, padding: 1}\n"
         "  - BatchNorm2d: 8\n  - ReLU\n  - MaxPool2d: 2\n"
         "  - Conv2d: {in_channels: 8, out_channels: 8, kernel_size: 3, groups: 4, bias: false}\n"
         "  - ConvTranspose2d: {in_channels: 8, out_channels: 4, kernel_size: 2, stride: 2}\n"
         "  - GroupNorm: [2, 4]\n  - Flatten\n  - Linear: [576, 16]\n  - LayerNorm: 16\n  - PReLU\n"
         "  - Linear: [16, 5]\n",
         "2,3,16,16", {114688, 32, 0, 0, 10368, 38016, 16, 0, 18464, 64, 2, 170}, 12},
        {"input: [N, 10]\nlayers:\n  - Linear: [10, 12]\n  - RNNCell: [12, 6]\n  - GRUCell: [6, 4]\n  - Linear: [4, 3]\n",
         "2,10", {264, 1440, 1152, 30}, 4},
        {"input: [N, 2, 8]\nlayers:\n  - Conv1d: [2, 4, 3]\n  - Unflatten: [1, [2, 2]]\n  - Flatten\n  - Linear: [24, 2]\n",
         "2,2,8", {336, 0, 0, 100}, 4},
    };
    sr_checkopts c = {.format = SR_CHECK_JSON, .depth = -1};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sr_status st;
        char *diag;
        char *out = check_text(cases[i].spec, cases[i].shape, &c, &st, &diag);
        CHECK(st == SR_OK && out, "case %zu: status %d: %s", i, st, diag ? diag : "");
        long long got[16];
        int n = out ? json_macs(out, got, 16) : 0;
        long long total = 0;
        for (int k = 0; k < cases[i].n; k++) {
            CHECK(k < n && got[k] == cases[i].want[k], "case %zu layer %d: mult-adds %lld, torchinfo %lld", i, k,
                  k < n ? got[k] : -2, cases[i].want[k]);
            total += cases[i].want[k];
        }
        char tot[64];
        snprintf(tot, sizeof tot, "\"mult_adds\": %lld,", total);
        CHECK(out && strstr(out, tot), "case %zu: no total %s", i, tot);
        free(out);
        free(diag);
    }
}

/* Concrete input, concrete shapes ([2, 10]); only input: [N, ...], [N, 10]. */
static void test_concrete_shapes(void)
{
    const char *spec = "input: [N, 4]\nlayers:\n  - Linear: [4, 10]\n";
    sr_checkopts c = {.format = SR_CHECK_TEXT, .depth = -1};
    sr_status st;
    char *diag;
    char *out = check_text(spec, "2,4", &c, &st, &diag);
    CHECK(st == SR_OK && out && strstr(out, "[2, 10]") && !strstr(out, "[N, 10]"), "concrete:\n%s", out ? out : "");
    free(out);
    free(diag);
    out = check_text(spec, NULL, &c, &st, &diag);
    CHECK(st == SR_OK && out && strstr(out, "[N, 10]") && strstr(out, "at batch size 1"), "symbolic:\n%s",
          out ? out : "");
    free(out);
    free(diag);
    /* -1 stays the free dim */
    out = check_text(spec, "-1,4", &c, &st, &diag);
    CHECK(st == SR_OK && out && strstr(out, "[N, 10]"), "-1:\n%s", out ? out : "");
    free(out);
    free(diag);
}

/* Data that contradicts input: is checked as it is: both problems, and the
 * table for the data. */
static void test_contradiction(void)
{
    const char *spec = "input: [N, 1, 20, 20]\nlayers:\n  - Conv2d: [1, 4, 3, 1, 1]\n  - MaxPool2d: 2\n"
                       "  - Flatten\n  - Linear: [400, 10]\n";
    sr_checkopts c = {.format = SR_CHECK_TEXT, .depth = -1};
    sr_status st;
    char *diag;
    char *out = check_text(spec, "2,1,28,28", &c, &st, &diag);
    CHECK(st == SR_ESHAPE, "status %d", st);
    CHECK(diag && strstr(diag, "t.yaml:1:8: input shape [2, 1, 28, 28] does not match the spec's input: "
                               "[N, 1, 20, 20]") &&
              strstr(diag, "layer 3 (Linear): Linear expects input [*, 400] (in_features=400), but input [N, 784]"),
          "diagnostics:\n%s", diag ? diag : "");
    CHECK(out && strstr(out, "[2, 4, 14, 14]") && strstr(out, "shape mismatches: 2"), "table:\n%s", out ? out : "");
    free(out);
    free(diag);
}

/* --columns, thousands separators, (recursive), --depth, the totals. */
static void test_columns_depth(void)
{
    sr_checkopts c = {.format = SR_CHECK_TEXT, .depth = -1};
    char bad[64];
    CHECK(sr_check_columns("input,output,params,mult-adds", &c, bad, sizeof bad) == 0 && c.ncol == 4 &&
              c.col_order[0] == SR_COL_INPUT && c.col_order[3] == SR_COL_MACS,
          "columns parse");
    CHECK(sr_check_columns("params,output", &c, bad, sizeof bad) == 0 && c.ncol == 2 &&
              c.col_order[0] == SR_COL_PARAMS, "columns order");
    CHECK(sr_check_columns("output,shape", &c, bad, sizeof bad) < 0 && !strcmp(bad, "shape"), "bad column: %s", bad);
    CHECK(sr_check_columns("output,output", &c, bad, sizeof bad) < 0, "repeated column");
    CHECK(sr_check_columns("output,", &c, bad, sizeof bad) < 0, "trailing comma");
    const char *spec = "input: [N, 1000]\nlayers:\n  - &fc {Linear: [1000, 1000]}\n  - Sequential:\n"
                       "      - ReLU\n      - *fc\n  - Linear: [1000, 3]\n";
    sr_check_columns("input,params", &c, bad, sizeof bad);
    sr_status st;
    char *diag;
    char *out = check_text(spec, NULL, &c, &st, &diag);
    CHECK(st == SR_OK && out, "status %d", st);
    const char *want[] = {"index  layer", "input shape", "params", "1,001,000", "(recursive)",
                          "trainable params: 1,004,003", "non-trainable params: 0", "total params: 1004003"};
    for (size_t k = 0; out && k < sizeof want / sizeof *want; k++)
        CHECK(strstr(out, want[k]), "no '%s' in:\n%s", want[k], out);
    CHECK(out && !strstr(out, "output shape") && !strstr(out, "mult-adds  "), "columns not asked for:\n%s",
          out ? out : "");
    free(out);
    free(diag);
    /* --depth 1: the Sequential's rows folded into it, its params counted once */
    c.ncol = 0;
    c.depth = 1;
    out = check_text(spec, NULL, &c, &st, &diag);
    CHECK(out && !strstr(out, "1.0") && !strstr(out, "1.1") && strstr(out, "\n1      Sequential"),
          "depth 1:\n%s", out ? out : "");
    free(out);
    free(diag);
}

/* Sizes past 64 bits are located errors, not wrapped numbers. */
static void test_overflow(void)
{
    char spec[2048] = "input: [N, 1000000000]\nlayers:\n";
    for (int i = 0; i < 10; i++)
        strcat(spec, "  - Linear: [1000000000, 1000000000]\n");
    sr_checkopts c = {.format = SR_CHECK_JSON, .depth = -1};
    sr_status st;
    char *diag;
    char *out = check_text(spec, NULL, &c, &st, &diag);
    CHECK(st == SR_EUSAGE, "status %d", st);
    CHECK(out && json_valid(out, strlen(out)) && strstr(out, "\"total_params\": null") && !strstr(out, "-84467"),
          "json:\n%s", out ? out : "");
    CHECK(diag && strstr(diag, "t.yaml:12:5: layer 9 (Linear): the model's parameter count passes 2^63 here") &&
              strstr(diag, "t.yaml:5:5: layer 2 (Linear): the model's parameter bytes pass 2^63 here"),
          "diagnostics:\n%s", diag ? diag : "");
    free(out);
    free(diag);
    /* an output past what a tensor holds, and a weight */
    out = check_text("input: [N, 32]\nlayers:\n  - Linear: [32, 9223372036854775807]\n  - ReLU\n", NULL, &c, &st,
                     &diag);
    CHECK(st == SR_EUSAGE && diag && strstr(diag, "more elements than a tensor can hold") &&
              strstr(diag, "its parameter weight [9223372036854775807, 32]"),
          "status %d:\n%s", st, diag ? diag : "");
    free(out);
    free(diag);
    sr_diags d = {0};
    sr_model m;
    if (sr_spec_parse(&m, spec, strlen(spec), "t.yaml", ".", &d) == SR_OK) {
        for (int i = 0; i < m.nmods; i++)
            if (m.mods[i]->type->params)
                m.mods[i]->nparam = m.mods[i]->type->params(m.mods[i], m.mods[i]->decl);
        CHECK(sr_model_param_count(&m) == -1, "param count %lld", (long long)sr_model_param_count(&m));
    }
    sr_model_free(&m);
    sr_diags_free(&d);
}

/* A torch.nn class seqrun lacks is named as one, not "corrected". */
static void test_torch_names(void)
{
    static const struct {
        const char *type, *want;
    } cases[] = {
        {"LSTM", "unknown layer type 'LSTM': LSTM is a torch.nn layer seqrun does not support: its forward() returns a tuple"},
        {"Bilinear", "Bilinear is a torch.nn layer seqrun does not support: its forward() takes more than one tensor"},
        {"FractionalMaxPool2d", "FractionalMaxPool2d is a torch.nn layer seqrun does not support; hint: "},
        {"NLLLoss", "NLLLoss is a torch.nn loss function, not a layer"},
        {"ModuleDict", "ModuleDict is a torch.nn container"},
        {"gru", "GRU, as torch.nn spells it, is a torch.nn layer seqrun does not support"},
        {"relu", "unknown layer type 'relu'; hint: did you mean 'ReLU'?"},
        {"Lineer", "unknown layer type 'Lineer'; hint: did you mean 'Linear'?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char spec[256];
        snprintf(spec, sizeof spec, "layers:\n  - %s\n", cases[i].type);
        sr_diags d = {0};
        sr_model m;
        sr_status st = sr_spec_parse(&m, spec, strlen(spec), "t.yaml", ".", &d);
        CHECK(st == SR_EUSAGE && d.n == 1 && strstr(d.item[0].text, cases[i].want), "%s: %s", cases[i].type,
              d.n ? d.item[0].text : "(nothing)");
        CHECK(d.n == 1 && (strstr(cases[i].want, "did you mean") || !strstr(d.item[0].text, "did you mean")),
              "%s suggests a seqrun layer: %s", cases[i].type, d.n ? d.item[0].text : "");
        sr_model_free(&m);
        sr_diags_free(&d);
    }
}

/* The fit hint only where plausible; an unbatched input leads with its
 * missing batch dimension. */
static void test_hints(void)
{
    sr_checkopts c = {.format = SR_CHECK_TEXT, .depth = -1};
    sr_status st;
    char *diag;
    char *out = check_text("input: [N, 1, 8, 8]\nlayers:\n  - Conv2d: [1, 4, 3]\n  - Flatten\n  - Linear: [331776, 10]\n",
                           NULL, &c, &st, &diag);
    CHECK(st == SR_ESHAPE && diag && !strstr(diag, "as written") && !strstr(diag, "290"), "implausible fit:\n%s",
          diag ? diag : "");
    free(out);
    free(diag);
    out = check_text("input: [N, 1, 24, 24]\nlayers:\n  - Conv2d: [1, 4, 3]\n  - Flatten\n  - Linear: [1296, 10]\n",
                     NULL, &c, &st, &diag);
    CHECK(st == SR_ESHAPE && diag && strstr(diag, "as written, layers 0 to 2 fit an input of [N, 1, 20, 20]"),
          "plausible fit:\n%s", diag ? diag : "");
    free(out);
    free(diag);
    out = check_text("layers:\n  - Conv2d: [3, 8, 3, 1, 1]\n  - Flatten\n  - Linear: [2048, 10]\n", "3,16,16", &c, &st,
                     &diag);
    CHECK(st == SR_ESHAPE && diag &&
              strstr(diag, "hint: the input [3, 16, 16] looks like one sample without its batch dimension: every "
                           "layer fits [1, 3, 16, 16] (a batch of one); or in_features should be 256") &&
              !strstr(diag, "add one (shape [1, ...])"),
          "batch lead:\n%s", diag ? diag : "");
    free(out);
    free(diag);
}

/* --format dot: one node per module (shared ones once, an edge per use),
 * clusters for nested Sequentials, the mismatch in red with its message. */
static void test_dot(void)
{
    sr_checkopts c = {.format = SR_CHECK_DOT, .depth = -1};
    sr_status st;
    char *diag;
    char *out = check_text("input: [N, 10]\nlayers:\n  - &fc {Linear: [10, 10]}\n  - Sequential:\n      - ReLU\n"
                           "      - *fc\n  - Linear: [20, 3]\n",
                           NULL, &c, &st, &diag);
    CHECK(st == SR_ESHAPE && out, "status %d", st);
    if (out) {
        CHECK(!strncmp(out, "digraph seqrun {", 16) && out[strlen(out) - 2] == '}', "not a digraph:\n%s", out);
        CHECK(count(out, " [label=\"0, 1.1: Linear(") == 1 && count(out, " -> m1 ") == 2, "shared module:\n%s", out);
        CHECK(count(out, "subgraph cluster_") == 1 && strstr(out, "label=\"1: Sequential"), "cluster:\n%s", out);
        CHECK(strstr(out, "2: Linear(in_features=20") && strstr(out, "color=\"#cc0000\"") &&
                  strstr(out, "Linear expects input [*, 20]"),
              "mismatch in red:\n%s", out);
        CHECK(strstr(out, "input [shape=ellipse") && strstr(out, "-> output"), "input and output:\n%s", out);
    }
    free(out);
    free(diag);
}

int main(void)
{
    test_symshape();
    test_float_repr();
    test_escaping();
    test_every_mismatch();
    test_missing_channel();
    test_unbatched_fits();
    test_macs();
    test_concrete_shapes();
    test_contradiction();
    test_columns_depth();
    test_overflow();
    test_torch_names();
    test_hints();
    test_dot();
    check_dir("models/broken");
    check_dir("tests/check");
    return unit_summary();
}
