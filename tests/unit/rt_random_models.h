/* rt_random_models: the test models of rt_random_test - a family with
 * three tiers of different state layouts, a stateless source, a family
 * with a product output, and a descriptor of another ABI - and the names
 * its random operations draw from. Header-only, static definitions. */
#ifndef TM_RT_RANDOM_MODELS_H_INCLUDED
#define TM_RT_RANDOM_MODELS_H_INCLUDED

#include "tm_model.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- test models -------------------------------------------------------- */

/* Family "alpha", three tiers with different state layouts: high (x, v),
 * low (c, x: reordered, c new) and medium (x, v, e, with a map_state that
 * refuses |x| > 50, and an output v*v that overflows for a large v).
 * Inputs: u and z sum their links, w takes one. */
static const tm_var_t s_a_inputs[] = {
    {"u", "1", 0.0, -1e3, 1e3, TM_VAR_SUMMING, "summing"},
    {"w", "1", 0.5, -1e3, 1e3, 0, "single link"},
    {"z", "1", 0.0, -1e3, 1e3, TM_VAR_SUMMING, "summing, subtracted"}};
static const tm_var_t s_a_outputs[] = {{"y", "1", 0, 0, 0, 0, "x + w/8"},
                                       {"q", "1", 0, 0, 0, 0, "second"}};
static const tm_var_t s_a_params[] = {
    {"k", "1", 0.5, 0.0, 2.0, 0, "gain of u"},
    {"lim", "1", -1.0, -1.0, 1e300, 0, "fail when |x| > lim (< 0: never)"}};
static const tm_var_t s_ahi_states[] = {
    {"x", "1", 0.0, -1e300, 1e300, 0, "value"},
    {"v", "1", 0.0, -1e300, 1e300, 0, "integral of x"}};
static const tm_var_t s_alo_states[] = {
    {"c", "1", 0.0, -1e300, 1e300, 0, "steps"},
    {"x", "1", 0.0, -1e300, 1e300, 0, "value"}};
static const tm_var_t s_amed_states[] = {
    {"x", "1", 0.0, -1e300, 1e300, 0, "value"},
    {"v", "1", 0.0, -1e300, 1e300, 0, "integral of x"},
    {"e", "1", 0.0, -1e300, 1e300, 0, "filtered x"}};

static double s_a_next(const double *p, const double *u, double x, double h)
{
    return 0.5 * x + p[0] * u[0] + u[1] - 0.25 * u[2] + h;
}

static uint8_t s_a_status(const double *p, double x)
{
    return (p[1] >= 0.0 && fabs(x) > p[1]) ? TM_STEP_FAILED : TM_STEP_OK;
}

static int s_ahi_init(const double *p, double *x)
{
    x[0] = p[0];
    x[1] = 0.0;
    return TM_STEP_OK;
}

static void s_ahi_output(size_t n, const double *x, const double *p,
                         const double *u, double *y)
{
    (void)p;
    for (size_t i = 0; i < n; i++) {
        y[2 * i] = x[2 * i] + 0.125 * u[3 * i + 1];
        y[2 * i + 1] = x[2 * i + 1] + 0.25 * u[3 * i];
    }
}

static void s_ahi_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                       const double *p, const double *u, double *y, uint8_t *st)
{
    for (size_t i = 0; i < n; i++) {
        double *xi = x + 2 * i;
        xi[0] = s_a_next(p + 2 * i, u + 3 * i, xi[0], ctx->h);
        xi[1] = xi[1] + ctx->h * xi[0];
        st[i] = s_a_status(p + 2 * i, xi[0]);
    }
    s_ahi_output(n, x, p, u, y);
}

static int s_alo_init(const double *p, double *x)
{
    x[0] = 2.0 * p[0];
    x[1] = p[0];
    return TM_STEP_OK;
}

static void s_alo_output(size_t n, const double *x, const double *p,
                         const double *u, double *y)
{
    (void)p;
    for (size_t i = 0; i < n; i++) {
        y[2 * i] = x[2 * i + 1] + 0.125 * u[3 * i + 1];
        y[2 * i + 1] = x[2 * i] + 0.25 * u[3 * i];
    }
}

