/* tm_ode: an adaptive, error-controlled explicit Runge-Kutta integrator
 * (Dormand-Prince 5(4)) for the models of the library.
 *
 * Pure and deterministic: no allocation, no globals, the same arguments
 * give bit-identical results. The state lives on the caller's stack (at
 * most TM_ODE_MAX_DIM components). Local extrapolation: the 5th-order
 * solution is propagated, the embedded 4th-order one only estimates the
 * error. Explicit, so stiff systems cost many steps: the controller then
 * runs into max_steps or h_min and the call gives up, which is the cue for
 * the supervisor to drop the actor to a lower tier.
 */
#ifndef TM_ODE_H_INCLUDED
#define TM_ODE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define TM_ODE_MAX_DIM 16u

/* dydt = f(t, y). ctx is the caller's (parameters and inputs). Must write
 * all n components of dydt and may not keep pointers. */
typedef void (*tm_ode_rhs_t)(double t, const double *y, double *dydt,
                             const void *ctx);

typedef struct {
    double rtol;        /* relative tolerance, > 0 */
    double atol_all;    /* absolute tolerance of every component, >= 0 */
    const double *atol; /* or per component (n values); NULL: atol_all */
    double h_init;      /* first trial step (s); <= 0: the whole span */
    double h_min;       /* the controller gives up below this step (s) */
    uint32_t max_steps; /* attempted steps per call (accepted + rejected) */
} tm_ode_opts_t;

typedef struct {
    uint32_t accepted;  /* steps accepted */
    uint32_t rejected;  /* steps rejected by the error test */
    uint32_t rhs_evals; /* calls of f */
    double h_next;      /* step the controller would try next (s) */
} tm_ode_stats_t;

/* Integrate y from t0 to t1 (t1 >= t0) in place. Returns a
 * tm_step_status_t: TM_STEP_OK; TM_STEP_SOLVER_GAVE_UP when the proposed
 * step falls below opts->h_min before t1 is reached or max_steps are
 * used up; TM_STEP_NONFINITE when the result is not finite;
 * TM_STEP_FAILED for bad arguments (n == 0 or > TM_ODE_MAX_DIM, rtol <= 0,
 * t1 < t0, non-finite times). On any status but TM_STEP_OK, y is left
 * unchanged. stats may be NULL. The last step is shortened to land on t1
 * exactly; that shortening never counts as a collapse. */
int tm_ode_dopri5(tm_ode_rhs_t f, const void *ctx, size_t n, double *y,
                  double t0, double t1, const tm_ode_opts_t *opts,
                  tm_ode_stats_t *stats);

#endif
