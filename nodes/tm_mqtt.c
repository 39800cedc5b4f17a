/* tm_mqtt: a client of the site's MQTT broker in the node's loop
 * (tm_mqtt.h). */
#include "tm_mqtt.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_mqtt_wire.h"
#include "tm_text.h"
#include "tm_time.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#define S_KEEPALIVE       10    /* seconds: the broker drops us after 1.5x */
#define S_MISC_EVERY      1.0   /* seconds between mosquitto_loop_misc */
#define S_CONNACK_TIMEOUT 5.0   /* seconds from connect to CONNACK */
#define S_BACKOFF_MIN     0.25  /* seconds before the first retry */
#define S_BACKOFF_MAX     8.0   /* seconds between retries at most */
#define S_STABLE          10.0  /* a connection this long resets the backoff */
#define S_READ_BUDGET     256   /* packets read per pass of the loop */
#define S_PASS_SECONDS    0.005 /* ... and seconds (one 1 MiB payload more) */
#define S_ID_MAX          128u  /* bytes in a client id */
#define S_WHY_MAX         160u

typedef enum {
    S_DOWN,       /* no connection; the retry timer runs (unless stopping) */
    S_CONNECTING, /* TCP connect or CONNECT sent, no CONNACK yet */
    S_UP          /* CONNACK accepted, subscribed */
} s_state_t;

struct tm_mqtt {
    struct mosquitto *mosq;
    tm_telem_t *telem;
    struct ev_loop *loop;
    ev_io io;
    int io_fd;     /* the fd io was set for; -1: io stopped */
    int io_events; /* EV_READ, | EV_WRITE */
    ev_timer misc;
    ev_timer retry;
    s_state_t state;
    bool started;  /* mosquitto_connect_async was called */
    bool stopping; /* the node is stopping: no more attempts */
    bool ever_up;
    double backoff;    /* seconds before the next retry */
    double attempt_at; /* tm_time_now() of the current attempt */
    double up_at;      /* ... of the current connection's CONNACK */
    char host[TM_MQTT_HOST_MAX + 1];
    uint16_t port;
    char broker[TM_MQTT_HOST_MAX + 16]; /* host:port, for logs and stats */
    char id[S_ID_MAX + 1];
    char site[TM_NAME_MAX + 1];
    char sub[TM_NAME_MAX + 8]; /* <site>/+/+ */
    char why[S_WHY_MAX];       /* the failure logged last; "" once up */
    /* Counters. */
    uint64_t messages;
    uint64_t retained;
    uint64_t reconnects;
};

static int s_lib_users; /* mosquitto_lib_init calls not yet cleaned up */

/* The words for a libmosquitto error (errno_at: errno right after it). */
static const char *s_strerror(int rc, int errno_at)
{
    if (rc == MOSQ_ERR_ERRNO && errno_at != 0) {
        return strerror(errno_at);
    }
    return mosquitto_strerror(rc);
}

/* ---- the socket's watcher ------------------------------------------------ */

static void s_disarm(tm_mqtt_t *m)
{
    if (m->loop != NULL) {
        ev_io_stop(m->loop, &m->io);
    }
    m->io_fd = -1;
    m->io_events = 0;
}

/* Watch the client's socket for reads, and for writes while libmosquitto
 * has bytes queued. A new connection is a new fd for libev even when the
 * number is the same (s_disarm came first), so ev_io_set is called. */
static void s_arm(tm_mqtt_t *m)
{
    int fd = mosquitto_socket(m->mosq);
    if (fd < 0 || m->loop == NULL) {
        s_disarm(m);
        return;
    }
    int events = EV_READ | (mosquitto_want_write(m->mosq) ? EV_WRITE : 0);
    if (fd == m->io_fd && events == m->io_events) {
        return;
    }
    ev_io_stop(m->loop, &m->io);
    ev_io_set(&m->io, fd, events);
    ev_io_start(m->loop, &m->io);
    m->io_fd = fd;
    m->io_events = events;
}

/* ---- state --------------------------------------------------------------- */

