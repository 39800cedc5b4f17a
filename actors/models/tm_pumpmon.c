/* tm_pumpmon: the monitoring twin of a motor-pump set with eight measured
 * signals (vibration at two points, motor current, voltage and body
 * temperature, loop pressure, fluid temperature, flow).
 *
 * Each signal is estimated by a local-level Kalman filter: its normal
 * level b follows a random walk, the measurement is b plus white noise of
 * standard deviation sd. The filter's steady gain is set by a time
 * constant tau (the level follows slow drift over a few tau) through the
 * process noise q = sd^2 a^2 / (1 - a), a = 1 - exp(-dt / tau). The time
 * constant is the physics of the signal's class (S_SIGNALS): current,
 * pressure, voltage and flow describe the operating point of a pump at
 * constant speed, which moves only with the slow thermal state of the
 * loop, so their levels follow it with tau_h (much longer than a fault:
 * a closure of minutes is not learnt as drift); vibration and the two
 * temperatures drift faster (wear, warming) and follow tau_b. Every
 * innovation z = (m - b) / sd feeds an
 * exponentially weighted mean e (time constant tau_d): a fault is a run
 * of innovations of one sign, which e accumulates while white noise
 * averages out. The anomaly score is mean_j (e_j / su_j)^2 / thr, where
 * su_j is the spread of e_j in normal operation and thr the calibrated
 * threshold. The temperatures are slow covariates (warming and cooling
 * follow the load and the room over tens of minutes to hours, not a
 * fault of the pump), so their level is not in that mean and is never
 * frozen; what a fault does to them is to make them rise faster than the
 * set's own heat can: their e_j (a mean over S_TAU_R of nu / sd, with nu
 * = rate x tau_b on a ramp) is a rate, and the score is the larger of
 * the mean and (max(e_j, 0) / su_j)^2, su_j being the rise that alarms
 * (S_RATE_MARGIN x the RMS rate of calibration, at least a floor per
 * signal). The alarm rises when the score passes 1 and clears when it
 * falls below k_off (hysteresis). While the |e| / su of a signal other than
 * a temperature is over `gate` its level is frozen (it does not learn the fault
 * as normal), and its uncertainty grows as it does for a missing sample.
 * A vibration's level wanders by a few per cent in normal operation, far
 * more than its noise: only the part of its e beyond S_VIB_BAND of the
 * level is scored and gates it (s_dev).
 *
 * Tiers: high is the estimator with the detector; low the estimator alone
 * (score 0, no alarm), the fallback when detection is not trusted. Both
 * share states, so a tier change keeps the estimates.
 *
 * calibrate fits mu, sd, su and thr to a training window of normal
 * operation (docs/models.md). Pure: no clock, no global state.
 */
#include "tm_models_int.h"

#include "tm_err.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NSIG 8u

/* Per signal: measured input j, estimate output j, sd output 8 + j. */
enum { O_SCORE = 2 * S_NSIG, O_ALARM, S_NOUTPUTS };
/* States: level 0..7, variance 8..15, detector mean 16..23, then: */
enum { S_ALARM = 3 * S_NSIG, S_NSTATES };
/* Params: mu 0..7, sd 8..15, su 16..23, then: */
enum {
    P_TAU_B = 3 * S_NSIG,
    P_TAU_H,
    P_TAU_D,
    P_GATE,
    P_THR,
    P_K_OFF,
    P_MARGIN,
    P_SET,
    S_NPARAMS
};
#define S_NINPUTS S_NSIG

/* Calibration: rows before this many are the filters' warm-up and do not
 * enter su and thr (a quarter of the window when it is shorter). */
#define S_WARMUP   100u
#define S_MIN_ROWS 40u
/* Quantile of the training score that, times margin, is the threshold. */
#define S_QUANTILE 0.99
/* Temperatures: time constant (s) of the mean that turns their innovation
 * into a rate (the level follows tau_b, so nu / tau_b is the rate of the
 * smoothed temperature; this mean removes the noise of tens of seconds),
 * and the rise rate that alarms as a multiple of the RMS rate of the
 * training window (an order of magnitude: warming and cooling of the
 * window pass, a heat source that the set does not have does not). */
#define S_TAU_R       30.0
#define S_RATE_MARGIN 10.0
/* Vibration: the change of its RMS level, as a fraction of the level,
 * that is still normal wander (mounting, wear, the loop's state move it
 * by several per cent over hours, which a training window of minutes
 * cannot show; the faults vibration shows, imbalance, misalignment,
 * cavitation, bearings, change it by tens of per cent and more). Only
 * the part of a vibration's detector mean beyond it is scored and gates
 * the level; calibration fits su and thr without it (the statistics of
 * the window's noise). */
