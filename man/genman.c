/*
 * genman - assembles seqrun(1) from man/seqrun.1.in and the layer table.
 *
 *   genman man/seqrun.1.in > man/seqrun.1    (what `make man` runs)
 *   genman                                   just the generated sections
 *
 * The template is the hand-written page; genman replaces its marker lines
 * `.\" @LAYERS@` and `.\" @INIT_SCHEMES@` with one entry per row of
 * sr_layer_types[] and sr_initschemes[].  The signatures come from
 * sr_layertype_signature(), the function --check and the diagnostics use,
 * so the page shows every layer seqrun knows with PyTorch's argument names
 * and defaults, and cannot drift from the code: tests/suite_man.sh compares
 * the committed page with this program's output.
 *
 * The markers are roff comments so that the template alone still renders.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/init.h"
#include "../src/layer.h"

/* Text escaped for roff: a backslash is \e; an apostrophe is \(aq, which
 * renders as the ASCII quote Python wants (a bare ' may become a curly one);
 * minus is \- where it is a minus sign (code), so it copies and pastes as
 * '-'; a leading dot or apostrophe would be read as a request, so \& goes
 * before one at the start of a line. */
static void put_escaped(const char *s, int code, int line_start)
{
    if (line_start && (*s == '.' || *s == '\''))
        fputs("\\&", stdout);
    for (; *s; s++) {
        switch (*s) {
        case '\\': fputs("\\e", stdout); break;
        case '\'': fputs("\\(aq", stdout); break;
        case '-': fputs(code ? "\\-" : "-", stdout); break;
        default: putchar(*s);
        }
    }
}

/* An identifier: \% stops roff from hyphenating "normal-ized_shape". */
static void put_ident(const char *font, const char *s, size_t n)
{
    printf("\\f%s\\%%", font);
    for (size_t i = 0; i < n; i++)
        putchar(s[i]);
    fputs("\\fR", stdout);
}

/* "Linear(in_features, out_features, bias=True)" as
 * \fBLinear\fR(\fIin_features\fR, \fIout_features\fR, \fIbias\fR=True):
 * the type in bold, argument names in italics, defaults as code. */
static void put_signature(const char *sig)
{
    const char *open = strchr(sig, '(');
    if (!open) {
        put_ident("B", sig, strlen(sig));
        putchar('\n');
        return;
    }
    put_ident("B", sig, (size_t)(open - sig));
    putchar('(');
    const char *p = open + 1;
    int first = 1;
    while (*p && *p != ')') {
        /* one argument: up to a comma outside parentheses (a tuple default) */
        const char *q = p;
        int depth = 0;
        while (*q && !(depth == 0 && (*q == ',' || *q == ')'))) {
            depth += *q == '(' ? 1 : *q == ')' ? -1 : 0;
            q++;
        }
        const char *eq = memchr(p, '=', (size_t)(q - p));
        if (!first)
            fputs(", ", stdout);
        first = 0;
        if (*p == '*') { /* *args, **kwargs */
            fputs(p[1] == '*' ? "**" : "*", stdout);
            p += p[1] == '*' ? 2 : 1;
        }
        put_ident("I", p, (size_t)((eq ? eq : q) - p));
        if (eq) {
            char def[96];
            snprintf(def, sizeof def, "%.*s", (int)(q - eq - 1), eq + 1);
            putchar('=');
            put_escaped(def, 1, 0);
        }
        p = q;
        while (*p == ',' || *p == ' ')
            p++;
    }
    puts(")");
}

/* "'zeros', 'reflect' or 'circular'" from "zeros|reflect|circular" */
static void put_choices(const char *choices)
{
    int n = 1, k = 0;
    for (const char *c = choices; *c; c++)
        n += *c == '|';
    for (const char *c = choices; *c; k++) {
        const char *end = strchr(c, '|');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        char item[64];
        snprintf(item, sizeof item, "%.*s", (int)len, c);
        if (k)
            fputs(k == n - 1 ? " or " : ", ", stdout);
        fputs("\\(aq", stdout);
        put_escaped(item, 1, 0);
        fputs("\\(aq", stdout);
        c += len + (end != NULL);
    }
}

/* What an argument accepts, when its default does not make it obvious:
 * tuples, strings from a set, None.  Returns 0 if there is nothing to say. */
