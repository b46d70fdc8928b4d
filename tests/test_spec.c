/*
 * test_spec.c - the spec reader, the layer table's argument binding, and
 * default initialisation.  Expected values are PyTorch's: its constructor
 * defaults, its state_dict key order, and torch.nn.init's bounds.
 */
#include "../src/init.h"
#include "../src/model.h"
#include "../src/shape.h"
#include "../src/state.h"
#include "../src/yamltree.h"
#include "unit.h"

#include <math.h>
#include <string.h>

static sr_status parse(sr_model *m, sr_diags *d, const char *text)
{
    memset(d, 0, sizeof *d);
    return sr_spec_parse(m, text, strlen(text), "m.yaml", ".", d);
}

static int has_diag(const sr_diags *d, const char *needle)
{
    for (int i = 0; i < d->n; i++)
        if (strstr(d->item[i].text, needle))
            return 1;
    return 0;
}

static void test_forms(void)
{
    sr_model m;
    sr_diags d;
    sr_status st = parse(&m, &d,
                         "input: [N, 8]\n"
                         "layers:\n"
                         "  - Linear: {in_features: 8, out_features: 4}\n"
                         "  - Linear: [4, 3, false]\n"
                         "  - LeakyReLU: 0.2\n"
                         "  - ReLU:\n"
                         "  - Tanh\n"
                         "  - Sequential:\n"
                         "    - Softmax: {dim: -1}\n");
    CHECK(st == SR_OK, "valid spec rejected: %s", d.n ? d.item[0].text : "");
    CHECK(m.nnode == 7, "7 occurrences (6 layers + Sequential), got %d", m.nnode);
    CHECK(m.has_input && m.input_free == 0 && !strcmp(m.input_free_name, "N") && m.input.d[1] == 8, "input: [N, 8]");
    const sr_layer *L0 = m.node[0].mod, *L1 = m.node[1].mod;
    CHECK(L0->arg[0].i == 8 && L0->arg[1].i == 4 && L0->arg[2].kind == SR_AV_BOOL && L0->arg[2].i == 1,
          "keyword form and bias default True");
    CHECK(L1->arg[0].i == 4 && L1->arg[1].i == 3 && L1->arg[2].i == 0, "positional form");
    CHECK(m.node[2].mod->arg[0].kind == SR_AV_FLOAT && m.node[2].mod->arg[0].f == 0.2, "scalar form is the first argument");
    CHECK(m.node[3].mod->arg[0].kind == SR_AV_BOOL && m.node[3].mod->arg[0].i == 0, "'ReLU:' empty value: defaults");
    CHECK(!strcmp(m.node[5].path, "5") && !strcmp(m.node[6].path, "5.0") && m.node[6].depth == 1,
          "nested paths as state_dict keys: %s %s", m.node[5].path, m.node[6].path);
    CHECK(m.node[0].line == 3 && m.node[0].col == 5, "line:col of the first item: %d:%d", m.node[0].line, m.node[0].col);
    CHECK(m.node[6].line == 9 && m.node[6].col == 7, "line:col of a nested item: %d:%d", m.node[6].line, m.node[6].col);
    sr_model_free(&m);
    sr_diags_free(&d);
}

