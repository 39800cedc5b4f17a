/* tm_rt_resid: residual checks of the supervisor - a twin whose
 * predictions leave its measurements falls back (see tm_rt.h,
 * "supervision", residuals).
 *
 * Cost. Only groups whose family sets a residual limit, that have measured
 * inputs predicted with a standard deviation, and that have a lower tier
 * are visited: one pass over their actors after the tick, a few
 * comparisons per measured signal. Records are made only for actors over
 * the limit and dropped when they are back under it.
 *
 * Determinism. The test reads the step's samples (its measured inputs)
 * and the actor's outputs of the step before, nothing else.
 */
#include "tm_rt_int.h"

#include <math.h>
#include <string.h>

/* Output X that predicts measured input X and has an output X_sd. */
static void s_map(tmi_rt_group_t *g)
{
    const tm_model_t *m = g->model;
    g->r_done = true;
    g->n_r = 0;
    for (uint32_t j = 0; j < m->n_outputs; j++) {
        int in = -1;
        int sd = -1;
        for (uint32_t i = 0; i < m->n_inputs; i++) {
            if ((m->inputs[i].flags & TM_VAR_MEASURED) &&
                strcmp(m->inputs[i].name, m->outputs[j].name) == 0) {
                in = (int)i;
            }
        }
        size_t len = strlen(m->outputs[j].name);
        for (uint32_t o = 0; in >= 0 && o < m->n_outputs; o++) {
            const char *n = m->outputs[o].name;
            if (strncmp(n, m->outputs[j].name, len) == 0 &&
                strcmp(n + len, "_sd") == 0) {
                sd = (int)o;
            }
        }
        if (in >= 0 && sd >= 0) {
            g->r_out[g->n_r] = (uint8_t)j;
            g->r_in[g->n_r] = (uint8_t)in;
            g->r_sd[g->n_r] = (uint8_t)sd;
            g->n_r++;
        }
    }
}

bool tmi_rt_resid_pairs(tmi_rt_group_t *g)
{
    if (!g->r_done) {
        s_map(g);
    }
    return g->n_r > 0;
}

double tmi_rt_resid(const tmi_rt_group_t *g, const double *in, const double *y)
{
    double worst = NAN;
    for (uint8_t i = 0; i < g->n_r; i++) {
        double m = in[g->r_in[i]];
        double sd = y[g->r_sd[i]];
        if (isnan(m) || !(sd > 0.0) || !isfinite(sd)) {
            continue; /* no sample, or no uncertainty stated */
        }
        double z = fabs(m - y[g->r_out[i]]) / sd;
        if (isnan(worst) || z > worst) {
            worst = z;
        }
    }
    return worst;
}

bool tmi_rt_resid_policy(const tm_rt_t *rt, const tm_model_t *m,
                         tm_rt_policy_t *p)
{
    memset(p, 0, sizeof *p);
    rt->sup_cfg.policy(m, p, rt->sup_cfg.arg);
    if (p->residual_steps == 0) {
        p->residual_steps = 1;
    }
    return p->residual_limit > 0.0 && isfinite(p->residual_limit);
}

/* Actor at slot s of g, stepped at tick k with outputs out[0] from out[1]:
 * its residual run goes on or ends; at the limit the step is undone and
 * noted as a fault. */
static void s_check(tm_rt_t *rt, tmi_rt_group_t *g, size_t s, uint64_t k,
                    const tm_rt_policy_t *p)
{
    uint32_t a = g->actor[s];
    tmi_rt_sup_t *sp = tmi_rt_sup_find(rt, a);
    if (sp != NULL && sp->pinned) {
        return;
    }
    double z = tmi_rt_resid(g, g->in + s * g->ni, g->out[1] + s * g->no);
    if (isnan(z)) {
        return; /* no sample in this step: the run neither grows nor ends */
    }
    if (!(z > p->residual_limit)) {
        if (sp != NULL && sp->resid_run > 0) {
            sp->resid_run = 0;
            tmi_rt_sup_tidy(rt, a);
        }
        return;
    }
    sp = tmi_rt_sup_make(rt, a);
    if (sp == NULL) {
        return; /* no memory: not counted */
    }
    if (++sp->resid_run < p->residual_steps) {
        return;
    }
    sp->resid_run = 0;
    /* As for a fault in the step: the state and outputs of the tick before,
     * then the fallback steps the lower tier on the same inputs. */
    memcpy(g->state + s * g->ns, g->prev + s * g->ns, g->ns * sizeof(double));
    memcpy(g->out[0] + s * g->no, g->out[1] + s * g->no,
           g->no * sizeof(double));
    g->status[s] = TM_STEP_RESIDUAL;
    g->faults[s]++;
    g->last_fault[s] = k;
    tmi_rt_note_fault(rt, a);
}

void tmi_rt_resid_check(tm_rt_t *rt, uint64_t k)
{
    for (size_t gi = 0; gi < rt->n_groups; gi++) {
        tmi_rt_group_t *g = rt->groups[gi];
        if (g == NULL || g->remote || g->frozen || g->feed == NULL ||
            g->n == 0 || k % g->period != 0 || !tmi_rt_resid_pairs(g)) {
            continue;
        }
        tm_rt_policy_t p;
        if (!tmi_rt_resid_policy(rt, g->model, &p) ||
            tmi_rt_sup_lower(rt, g->model) == NULL) {
            continue;
        }
        /* The fallbacks come after the pass (tmi_rt_supervise): the
         * slots stay put during it. */
        for (size_t s = 0; s < g->n; s++) {
            if (g->status[s] == TM_STEP_OK) {
                s_check(rt, g, s, k, &p);
            }
        }
    }
}
