/* tm_zwatch: a ZeroMQ socket watched from libev, with bounded work. */
#include "tm_zwatch.h"

#include "tm_err.h"
#include "tm_time.h"

#include <stdint.h>
#include <zmq.h>

#define S_BUDGET_DEFAULT 64u
#define S_PASS_S         0.005 /* a pass stops after this much work */

bool tm_zwatch_readable(void *sock)
{
    uint32_t events = 0;
    size_t sz = sizeof events;
    return zmq_getsockopt(sock, ZMQ_EVENTS, &events, &sz) == 0 &&
           (events & ZMQ_POLLIN);
}

static void s_pass(tm_zwatch_t *w)
{
    unsigned n = 0;
    double until = tm_time_now() + S_PASS_S;
    bool out_of_time = false;
    while (n < w->budget && tm_zwatch_readable(w->sock)) {
        n++;
        if (w->fn(w->arg, w->sock) != 0) {
            break;
        }
        if (tm_time_now() > until) {
            out_of_time = true;
            break;
        }
    }
    bool left = (n == w->budget || out_of_time) && tm_zwatch_readable(w->sock);
    if (left) {
        if (!ev_is_active(&w->more)) {
            ev_idle_start(w->loop, &w->more);
        }
    } else if (ev_is_active(&w->more)) {
        ev_idle_stop(w->loop, &w->more);
    }
}

static void s_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    s_pass(io->data);
}

static void s_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    (void)loop;
    (void)revents;
    s_pass(p->data);
}

static void s_more_cb(struct ev_loop *loop, ev_idle *i, int revents)
{
    (void)loop;
    (void)revents;
    (void)i; /* the work is done by the prepare watcher of each pass */
}

int tm_zwatch_init(tm_zwatch_t *w, void *sock, tm_zwatch_fn fn, void *arg,
                   unsigned budget)
{
    int fd = -1;
    size_t fdsz = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &fdsz) != 0) {
        return TM_ERR_IO;
    }
    w->sock = sock;
    w->fn = fn;
    w->arg = arg;
    w->budget = budget > 0 ? budget : S_BUDGET_DEFAULT;
    w->loop = NULL;
    ev_io_init(&w->io, s_io_cb, fd, EV_READ);
    ev_prepare_init(&w->prepare, s_prepare_cb);
    ev_idle_init(&w->more, s_more_cb);
    w->io.data = w;
    w->prepare.data = w;
    w->more.data = w;
    return 0;
}

void tm_zwatch_start(tm_zwatch_t *w, struct ev_loop *loop)
{
    w->loop = loop;
    ev_io_start(loop, &w->io);
    ev_prepare_start(loop, &w->prepare);
}

void tm_zwatch_stop(tm_zwatch_t *w)
{
    if (w->loop == NULL) {
        return;
    }
    ev_io_stop(w->loop, &w->io);
    ev_prepare_stop(w->loop, &w->prepare);
    ev_idle_stop(w->loop, &w->more);
}