/* The connection failed or was lost: log it if it is news, stop watching
 * the socket and try again after the backoff. Safe inside libmosquitto's
 * callbacks (the attempt itself runs from the timer), and more than once. */
static void s_fail(tm_mqtt_t *m, const char *why)
{
    if (m->state == S_DOWN) {
        return;
    }
    double now = tm_time_now();
    if (m->state == S_UP) {
        tm_log(TM_LOG_WARN, "mqtt: lost the broker %s (%s); reconnecting",
               m->broker, why);
        snprintf(m->why, sizeof m->why, "%s", why);
        if (now - m->up_at >= S_STABLE) {
            m->backoff = S_BACKOFF_MIN;
        }
    } else if (strcmp(m->why, why) != 0) {
        tm_log(TM_LOG_WARN,
               "mqtt: cannot connect to the broker %s (%s); trying again "
               "until it answers",
               m->broker, why);
        snprintf(m->why, sizeof m->why, "%s", why);
    } else {
        tm_log(TM_LOG_DEBUG,
               "mqtt: %s still unreachable (%s); next try in "
               "%.2f s",
               m->broker, why, m->backoff);
    }
    m->state = S_DOWN;
    s_disarm(m);
    if (m->stopping || m->loop == NULL) {
        return;
    }
    ev_timer_stop(m->loop, &m->retry);
    ev_timer_set(&m->retry, m->backoff, 0.0);
    ev_timer_start(m->loop, &m->retry);
    m->backoff =
        m->backoff * 2 > S_BACKOFF_MAX ? S_BACKOFF_MAX : m->backoff * 2;
}

static void s_up(tm_mqtt_t *m)
{
    m->state = S_UP;
    m->up_at = tm_time_now();
    if (m->ever_up) {
        m->reconnects++;
    }
    m->ever_up = true;
    m->why[0] = '\0';
    int rc = mosquitto_subscribe(m->mosq, NULL, m->sub, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
        s_fail(m, mosquitto_strerror(rc));
        return;
    }
    tm_log(TM_LOG_INFO, "mqtt: connected to %s as %s; subscribing to %s",
           m->broker, m->id, m->sub);
}

/* Start a connection attempt: a non-blocking connect, the CONNECT packet
 * queued; what follows comes through the watcher. */
static void s_attempt(tm_mqtt_t *m)
{
    if (m->stopping) {
        return;
    }
    s_disarm(m);
    errno = 0;
    int rc = m->started ? mosquitto_reconnect_async(m->mosq)
                        : mosquitto_connect_async(m->mosq, m->host, m->port,
                                                  S_KEEPALIVE);
    int e = errno;
    m->started = true;
    m->state = S_CONNECTING;
    m->attempt_at = tm_time_now();
    if (rc != MOSQ_ERR_SUCCESS) {
        s_fail(m, rc == MOSQ_ERR_EAI ? "cannot resolve the host name"
                                     : s_strerror(rc, e));
        return;
    }
    s_arm(m);
}

/* After libmosquitto ran: a socket it closed is a lost connection;
 * otherwise watch what it wants now. */
static void s_after(tm_mqtt_t *m, int rc, int errno_at)
{
    if (m->state == S_DOWN) {
        return;
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        s_fail(m, s_strerror(rc, errno_at));
    } else if (mosquitto_socket(m->mosq) < 0) {
        s_fail(m, "the connection was closed");
    } else {
        s_arm(m);
    }
}

/* ---- libmosquitto's callbacks (inside the watchers below) ---------------- */

static void s_on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    tm_mqtt_t *m = obj;
    if (rc == 0) {
        s_up(m);
    } else {
        char why[S_WHY_MAX];
        snprintf(why, sizeof why, "refused: %s", mosquitto_connack_string(rc));
        s_fail(m, why);
    }
}

static void s_on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    int e = errno;
    tm_mqtt_t *m = obj;
    if (!m->stopping) {
        s_fail(m, rc == 0 ? "disconnected" : s_strerror(rc, e));
    }
}

