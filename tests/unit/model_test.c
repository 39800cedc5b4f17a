/* model_test: the model ABI helpers of core/tm_model.c (tier and status
 * names, descriptor checks, family checks, state mapping, versions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_model.h"

#include <math.h>
#include <string.h>

/* ---- a small valid model to break in copies ------------------------------ */

static const tm_var_t s_states[] = {
    {"x", "m", 0.0, -1e300, 1e300, 0, "position"},
    {"v", "m/s", 0.0, -1e300, 1e300, 0, "velocity"},
};
static const tm_var_t s_states_other[] = {
    {"v", "m/s", 0.0, -1e300, 1e300, 0, "velocity"},
    {"e", "J", 0.0, -1e300, 1e300, 0, "energy"},
    {"x", "m", 0.0, -1e300, 1e300, 0, "position"},
};
static const tm_var_t s_inputs[] = {
    {"f", "N", 0.0, -1e9, 1e9, TM_VAR_SUMMING, "force"},
};
static const tm_var_t s_outputs[] = {
    {"x", "m", 0.0, -1e300, 1e300, 0, "position"},
};
static const tm_var_t s_params[] = {
    {"x0", "m", 1.0, -10.0, 10.0, 0, "initial position"},
    {"e0", "J", 5.0, 0.0, 10.0, 0, "initial energy"},
};

static int s_init(const double *p, double *x)
{
    x[0] = p[0];
    x[1] = 0.0;
    return TM_STEP_OK;
}

/* Layout of s_states_other: v, e, x. */
static int s_init_other(const double *p, double *x)
{
    x[0] = -1.0;
    x[1] = p[1];
    x[2] = p[0];
    return TM_STEP_OK;
}

static int s_init_fails(const double *p, double *x)
{
    (void)p;
    (void)x;
    return TM_STEP_FAILED;
}

static void s_output(size_t n, const double *x, const double *p,
                     const double *u, double *y)
{
    (void)p;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[2 * i];
    }
}

static void s_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                   const double *p, const double *u, double *y, uint8_t *st)
{
    (void)ctx;
    (void)p;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[2 * i];
        st[i] = TM_STEP_OK;
    }
}

static int s_map_calls;

static int s_map(const tm_model_t *from, const double *from_state,
                 const double *params, double *to_state)
{
    (void)from;
    (void)from_state;
    (void)params;
    s_map_calls++;
    to_state[0] = 123.0;
    to_state[1] = 456.0;
    return TM_STEP_OK;
}

static const tm_model_t s_good = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "demo",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "test model",
    .states = s_states,
    .n_states = 2,
    .inputs = s_inputs,
    .n_inputs = 1,
    .outputs = s_outputs,
    .n_outputs = 1,
    .params = s_params,
    .n_params = 2,
    .init = s_init,
    .output = s_output,
    .step = s_step,
    .map_state = NULL,
    .estimate = NULL,
};

/* ---- names -------------------------------------------------------------- */