static void test_sharing(void)
{
    sr_model m;
    sr_diags d;
    sr_status st = parse(&m, &d,
                         "defs:\n"
                         "  - &blk {Sequential: [{Linear: [4, 4]}, ReLU]}\n"
                         "layers:\n"
                         "  - &fc {Linear: [4, 4]}\n"
                         "  - *fc\n"
                         "  - *blk\n"
                         "  - *blk\n"
                         "  - Linear: &args [4, 4]\n"
                         "  - Linear: *args\n");
    CHECK(st == SR_OK, "valid spec rejected: %s", d.n ? d.item[0].text : "");
    /* nodes: 0, 1, 2, 2.0, 2.1, 3, 3.0, 3.1, 4, 5 */
    CHECK(m.nnode == 10, "10 occurrences, got %d", m.nnode);
    CHECK(m.node[0].mod == m.node[1].mod && m.node[0].first && !m.node[1].first, "an aliased item is one module");
    CHECK(m.node[1].line == 5 && m.node[1].col == 5, "a reused module is located at its alias: %d:%d", m.node[1].line,
          m.node[1].col);
    CHECK(m.node[3].mod == m.node[6].mod && !strcmp(m.node[6].path, "3.0"), "an aliased Sequential shares children");
    CHECK(m.node[8].mod != m.node[9].mod, "an alias inside arguments copies values");
    sr_shapes S;
    sr_shape in = {2, {2, 4}};
    CHECK(sr_infer(&m, &in, 0, 0, &S, &d) == SR_OK, "shapes fit");
    sr_shapes_free(&S);
    CHECK(sr_state_init(&m, 0, &d) == SR_OK, "init");
    /* parameters(): fc 20 + blk's Linear 20 + two copies 20 each = 80 */
    CHECK(sr_model_param_count(&m) == 80, "shared modules counted once: %lld", (long long)sr_model_param_count(&m));
    sr_model_free(&m);
    sr_diags_free(&d);
}