#define S_VIB_BAND 0.05

#define U TMI_UNBOUNDED

/* Class of a signal: how its normal level drifts (file comment). */
typedef enum {
    S_VIB,     /* vibration: wear, mounting; follows tau_b */
    S_HYD,     /* operating point at constant speed; follows tau_h */
    S_THERMAL, /* temperature: follows tau_b, only a fast rise is scored */
} s_class_t;

/* Signal table: name, SI unit, documentation, typical sd (default), the
 * range a measurement must be in (the data contract's plausibility
 * check: beyond it a sensor is broken, not the pump), class, and for a
 * temperature the least rise rate (K/s) calibration lets alarm: above
 * what the set's own heat gives (a motor warms over tens of minutes, the
 * loop over hours), below an external heat source or a stalled motor. */
#define S_SIGNALS(X)                                                           \
    X(vib1, "m/s^2", "vibration (RMS acceleration), drive end", 0.01, 0.0,     \
      2000.0, S_VIB, 0.0)                                                      \
    X(vib2, "m/s^2", "vibration (RMS acceleration), pump end", 0.01, 0.0,      \
      2000.0, S_VIB, 0.0)                                                      \
    X(current, "A", "motor current", 0.5, -1e5, 1e5, S_HYD, 0.0)               \
    X(pressure, "Pa", "loop pressure after the pump (gauge)", 2e4, -1.1e5,     \
      1e9, S_HYD, 0.0)                                                         \
    X(t_motor, "degC", "motor body temperature", 0.5, -100.0, 1000.0,          \
      S_THERMAL, 1e-2)                                                         \
    X(t_fluid, "degC", "fluid temperature in the loop", 0.05, -100.0, 1000.0,  \
      S_THERMAL, 1e-3)                                                         \
    X(voltage, "V", "motor voltage", 10.0, -1e6, 1e6, S_HYD, 0.0)              \
    X(flow, "m^3/s", "circulation flow", 1e-5, -1e3, 1e3, S_HYD, 0.0)

static const s_class_t s_class[S_NSIG] = {
#define X(n, u, d, s, lo, hi, c, rf) c,
    S_SIGNALS(X)
#undef X
};

static const double s_rate_floor[S_NSIG] = {
#define X(n, u, d, s, lo, hi, c, rf) rf,
    S_SIGNALS(X)
#undef X
};