static void s_on_subscribe(struct mosquitto *mosq, void *obj, int mid,
                           int n_granted, const int *granted)
{
    (void)mosq;
    (void)mid;
    tm_mqtt_t *m = obj;
    if (n_granted < 1 || granted[0] > 2) {
        tm_log(TM_LOG_ERROR,
               "mqtt: the broker %s refused the subscription to %s: no "
               "measurements will come (check its ACL for %s)",
               m->broker, m->sub, m->id);
    }
}

static void s_sample(void *arg, const tm_telem_sample_t *s, int status)
{
    tm_telem_sample(((tm_mqtt_t *)arg)->telem, s, status);
}

static uint64_t s_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void s_on_message(struct mosquitto *mosq, void *obj,
                         const struct mosquitto_message *msg)
{
    (void)mosq;
    tm_mqtt_t *m = obj;
    m->messages++;
    if (msg->retain) {
        m->retained++;
        return;
    }
    tm_telem_sample_t topic;
    memset(&topic, 0, sizeof topic);
    int rc = tm_mqtt_topic_parse(msg->topic, m->site, &topic);
    if (rc == 0) {
        size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
        rc =
            tm_mqtt_decode(msg->payload, len, &topic, s_wall_ns(), s_sample, m);
    }
    if (rc != 0) {
        tm_telem_sample(m->telem, NULL, rc);
    }
}

/* ---- watchers ------------------------------------------------------------ */

/* Bytes waiting in the client's socket (0 on error). libmosquitto reads
 * one packet per call and keeps no buffer of its own, so this says
 * whether another call has work. (errno cannot say it: the client writes
 * a byte for each queued packet to a socket pair that only
 * mosquitto_loop would drain, and that write fails with EAGAIN.) */
static int s_pending(const tm_mqtt_t *m)
{
    int n = 0;
    int fd = mosquitto_socket(m->mosq);
    return fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

static void s_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    tm_mqtt_t *m = w->data;
    int rc = MOSQ_ERR_SUCCESS;
    int e = 0;
    /* At most a budget of packets and of time per pass, so that a flood
     * of messages never keeps the clock or a signal waiting; the watcher
     * is level triggered and comes back for the rest. */
    double t0 = tm_time_now();
    for (int i = 0; (revents & EV_READ) && i < S_READ_BUDGET; i++) {
        errno = 0;
        rc = mosquitto_loop_read(m->mosq, 1);
        e = errno;
        if (rc != MOSQ_ERR_SUCCESS || m->state == S_DOWN || s_pending(m) <= 0 ||
            tm_time_now() - t0 > S_PASS_SECONDS) {
            break;
        }
    }
    if (rc == MOSQ_ERR_SUCCESS && m->state != S_DOWN && (revents & EV_WRITE)) {
        errno = 0;
        rc = mosquitto_loop_write(m->mosq, 1);
        e = errno;
    }
    s_after(m, rc, e);
}

static void s_misc_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_mqtt_t *m = w->data;
    if (m->state == S_CONNECTING &&
        tm_time_now() - m->attempt_at > S_CONNACK_TIMEOUT) {
        s_fail(m, "no answer within 5 s");
        return;
    }
    if (m->state != S_UP) {
        return;
    }
    errno = 0;
    int rc = mosquitto_loop_misc(m->mosq); /* pings; drops a silent broker */
    s_after(m, rc, errno);
}

static void s_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    s_attempt(w->data);
}

/* ---- service ------------------------------------------------------------- */

static int s_attach(void *self, struct ev_loop *loop)
{
    tm_mqtt_t *m = self;
    m->loop = loop;
    ev_timer_start(loop, &m->misc);
    tm_log(TM_LOG_INFO, "mqtt: connecting to the broker %s as %s", m->broker,
           m->id);
    s_attempt(m);
    return 0;
}

static void s_stop(void *self)
{
    tm_mqtt_t *m = self;
    m->stopping = true;
    if (m->loop != NULL) {
        ev_timer_stop(m->loop, &m->misc);
        ev_timer_stop(m->loop, &m->retry);
    }
    s_disarm(m);
    if (m->state == S_UP) {
        mosquitto_disconnect(m->mosq); /* a DISCONNECT, written now */
    }
    m->state = S_DOWN;
}

