/* twinmesh-bench: runtime throughput, memory and determinism benchmark.
 *
 *   twinmesh-bench [--actors N] [--ticks T] [--workers W[,W...]]
 *                  [--repeat R] [--delay D] [--check] [--max-overhead BYTES]
 *
 * Scenario "chain": N actors alternating oscillator and spring, coupled as
 * a chain (osc_i.x -> spring_i.xa, osc_{i+1}.x -> spring_i.xb,
 * spring_i.fa -> osc_i.fr, spring_i.fb -> osc_{i+1}.fl), the reference for
 * coupling checks; --delay D gives every link a delay of D ticks (default
 * 1), so the groups keep D + 1 ticks of outputs. For each worker count it
 * reports the median actor-steps
 * per second over R runs of T ticks, the spawn and link rates, the resident
 * memory per actor and the runtime's overhead per actor beyond model state
 * and parameters, and the mesh digest. --check fails (exit 1) when digests
 * differ between worker counts or the overhead exceeds --max-overhead.
 */
#include "tm_err.h"
#include "tm_models.h"
#include "tm_rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#define S_MAX_RUNS 32

typedef struct {
    size_t actors;
    uint64_t ticks;
    unsigned workers[8];
    size_t n_workers;
    int repeat;
    uint32_t delay;
    int check;
    double max_overhead;
} s_opts_t;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size in bytes, from /proc/self/statm; NAN when it cannot
 * be read (the memory check then fails instead of passing on 0). */
static double s_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) {
        return NAN;
    }
    unsigned long size = 0;
    unsigned long rss = 0;
    int n = fscanf(f, "%lu %lu", &size, &rss);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (double)rss * (double)page : NAN;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static int s_usage(void)
{
    fprintf(stderr, "usage: twinmesh-bench [--actors N] [--ticks T] "
                    "[--workers W[,W...]] [--repeat R] [--delay D] "
                    "[--check] [--max-overhead BYTES]\n");
    return 2;
}

static int s_parse(int argc, char **argv, s_opts_t *o)
{
    o->actors = 200000;
    o->ticks = 50;
    o->workers[0] = 1;
    o->workers[1] = 2;
    o->n_workers = 2;
    o->repeat = 5;
    o->delay = 1;
    o->check = 0;
    o->max_overhead = 512.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--check") == 0) {
            o->check = 1;
            continue;
        }
        if (v == NULL) {
            return s_usage();
        }
        i++;
        if (strcmp(a, "--actors") == 0) {
            o->actors = (size_t)strtoull(v, &end, 10);
        } else if (strcmp(a, "--ticks") == 0) {
            o->ticks = strtoull(v, &end, 10);
        } else if (strcmp(a, "--repeat") == 0) {
            o->repeat = (int)strtol(v, &end, 10);
        } else if (strcmp(a, "--delay") == 0) {
            o->delay = (uint32_t)strtoul(v, &end, 10);
        } else if (strcmp(a, "--max-overhead") == 0) {
            o->max_overhead = strtod(v, &end);
        } else if (strcmp(a, "--workers") == 0) {
            o->n_workers = 0;
            const char *p = v;
            while (*p != '\0' && o->n_workers < 8) {
                o->workers[o->n_workers++] = (unsigned)strtoul(p, &end, 10);
                if (end == p) {
                    return s_usage();
                }
                p = *end == ',' ? end + 1 : end;
            }
            end = (char *)p;
        } else {
            return s_usage();
        }
        if (end == NULL || *end != '\0') {
            return s_usage();
        }
    }
    if (o->actors < 2 || o->ticks < 1 || o->repeat < 1 || o->delay < 1 ||
        o->delay > TM_RT_DELAY_MAX || o->repeat > S_MAX_RUNS ||
        o->n_workers == 0) {
        return s_usage();
    }
    return 0;
}

typedef struct {
    double spawn_s;
    double link_s;
    double rss_per_actor;
    double rss_linked_per_actor;
    double overhead_per_actor;
    double steps_per_s[S_MAX_RUNS];
    uint8_t digest[32];
} s_result_t;