static const tm_var_t s_inputs[S_NINPUTS] = {
#define X(n, u, d, s, lo, hi, c, rf)                                           \
    {#n, u, 0.0, lo, hi, TM_VAR_MEASURED, "measured " d},
    S_SIGNALS(X)
#undef X
};

static const tm_var_t s_outputs[S_NOUTPUTS] = {
#define X(n, u, d, s, lo, hi, c, rf) {#n, u, 0.0, -U, U, 0, "estimated " d},
    S_SIGNALS(X)
#undef X
#define X(n, u, d, s, lo, hi, c, rf)                                           \
    {#n "_sd", u, 0.0, 0.0, U, 0, "standard deviation of the next " #n},
        S_SIGNALS(X)
#undef X
            {"score", "1", 0.0, 0.0, U, 0,
             "anomaly score (1: the alarm threshold)"},
    {"alarm", "1", 0.0, 0.0, 1.0, 0, "1 while the detector alarms"},
};

static const tm_var_t s_states[S_NSTATES] = {
#define X(n, u, d, s, lo, hi, c, rf)                                           \
    {"b_" #n, u, 0.0, -U, U, 0, "normal level of " #n},
    S_SIGNALS(X)
#undef X
#define X(n, u, d, s, lo, hi, c, rf)                                           \
    {"p_" #n, u "^2", 0.0, 0.0, U, 0, "variance of the level of " #n},
        S_SIGNALS(X)
#undef X
#define X(n, u, d, s, lo, hi, c, rf)                                           \
    {"e_" #n, "1", 0.0, -U, U, 0, "mean recent innovation of " #n},
            S_SIGNALS(X)
#undef X
                {"alarm", "1", 0.0, 0.0, 1.0, 0, "detector alarm"},
};

static const tm_var_t s_params[S_NPARAMS] = {
#define X(n, u, d, s, lo, hi, c, rf)                                           \
    {"mu_" #n, u, 0.0, -U, U, 0, "initial level of " #n},
    S_SIGNALS(X)
#undef X
#define X(n, u, d, s, lo, hi, c, rf)                                           \
    {"sd_" #n, u, s, 1e-300, U, 0, "measurement noise of " #n},
        S_SIGNALS(X)
#undef X
#define X(n, u, d, s, lo, hi, c, rf)                                           \
    {"su_" #n,                                                                 \
     "1",                                                                      \
     0.0,                                                                      \
     0.0,                                                                      \
     U,                                                                        \
     0,                                                                        \
     "normal spread of the mean innovation of " #n                             \
     " (a temperature: the rise that alarms; 0: not scored)"},
            S_SIGNALS(X)
#undef X
                {"tau_b", "s", 100.0, 1e-3, 1e9, 0,
                 "time constant of the drift of vibration and temperatures"},
    {"tau_h", "s", 1000.0, 1e-3, 1e9, 0,
     "time constant of the drift of current, pressure, voltage and flow"},
    {"tau_d", "s", 5.0, 1e-3, 1e9, 0, "time constant of the detector"},
    {"gate", "1", 8.0, 0.0, U, 0,
     "|mean innovation| / su over which a level is frozen (vibration: "
     "beyond its band)"},
    {"thr", "1", 1.0, 1e-300, U, 0, "threshold of the mean squared score"},
    {"k_off", "1", 0.28, 0.0, 1.0, 0, "score under which the alarm clears"},
    {"margin", "1", 2.5, 1.0, 1e6, 0,
     "calibration: threshold / 99th percentile of normal scores"},
    {"paramset", "1", 0.0, 0.0, 1e15, 0,
     "number of the calibration (params@N; 0: defaults)"},
};

static int s_init(const double *params, double *state)
{
    for (unsigned j = 0; j < S_NSIG; j++) {
        double sd = params[S_NSIG + j];
        state[j] = params[j];
        state[S_NSIG + j] = sd * sd;
        state[2 * S_NSIG + j] = 0.0;
    }
    state[S_ALARM] = 0.0;
    return tmi_all_finite(state, S_NSTATES) ? TM_STEP_OK : TM_STEP_FAILED;
}

/* Detector mean of signal j; of a vibration, when banded, only its part
 * beyond S_VIB_BAND of the level (in units of sd, as the mean). */
static double s_dev(const double *st, const double *p, unsigned j, bool banded)
{
    double e = st[2 * S_NSIG + j];
    if (!banded || s_class[j] != S_VIB) {
        return e;
    }
    double band = S_VIB_BAND * fabs(st[j]) / p[S_NSIG + j];
    if (!isfinite(band) || !isfinite(e)) {
        return e; /* a broken state shows as it is, not as no deviation */
    }
    return copysign(fmax(fabs(e) - band, 0.0), e);
}

/* Score of the operating point and vibration: the mean squared detector
 * mean over thr (0 when none is scored); banded: vibration beyond its
 * band only (s_dev). */
static double s_score_mean(const double *st, const double *p, bool banded)
{
    double sum = 0.0;
    unsigned k = 0;
    for (unsigned j = 0; j < S_NSIG; j++) {
        double su = p[2 * S_NSIG + j];
        if (s_class[j] != S_THERMAL && su > 0.0) {
            double u = s_dev(st, p, j, banded) / su;
            sum += u * u;
            k++;
        }
    }
    return k > 0 ? sum / (double)k / p[P_THR] : 0.0;
}

/* Score of one actor: the larger of the mean score and, for each watched
 * temperature, its rise rate over the rate that alarms, squared (a fall
 * does not count: the faults a temperature shows add heat). */
static double s_score(const double *st, const double *p)
{
    double score = s_score_mean(st, p, true);
    for (unsigned j = 0; j < S_NSIG; j++) {
        double su = p[2 * S_NSIG + j];
        if (s_class[j] == S_THERMAL && su > 0.0) {
            double u = fmax(st[2 * S_NSIG + j], 0.0) / su;
            score = fmax(score, u * u);
        }
    }
    return score;
}

static void s_output1(const double *st, const double *p, bool detect, double *o)
{
    for (unsigned j = 0; j < S_NSIG; j++) {
        double sd = p[S_NSIG + j];
        o[j] = st[j];
        o[S_NSIG + j] = sqrt(st[S_NSIG + j] + sd * sd);
    }
    o[O_SCORE] = detect ? s_score(st, p) : 0.0;
    o[O_ALARM] = detect ? st[S_ALARM] : 0.0;
}

static void s_output_high(size_t n, const double *state, const double *params,
                          const double *inputs, double *outputs)
{
    (void)inputs;
    for (size_t i = 0; i < n; i++) {
        s_output1(state + i * S_NSTATES, params + i * S_NPARAMS, true,
                  outputs + i * S_NOUTPUTS);
    }
}

static void s_output_low(size_t n, const double *state, const double *params,
                         const double *inputs, double *outputs)
{
    (void)inputs;
    for (size_t i = 0; i < n; i++) {
        s_output1(state + i * S_NSTATES, params + i * S_NPARAMS, false,
                  outputs + i * S_NOUTPUTS);
    }
}

/* One filter and detector update of one actor over dt seconds; m holds
 * the measurements (NaN: missing). gated: freeze levels whose detector
 * mean is over the gate (off while calibrating). */
static void s_update(double *st, const double *p, const double *m, double dt,
                     bool gated, bool detect)
{
    double ab_b = -expm1(-dt / p[P_TAU_B]);
    double ab_h = -expm1(-dt / p[P_TAU_H]);
    double ad_d = -expm1(-dt / p[P_TAU_D]);
    double ad_r = -expm1(-dt / S_TAU_R);
    for (unsigned j = 0; j < S_NSIG; j++) {
        double ab = s_class[j] == S_HYD ? ab_h : ab_b;
        bool thermal = s_class[j] == S_THERMAL;
        double ad = thermal ? ad_r : ad_d;
        double sd = p[S_NSIG + j];
        double r = sd * sd;
        double *b = &st[j];
        double *var = &st[S_NSIG + j];
        double *e = &st[2 * S_NSIG + j];
        double pv = *var + r * ab * ab / (1.0 - ab);
        if (!isfinite(m[j])) {
            *var = pv;
            *e *= 1.0 - ad;
            continue;
        }
        double nu = m[j] - *b;
        *e += ad * (nu / sd - *e);
        double su = p[2 * S_NSIG + j];
        if (gated && !thermal && su > 0.0 &&
            fabs(s_dev(st, p, j, true)) >= p[P_GATE] * su) {
            *var = pv;
            continue;
        }
        double k = pv / (pv + r);
        *b += k * nu;
        *var = (1.0 - k) * pv;
    }
    if (detect) {
        double score = s_score(st, p);
        if (st[S_ALARM] == 0.0 && score > 1.0) {
            st[S_ALARM] = 1.0;
        } else if (st[S_ALARM] != 0.0 && score < p[P_K_OFF]) {
            st[S_ALARM] = 0.0;
        }
    } else {
        st[S_ALARM] = 0.0;
    }
}

static void s_step_any(const tm_step_ctx_t *ctx, size_t n, double *state,
                       const double *params, const double *inputs,
                       double *outputs, uint8_t *status, bool detect)
{
    for (size_t i = 0; i < n; i++) {
        double *st = state + i * S_NSTATES;
        const double *p = params + i * S_NPARAMS;
        s_update(st, p, inputs + i * S_NINPUTS, ctx->h, true, detect);
        s_output1(st, p, detect, outputs + i * S_NOUTPUTS);
        status[i] =
            tmi_all_finite(st, S_NSTATES) ? TM_STEP_OK : TM_STEP_NONFINITE;
    }
}

static void s_step_high(const tm_step_ctx_t *ctx, size_t n, double *state,
                        const double *params, const double *inputs,
                        double *outputs, uint8_t *status)
{
    s_step_any(ctx, n, state, params, inputs, outputs, status, true);
}

static void s_step_low(const tm_step_ctx_t *ctx, size_t n, double *state,
                       const double *params, const double *inputs,
                       double *outputs, uint8_t *status)
{
    s_step_any(ctx, n, state, params, inputs, outputs, status, false);
}

/* ---- calibration --------------------------------------------------------- */

/* Initial level (mean of the first rows) and noise (standard deviation)
 * of each signal in the window. */
static int s_fit_levels(size_t n, const double *rows, double *p, double *buf,
                        char *why, size_t cap)
{
    static const char *const names[S_NSIG] = {
#define X(nm, u, d, s, lo, hi, c, rf) #nm,
        S_SIGNALS(X)
#undef X
    };
    size_t head = n < 240 ? n / 4 : 60; /* initial level: the first rows */
    for (unsigned j = 0; j < S_NSIG; j++) {
        size_t k = 0;
        size_t kh = 0;
        for (size_t r = 0; r < n; r++) {
            double v = rows[r * S_NINPUTS + j];
            if (isfinite(v)) {
                buf[k++] = v;
                kh += r < head;
            }
        }
        if (k < n / 2 || kh == 0) {
            snprintf(why, cap,
                     "signal %s measured in %zu of %zu rows of the window "
                     "(at least half, and one of the first %zu, needed)",
                     names[j], k, n, head);
            return TM_ERR_INVAL;
        }
        double mean = gsl_stats_mean(buf, 1, k);
        double sd = k > 1 ? gsl_stats_sd_m(buf, 1, k, mean) : 0.0;
        p[j] = gsl_stats_mean(buf, 1, kh);
        p[S_NSIG + j] = fmax(sd, 1e-9 + 1e-6 * fabs(mean));
    }
    return 0;
}

/* Fit mu and sd, run the ungated filter over the window (its state is
 * where the twin continues), take su from its detector means after the
 * warm-up and thr from their score. For a temperature su is the rise
 * that alarms: S_RATE_MARGIN x the RMS of its detector mean, and at least
 * the signal's rate floor (e = nu / sd and nu = rate x tau_b on a ramp). */
static int s_calibrate(double dt, size_t n, const double *rows, double *p,
                       double *state, char *why, size_t cap)
{
    if (n < S_MIN_ROWS) {
        snprintf(why, cap, "a window of %zu rows is too short (at least %u)", n,
                 S_MIN_ROWS);
        return TM_ERR_INVAL;
    }
    double *buf = malloc(n * sizeof *buf);
    double *es = malloc(n * S_NSIG * sizeof *es);
    if (buf == NULL || es == NULL) {
        free(buf);
        free(es);
        return TM_ERR_NOMEM;
    }
    int rc = s_fit_levels(n, rows, p, buf, why, cap);
    size_t warm = n < 4 * S_WARMUP ? n / 4 : S_WARMUP;
    if (rc == 0) {
        s_init(p, state);
        for (size_t r = 0; r < n; r++) {
            s_update(state, p, rows + r * S_NINPUTS, dt, false, false);
            memcpy(es + r * S_NSIG, state + 2 * S_NSIG,
                   S_NSIG * sizeof(double));
        }
        for (unsigned j = 0; j < S_NSIG; j++) {
            double ss = 0.0;
            for (size_t r = warm; r < n; r++) {
                ss += es[r * S_NSIG + j] * es[r * S_NSIG + j];
            }
            double rms = sqrt(ss / (double)(n - warm)) + 1e-12;
            p[2 * S_NSIG + j] =
                s_class[j] == S_THERMAL
                    ? fmax(S_RATE_MARGIN * rms,
                           s_rate_floor[j] * p[P_TAU_B] / p[S_NSIG + j])
                    : rms;
        }
        /* Threshold: margin x the 99th percentile of the training score. */
        p[P_THR] = 1.0;
        for (size_t r = warm; r < n; r++) {
            double st[S_NSTATES] = {0};
            memcpy(st + 2 * S_NSIG, es + r * S_NSIG, S_NSIG * sizeof(double));
            buf[r - warm] = s_score_mean(st, p, false);
        }
        gsl_sort(buf, 1, n - warm);
        double q =
            gsl_stats_quantile_from_sorted_data(buf, 1, n - warm, S_QUANTILE);
        p[P_THR] = fmax(q, 1e-12) * p[P_MARGIN];
        p[P_SET] += 1.0;
        state[S_ALARM] = 0.0;
    }
    free(buf);
    free(es);
    return rc;
}

#define S_MODEL(tier, text, output_fn, step_fn)                                \
    {                                                                          \
        .abi_version = TM_MODEL_ABI_VERSION,                                   \
        .struct_size = sizeof(tm_model_t), .family = "pumpmon",                \
        .version = "1.2.0", .fidelity = (tier), .summary = (text),             \
        .states = s_states, .n_states = S_NSTATES, .inputs = s_inputs,         \
        .n_inputs = S_NINPUTS, .outputs = s_outputs, .n_outputs = S_NOUTPUTS,  \
        .params = s_params, .n_params = S_NPARAMS, .init = s_init,             \
        .output = (output_fn), .step = (step_fn), .map_state = NULL,           \
        .estimate = NULL, .calibrate = s_calibrate,                            \
    }

const tm_model_t tmi_pumpmon_high =
    S_MODEL(TM_FIDELITY_HIGH,
            "motor-pump monitor: Kalman levels of 8 signals and an anomaly "
            "detector",
            s_output_high, s_step_high);
const tm_model_t tmi_pumpmon_low =
    S_MODEL(TM_FIDELITY_LOW,
            "motor-pump monitor: Kalman levels of 8 signals, no detector",
            s_output_low, s_step_low);
