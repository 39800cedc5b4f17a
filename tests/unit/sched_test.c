/* sched_test: the node's clock (nodes/tm_sched) on a real libev loop and
 * runtime: runs step exactly N ticks; with the per-tick seam every chunk is
 * one tick and subscribers see each tick, with the same results as chunked
 * stepping; chunks end on a subscriber's stop tick; run ends are reported
 * with their status; the real-time clock steps early when asked, at most
 * TM_SCHED_EARLY_MAX ticks ahead of its schedule, and keeps the due times
 * of the ticks after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_models.h"
#include "tm_rt.h"
#include "tm_sched.h"

#include <ev.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    struct ev_loop *loop;
    uint64_t afters;   /* after() calls */
    uint64_t befores;  /* before() calls */
    uint64_t last;     /* tick of the last after() */
    bool gap;          /* an after() skipped a tick (per-tick mode) */
    uint64_t stop_at;  /* next_stop answer */
    bool saw_stop;     /* an after() ended exactly on stop_at */
    int end_status;    /* run_end status */
    char end_why[128]; /* run_end why */
    int ends;
    tm_sched_t *sched;   /* to read the clock at run_end */
    tm_clock_t end_mode; /* the clock when run_end was told */
} s_probe_t;

static void s_before(void *arg, uint64_t tick)
{
    s_probe_t *p = arg;
    (void)tick;
    p->befores++;
}

static void s_after(void *arg, uint64_t tick)
{
    s_probe_t *p = arg;
    if (tick != p->last + 1) {
        p->gap = true;
    }
    p->saw_stop |= p->stop_at != 0 && tick == p->stop_at;
    p->last = tick;
    p->afters++;
}

static uint64_t s_stop(void *arg)
{
    return ((s_probe_t *)arg)->stop_at;
}

static void s_run_end(void *arg, int status, const char *why)
{
    s_probe_t *p = arg;
    p->end_status = status;
    snprintf(p->end_why, sizeof p->end_why, "%s", why ? why : "");
    p->ends++;
    if (p->sched != NULL) {
        p->end_mode = tm_sched_mode(p->sched);
    }
    ev_break(p->loop, EVBREAK_ALL);
}

static void s_fatal(void *arg, int rc)
{
    (void)arg;
    fail_msg("runtime failed: %d", rc);
}

/* A chain of oscillators coupled by springs. */
static void s_mesh(tm_rt_t *rt)
{
    const tm_model_t *osc = NULL;
    const tm_model_t *spring = NULL;
    char a[16], b[16], s[16];
    assert_int_equal(tm_models_find("oscillator", NULL, TM_FIDELITY_HIGH, &osc),
                     0);
    assert_int_equal(tm_models_find("spring", NULL, TM_FIDELITY_HIGH, &spring),
                     0);
    for (int i = 0; i < 40; i++) {
        snprintf(a, sizeof a, "o%d", i);
        assert_int_equal(tm_rt_spawn(rt, a, osc, NULL), 0);
    }
    for (int i = 0; i + 1 < 40; i++) {
        snprintf(a, sizeof a, "o%d", i);
        snprintf(b, sizeof b, "o%d", i + 1);
        snprintf(s, sizeof s, "s%d", i);
        assert_int_equal(tm_rt_spawn(rt, s, spring, NULL), 0);
        assert_int_equal(tm_rt_link(rt, a, "x", s, "xa"), 0);
        assert_int_equal(tm_rt_link(rt, b, "x", s, "xb"), 0);
        assert_int_equal(tm_rt_link(rt, s, "fa", a, "fr"), 0);
        assert_int_equal(tm_rt_link(rt, s, "fb", b, "fl"), 0);
    }
}

