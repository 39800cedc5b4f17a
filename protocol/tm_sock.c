/* tm_sock: socket creation with the house limits applied in one place. */
#include "tm_sock.h"

#include "tm_err.h"
#include "tm_wire.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_DEFAULT_HWM 1000

int tm_sock_err(void)
{
    switch (zmq_errno()) {
    case EADDRINUSE:
        return TM_ERR_BUSY;
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENODEV:
    case EADDRNOTAVAIL:
        return TM_ERR_INVAL;
    case EHOSTUNREACH:
        return TM_ERR_CLOSED;
    case ETERM:
    case ENOTSOCK:
        return TM_ERR_CLOSED;
    case EAGAIN:
        return TM_ERR_BUSY;
    case EACCES:
        return TM_ERR_PERM;
    case ENOMEM:
        return TM_ERR_NOMEM;
    case EMSGSIZE:
        return TM_ERR_TOO_BIG;
    default:
        return TM_ERR_IO;
    }
}

static int s_why(char *why, size_t cap, const char *endpoint, const char *what)
{
    if (why != NULL && cap > 0) {
        snprintf(why, cap, "'%.200s' is not a usable endpoint: %s", endpoint,
                 what);
    }
    return TM_ERR_INVAL;
}

int tm_sock_endpoint_check(const char *endpoint, int bind, char *why,
                           size_t cap)
{
    if (endpoint == NULL || strstr(endpoint, "://") == NULL) {
        if (why != NULL && cap > 0) {
            snprintf(why, cap, "'%.200s' is not a ZeroMQ endpoint",
                     endpoint ? endpoint : "");
        }
        return TM_ERR_INVAL;
    }
    if (strncmp(endpoint, "ipc://", 6) == 0) {
        return endpoint[6] != '\0' ? 0 : s_why(why, cap, endpoint, "no path");
    }
    if (strncmp(endpoint, "tcp://", 6) != 0) {
        return s_why(why, cap, endpoint,
                     "use tcp://HOST:PORT or ipc://PATH (inproc:// and "
                     "other transports reach no other process)");
    }
    const char *colon = strrchr(endpoint + 6, ':');
    if (colon == NULL || colon == endpoint + 6) {
        return s_why(why, cap, endpoint, "expected tcp://HOST:PORT");
    }
    const char *port = colon + 1;
    if (bind && strcmp(port, "*") == 0) {
        return 0;
    }
    size_t n = strspn(port, "0123456789");
    if (n == 0 || n > 5 || port[n] != '\0') {
        return s_why(why, cap, endpoint, "the port must be a number");
    }
    long v = strtol(port, NULL, 10);
    if (v > 65535 || (v == 0 && !bind)) {
        return s_why(why, cap, endpoint,
                     bind ? "the port must be in 0..65535"
                          : "the port must be in 1..65535");
    }
    return 0;
}

int tm_sock_endpoint(void *sock, char *buf, size_t cap)
{
    char last[1100];
    size_t len = sizeof last;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, last, &len) != 0) {
        return TM_ERR_IO;
    }
    last[sizeof last - 1] = '\0';
    if (strlen(last) >= cap) {
        return TM_ERR_TOO_BIG;
    }
    snprintf(buf, cap, "%s", last);
    return 0;
}

int tm_sock_open(void **out, void *zctx, int type, const char *endpoint,
                 tm_sock_mode_t mode, const tm_sock_opts_t *opts)
{
    int rc = 0;
    void *s = NULL;
    *out = NULL;
    if (zctx == NULL || endpoint == NULL ||
        tm_sock_endpoint_check(endpoint, mode == TM_SOCK_BIND, NULL, 0) != 0) {
        return TM_ERR_INVAL;
    }
    int64_t max_msg = (int64_t)TM_WIRE_MAX_SIZE_DEFAULT;
    int hwm = S_DEFAULT_HWM;
    int linger = type == ZMQ_ROUTER ? 0 : 200;
    if (opts != NULL) {
        if (opts->max_msg > 0) {
            max_msg = (int64_t)opts->max_msg;
        }
        if (opts->hwm > 0) {
            hwm = opts->hwm;
        }
        if (opts->linger_ms >= 0) {
            linger = opts->linger_ms;
        }
    }
    s = zmq_socket(zctx, type);
    if (s == NULL) {
        rc = tm_sock_err();
        goto done;
    }
    int one = 1;
    if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0) {
        rc = tm_sock_err();
        goto done;
    }
    if (type == ZMQ_ROUTER &&
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0) {
        rc = tm_sock_err();
        goto done;
    }
    if (opts != NULL && opts->monitor != NULL && opts->monitor_events != 0 &&
        zmq_socket_monitor(s, opts->monitor, opts->monitor_events) != 0) {
        rc = tm_sock_err();
        goto done;
    }
    int r =
        mode == TM_SOCK_BIND ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint);
    if (r != 0) {
        rc = tm_sock_err();
        goto done;
    }
    *out = s;
    s = NULL;
done:
    if (s != NULL) {
        int zero = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(s);
    }
    return rc;
}

void tm_sock_close(void **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    zmq_close(*p);
    *p = NULL;
}

size_t tm_sock_drain(void *sock)
{
    size_t n = 0;
    bool more = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        more =
            zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&part);
        zmq_msg_close(&part);
        n++;
    }
    if (n > TM_SOCK_TRIM_FRAMES) {
        malloc_trim(0);
    }
    return n;
}