static void test_fidelity_names(void **state)
{
    (void)state;
    assert_string_equal(tm_fidelity_name(TM_FIDELITY_HIGH), "high");
    assert_string_equal(tm_fidelity_name(TM_FIDELITY_MEDIUM), "medium");
    assert_string_equal(tm_fidelity_name(TM_FIDELITY_LOW), "low");
    assert_string_equal(tm_fidelity_name(TM_FIDELITY_COUNT), "?");
    assert_string_equal(tm_fidelity_name((tm_fidelity_t)-1), "?");

    const char *names[] = {"high", "h", "medium", "m", "low", "l"};
    const tm_fidelity_t want[] = {TM_FIDELITY_HIGH,   TM_FIDELITY_HIGH,
                                  TM_FIDELITY_MEDIUM, TM_FIDELITY_MEDIUM,
                                  TM_FIDELITY_LOW,    TM_FIDELITY_LOW};
    for (size_t i = 0; i < 6; i++) {
        tm_fidelity_t f = TM_FIDELITY_COUNT;
        assert_int_equal(tm_fidelity_parse(names[i], &f), 0);
        assert_int_equal(f, want[i]);
    }
    /* Round trip of every tier. */
    for (int i = 0; i < TM_FIDELITY_COUNT; i++) {
        tm_fidelity_t f = TM_FIDELITY_COUNT;
        assert_int_equal(
            tm_fidelity_parse(tm_fidelity_name((tm_fidelity_t)i), &f), 0);
        assert_int_equal(f, i);
    }
    const char *bad[] = {"", "HIGH", "hi", "lowest", " low", "?"};
    for (size_t i = 0; i < 6; i++) {
        tm_fidelity_t f = TM_FIDELITY_LOW;
        assert_int_equal(tm_fidelity_parse(bad[i], &f),
                         TM_ERR_UNKNOWN_FIDELITY);
        assert_int_equal(f, TM_FIDELITY_LOW); /* untouched */
    }
    tm_fidelity_t f;
    assert_int_equal(tm_fidelity_parse(NULL, &f), TM_ERR_UNKNOWN_FIDELITY);
    assert_int_equal(tm_fidelity_parse("high", NULL), TM_ERR_UNKNOWN_FIDELITY);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(tm_step_status_name(TM_STEP_OK), "ok");
    assert_string_equal(tm_step_status_name(TM_STEP_NONFINITE), "non-finite");
    assert_string_equal(tm_step_status_name(TM_STEP_FAILED), "failed");
    assert_string_equal(tm_step_status_name(TM_STEP_SOLVER_GAVE_UP),
                        "solver-gave-up");
    assert_string_equal(tm_step_status_name(TM_STEP_RESIDUAL), "residual");
    assert_string_equal(tm_step_status_name(TM_STEP_SLOW), "slow");
    assert_string_equal(tm_step_status_name(6), "?");
    assert_string_equal(tm_step_status_name(-1), "?");
    assert_string_equal(tm_step_status_name(255), "?");
}

/* ---- tm_model_check ----------------------------------------------------- */

static void test_check_good(void **state)
{
    (void)state;
    assert_int_equal(tm_model_check(&s_good), 0);
    tm_model_t m = s_good;
    m.struct_size = sizeof(tm_model_t) + 16; /* a newer, larger builder */
    assert_int_equal(tm_model_check(&m), 0);
    m = s_good;
    m.states = NULL; /* stateless */
    m.n_states = 0;
    assert_int_equal(tm_model_check(&m), 0);
    m = s_good;
    m.family = "a_B_9"; /* letters, digits, '_' */
    assert_int_equal(tm_model_check(&m), 0);
    m.family = "0123456789012345678901234567890"; /* 31 bytes: the limit */
    assert_int_equal(tm_model_check(&m), 0);
}

static void test_check_abi(void **state)
{
    (void)state;
    assert_int_equal(tm_model_check(NULL), TM_ERR_INVAL);
    tm_model_t m = s_good;
    m.abi_version = TM_MODEL_ABI_VERSION + 1;
    assert_int_equal(tm_model_check(&m), TM_ERR_MODEL_ABI);
    m = s_good;
    m.abi_version = 0;
    assert_int_equal(tm_model_check(&m), TM_ERR_MODEL_ABI);
    m = s_good;
    m.struct_size = sizeof(tm_model_t) - sizeof(void *);
    assert_int_equal(tm_model_check(&m), TM_ERR_MODEL_ABI);
}

static void test_check_fields(void **state)
{
    (void)state;
    tm_model_t m = s_good;
    m.init = NULL;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);
    m = s_good;
    m.output = NULL;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);
    m = s_good;
    m.step = NULL;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);

    const char *bad_families[] = {
        "", "a-b", "a b", "pump@1", "x.y", "01234567890123456789012345678901",
    };
    for (size_t i = 0; i < sizeof bad_families / sizeof bad_families[0]; i++) {
        m = s_good;
        m.family = bad_families[i];
        assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);
    }
    m = s_good;
    m.family = NULL;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);

    const char *bad_versions[] = {"",       "1",     "1.0",    "1.0.0.0",
                                  "v1.0.0", "1.0.x", "01.0.0", "1.0.0-rc1"};
    for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
        m = s_good;
        m.version = bad_versions[i];
        assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);
    }
    m = s_good;
    m.version = NULL;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);

    m = s_good;
    m.fidelity = TM_FIDELITY_COUNT;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);
    m.fidelity = (tm_fidelity_t)-1;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);
}

/* Replace one parameter of s_good by v and check. */
static int s_check_param(tm_var_t v)
{
    tm_var_t params[2] = {s_params[0], v};
    tm_model_t m = s_good;
    m.params = params;
    return tm_model_check(&m);
}