/* Run `ticks` ticks from tick 0; the digest after them into d. */
static void s_run(bool per_tick, uint64_t ticks, uint64_t stop_at, s_probe_t *p,
                  uint8_t d[32])
{
    tm_rt_t *rt = NULL;
    tm_sched_t *s = NULL;
    tm_rt_config_t rc = {.workers = 2, .h = 0.01, .seed = 3};
    memset(p, 0, sizeof *p);
    p->stop_at = stop_at;
    p->loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(p->loop);
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    s_mesh(rt);
    assert_int_equal(tm_sched_open(&s, rt, TM_CLOCK_PAUSED, s_fatal, NULL), 0);
    tm_sched_sub_t sub = {.arg = p,
                          .before = s_before,
                          .after = s_after,
                          .next_stop = s_stop,
                          .run_end = s_run_end};
    assert_int_equal(tm_sched_subscribe(s, &sub), 0);
    tm_sched_per_tick(s, per_tick);
    tm_sched_attach(s, p->loop);
    assert_string_equal(tm_sched_label(s), "paused");
    assert_int_equal(tm_sched_run(s, ticks), 0);
    assert_string_equal(tm_sched_label(s), "run");
    assert_int_equal(tm_sched_run(s, ticks), TM_ERR_BUSY);
    ev_run(p->loop, 0);
    assert_int_equal(p->ends, 1);
    assert_int_equal(p->end_status, 0);
    assert_int_equal(tm_rt_tick(rt), ticks);
    assert_string_equal(tm_sched_label(s), "paused");
    tm_sched_run_t r;
    tm_sched_run_info(s, &r);
    assert_false(r.active);
    assert_int_equal(r.done, ticks);
    assert_int_equal(tm_rt_digest(rt, d), 0);
    tm_sched_stop(s);
    tm_sched_destroy(&s);
    tm_rt_destroy(&rt);
    ev_loop_destroy(p->loop);
}

static void test_per_tick_equals_chunks(void **state)
{
    (void)state;
    s_probe_t chunked, one;
    uint8_t d1[32], d2[32];
    s_run(false, 3000, 0, &chunked, d1);
    s_run(true, 3000, 0, &one, d2);
    assert_memory_equal(d1, d2, sizeof d1);
    /* the seam: one tick per chunk, every tick seen */
    assert_int_equal(one.afters, 3000);
    assert_int_equal(one.befores, 3000);
    assert_false(one.gap);
    assert_int_equal(one.last, 3000);
    /* chunked: ticks seen in fewer, longer chunks */
    assert_true(chunked.afters < 3000);
    assert_int_equal(chunked.last, 3000);
}

static void test_stop_tick(void **state)
{
    (void)state;
    s_probe_t p;
    uint8_t d[32];
    s_run(false, 500, 317, &p, d);
    assert_true(p.saw_stop); /* a chunk ended exactly on tick 317 */
}

/* A run stopped early reports the status and why; a mode change during a
 * run ends it. */
static void test_run_stop(void **state)
{
    (void)state;
    tm_rt_t *rt = NULL;
    tm_sched_t *s = NULL;
    s_probe_t p;
    tm_rt_config_t rc = {.workers = 1, .h = 0.01, .seed = 3};
    memset(&p, 0, sizeof p);
    p.loop = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    assert_int_equal(tm_sched_open(&s, rt, TM_CLOCK_FAST, s_fatal, NULL), 0);
    tm_sched_sub_t sub = {.arg = &p, .run_end = s_run_end};
    p.sched = s;
    assert_int_equal(tm_sched_subscribe(s, &sub), 0);
    tm_sched_attach(s, p.loop);
    /* a run taken back (its stream could not open): the clock as before,
     * nobody told */
    assert_int_equal(tm_sched_run(s, 50), 0);
    tm_sched_run_abort(s);
    assert_int_equal(p.ends, 0);
    assert_int_equal(tm_sched_mode(s), TM_CLOCK_FAST);
    assert_string_equal(tm_sched_label(s), "fast");
    tm_sched_run_t r;
    tm_sched_run_info(s, &r);
    assert_false(r.active);
    assert_int_equal(r.ticks, 0);
    assert_int_equal(tm_sched_run(s, 1000000), 0);
    tm_sched_set_mode(s, TM_CLOCK_REALTIME);
    assert_int_equal(p.ends, 1);
    assert_int_equal(p.end_status, TM_ERR_CLOSED);
    assert_string_equal(p.end_why, "run interrupted by a clock change");
    /* its last reply names the clock that goes on, not "paused" */
    assert_int_equal(p.end_mode, TM_CLOCK_REALTIME);
    assert_int_equal(tm_sched_mode(s), TM_CLOCK_REALTIME);
    assert_int_equal(tm_sched_run(s, 1000000), 0);
    tm_sched_run_stop(s, TM_ERR_CLOSED, "run cancelled");
    assert_int_equal(p.ends, 2);
    assert_string_equal(p.end_why, "run cancelled");
    assert_int_equal(p.end_mode, TM_CLOCK_PAUSED);
    assert_int_equal(tm_sched_mode(s), TM_CLOCK_PAUSED);
    tm_sched_stop(s);
    tm_sched_destroy(&s);
    tm_rt_destroy(&rt);
    ev_loop_destroy(p.loop);
}

