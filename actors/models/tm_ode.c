/* tm_ode: Dormand-Prince 5(4) with an elementary step-size controller. */
#include "tm_ode.h"

#include "tm_model.h" /* tm_step_status_t */

#include <math.h>   /* fabs, sqrt, pow, isfinite */
#include <string.h> /* memcpy */

/* Butcher tableau of Dormand and Prince (1980), the 5th-order weights are
 * the last row of a (first same as last); e = b5 - b4 gives the error. */
static const double s_c2 = 1.0 / 5.0, s_c3 = 3.0 / 10.0, s_c4 = 4.0 / 5.0,
                    s_c5 = 8.0 / 9.0;
static const double s_a21 = 1.0 / 5.0;
static const double s_a31 = 3.0 / 40.0, s_a32 = 9.0 / 40.0;
static const double s_a41 = 44.0 / 45.0, s_a42 = -56.0 / 15.0,
                    s_a43 = 32.0 / 9.0;
static const double s_a51 = 19372.0 / 6561.0, s_a52 = -25360.0 / 2187.0,
                    s_a53 = 64448.0 / 6561.0, s_a54 = -212.0 / 729.0;
static const double s_a61 = 9017.0 / 3168.0, s_a62 = -355.0 / 33.0,
                    s_a63 = 46732.0 / 5247.0, s_a64 = 49.0 / 176.0,
                    s_a65 = -5103.0 / 18656.0;
static const double s_a71 = 35.0 / 384.0, s_a73 = 500.0 / 1113.0,
                    s_a74 = 125.0 / 192.0, s_a75 = -2187.0 / 6784.0,
                    s_a76 = 11.0 / 84.0;
static const double s_e1 = 71.0 / 57600.0, s_e3 = -71.0 / 16695.0,
                    s_e4 = 71.0 / 1920.0, s_e5 = -17253.0 / 339200.0,
                    s_e6 = 22.0 / 525.0, s_e7 = -1.0 / 40.0;

/* Controller: h_new = h * clamp(safety * err^(-1/5), fac_min, fac_max). */
#define S_SAFETY  0.9
#define S_FAC_MIN 0.2
#define S_FAC_MAX 5.0

static int s_opts_ok(size_t n, double t0, double t1, const tm_ode_opts_t *o)
{
    return n > 0 && n <= TM_ODE_MAX_DIM && o != NULL && o->rtol > 0.0 &&
           isfinite(o->rtol) && o->atol_all >= 0.0 && isfinite(t0) &&
           isfinite(t1) && t1 >= t0 && !(o->h_min < 0.0);
}