static void test_check_vars(void **state)
{
    (void)state;
    const tm_var_t ok = s_params[1];
    assert_int_equal(s_check_param(ok), 0);

    tm_var_t v = ok;
    v.name = "x0"; /* duplicate of params[0] */
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.name = "e-0";
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.name = NULL;
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.unit = NULL;
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.unit = "";
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.def = 11.0; /* above max */
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.def = -0.5; /* below min */
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.min = 20.0; /* min > max */
    v.def = 20.0;
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.def = NAN;
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.max = NAN;
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.min = -INFINITY; /* open ranges are allowed, defaults finite */
    v.max = INFINITY;
    assert_int_equal(s_check_param(v), 0);
    v.def = INFINITY;
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.flags = TM_VAR_SUMMING; /* summing is for inputs only */
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);
    v = ok;
    v.flags = 0x80u;
    assert_int_equal(s_check_param(v), TM_ERR_INVAL);

    /* Same name in different kinds is fine (state x and output x). */
    assert_int_equal(tm_model_check(&s_good), 0);

    /* Unknown input flag; NULL array with a count; too many variables. */
    tm_var_t in = s_inputs[0];
    in.flags = 0x4u;
    tm_model_t m = s_good;
    m.inputs = &in;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);
    /* A measured input is fed by telemetry only: it cannot sum links. */
    in.flags = TM_VAR_MEASURED;
    assert_int_equal(tm_model_check(&m), 0);
    in.flags = TM_VAR_MEASURED | TM_VAR_SUMMING;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);
    m = s_good;
    m.outputs = NULL;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);

    static tm_var_t many[TM_MODEL_MAX_VARS + 1];
    static char names[TM_MODEL_MAX_VARS + 1][8];
    for (uint32_t i = 0; i <= TM_MODEL_MAX_VARS; i++) {
        names[i][0] = 'p';
        names[i][1] = (char)('a' + i / 10);
        names[i][2] = (char)('0' + i % 10);
        names[i][3] = '\0';
        many[i] = ok;
        many[i].name = names[i];
    }
    m = s_good;
    m.params = many;
    m.n_params = TM_MODEL_MAX_VARS;
    assert_int_equal(tm_model_check(&m), 0);
    m.n_params = TM_MODEL_MAX_VARS + 1;
    assert_int_equal(tm_model_check(&m), TM_ERR_INVAL);
}

/* ---- tm_model_check_family ---------------------------------------------- */

static void test_check_family(void **state)
{
    (void)state;
    tm_model_t low = s_good;
    low.fidelity = TM_FIDELITY_LOW;
    assert_int_equal(tm_model_check_family(&s_good, &low), 0);
    assert_int_equal(tm_model_check_family(&low, &s_good), 0);
    assert_int_equal(tm_model_check_family(&s_good, &s_good), 0);

    /* States may differ (names matched by map_state or by name). */
    low.states = s_states_other;
    low.n_states = 3;
    low.init = s_init_other;
    assert_int_equal(tm_model_check_family(&s_good, &low), 0);

    tm_model_t b = low;
    b.family = "other";
    assert_int_equal(tm_model_check_family(&s_good, &b), TM_ERR_INVAL);
    assert_int_equal(tm_model_check_family(NULL, &b), TM_ERR_INVAL);
    assert_int_equal(tm_model_check_family(&s_good, NULL), TM_ERR_INVAL);
    b = low;
    b.abi_version = 99;
    assert_int_equal(tm_model_check_family(&s_good, &b), TM_ERR_INVAL);

    /* Parameters: order, count, unit, range. */
    tm_var_t swapped[2] = {s_params[1], s_params[0]};
    b = low;
    b.params = swapped;
    assert_int_equal(tm_model_check_family(&s_good, &b), TM_ERR_INVAL);
    b = low;
    b.n_params = 1;
    assert_int_equal(tm_model_check_family(&s_good, &b), TM_ERR_INVAL);
    tm_var_t p2[2] = {s_params[0], s_params[1]};
    p2[1].unit = "kJ";
    b = low;
    b.params = p2;
    assert_int_equal(tm_model_check_family(&s_good, &b), TM_ERR_INVAL);
    p2[1] = s_params[1];
    p2[1].max = 20.0;
    assert_int_equal(tm_model_check_family(&s_good, &b), TM_ERR_INVAL);
    p2[1] = s_params[1];
    p2[1].doc = "documentation may differ";
    assert_int_equal(tm_model_check_family(&s_good, &b), 0);

    /* Inputs: flags count (a summing input must sum in every tier). */
    tm_var_t in = s_inputs[0];
    in.flags = 0;
    b = low;
    b.inputs = &in;
    assert_int_equal(tm_model_check_family(&s_good, &b), TM_ERR_INVAL);

    /* Outputs: name. */
    tm_var_t out = s_outputs[0];
    out.name = "y";
    b = low;
    b.outputs = &out;
    assert_int_equal(tm_model_check_family(&s_good, &b), TM_ERR_INVAL);

    /* A state of the same name must keep its unit. */
    tm_var_t st[3] = {s_states_other[0], s_states_other[1], s_states_other[2]};
    st[2].unit = "mm";
    b = low;
    b.states = st;
    assert_int_equal(tm_model_check_family(&s_good, &b), TM_ERR_INVAL);
}