static void s_alo_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                       const double *p, const double *u, double *y, uint8_t *st)
{
    for (size_t i = 0; i < n; i++) {
        double *xi = x + 2 * i;
        xi[1] = s_a_next(p + 2 * i, u + 3 * i, xi[1], ctx->h);
        xi[0] += 1.0;
        st[i] = s_a_status(p + 2 * i, xi[1]);
    }
    s_alo_output(n, x, p, u, y);
}

static int s_amed_init(const double *p, double *x)
{
    x[0] = p[0];
    x[1] = 0.0;
    x[2] = 2.0 * p[0];
    return TM_STEP_OK;
}

static void s_amed_output(size_t n, const double *x, const double *p,
                          const double *u, double *y)
{
    (void)p;
    for (size_t i = 0; i < n; i++) {
        y[2 * i] = x[3 * i] + 0.125 * u[3 * i + 1];
        y[2 * i + 1] =
            x[3 * i + 1] * x[3 * i + 1] + x[3 * i + 2] + 0.25 * u[3 * i];
    }
}

static void s_amed_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                        const double *p, const double *u, double *y,
                        uint8_t *st)
{
    for (size_t i = 0; i < n; i++) {
        double *xi = x + 3 * i;
        xi[0] = s_a_next(p + 2 * i, u + 3 * i, xi[0], ctx->h);
        xi[1] = xi[1] + ctx->h * xi[0];
        xi[2] = 0.5 * xi[2] + xi[0];
        st[i] = s_a_status(p + 2 * i, xi[0]);
    }
    s_amed_output(n, x, p, u, y);
}

static int s_amed_map(const tm_model_t *from, const double *fx, const double *p,
                      double *x)
{
    (void)p;
    int ix = tm_model_var_index(from->states, from->n_states, "x");
    int iv = tm_model_var_index(from->states, from->n_states, "v");
    if (ix < 0 || fabs(fx[ix]) > 50.0) {
        return TM_STEP_FAILED;
    }
    double v = iv >= 0 ? fx[iv] : 0.0;
    x[0] = fx[ix];
    x[1] = v;
    x[2] = 2.0 * fx[ix];
    return TM_STEP_OK;
}

#define S_ALPHA(name_, tier_, states_, ns_, init_, output_, step_, map_)       \
    static const tm_model_t name_ = {                                          \
        .abi_version = TM_MODEL_ABI_VERSION,                                   \
        .struct_size = sizeof(tm_model_t),                                     \
        .family = "alpha",                                                     \
        .version = "1.0.0",                                                    \
        .fidelity = tier_,                                                     \
        .summary = "random test model",                                        \
        .states = states_,                                                     \
        .n_states = ns_,                                                       \
        .inputs = s_a_inputs,                                                  \
        .n_inputs = 3,                                                         \
        .outputs = s_a_outputs,                                                \
        .n_outputs = 2,                                                        \
        .params = s_a_params,                                                  \
        .n_params = 2,                                                         \
        .init = init_,                                                         \
        .output = output_,                                                     \
        .step = step_,                                                         \
        .map_state = map_,                                                     \
    }

S_ALPHA(s_ahi, TM_FIDELITY_HIGH, s_ahi_states, 2, s_ahi_init, s_ahi_output,
        s_ahi_step, NULL);
S_ALPHA(s_alo, TM_FIDELITY_LOW, s_alo_states, 2, s_alo_init, s_alo_output,
        s_alo_step, NULL);
S_ALPHA(s_amed, TM_FIDELITY_MEDIUM, s_amed_states, 3, s_amed_init,
        s_amed_output, s_amed_step, s_amed_map);

/* Family "beta": a stateless source without inputs; its step uses the
 * tick, the actor key and the seed. */
static const tm_var_t s_b_outputs[] = {{"y", "1", 0, 0, 0, 0, "value"}};
static const tm_var_t s_b_params[] = {{"p", "1", 1.0, -10.0, 10.0, 0, "v"}};

