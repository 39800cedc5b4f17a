/* tm_parked: changes that wait for the checkpoint writer (see
 * tm_parked.h). */
#include "tm_parked.h"

#include "tm_err.h"
#include "tm_time.h"

#include <stdlib.h>
#include <string.h>

int tm_parked_push(tm_parked_t *p, const void *who, size_t who_len,
                   const uint8_t *frame, size_t len, tm_parked_req_t **out)
{
    if (p->n >= TM_PARKED_MAX || len > TM_PARKED_BYTES - p->bytes) {
        return TM_ERR_BUSY;
    }
    tm_parked_req_t *q = realloc(p->q, (p->n + 1) * sizeof *q);
    if (q == NULL) {
        return TM_ERR_NOMEM;
    }
    p->q = q;
    uint8_t *copy = malloc(len + 1);
    void *w = copy != NULL ? malloc(who_len + 1) : NULL;
    if (w == NULL) {
        free(copy);
        return TM_ERR_NOMEM;
    }
    memcpy(copy, frame, len);
    memcpy(w, who, who_len);
    q[p->n] = (tm_parked_req_t){
        .who = w, .frame = copy, .len = len, .last_sent = tm_time_now()};
    if (out != NULL) {
        *out = &q[p->n];
    }
    p->n++;
    p->bytes += len;
    p->total++;
    return 0;
}

static void s_free(tm_parked_t *p, tm_parked_req_t *r)
{
    p->bytes -= r->len;
    free(r->frame);
    free(r->who);
}

void tm_parked_drain(tm_parked_t *p, bool (*busy)(void *arg), void *busy_arg,
                     tm_parked_fn run, void *arg)
{
    size_t i = 0;
    if (p->n == 0) {
        return;
    }
    p->draining = true;
    while (i < p->n && !(busy != NULL && busy(busy_arg))) {
        tm_parked_req_t *r = &p->q[i++];
        run(arg, r);
        s_free(p, r);
    }
    p->draining = false;
    memmove(p->q, p->q + i, (p->n - i) * sizeof *p->q);
    p->n -= i;
}

void tm_parked_keepalive(tm_parked_t *p, double now, tm_parked_fn fn, void *arg)
{
    for (size_t i = 0; i < p->n; i++) {
        tm_parked_req_t *r = &p->q[i];
        if (now - r->last_sent >= TM_PARKED_KEEPALIVE_S) {
            r->last_sent = now;
            fn(arg, r);
        }
    }
}

bool tm_parked_cancel(tm_parked_t *p,
                      bool (*match)(const tm_parked_req_t *r, const void *key),
                      const void *key)
{
    for (size_t i = 0; i < p->n; i++) {
        tm_parked_req_t *r = &p->q[i];
        if (match(r, key)) {
            s_free(p, r);
            memmove(r, r + 1, (p->n - i - 1) * sizeof *r);
            p->n--;
            return true;
        }
    }
    return false;
}

void tm_parked_clear(tm_parked_t *p, tm_parked_fn fn, void *arg)
{
    for (size_t i = 0; i < p->n; i++) {
        if (fn != NULL) {
            fn(arg, &p->q[i]);
        }
        s_free(p, &p->q[i]);
    }
    free(p->q);
    p->q = NULL;
    p->n = 0;
    p->bytes = 0;
}