static void s_break_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* Turn the loop for `seconds`. */
static void s_turn(struct ev_loop *loop, double seconds)
{
    ev_timer t;
    ev_timer_init(&t, s_break_cb, seconds, 0);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
}

static void test_step_early(void **state)
{
    (void)state;
    tm_rt_t *rt = NULL;
    tm_sched_t *s = NULL;
    s_probe_t p;
    tm_rt_config_t rc = {.workers = 1, .h = 30.0, .seed = 3};
    memset(&p, 0, sizeof p);
    p.loop = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    s_mesh(rt);
    assert_int_equal(tm_sched_open(&s, rt, TM_CLOCK_PAUSED, s_fatal, NULL), 0);
    tm_sched_sub_t sub = {.arg = &p, .after = s_after};
    assert_int_equal(tm_sched_subscribe(s, &sub), 0);
    tm_sched_attach(s, p.loop);
    /* paused: nothing early, nothing stepping */
    assert_false(tm_sched_step_early(s, 1));
    assert_false(tm_sched_stepping(s));
    tm_sched_set_mode(s, TM_CLOCK_REALTIME);
    s_turn(p.loop, 0.05);
    assert_int_equal(tm_rt_tick(rt), 0); /* tick 1 is due in 30 s */
    assert_false(tm_sched_stepping(s));
    /* two ticks ahead of the schedule: stepped now */
    assert_true(tm_sched_step_early(s, 2));
    assert_true(tm_sched_stepping(s));
    s_turn(p.loop, 0.05);
    assert_int_equal(tm_rt_tick(rt), 2);
    assert_int_equal(p.afters, 2);
    assert_int_equal(tm_sched_early(s), 2);
    assert_false(tm_sched_stepping(s));
    /* three ahead, or a tick stepped already: refused, nothing stepped */
    assert_false(tm_sched_step_early(s, 3));
    assert_false(tm_sched_step_early(s, 2));
    s_turn(p.loop, 0.05);
    assert_int_equal(tm_rt_tick(rt), 2);
    assert_int_equal(tm_sched_early(s), 2);
    /* the ticks after keep their due times: none due for 30 s */
    assert_true(tm_sched_lag(s) == 0);
    /* another mode drops what was allowed */
    tm_sched_set_mode(s, TM_CLOCK_PAUSED);
    assert_false(tm_sched_step_early(s, 3));
    /* a node of a mesh (per-tick) never steps early */
    tm_sched_set_mode(s, TM_CLOCK_REALTIME);
    tm_sched_per_tick(s, true);
    assert_false(tm_sched_step_early(s, 3));
    assert_int_equal(tm_sched_early(s), 2);
    tm_sched_stop(s);
    tm_sched_destroy(&s);
    tm_rt_destroy(&rt);
    ev_loop_destroy(p.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_tick_equals_chunks),
        cmocka_unit_test(test_stop_tick),
        cmocka_unit_test(test_run_stop),
        cmocka_unit_test(test_step_early),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