static int s_b_init(const double *p, double *x)
{
    (void)p;
    (void)x;
    return TM_STEP_OK;
}

static void s_b_output(size_t n, const double *x, const double *p,
                       const double *u, double *y)
{
    (void)x;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = p[i];
    }
}

static void s_b_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                     const double *p, const double *u, double *y, uint8_t *st)
{
    (void)x;
    (void)u;
    (void)st;
    for (size_t i = 0; i < n; i++) {
        y[i] = p[i] + (double)(ctx->tick % 5u) +
               0.5 * (double)(ctx->keys[i] % 4u) + (double)(ctx->seed % 3u);
    }
}

static const tm_model_t s_beta = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "beta",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "source",
    .outputs = s_b_outputs,
    .n_outputs = 1,
    .params = s_b_params,
    .n_params = 1,
    .init = s_b_init,
    .output = s_b_output,
    .step = s_b_step,
};

/* A descriptor of another ABI: refused. */
static const tm_model_t s_bad = {
    .abi_version = TM_MODEL_ABI_VERSION + 1,
    .struct_size = sizeof(tm_model_t),
    .family = "beta",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_LOW,
    .summary = "wrong ABI",
    .outputs = s_b_outputs,
    .n_outputs = 1,
    .params = s_b_params,
    .n_params = 1,
    .init = s_b_init,
    .output = s_b_output,
    .step = s_b_step,
};

/* Family "gamma": three states, one single-link input, a product output
 * that overflows for large states; init refuses g > 3.5. */
static const tm_var_t s_g_states[] = {{"a", "1", 0.0, -1e300, 1e300, 0, "a"},
                                      {"b", "1", 0.0, -1e300, 1e300, 0, "b"},
                                      {"c", "1", 0.0, -1e300, 1e300, 0, "c"}};
static const tm_var_t s_g_inputs[] = {
    {"s", "1", 0.0, -1e6, 1e6, 0, "single link"}};
static const tm_var_t s_g_outputs[] = {{"y", "1", 0, 0, 0, 0, "a*b + c"}};
static const tm_var_t s_g_params[] = {{"g", "1", 1.0, 0.0, 4.0, 0, "gain"}};

static int s_g_init(const double *p, double *x)
{
    if (p[0] > 3.5) {
        return TM_STEP_FAILED;
    }
    x[0] = 1.0;
    x[1] = p[0];
    x[2] = 0.5;
    return TM_STEP_OK;
}

static void s_g_output(size_t n, const double *x, const double *p,
                       const double *u, double *y)
{
    (void)p;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[3 * i] * x[3 * i + 1] + x[3 * i + 2];
    }
}

static void s_g_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                     const double *p, const double *u, double *y, uint8_t *st)
{
    (void)st;
    for (size_t i = 0; i < n; i++) {
        double *xi = x + 3 * i;
        double a = xi[0], b = xi[1], c = xi[2];
        xi[0] = b + u[i] * ctx->h;
        xi[1] = c * p[i];
        xi[2] = a - 0.5 * b;
    }
    s_g_output(n, x, p, u, y);
}

static const tm_model_t s_gamma = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "gamma",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "product",
    .states = s_g_states,
    .n_states = 3,
    .inputs = s_g_inputs,
    .n_inputs = 1,
    .outputs = s_g_outputs,
    .n_outputs = 1,
    .params = s_g_params,
    .n_params = 1,
    .init = s_g_init,
    .output = s_g_output,
    .step = s_g_step,
};

static const tm_model_t *const s_models[] = {&s_ahi,  &s_alo,   &s_amed,
                                             &s_beta, &s_gamma, &s_bad};
#define S_N_MODELS (sizeof s_models / sizeof s_models[0])

static const char *const s_out_names[] = {"y", "q", "nope"};
static const char *const s_in_names[] = {"u", "w", "z", "s", "y"};
static const char *const s_set_names[] = {"k", "lim", "p", "g",   "x", "v",
                                          "c", "e",   "a", "b",   "u", "w",
                                          "z", "s",   "y", "nope"};

#endif