static int put_arg_note(const sr_argdef *a, int first)
{
    unsigned t = a->types;
    if (!(t & (SR_T_TUPLE | SR_T_STR | SR_T_NONE)))
        return 0;
    fputs(first ? "" : ";\n", stdout);
    put_ident("I", a->name, strlen(a->name));
    fputs(": ", stdout);
    int any = 0;
    if ((t & SR_T_TUPLE) && (t & SR_T_FLOAT)) {
        fputs("a number or a list of numbers", stdout);
        any = 1;
    } else if (t & SR_T_TUPLE) {
        if (a->tlen > 1)
            printf("an int or a list of %d ints", a->tlen);
        else if (a->tlen == 1)
            fputs("an int (or a list of one)", stdout);
        else
            fputs("an int or a list of ints", stdout);
        if (t & SR_T_TNONE)
            fputs(", where null keeps that dimension's size", stdout);
        any = 1;
    }
    if ((t & SR_T_STR) && a->choices) {
        fputs(any ? ", or " : "", stdout);
        put_choices(a->choices);
        any = 1;
    }
    if (t & SR_T_NONE)
        fputs(any ? ", or null" : t & SR_T_BOOL ? "true, false or null" : "a number or null", stdout);
    return 1;
}

static void gen_layers(void)
{
    char sig[512];
    for (int i = 0; i < sr_nlayer_types; i++) {
        const sr_layertype *t = sr_layer_types[i];
        fputs(".PP\n", stdout);
        if (t->flags & SR_LF_CONTAINER) {
            /* its "arguments" are the nested list, not constructor values */
            fputs("\\fB\\%Sequential\\fR: [\\fIlayer\\fR, ...]\n", stdout);
        } else {
            sr_layertype_signature(t, sig, sizeof sig);
            put_signature(sig);
        }
        fputs(".RS\n", stdout);
        /* the summaries are phrases ("max(0, x)"); a line of their own */
        put_escaped(t->summary, 0, 1);
        fputs(".\n", stdout);
        int first = 1;
        for (int k = 0; t->args && k < t->nargs; k++)
            if (put_arg_note(&t->args[k], first))
                first = 0;
        if (!first)
            fputs(".\n", stdout);
        fputs(".RE\n", stdout);
    }
}

static void gen_init(void)
{
    for (int i = 0; i < sr_ninitschemes; i++) {
        const sr_initscheme *s = &sr_initschemes[i];
        fputs(".PP\n", stdout);
        char sig[256];
        size_t k = (size_t)snprintf(sig, sizeof sig, "%s(", s->name);
        for (int j = 0; j < s->nargs && k < sizeof sig; j++)
            k += (size_t)snprintf(sig + k, sizeof sig - k, "%s%s%s%s", j ? ", " : "", s->args[j].name,
                                  s->args[j].def ? "=" : "", s->args[j].def ? s->args[j].def : "");
        if (k < sizeof sig)
            snprintf(sig + k, sizeof sig - k, ")");
        put_signature(sig);
        fputs(".RS\n", stdout);
        printf("As \\%%torch.nn.init.%s_.\n", s->name);
        int first = 1;
        for (int j = 0; j < s->nargs; j++)
            if (put_arg_note(&s->args[j], first))
                first = 0;
        if (!first)
            fputs(".\n", stdout);
        fputs(".RE\n", stdout);
    }
}

int main(int argc, char **argv)
{
    if (argc == 1) {
        gen_layers();
        gen_init();
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: genman [TEMPLATE] > seqrun.1\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char line[4096];
    int layers = 0, init = 0;
    while (fgets(line, sizeof line, f)) {
        if (strcmp(line, ".\\\" @LAYERS@\n") == 0) {
            gen_layers();
            layers++;
        } else if (strcmp(line, ".\\\" @INIT_SCHEMES@\n") == 0) {
            gen_init();
            init++;
        } else {
            fputs(line, stdout);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || layers != 1 || init != 1) {
        fprintf(stderr, "genman: %s: %s\n", argv[1],
                bad ? "read error" : "needs exactly one '.\\\" @LAYERS@' and one '.\\\" @INIT_SCHEMES@' line");
        return 1;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("genman: stdout");
        return 1;
    }
    return 0;
}