/* ---- var index and state mapping ---------------------------------------- */

static void test_var_index(void **state)
{
    (void)state;
    assert_int_equal(tm_model_var_index(s_states, 2, "x"), 0);
    assert_int_equal(tm_model_var_index(s_states, 2, "v"), 1);
    assert_int_equal(tm_model_var_index(s_states, 2, "w"), -1);
    assert_int_equal(tm_model_var_index(s_states, 1, "v"), -1);
    assert_int_equal(tm_model_var_index(s_states, 0, "x"), -1);
    assert_int_equal(tm_model_var_index(NULL, 2, "x"), -1);
    assert_int_equal(tm_model_var_index(s_states, 2, NULL), -1);
    assert_int_equal(tm_model_var_index(s_states, 2, ""), -1);
}

static void test_map_state_by_name(void **state)
{
    (void)state;
    tm_model_t other = s_good;
    other.fidelity = TM_FIDELITY_LOW;
    other.states = s_states_other; /* v, e, x */
    other.n_states = 3;
    other.init = s_init_other;
    const double params[2] = {2.5, 7.0};

    /* good (x, v) -> other (v, e, x): e is missing, filled by init. */
    const double from[2] = {1.25, -3.5};
    double to[3] = {0, 0, 0};
    assert_int_equal(tm_model_map_state(&other, &s_good, from, params, to),
                     TM_STEP_OK);
    assert_true(to[0] == -3.5);
    assert_true(to[1] == 7.0);
    assert_true(to[2] == 1.25);

    /* other -> good: e is dropped. */
    double back[2] = {0, 0};
    assert_int_equal(tm_model_map_state(&s_good, &other, to, params, back),
                     TM_STEP_OK);
    assert_true(back[0] == 1.25);
    assert_true(back[1] == -3.5);

    /* Same layout, in place (from_state == to_state). */
    double inplace[2] = {9.0, 8.0};
    assert_int_equal(
        tm_model_map_state(&s_good, &s_good, inplace, params, inplace),
        TM_STEP_OK);
    assert_true(inplace[0] == 9.0 && inplace[1] == 8.0);

    /* To a stateless tier and back: states come from init. */
    tm_model_t none = s_good;
    none.states = NULL;
    none.n_states = 0;
    assert_int_equal(tm_model_map_state(&none, &s_good, from, params, NULL),
                     TM_STEP_OK);
    double fresh[2] = {0, 0};
    assert_int_equal(tm_model_map_state(&s_good, &none, NULL, params, fresh),
                     TM_STEP_OK);
    assert_true(fresh[0] == 2.5 && fresh[1] == 0.0);
}

static void test_map_state_hook_and_errors(void **state)
{
    (void)state;
    const double params[2] = {2.5, 7.0};
    const double from[2] = {1.0, 2.0};
    double to[2] = {0, 0};

    tm_model_t hooked = s_good;
    hooked.fidelity = TM_FIDELITY_LOW;
    hooked.map_state = s_map;
    s_map_calls = 0;
    assert_int_equal(tm_model_map_state(&hooked, &s_good, from, params, to),
                     TM_STEP_OK);
    assert_int_equal(s_map_calls, 1);
    assert_true(to[0] == 123.0 && to[1] == 456.0);

    tm_model_t other = s_good;
    other.family = "other";
    assert_int_equal(tm_model_map_state(&other, &s_good, from, params, to),
                     TM_STEP_FAILED);
    assert_int_equal(tm_model_map_state(NULL, &s_good, from, params, to),
                     TM_STEP_FAILED);
    assert_int_equal(tm_model_map_state(&s_good, NULL, from, params, to),
                     TM_STEP_FAILED);
    assert_int_equal(tm_model_map_state(&s_good, &s_good, NULL, params, to),
                     TM_STEP_FAILED);
    assert_int_equal(tm_model_map_state(&s_good, &s_good, from, params, NULL),
                     TM_STEP_FAILED);

    /* init's failure is passed on when a state has to come from it. */
    tm_model_t failing = s_good;
    failing.fidelity = TM_FIDELITY_LOW;
    failing.states = s_states_other;
    failing.n_states = 3;
    failing.init = s_init_fails;
    double to3[3] = {0, 0, 0};
    assert_int_equal(tm_model_map_state(&failing, &s_good, from, params, to3),
                     TM_STEP_FAILED);
}