int tm_ode_dopri5(tm_ode_rhs_t f, const void *ctx, size_t n, double *y,
                  double t0, double t1, const tm_ode_opts_t *opts,
                  tm_ode_stats_t *stats)
{
    tm_ode_stats_t st = {0, 0, 0, 0.0};
    int rc = TM_STEP_OK;
    if (f == NULL || y == NULL || !s_opts_ok(n, t0, t1, opts)) {
        rc = TM_STEP_FAILED;
        goto done;
    }
    double yc[TM_ODE_MAX_DIM], yt[TM_ODE_MAX_DIM], y1[TM_ODE_MAX_DIM];
    double k1[TM_ODE_MAX_DIM], k2[TM_ODE_MAX_DIM], k3[TM_ODE_MAX_DIM];
    double k4[TM_ODE_MAX_DIM], k5[TM_ODE_MAX_DIM], k6[TM_ODE_MAX_DIM];
    double k7[TM_ODE_MAX_DIM];
    memcpy(yc, y, n * sizeof yc[0]);

    double t = t0;
    double h = opts->h_init > 0.0 ? opts->h_init : t1 - t0;
    int reject_last = 0;
    if (t1 > t0) {
        f(t, yc, k1, ctx);
        st.rhs_evals++;
    }
    while (t < t1) {
        if (st.accepted + st.rejected >= opts->max_steps) {
            rc = TM_STEP_SOLVER_GAVE_UP;
            goto done;
        }
        double rest = t1 - t;
        if (h < opts->h_min && rest > opts->h_min) {
            rc = TM_STEP_SOLVER_GAVE_UP;
            goto done;
        }
        /* Land on t1 exactly; also avoid leaving a sliver behind. */
        int last = h >= rest || rest - h < 1e-12 * rest;
        double hs = last ? rest : h;

        for (size_t i = 0; i < n; i++) {
            yt[i] = yc[i] + hs * (s_a21 * k1[i]);
        }
        f(t + s_c2 * hs, yt, k2, ctx);
        for (size_t i = 0; i < n; i++) {
            yt[i] = yc[i] + hs * (s_a31 * k1[i] + s_a32 * k2[i]);
        }
        f(t + s_c3 * hs, yt, k3, ctx);
        for (size_t i = 0; i < n; i++) {
            yt[i] =
                yc[i] + hs * (s_a41 * k1[i] + s_a42 * k2[i] + s_a43 * k3[i]);
        }
        f(t + s_c4 * hs, yt, k4, ctx);
        for (size_t i = 0; i < n; i++) {
            yt[i] = yc[i] + hs * (s_a51 * k1[i] + s_a52 * k2[i] +
                                  s_a53 * k3[i] + s_a54 * k4[i]);
        }
        f(t + s_c5 * hs, yt, k5, ctx);
        for (size_t i = 0; i < n; i++) {
            yt[i] =
                yc[i] + hs * (s_a61 * k1[i] + s_a62 * k2[i] + s_a63 * k3[i] +
                              s_a64 * k4[i] + s_a65 * k5[i]);
        }
        double t_new = last ? t1 : t + hs;
        f(t_new, yt, k6, ctx);
        for (size_t i = 0; i < n; i++) {
            y1[i] =
                yc[i] + hs * (s_a71 * k1[i] + s_a73 * k3[i] + s_a74 * k4[i] +
                              s_a75 * k5[i] + s_a76 * k6[i]);
        }
        f(t_new, y1, k7, ctx);
        st.rhs_evals += 6;

        double sum = 0.0;
        for (size_t i = 0; i < n; i++) {
            double e = hs * (s_e1 * k1[i] + s_e3 * k3[i] + s_e4 * k4[i] +
                             s_e5 * k5[i] + s_e6 * k6[i] + s_e7 * k7[i]);
            double a = opts->atol != NULL ? opts->atol[i] : opts->atol_all;
            double ya = fabs(yc[i]), yb = fabs(y1[i]);
            double sc = a + opts->rtol * (ya > yb ? ya : yb);
            double r = e / sc;
            sum += r * r;
        }
        double err = sqrt(sum / (double)n);

        double fac;
        if (!isfinite(err)) {
            /* Overflow or NaN in a trial stage: reject, shrink hard. */
            fac = S_FAC_MIN;
            err = 2.0;
        } else if (err == 0.0) {
            fac = S_FAC_MAX;
        } else {
            fac = S_SAFETY * pow(err, -0.2);
            fac = fac < S_FAC_MIN ? S_FAC_MIN : fac;
            fac = fac > S_FAC_MAX ? S_FAC_MAX : fac;
        }
        if (err <= 1.0) {
            st.accepted++;
            t = t_new;
            memcpy(yc, y1, n * sizeof yc[0]);
            memcpy(k1, k7, n * sizeof k1[0]); /* first same as last */
            if (reject_last && fac > 1.0) {
                fac = 1.0; /* no growth right after a rejection */
            }
            reject_last = 0;
            /* A shortened last step says nothing about the right size. */
            h = (last && hs < h) ? h : hs * fac;
        } else {
            st.rejected++;
            reject_last = 1;
            h = hs * (fac < 1.0 ? fac : S_FAC_MIN);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(yc[i])) {
            rc = TM_STEP_NONFINITE;
            goto done;
        }
    }
    memcpy(y, yc, n * sizeof yc[0]);
    st.h_next = h;
done:
    if (stats != NULL) {
        *stats = st;
    }
    return rc;
}