static void test_errors(void)
{
    static const struct {
        const char *spec, *want;
    } bad[] = {
        {"layers:\n  - Lineer: [2, 2]\n", "m.yaml:2:5: layer 0: unknown layer type 'Lineer'; hint: did you mean 'Linear'?"},
        {"layers:\n  - Linear: {in_features: 2, out_feature: 2}\n", "unknown argument 'out_feature'; hint: did you mean 'out_features'?"},
        {"layers:\n  - Linear: {in_features: 2}\n", "missing required argument 'out_features'"},
        {"layers:\n  - Linear: [2, 2, 1]\n", "argument 'bias' must be a boolean"},
        {"layers:\n  - Linear: [2, -1]\n", "must be non-negative"},
        {"layers:\n  - Dropout: 2\n", "dropout probability has to be between 0 and 1"},
        {"layers:\n  - GELU: {approximate: erf}\n", "must be one of none|tanh"},
        {"layers:\n  - {Linear: [2, 2], ReLU: null}\n", "several keys"},
        {"layers: ReLU\n", "expected a list of layers"},
        {"- ReLU\n", "a model spec is a mapping"},
        {"layers: []\nlayers: []\n", "top-level key 'layers' given twice"},
        {"input: [N, M]\nlayers: []\n", "input: dimension 1"},
        {"layers:\n  - Linear: [99999999999999999999, 2]\n", "out of range"},
        {"layers:\n  - Unflatten: [1, 2]\n", "unflattened_size must be a list"},
        {"init: {Linear: {weight: xavier}}\nlayers: []\n", "unknown scheme 'xavier'"},
        {"init: {Linear: {weight: {normal: {std: -1}}}}\nlayers: []\n", "std must be non-negative"},
        {"layers:\n  - &a [*a]\n", "unknown or unfinished anchor"},
        {"layers: [ReLU]\n---\nlayers: []\n", "one YAML document"},
        {"layers:\n  - LayerNorm: [[2, -3]]\n", "negative size"},
        {"layers:\n  - Embedding: {num_embeddings: 3, embedding_dim: 2, padding_idx: 5}\n", "padding_idx must be within"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sr_model m;
        sr_diags d;
        sr_status st = parse(&m, &d, bad[i].spec);
        CHECK(st == SR_EUSAGE, "case %zu: want exit 2, got %d", i, st);
        CHECK(has_diag(&d, bad[i].want), "case %zu: want '%s', got '%s'", i, bad[i].want, d.n ? d.item[0].text : "(none)");
        sr_model_free(&m);
        sr_diags_free(&d);
    }
}

static void test_core_schema(void)
{
    static const struct {
        const char *text;
        yscalar want;
        double f;
    } cases[] = {
        {"1e-5", YS_FLOAT, 1e-5}, {"1E+3", YS_FLOAT, 1000}, {".5", YS_FLOAT, 0.5}, {"2.", YS_FLOAT, 2},
        {"-.inf", YS_FLOAT, -INFINITY}, {"12", YS_INT, 12}, {"0x1f", YS_INT, 31}, {"0o17", YS_INT, 15},
        {"+4", YS_INT, 4}, {"true", YS_BOOL, 1}, {"False", YS_BOOL, 0}, {"yes", YS_STR, 0}, {"on", YS_STR, 0},
        {"~", YS_NULL, 0}, {"null", YS_NULL, 0}, {"", YS_NULL, 0}, {"1e5x", YS_STR, 0}, {"0x", YS_STR, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ynode n = {.kind = Y_SCALAR, .value = (char *)cases[i].text, .plain = 1};
        long long iv = 0;
        double f = 0;
        yscalar got = yresolve(&n, &iv, &f);
        CHECK(got == cases[i].want, "'%s': kind %d, want %d", cases[i].text, got, cases[i].want);
        if (got == YS_FLOAT || got == YS_INT)
            CHECK(f == cases[i].f, "'%s': %g, want %g", cases[i].text, f, cases[i].f);
    }
    ynode q = {.kind = Y_SCALAR, .value = "1", .plain = 0};
    long long iv;
    double f;
    CHECK(yresolve(&q, &iv, &f) == YS_STR, "a quoted scalar is a string");
}

/* Default initialisation: PyTorch's bounds, a plausible spread, and the
 * same bytes for the same seed. */
static void test_init(void)
{
    sr_model m;
    sr_diags d;
    const char *spec = "layers:\n"
                       "  - Linear: [400, 300]\n"
                       "  - LayerNorm: 300\n"
                       "  - Embedding: {num_embeddings: 50, embedding_dim: 200, padding_idx: 3}\n";
    CHECK(parse(&m, &d, spec) == SR_OK, "parse");
    sr_shapes S;
    sr_shape in = {2, {1, 400}};
    sr_infer(&m, &in, 0, 0, &S, &d);
    sr_shapes_free(&S);
    CHECK(sr_state_init(&m, 5, &d) == SR_OK, "init");
    const sr_layer *lin = m.node[0].mod;
    const float *w = sr_f32(&lin->param[0]), *b = sr_f32(&lin->param[1]);
    double bound = 1.0 / sqrt(400.0), mx = 0, sum2 = 0;
    int inside = 1;
    for (int i = 0; i < 300 * 400; i++) {
        inside &= fabs(w[i]) <= bound;
        mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
        sum2 += (double)w[i] * w[i];
    }
    /* kaiming_uniform(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)): var = bound^2/3 */
    CHECK(inside && mx > 0.99 * bound, "Linear weight within and filling U(-1/sqrt(400), +): max %g", mx);
    CHECK(fabs(sum2 / (300 * 400) - bound * bound / 3) < 0.02 * bound * bound / 3, "Linear weight variance");
    inside = 1;
    for (int i = 0; i < 300; i++)
        inside &= fabs(b[i]) <= bound;
    CHECK(inside, "Linear bias within 1/sqrt(fan_in)");
    const sr_layer *ln = m.node[1].mod;
    CHECK(sr_f32(&ln->param[0])[7] == 1.0f && sr_f32(&ln->param[1])[7] == 0.0f, "LayerNorm ones and zeros");
    const sr_layer *emb = m.node[2].mod;
    const float *e = sr_f32(&emb->param[0]);
    double s = 0, s2 = 0;
    int zero = 1;
    for (int i = 0; i < 50 * 200; i++) {
        if (i / 200 == 3) {
            zero &= e[i] == 0.0f;
            continue;
        }
        s += e[i];
        s2 += (double)e[i] * e[i];
    }
    double n = 49 * 200, mean = s / n, var = s2 / n - mean * mean;
    CHECK(zero, "Embedding padding_idx row is zero");
    CHECK(fabs(mean) < 0.05 && fabs(var - 1) < 0.05, "Embedding N(0, 1): mean %g var %g", mean, var);
    float first = w[0];
    CHECK(sr_state_init(&m, 5, &d) == SR_OK && sr_f32(&m.node[0].mod->param[0])[0] == first, "same seed, same values");
    CHECK(sr_state_init(&m, 6, &d) == SR_OK && sr_f32(&m.node[0].mod->param[0])[0] != first, "another seed, other values");
    sr_model_free(&m);
    sr_diags_free(&d);
}

static void test_init_rules(void)
{
    sr_model m;
    sr_diags d;
    const char *spec = "init:\n"
                       "  Linear:\n"
                       "    weight: xavier_uniform\n"
                       "    bias: {constant: 0.5}\n"
                       "layers:\n"
                       "  - Linear: [100, 50]\n"
                       "  - Linear: {in_features: 50, out_features: 20}\n";
    CHECK(parse(&m, &d, spec) == SR_OK, "parse init: %s", d.n ? d.item[0].text : "");
    sr_shapes S;
    sr_shape in = {2, {1, 100}};
    sr_infer(&m, &in, 0, 0, &S, &d);
    sr_shapes_free(&S);
    CHECK(sr_state_init(&m, 0, &d) == SR_OK, "init with rules");
    const float *w = sr_f32(&m.node[0].mod->param[0]);
    double a = sqrt(6.0 / (100 + 50)), mx = 0;
    for (int i = 0; i < 5000; i++)
        mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
    CHECK(mx <= a && mx > 0.98 * a, "xavier_uniform bound sqrt(6/(fan_in+fan_out)) = %g, max %g", a, mx);
    CHECK(sr_f32(&m.node[1].mod->param[1])[3] == 0.5f, "constant bias from init:");
    sr_model_free(&m);
    sr_diags_free(&d);

    CHECK(parse(&m, &d, "init: {Linear: {bias: kaiming_normal}}\nlayers: [{Linear: [3, 2]}]\n") == SR_OK, "parse");
    sr_shape in2 = {2, {1, 3}};
    sr_infer(&m, &in2, 0, 0, &S, &d);
    sr_shapes_free(&S);
    CHECK(sr_state_init(&m, 0, &d) == SR_EUSAGE && has_diag(&d, "fewer than 2 dimensions"), "kaiming on a bias is an error");
    sr_model_free(&m);
    sr_diags_free(&d);
}

static void test_trunc_normal(void)
{
    sr_init in = {.kind = SR_INIT_TRUNC_NORMAL, .a = 0, .b = 1, .c = -0.5, .d = 1.0};
    sr_tensor t;
    sr_shape s = {1, {20000}};
    sr_tensor_alloc(&t, &s, SR_F32, NULL);
    sr_rng r;
    sr_rng_seed(&r, 1, "x");
    char err[SR_ERRLEN];
    CHECK(sr_init_fill(&t, &in, &r, err) == SR_OK, "trunc_normal");
    int inside = 1;
    double mean = 0;
    for (int i = 0; i < 20000; i++) {
        inside &= sr_f32(&t)[i] >= -0.5f && sr_f32(&t)[i] <= 1.0f;
        mean += sr_f32(&t)[i];
    }
    mean /= 20000;
    /* torch.nn.init.trunc_normal_(t, 0, 1, -0.5, 1.0) over 2e6 values has
     * mean 0.2067 (torch 1.13, seed 0) */
    CHECK(inside && fabs(mean - 0.2067) < 0.01, "trunc_normal within [a, b], mean %g", mean);
    sr_tensor_free(&t);
}

int main(void)
{
    test_forms();
    test_sharing();
    test_errors();
    test_core_schema();
    test_init();
    test_init_rules();
    test_trunc_normal();
    return unit_summary();
}