static void s_close(void *self)
{
    tm_mqtt_t *m = self;
    s_stop(m);
    if (m->mosq != NULL) {
        mosquitto_destroy(m->mosq);
        if (--s_lib_users == 0) {
            mosquitto_lib_cleanup();
        }
    }
    free(m);
}

static void s_get(void *arg, tm_body_t *b)
{
    const tm_mqtt_t *m = arg;
    tm_body_map(b);
    tm_body_kv_str(b, "broker", m->broker);
    tm_body_kv_str(b, "client_id", m->id);
    tm_body_kv_bool(b, "connected", m->state == S_UP);
    tm_body_kv_u64(b, "messages", m->messages);
    tm_body_kv_u64(b, "retained", m->retained);
    tm_body_kv_u64(b, "reconnects", m->reconnects);
    tm_body_end(b);
}

static int s_stats(void *self, tm_stats_t *reg)
{
    return tm_stats_add_body(reg, "telemetry.mqtt", s_get, self);
}

tm_service_t tm_mqtt_service(tm_mqtt_t *m)
{
    return (tm_service_t){.name = "mqtt",
                          .self = m,
                          .attach = s_attach,
                          .stats = s_stats,
                          .stop = s_stop,
                          .close = s_close};
}

/* The client with its callbacks. */
static int s_client(tm_mqtt_t *m, char *why, size_t cap)
{
    if (s_lib_users++ == 0) {
        mosquitto_lib_init();
    }
    m->mosq = mosquitto_new(m->id, true, m);
    if (m->mosq == NULL) {
        if (--s_lib_users == 0) {
            mosquitto_lib_cleanup();
        }
        snprintf(why, cap, "cannot create the MQTT client: %s",
                 errno == ENOMEM ? "out of memory" : "invalid client id");
        return errno == ENOMEM ? TM_ERR_NOMEM : TM_ERR_INVAL;
    }
    mosquitto_connect_callback_set(m->mosq, s_on_connect);
    mosquitto_disconnect_callback_set(m->mosq, s_on_disconnect);
    mosquitto_subscribe_callback_set(m->mosq, s_on_subscribe);
    mosquitto_message_callback_set(m->mosq, s_on_message);
    return 0;
}

int tm_mqtt_open(tm_mqtt_t **out, const tm_mqtt_opts_t *opts, char *why,
                 size_t cap)
{
    char reason[128];
    tm_mqtt_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    int rc = tm_mqtt_broker_parse(opts->broker, m->host, sizeof m->host,
                                  &m->port, reason, sizeof reason);
    if (rc != 0) {
        snprintf(why, cap, "'%s' is not an MQTT broker: %s", opts->broker,
                 reason);
    } else if (!tm_text_word_valid(opts->client_id, S_ID_MAX) ||
               !tm_text_name_valid(opts->site)) {
        snprintf(why, cap, "bad MQTT client id '%s' or site '%s'",
                 opts->client_id, opts->site);
        rc = TM_ERR_INVAL;
    }
    if (rc != 0) {
        free(m);
        return rc;
    }
    m->telem = opts->telem;
    m->io_fd = -1;
    m->backoff = S_BACKOFF_MIN;
    if (strchr(m->host, ':') != NULL) {
        snprintf(m->broker, sizeof m->broker, "[%s]:%u", m->host,
                 (unsigned)m->port);
    } else {
        snprintf(m->broker, sizeof m->broker, "%s:%u", m->host,
                 (unsigned)m->port);
    }
    snprintf(m->id, sizeof m->id, "%s", opts->client_id);
    snprintf(m->site, sizeof m->site, "%s", opts->site);
    snprintf(m->sub, sizeof m->sub, "%s/+/+", m->site);
    ev_init(&m->io, s_io_cb);
    m->io.data = m;
    ev_timer_init(&m->misc, s_misc_cb, S_MISC_EVERY, S_MISC_EVERY);
    m->misc.data = m;
    ev_init(&m->retry, s_retry_cb);
    m->retry.data = m;
    rc = s_client(m, why, cap);
    if (rc != 0) {
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}