static int s_build_chain(tm_rt_t *rt, size_t n, uint32_t d, s_result_t *res)
{
    const tm_model_t *osc = NULL;
    const tm_model_t *spr = NULL;
    int rc = tm_models_find("oscillator", NULL, TM_FIDELITY_HIGH, &osc);
    if (rc == 0) {
        rc = tm_models_find("spring", NULL, TM_FIDELITY_HIGH, &spr);
    }
    if (rc != 0) {
        return rc;
    }
    size_t n_osc = (n + 1) / 2;
    char id[32];
    char other[32];
    double rss0 = s_rss();
    double t0 = s_now();
    for (size_t i = 0; i < n_osc && rc == 0; i++) {
        double params[TM_MODEL_MAX_VARS];
        for (uint32_t p = 0; p < osc->n_params; p++) {
            params[p] = osc->params[p].def;
        }
        /* A deterministic spread of initial displacements. */
        int x0 = tm_model_var_index(osc->params, osc->n_params, "x0");
        if (x0 >= 0) {
            params[x0] = (double)(i % 17) * 0.01;
        }
        tm_rt_spawn_opts_t so = {.params = params};
        snprintf(id, sizeof id, "o%zu", i);
        rc = tm_rt_spawn(rt, id, osc, &so);
    }
    for (size_t i = 0; i + 1 < n_osc && rc == 0 && n_osc + i < n; i++) {
        snprintf(id, sizeof id, "s%zu", i);
        rc = tm_rt_spawn(rt, id, spr, NULL);
    }
    res->spawn_s = s_now() - t0;
    double rss1 = s_rss();
    t0 = s_now();
    for (size_t i = 0; i + 1 < n_osc && rc == 0 && n_osc + i < n; i++) {
        char s[32];
        snprintf(s, sizeof s, "s%zu", i);
        snprintf(id, sizeof id, "o%zu", i);
        snprintf(other, sizeof other, "o%zu", i + 1);
        rc = tm_rt_link_delay(rt, id, "x", s, "xa", d);
        rc = rc ? rc : tm_rt_link_delay(rt, other, "x", s, "xb", d);
        rc = rc ? rc : tm_rt_link_delay(rt, s, "fa", id, "fr", d);
        rc = rc ? rc : tm_rt_link_delay(rt, s, "fb", other, "fl", d);
    }
    res->link_s = s_now() - t0;
    size_t count = tm_rt_count(rt);
    res->rss_per_actor = (rss1 - rss0) / (double)count;
    res->rss_linked_per_actor = (s_rss() - rss0) / (double)count;
    /* Model-owned bytes: state + params of each family, averaged. */
    double model_bytes =
        ((double)n_osc * (osc->n_states + osc->n_params) +
         (double)(count - n_osc) * (spr->n_states + spr->n_params)) *
        8.0 / (double)count;
    res->overhead_per_actor = res->rss_per_actor - model_bytes;
    return rc;
}

static int s_run(const s_opts_t *o, unsigned workers, s_result_t *res)
{
    tm_rt_config_t cfg = {.workers = workers, .h = 1e-3, .seed = 1};
    tm_rt_t *rt = NULL;
    int rc = tm_rt_open(&rt, &cfg);
    if (rc != 0) {
        return rc;
    }
    rc = s_build_chain(rt, o->actors, o->delay, res);
    /* The first tick resolves the coupling plan: keep it out of timing. */
    if (rc == 0) {
        rc = tm_rt_step(rt, 1);
    }
    for (int r = 0; r < o->repeat && rc == 0; r++) {
        double t0 = s_now();
        rc = tm_rt_step(rt, o->ticks);
        double dt = s_now() - t0;
        res->steps_per_s[r] = (double)tm_rt_count(rt) * (double)o->ticks / dt;
    }
    if (rc == 0) {
        rc = tm_rt_digest(rt, res->digest);
    }
    tm_rt_destroy(&rt);
    return rc;
}

int main(int argc, char **argv)
{
    s_opts_t o;
    if (s_parse(argc, argv, &o) != 0) {
        return 2;
    }
    int failed = 0;
    uint8_t first[32];
    printf("scenario chain: %zu actors (oscillator rk4 + spring), links of "
           "delay %u, %llu ticks x %d runs\n",
           o.actors, o.delay, (unsigned long long)o.ticks, o.repeat);
    for (size_t w = 0; w < o.n_workers; w++) {
        s_result_t res;
        memset(&res, 0, sizeof res);
        int rc = s_run(&o, o.workers[w], &res);
        if (rc != 0) {
            fprintf(stderr, "twinmesh-bench: %s\n", tm_err_str(rc));
            return 1;
        }
        qsort(res.steps_per_s, (size_t)o.repeat, sizeof(double), s_cmp_double);
        double med = res.steps_per_s[o.repeat / 2];
        char hex[65];
        for (int i = 0; i < 32; i++) {
            snprintf(hex + 2 * i, 3, "%02x", res.digest[i]);
        }
        printf("workers=%u median=%.3f M actor-steps/s min=%.3f max=%.3f "
               "spawn=%.0f actors/s link=%.0f links/s rss=%.0f B/actor "
               "(%.0f with links) overhead=%.0f B/actor digest=%.16s\n",
               o.workers[w], med / 1e6, res.steps_per_s[0] / 1e6,
               res.steps_per_s[o.repeat - 1] / 1e6,
               (double)o.actors / res.spawn_s,
               (double)(o.actors * 2) / (res.link_s > 0 ? res.link_s : 1e-9),
               res.rss_per_actor, res.rss_linked_per_actor,
               res.overhead_per_actor, hex);
        if (w == 0) {
            memcpy(first, res.digest, 32);
        } else if (memcmp(first, res.digest, 32) != 0) {
            printf("FAIL: digest differs between worker counts\n");
            failed = 1;
        }
        if (o.check && !(res.rss_per_actor > 0)) {
            printf("FAIL: resident memory per actor not measured (%.0f)\n",
                   res.rss_per_actor);
            failed = 1;
        }
        if (o.check && res.overhead_per_actor > o.max_overhead) {
            printf("FAIL: overhead %.0f B/actor > %.0f\n",
                   res.overhead_per_actor, o.max_overhead);
            failed = 1;
        }
    }
    if (o.check) {
        printf("%s\n", failed ? "check: FAILED" : "check: ok");
    }
    return failed;
}
