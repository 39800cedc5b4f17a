/* tm_lease_int.h: what tm_lease.c and tm_lease_take.c share - the lease's
 * state and the etcd requests (not for other modules). */
#ifndef TM_LEASE_INT_H_INCLUDED
#define TM_LEASE_INT_H_INCLUDED

#include "tm_lease.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One HTTP client: a multi handle (so that another thread can interrupt a
 * request with curl_multi_wakeup) driving one easy handle (whose
 * connection is kept and reused between requests). */
typedef struct {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    char *body; /* the answer, NUL-terminated */
    size_t len;
    size_t cap;
    bool over; /* the answer was longer than S_BODY_MAX */
    char curl_err[CURL_ERROR_SIZE];
} s_http_t;

struct tm_lease {
    /* Set at open, read-only after. */
    char *endpoints[TM_LEASE_ENDPOINTS_MAX];
    unsigned n_endpoints;
    char *key; /* <prefix>nodes/<node> */
    char *prefix;
    char *node;
    char *value;
    int64_t ttl_ask;  /* whole seconds asked for */
    double timeout_s; /* per request and endpoint */

    atomic_uint current;  /* the endpoint that answered last */
    atomic_llong safe_ns; /* safe_until, nanoseconds of CLOCK_MONOTONIC */
    atomic_bool stop;
    atomic_bool release; /* the node asked to remove its takeover marker */
    atomic_bool wake;    /* ... just now: the thread acts before its time */

    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards st; with cv, the thread's sleep */
    pthread_cond_t cv;  /* on CLOCK_MONOTONIC */
    tm_lease_stats_t st;

    /* The thread's (open's before it starts, destroy's after it ends). */
    s_http_t http;
    int64_t lease_id; /* 0: none */
    int64_t ttl;      /* granted, seconds */
    double grant_sent;
    bool key_put;   /* the key is attached to lease_id */
    bool failing;   /* the last attempt failed (logged once) */
    double next_at; /* the thread's next attempt */
};

void tml_say(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tml_http_init(s_http_t *h);
void tml_http_fini(s_http_t *h);
bool tml_i64(const json_t *v, int64_t *out);
const char *tml_message(const json_t *ans);
char *tml_b64(const char *s, size_t n);
int tml_call(tm_lease_t *l, s_http_t *h, const atomic_bool *stop, bool all,
             const char *path, json_t *req, double *sent, json_t **ans,
             long *status, char *why, size_t cap);
const char *tml_ep(tm_lease_t *l);
void tml_count(tm_lease_t *l, double sent, int64_t ttl, bool renewal);
void tml_failed(tm_lease_t *l, const char *why);
double tml_retry(const tm_lease_t *l);

/* tm_lease_take.c. Put the node's key attached to lease id unless a
 * takeover marker <prefix>taken/<node> exists (one etcd transaction).
 * 0: put; TM_ERR_EXISTS: taken over (the taker's name in taker); else
 * tml_call's errors, TM_ERR_PERM, TM_ERR_NOT_FOUND (no such lease). */
int tml_put_guarded(tm_lease_t *l, const atomic_bool *stop, int64_t id,
                    char *taker, size_t tcap, char *why, size_t cap);
/* Whether the marker still exists (TM_ERR_EXISTS) or not (0); errors. */
int tml_taken_check(tm_lease_t *l, const atomic_bool *stop, char *taker,
                    size_t tcap, char *why, size_t cap);
/* Delete the marker. */
int tml_release(tm_lease_t *l, const atomic_bool *stop, char *why, size_t cap);
/* The node's actors were taken over by taker: note it once. */
void tml_mark_taken(tm_lease_t *l, const char *taker);

#endif