/* ---- semantic versions -------------------------------------------------- */

static void test_semver_valid(void **state)
{
    (void)state;
    const char *good[] = {"0.0.0", "1.0.0", "1.2.3", "10.20.30",
                          "18446744073709551615.0.0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(tm_semver_valid(good[i]), 0);
    }
    const char *bad[] = {
        "",          "1",
        "1.2",       "1.2.3.4",
        "1..3",      ".1.2",
        "1.2.",      "01.2.3",
        "1.02.3",    "1.2.03",
        "-1.2.3",    "+1.2.3",
        " 1.2.3",    "1.2.3 ",
        "1.2.3-rc1", "1.2.3+build",
        "a.b.c",     "1.2.3\n",
        "v1.2.3",    "18446744073709551616.0.0",
        "1.2.3abc",  "99999999999999999999.0.0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tm_semver_valid(bad[i]), TM_ERR_INVAL);
    }
    assert_int_equal(tm_semver_valid(NULL), TM_ERR_INVAL);
}

static int s_sign(int x)
{
    return (x > 0) - (x < 0);
}

static void test_semver_cmp(void **state)
{
    (void)state;
    assert_int_equal(tm_semver_cmp("1.0.0", "1.0.0"), 0);
    assert_true(tm_semver_cmp("1.0.0", "1.0.1") < 0);
    assert_true(tm_semver_cmp("1.0.1", "1.0.0") > 0);
    assert_true(tm_semver_cmp("1.9.0", "1.10.0") < 0); /* numeric, not text */
    assert_true(tm_semver_cmp("2.0.0", "1.99.99") > 0);
    assert_true(tm_semver_cmp("0.0.9", "0.1.0") < 0);
    assert_true(tm_semver_cmp("18446744073709551615.0.0",
                              "18446744073709551614.9.9") > 0);

    /* Invalid strings sort before every valid one. */
    assert_true(tm_semver_cmp("garbage", "0.0.0") < 0);
    assert_true(tm_semver_cmp("0.0.0", "garbage") > 0);
    assert_true(tm_semver_cmp(NULL, "0.0.0") < 0);
    assert_true(tm_semver_cmp("0.0.0", NULL) > 0);
    assert_true(tm_semver_cmp("1.0", "0.0.1") < 0);

    /* ... and among themselves in a consistent total order. */
    assert_int_equal(tm_semver_cmp(NULL, NULL), 0);
    assert_int_equal(tm_semver_cmp("x", "x"), 0);
    const char *all[] = {NULL,    "",      "x",     "1.0",    "9",
                         "0.0.0", "0.0.1", "1.2.3", "1.10.0", "2.0.0"};
    const size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int ij = tm_semver_cmp(all[i], all[j]);
            int ji = tm_semver_cmp(all[j], all[i]);
            assert_int_equal(s_sign(ij), -s_sign(ji));
            for (size_t k = 0; k < n; k++) {
                int jk = tm_semver_cmp(all[j], all[k]);
                if (ij < 0 && jk < 0) {
                    assert_true(tm_semver_cmp(all[i], all[k]) < 0);
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fidelity_names),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_check_good),
        cmocka_unit_test(test_check_abi),
        cmocka_unit_test(test_check_fields),
        cmocka_unit_test(test_check_vars),
        cmocka_unit_test(test_check_family),
        cmocka_unit_test(test_var_index),
        cmocka_unit_test(test_map_state_by_name),
        cmocka_unit_test(test_map_state_hook_and_errors),
        cmocka_unit_test(test_semver_valid),
        cmocka_unit_test(test_semver_cmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
