/* tm_lease: a node's lease in etcd through the v3 JSON gateway, kept alive
 * by a thread of its own (tm_lease.h). */
#include "tm_lease.h"
#include "tm_lease_int.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_text.h"
#include "tm_time.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_BODY_MAX     65536u /* bytes of an answer we read */
#define S_BODY_FIRST   2048u  /* the answer buffer's first size */
#define S_ENDPOINT_MAX 200u   /* bytes of one endpoint URL */
#define S_PREFIX_MAX   256u   /* bytes of the key prefix */
#define S_TTL_MAX      86400  /* seconds */
#define S_POLL_MS      1000   /* curl_multi_poll's wait; a wakeup cuts it */

static pthread_mutex_t s_lib_mu = PTHREAD_MUTEX_INITIALIZER;
static int s_lib_users; /* curl_global_init calls not yet cleaned up */

void tml_say(char *buf, size_t cap, const char *fmt, ...)
{
    if (buf == NULL || cap == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* Append "; <text>" (or "<text>" to an empty buf), truncating. */
static void s_append(char *buf, size_t cap, const char *text)
{
    size_t n = strlen(buf);
    const char *sep = n > 0 ? "; " : "";
    for (const char *p = sep; *p != '\0' && n + 1 < cap; p++) {
        buf[n++] = *p;
    }
    for (const char *p = text; *p != '\0' && n + 1 < cap; p++) {
        buf[n++] = *p;
    }
    buf[n] = '\0';
}

/* ---- HTTP ---------------------------------------------------------------- */

static size_t s_on_body(char *data, size_t size, size_t n, void *arg)
{
    s_http_t *h = arg;
    size_t add = size * n;
    if (h->len + add + 1 > h->cap) {
        size_t cap = h->cap;
        while (cap < h->len + add + 1) {
            cap *= 2;
        }
        if (cap > S_BODY_MAX + 1) {
            h->over = true;
            return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
        }
        char *body = realloc(h->body, cap);
        if (body == NULL) {
            return 0;
        }
        h->body = body;
        h->cap = cap;
    }
    memcpy(h->body + h->len, data, add);
    h->len += add;
    h->body[h->len] = '\0';
    return add;
}

void tml_http_fini(s_http_t *h)
{
    if (h->easy != NULL) {
        curl_easy_cleanup(h->easy);
    }
    if (h->multi != NULL) {
        curl_multi_cleanup(h->multi);
    }
    curl_slist_free_all(h->headers);
    free(h->body);
    memset(h, 0, sizeof *h);
}

int tml_http_init(s_http_t *h)
{
    memset(h, 0, sizeof *h);
    h->multi = curl_multi_init();
    h->easy = curl_easy_init();
    h->headers = curl_slist_append(NULL, "Content-Type: application/json");
    h->body = malloc(S_BODY_FIRST);
    if (h->multi == NULL || h->easy == NULL || h->headers == NULL ||
        h->body == NULL) {
        tml_http_fini(h);
        return TM_ERR_NOMEM;
    }
    h->cap = S_BODY_FIRST;
    h->body[0] = '\0';
    CURL *e = h->easy;
    /* No signals (a thread of a multi-threaded process), no proxy from
     * the environment (etcd is the mesh's own), http and https only. */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->curl_err);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    return 0;
}

/* POST body to url and wait for the whole answer, at most timeout_s; stop
 * (may be NULL) abandons it at once when set and the multi handle woken.
 * 0 with *status when an HTTP answer came (h->body); TM_ERR_IO with why
 * when none did; TM_ERR_CLOSED when stopped. */
static int s_http_post(s_http_t *h, const atomic_bool *stop, const char *url,
                       const char *body, double timeout_s, long *status,
                       char *why, size_t cap)
{
    long ms = (long)ceil(timeout_s * 1e3);
    h->len = 0;
    h->body[0] = '\0';
    h->over = false;
    h->curl_err[0] = '\0';
    curl_easy_setopt(h->easy, CURLOPT_URL, url);
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
    CURLMcode mc = curl_multi_add_handle(h->multi, h->easy);
    if (mc != CURLM_OK) {
        tml_say(why, cap, "%s", curl_multi_strerror(mc));
        return mc == CURLM_OUT_OF_MEMORY ? TM_ERR_NOMEM : TM_ERR_IO;
    }
    int rc = 0;
    bool done = false;
    CURLcode res = CURLE_OK;
    while (!done) {
        if (stop != NULL && atomic_load(stop)) {
            rc = TM_ERR_CLOSED;
            break;
        }
        int running = 0;
        mc = curl_multi_perform(h->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                res = msg->data.result;
                done = true;
            }
        }
        if (done) {
            break;
        }
        if (mc == CURLM_OK && running > 0) {
            mc = curl_multi_poll(h->multi, NULL, 0, S_POLL_MS, NULL);
        }
        if (mc != CURLM_OK || running == 0) {
            tml_say(why, cap, "%s",
                    mc != CURLM_OK ? curl_multi_strerror(mc)
                                   : "transfer ended without a result");
            rc = TM_ERR_IO;
            break;
        }
    }
    curl_multi_remove_handle(h->multi, h->easy);
    if (rc != 0) {
        return rc;
    }
    if (res != CURLE_OK) {
        if (h->over) {
            tml_say(why, cap, "an answer longer than %u bytes", S_BODY_MAX);
        } else {
            tml_say(why, cap, "%s",
                    h->curl_err[0] != '\0' ? h->curl_err
                                           : curl_easy_strerror(res));
        }
        return TM_ERR_IO;
    }
    *status = 0;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

/* ---- etcd's JSON ----------------------------------------------------------
 */

/* An int64 of the gateway: a JSON string of decimal digits (etcd 3.4), or
 * a number. */
bool tml_i64(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = (int64_t)x;
    return true;
}

/* What etcd said in an error answer: {"error": "...", "message": "..."} or,
 * inside a stream, {"error": {"message": "..."}}. */
const char *tml_message(const json_t *ans)
{
    const json_t *e = json_object_get(ans, "error");
    const char *m = json_string_value(json_object_get(ans, "message"));
    if (m == NULL && json_is_object(e)) {
        m = json_string_value(json_object_get(e, "message"));
    }
    if (m == NULL) {
        m = json_string_value(e);
    }
    return m != NULL ? m : "no message";
}

static bool s_lease_not_found(const json_t *ans)
{
    return strstr(tml_message(ans), "lease not found") != NULL;
}

/* base64 (the gateway's bytes) of n bytes of s; NULL on out-of-memory. */
char *tml_b64(const char *s, size_t n)
{
    size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(len);
    if (out != NULL) {
        sodium_bin2base64(out, len, (const unsigned char *)s, n,
                          sodium_base64_VARIANT_ORIGINAL);
    }
    return out;
}

/* ---- requests ------------------------------------------------------------ */

/* Send req to path, at the endpoint that answered last first; an endpoint
 * that does not answer (no connection, timeout, 5xx) passes the request
 * to the next, each tried once (only the current one if !all). *sent: when
 * the request that was answered was sent. 0 with *ans (owned by the
 * caller) and *status; TM_ERR_IO (why: each endpoint and what failed),
 * TM_ERR_WIRE_FIELD (an answer that is not JSON), TM_ERR_CLOSED,
 * TM_ERR_NOMEM. */
int tml_call(tm_lease_t *l, s_http_t *h, const atomic_bool *stop, bool all,
             const char *path, json_t *req, double *sent, json_t **ans,
             long *status, char *why, size_t cap)
{
    *ans = NULL;
    tml_say(why, cap, "%s", "");
    char *body = json_dumps(req, JSON_COMPACT);
    if (body == NULL) {
        return TM_ERR_NOMEM;
    }
    unsigned first = atomic_load(&l->current);
    unsigned tries = all ? l->n_endpoints : 1;
    int rc = TM_ERR_IO;
    for (unsigned i = 0; i < tries; i++) {
        unsigned at = (first + i) % l->n_endpoints;
        const char *ep = l->endpoints[at];
        char url[S_ENDPOINT_MAX + 64];
        char one[TM_LEASE_ERROR_MAX];
        snprintf(url, sizeof url, "%s%s", ep, path);
        *sent = tm_time_now();
        rc = s_http_post(h, stop, url, body, l->timeout_s, status, one,
                         sizeof one);
        if (rc == TM_ERR_CLOSED || rc == TM_ERR_NOMEM) {
            break;
        }
        char line[TM_LEASE_ERROR_MAX + S_ENDPOINT_MAX];
        if (rc != 0) {
            snprintf(line, sizeof line, "%s: %s", ep, one);
            s_append(why, cap, line);
            continue;
        }
        json_error_t jerr;
        *ans = json_loadb(h->body, h->len, JSON_DISABLE_EOF_CHECK, &jerr);
        if (*status >= 500) {
            snprintf(line, sizeof line, "%s: HTTP %ld: %s", ep, *status,
                     *ans != NULL ? tml_message(*ans) : "no JSON");
            s_append(why, cap, line);
            json_decref(*ans);
            *ans = NULL;
            rc = TM_ERR_IO;
            continue;
        }
        atomic_store(&l->current, at);
        if (*ans == NULL || !json_is_object(*ans)) {
            tml_say(why, cap,
                    "etcd %s: an answer that is not a JSON object "
                    "(HTTP %ld)",
                    ep, *status);
            json_decref(*ans);
            *ans = NULL;
            rc = TM_ERR_WIRE_FIELD;
        }
        break;
    }
    free(body);
    return rc;
}

/* The endpoint that answered last, for messages. */
const char *tml_ep(tm_lease_t *l)
{
    return l->endpoints[atomic_load(&l->current)];
}

/* Grant a lease of l->ttl_ask seconds: *id, *ttl (what etcd granted),
 * *sent. Errors: tml_call's, TM_ERR_PERM (refused). */
static int s_grant(tm_lease_t *l, const atomic_bool *stop, int64_t *id,
                   int64_t *ttl, double *sent, char *why, size_t cap)
{
    json_t *req = json_pack("{sI}", "TTL", (json_int_t)l->ttl_ask);
    json_t *ans = NULL;
    long status = 0;
    int rc = req == NULL ? TM_ERR_NOMEM
                         : tml_call(l, &l->http, stop, true, "/v3/lease/grant",
                                    req, sent, &ans, &status, why, cap);
    if (rc == 0) {
        const char *refusal = json_string_value(json_object_get(ans, "error"));
        if (status != 200 || (refusal != NULL && refusal[0] != '\0')) {
            tml_say(why, cap, "etcd %s refused the lease grant (HTTP %ld): %s",
                    tml_ep(l), status, tml_message(ans));
            rc = TM_ERR_PERM;
        } else if (!tml_i64(json_object_get(ans, "ID"), id) || *id == 0 ||
                   !tml_i64(json_object_get(ans, "TTL"), ttl) || *ttl <= 0) {
            tml_say(why, cap, "etcd %s: a lease grant without ID or TTL",
                    tml_ep(l));
            rc = TM_ERR_WIRE_FIELD;
        }
    }
    json_decref(req);
    json_decref(ans);
    return rc;
}

/* One keepalive of lease id: *ttl > 0 renewed, 0 etcd has no such lease
 * (expired or revoked); *sent. Errors: tml_call's, TM_ERR_PERM. */
static int s_keepalive(tm_lease_t *l, int64_t id, int64_t *ttl, double *sent,
                       char *why, size_t cap)
{
    char lease[24];
    snprintf(lease, sizeof lease, "%" PRId64, id);
    json_t *req = json_pack("{ss}", "ID", lease);
    json_t *ans = NULL;
    long status = 0;
    int rc = req == NULL
                 ? TM_ERR_NOMEM
                 : tml_call(l, &l->http, &l->stop, true, "/v3/lease/keepalive",
                            req, sent, &ans, &status, why, cap);
    /* A stream: {"result": {"ID": "..", "TTL": ".."}}, TTL left out when 0
     * (a lease etcd does not have), or {"error": {...}}. */
    const json_t *result = json_object_get(ans, "result");
    *ttl = 0;
    if (rc != 0) {
        /* nothing */
    } else if (status == 200 && json_is_object(result)) {
        const json_t *t = json_object_get(result, "TTL");
        if (t != NULL && !tml_i64(t, ttl)) {
            tml_say(why, cap, "etcd %s: a keepalive answer with a bad TTL",
                    tml_ep(l));
            rc = TM_ERR_WIRE_FIELD;
        }
    } else if (!s_lease_not_found(ans)) {
        tml_say(why, cap, "etcd %s refused the keepalive (HTTP %ld): %s",
                tml_ep(l), status, tml_message(ans));
        rc = TM_ERR_PERM;
    }
    json_decref(req);
    json_decref(ans);
    return rc;
}

/* Revoke lease id: one request to the endpoint that answered last. */
static int s_revoke(tm_lease_t *l, int64_t id, char *why, size_t cap)
{
    char lease[24];
    snprintf(lease, sizeof lease, "%" PRId64, id);
    json_t *req = json_pack("{ss}", "ID", lease);
    json_t *ans = NULL;
    long status = 0;
    double sent;
    int rc = req == NULL
                 ? TM_ERR_NOMEM
                 : tml_call(l, &l->http, NULL, false, "/v3/lease/revoke", req,
                            &sent, &ans, &status, why, cap);
    if (rc == 0 && status != 200 && !s_lease_not_found(ans)) {
        tml_say(why, cap, "etcd %s refused the revoke (HTTP %ld): %s",
                tml_ep(l), status, tml_message(ans));
        rc = TM_ERR_PERM;
    }
    json_decref(req);
    json_decref(ans);
    return rc;
}

/* ---- the thread ---------------------------------------------------------- */

static double s_margin(int64_t ttl)
{
    double quarter = (double)ttl / 4.0;
    return quarter > 1.0 ? quarter : 1.0;
}

/* etcd answered a renewal or a grant (with the key put) sent at sent: the
 * lease lives at least until sent + ttl, by our clock. */
void tml_count(tm_lease_t *l, double sent, int64_t ttl, bool renewal)
{
    double until = sent + (double)ttl - s_margin(ttl);
    long long ns = (long long)floor(until * 1e9);
    if (ns > atomic_load(&l->safe_ns)) {
        atomic_store(&l->safe_ns, ns);
    }
    pthread_mutex_lock(&l->mu);
    if (renewal) {
        l->st.renewals++;
    }
    l->st.lease_id = l->lease_id;
    l->st.ttl_s = (double)ttl;
    l->st.margin_s = s_margin(ttl);
    l->st.counted_at = sent;
    l->st.safe_until = (double)atomic_load(&l->safe_ns) / 1e9;
    pthread_mutex_unlock(&l->mu);
}

/* An attempt failed: count it, keep why, log it once per change. */
void tml_failed(tm_lease_t *l, const char *why)
{
    pthread_mutex_lock(&l->mu);
    l->st.failures++;
    l->st.lease_id = l->lease_id;
    bool news = !l->failing || strcmp(l->st.last_error, why) != 0;
    snprintf(l->st.last_error, sizeof l->st.last_error, "%s", why);
    pthread_mutex_unlock(&l->mu);
    l->failing = true;
    tm_log(news ? TM_LOG_WARN : TM_LOG_DEBUG, "lease: %s: %s", l->key, why);
}

static void s_recovered(tm_lease_t *l, const char *what)
{
    if (l->failing) {
        tm_log(TM_LOG_INFO, "lease: %s: %s", l->key, what);
    }
    l->failing = false;
}

/* Seconds between attempts after a failure. */
double tml_retry(const tm_lease_t *l)
{
    return (double)(l->ttl > 0 ? l->ttl : l->ttl_ask) / 6.0;
}

/* Renew the lease; the time of the next attempt. */
static double s_renew(tm_lease_t *l)
{
    char why[TM_LEASE_ERROR_MAX];
    int64_t ttl = 0;
    double sent = 0;
    int rc = s_keepalive(l, l->lease_id, &ttl, &sent, why, sizeof why);
    if (rc == TM_ERR_CLOSED) {
        return 0;
    }
    if (rc == 0 && ttl > 0) {
        l->ttl = ttl;
        tml_count(l, sent, ttl, true);
        s_recovered(l, "renewed again");
        return sent + (double)ttl / 3.0;
    }
    if (rc == 0) {
        snprintf(why, sizeof why,
                 "etcd %s no longer has lease %" PRId64
                 " (it expired or was revoked); granting a new one",
                 tml_ep(l), l->lease_id);
        l->lease_id = 0;
        l->key_put = false;
        tml_failed(l, why);
        return tm_time_now();
    }
    tml_failed(l, why);
    return tm_time_now() + tml_retry(l);
}

/* While a takeover marker holds the key off: delete it once the node
 * asked to, else see whether it is still there. true: go on to grant and
 * put; false: *next is the next attempt. */
static bool s_unmarked(tm_lease_t *l, double *next)
{
    char why[TM_LEASE_ERROR_MAX];
    char taker[64];
    if (!tm_lease_taken(l, NULL, 0)) {
        return true;
    }
    int rc = atomic_load(&l->release)
                 ? tml_release(l, &l->stop, why, sizeof why)
                 : tml_taken_check(l, &l->stop, taker, sizeof taker, why,
                                   sizeof why);
    if (rc == TM_ERR_CLOSED) {
        *next = 0;
        return false;
    }
    if (rc == TM_ERR_EXISTS) {
        *next = tm_time_now() + tml_retry(l);
        return false;
    }
    if (rc != 0) {
        tml_failed(l, why);
        *next = tm_time_now() + tml_retry(l);
        return false;
    }
    tm_log(TM_LOG_INFO,
           "lease: %s: the takeover marker is gone; putting the "
           "key again",
           l->key);
    pthread_mutex_lock(&l->mu);
    l->st.taken_by[0] = '\0';
    atomic_store(&l->release, false);
    pthread_mutex_unlock(&l->mu);
    return true;
}

/* Grant a new lease if there is none, and put the key with it (unless a
 * takeover marker holds it off); the time of the next attempt. */
static double s_regain(tm_lease_t *l)
{
    char why[TM_LEASE_ERROR_MAX];
    double next = 0;
    if (!s_unmarked(l, &next)) {
        return next;
    }
    if (l->lease_id == 0) {
        int64_t id = 0;
        int64_t ttl = 0;
        double sent = 0;
        int rc = s_grant(l, &l->stop, &id, &ttl, &sent, why, sizeof why);
        if (rc == TM_ERR_CLOSED) {
            return 0;
        }
        if (rc != 0) {
            tml_failed(l, why);
            return tm_time_now() + tml_retry(l);
        }
        l->lease_id = id;
        l->ttl = ttl;
        l->grant_sent = sent;
    }
    char taker[64];
    int rc = tml_put_guarded(l, &l->stop, l->lease_id, taker, sizeof taker, why,
                             sizeof why);
    if (rc == TM_ERR_CLOSED) {
        return 0;
    }
    if (rc == TM_ERR_EXISTS) {
        /* the lease is not needed while the marker exists */
        (void)s_revoke(l, l->lease_id, why, sizeof why);
        l->lease_id = 0;
        tml_mark_taken(l, taker);
        return tm_time_now() + tml_retry(l);
    }
    if (rc != 0) {
        if (rc == TM_ERR_NOT_FOUND) {
            l->lease_id = 0;
        }
        tml_failed(l, why);
        return rc == TM_ERR_NOT_FOUND ? tm_time_now()
                                      : tm_time_now() + tml_retry(l);
    }
    l->key_put = true;
    pthread_mutex_lock(&l->mu);
    l->st.regrants++;
    pthread_mutex_unlock(&l->mu);
    tml_count(l, l->grant_sent, l->ttl, false);
    char what[96];
    snprintf(what, sizeof what, "lease %" PRId64 " granted again, key put",
             l->lease_id);
    s_recovered(l, what);
    return l->grant_sent + (double)l->ttl / 3.0;
}

/* Sleep until t (monotonic seconds); true when asked to stop. */
static bool s_sleep_until(tm_lease_t *l, double t)
{
    pthread_mutex_lock(&l->mu);
    /* a release asked for wakes it once (a failed one waits its retry) */
    while (!atomic_load(&l->stop) && tm_time_now() < t &&
           !atomic_exchange(&l->wake, false)) {
        struct timespec ts;
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_nsec = 999999999L;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    bool stop = atomic_load(&l->stop);
    pthread_mutex_unlock(&l->mu);
    return stop;
}

static void *s_main(void *arg)
{
    tm_lease_t *l = arg;
    double next = l->next_at;
    while (!s_sleep_until(l, next)) {
        next = l->lease_id != 0 && l->key_put ? s_renew(l) : s_regain(l);
    }
    return NULL;
}

/* ---- open, peer, stats, destroy ------------------------------------------ */

static int s_lib_ref(void)
{
    int rc = 0;
    pthread_mutex_lock(&s_lib_mu);
    if (s_lib_users == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        rc = TM_ERR_NOMEM;
    } else {
        s_lib_users++;
    }
    pthread_mutex_unlock(&s_lib_mu);
    return rc;
}

static void s_lib_unref(void)
{
    pthread_mutex_lock(&s_lib_mu);
    if (--s_lib_users == 0) {
        curl_global_cleanup();
    }
    pthread_mutex_unlock(&s_lib_mu);
}

static void s_free(tm_lease_t *l)
{
    for (unsigned i = 0; i < l->n_endpoints; i++) {
        free(l->endpoints[i]);
    }
    free(l->key);
    free(l->prefix);
    free(l->node);
    free(l->value);
    free(l);
}

/* Split "a,b,c" into l->endpoints; each http:// or https://. */
static int s_endpoints(tm_lease_t *l, const char *list, char *err,
                       size_t errlen)
{
    if (list == NULL || list[0] == '\0') {
        tml_say(err, errlen, "lease: no etcd endpoints");
        return TM_ERR_INVAL;
    }
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > S_ENDPOINT_MAX) {
            tml_say(err, errlen, "lease: an etcd endpoint %s in \"%s\"",
                    n == 0 ? "is empty" : "is too long", list);
            return TM_ERR_INVAL;
        }
        if (l->n_endpoints == TM_LEASE_ENDPOINTS_MAX) {
            tml_say(err, errlen, "lease: more than %u etcd endpoints",
                    TM_LEASE_ENDPOINTS_MAX);
            return TM_ERR_INVAL;
        }
        char *ep = strndup(p, n);
        if (ep == NULL) {
            return TM_ERR_NOMEM;
        }
        l->endpoints[l->n_endpoints++] = ep;
        size_t len = n;
        while (len > 0 && ep[len - 1] == '/') {
            ep[--len] = '\0'; /* paths are appended */
        }
        size_t scheme = strncmp(ep, "http://", 7) == 0    ? 7
                        : strncmp(ep, "https://", 8) == 0 ? 8
                                                          : 0;
        if (scheme == 0 || len <= scheme) {
            tml_say(err, errlen,
                    "lease: etcd endpoint \"%s\" is not http://HOST:PORT or "
                    "https://HOST:PORT",
                    ep);
            return TM_ERR_INVAL;
        }
        if (p[n] == '\0') {
            return 0;
        }
        p += n + 1;
    }
}

static int s_opts(tm_lease_t *l, const tm_lease_opts_t *o, char *err,
                  size_t errlen)
{
    int rc = s_endpoints(l, o->endpoints, err, errlen);
    if (rc != 0) {
        return rc;
    }
    const char *value = o->value != NULL ? o->value : "";
    if (o->prefix == NULL || o->prefix[0] == '\0' ||
        strlen(o->prefix) > S_PREFIX_MAX) {
        tml_say(err, errlen, "lease: the key prefix must be 1 to %u bytes",
                S_PREFIX_MAX);
        return TM_ERR_INVAL;
    }
    if (!tm_text_name_valid(o->node)) {
        tml_say(err, errlen, "lease: bad node name \"%s\"",
                o->node != NULL ? o->node : "(null)");
        return TM_ERR_INVAL;
    }
    if (strlen(value) > TM_LEASE_VALUE_MAX) {
        tml_say(err, errlen, "lease: the key's value is longer than %u bytes",
                TM_LEASE_VALUE_MAX);
        return TM_ERR_INVAL;
    }
    if (!(o->ttl_s >= 2.0 && o->ttl_s <= S_TTL_MAX)) {
        tml_say(err, errlen, "lease: ttl %g s is not in [2, %d] s", o->ttl_s,
                S_TTL_MAX);
        return TM_ERR_INVAL;
    }
    l->ttl_ask = (int64_t)floor(o->ttl_s);
    l->timeout_s = o->timeout_s > 0 ? o->timeout_s : (double)l->ttl_ask / 4.0;
    if (!(l->timeout_s <= (double)l->ttl_ask / 2.0)) {
        tml_say(err, errlen,
                "lease: timeout %g s is longer than half the ttl (%" PRId64
                " s)",
                l->timeout_s, l->ttl_ask);
        return TM_ERR_INVAL;
    }
    size_t klen = strlen(o->prefix) + strlen("nodes/") + strlen(o->node) + 1;
    l->key = malloc(klen);
    l->prefix = strdup(o->prefix);
    l->node = strdup(o->node);
    l->value = strdup(value);
    if (l->key == NULL || l->prefix == NULL || l->node == NULL ||
        l->value == NULL) {
        return TM_ERR_NOMEM;
    }
    snprintf(l->key, klen, "%snodes/%s", o->prefix, o->node);
    return 0;
}

static int s_sync_init(tm_lease_t *l)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        return TM_ERR_NOMEM;
    }
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
                     pthread_cond_init(&l->cv, &ca) != 0
                 ? TM_ERR_NOMEM
                 : 0;
    pthread_condattr_destroy(&ca);
    if (rc == 0 && pthread_mutex_init(&l->mu, NULL) != 0) {
        pthread_cond_destroy(&l->cv);
        rc = TM_ERR_NOMEM;
    }
    return rc;
}

int tm_lease_open(tm_lease_t **out, const tm_lease_opts_t *o, char *err,
                  size_t errlen)
{
    *out = NULL;
    tml_say(err, errlen, "%s", "");
    if (sodium_init() < 0) {
        tml_say(err, errlen, "lease: libsodium did not start");
        return TM_ERR_INTERNAL;
    }
    tm_lease_t *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return TM_ERR_NOMEM;
    }
    int rc = s_opts(l, o, err, errlen);
    if (rc != 0) {
        s_free(l);
        return rc;
    }
    if (s_sync_init(l) != 0) {
        s_free(l);
        return TM_ERR_NOMEM;
    }
    rc = s_lib_ref();
    if (rc == 0 && tml_http_init(&l->http) != 0) {
        s_lib_unref();
        rc = TM_ERR_NOMEM;
    }
    if (rc != 0) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        s_free(l);
        return rc;
    }
    char why[TM_LEASE_ERROR_MAX];
    double sent = 0;
    int64_t id = 0;
    int64_t ttl = 0;
    rc = s_grant(l, NULL, &l->lease_id, &l->ttl, &sent, why, sizeof why);
    char taker[64];
    bool taken = false;
    if (rc == 0) {
        l->grant_sent = sent;
        rc = tml_put_guarded(l, NULL, l->lease_id, taker, sizeof taker, why,
                             sizeof why);
        if (rc == TM_ERR_NOT_FOUND) {
            rc = TM_ERR_PERM; /* a lease gone within its first TTL */
        }
        taken = rc == TM_ERR_EXISTS;
        if (rc != 0) {
            char ignored[TM_LEASE_ERROR_MAX];
            (void)s_revoke(l, l->lease_id, ignored, sizeof ignored);
        }
        if (taken) {
            /* the node starts taken over: never safe until released */
            l->lease_id = 0;
            rc = 0;
        }
    }
    if (rc == 0) {
        if (taken) {
            tml_mark_taken(l, taker);
            l->next_at = tm_time_now() + tml_retry(l);
        } else {
            l->key_put = true;
            tml_count(l, l->grant_sent, l->ttl, false);
            l->next_at = l->grant_sent + (double)l->ttl / 3.0;
        }
        snprintf(l->st.endpoint, sizeof l->st.endpoint, "%s", tml_ep(l));
        /* The thread owns lease_id and ttl from here on. */
        id = l->lease_id;
        ttl = l->ttl;
        if (pthread_create(&l->thread, NULL, s_main, l) != 0) {
            char ignored[TM_LEASE_ERROR_MAX];
            (void)s_revoke(l, l->lease_id, ignored, sizeof ignored);
            snprintf(why, sizeof why, "cannot start the keepalive thread");
            rc = TM_ERR_NOMEM;
        }
    }
    if (rc != 0) {
        if (rc == TM_ERR_IO) {
            tml_say(err, errlen, "lease: no etcd endpoint answered: %s", why);
        } else {
            tml_say(err, errlen, "lease: %s", why);
        }
        tml_http_fini(&l->http);
        s_lib_unref();
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        s_free(l);
        return rc;
    }
    l->started = true;
    if (!taken) {
        tm_log(TM_LOG_INFO,
               "lease: %s held with lease %" PRId64 " (TTL %" PRId64
               " s) at etcd %s",
               l->key, id, ttl, tml_ep(l));
    }
    *out = l;
    return 0;
}

double tm_lease_safe_until(const tm_lease_t *l)
{
    return (double)atomic_load(&l->safe_ns) / 1e9;
}

bool tm_lease_safe(const tm_lease_t *l, double now_mono)
{
    return now_mono < tm_lease_safe_until(l);
}

int tm_lease_peer(tm_lease_t *l, const char *node, bool *alive, char *value,
                  size_t cap, char *err, size_t errlen)
{
    tml_say(err, errlen, "%s", "");
    if (value != NULL && cap > 0) {
        value[0] = '\0';
    }
    if (!tm_text_name_valid(node)) {
        tml_say(err, errlen, "lease: bad node name \"%s\"",
                node != NULL ? node : "(null)");
        return TM_ERR_INVAL;
    }
    char key[S_PREFIX_MAX + TM_NAME_MAX + 16];
    snprintf(key, sizeof key, "%snodes/%s", l->prefix, node);
    s_http_t h;
    if (tml_http_init(&h) != 0) {
        return TM_ERR_NOMEM;
    }
    char *b64 = tml_b64(key, strlen(key));
    json_t *req = b64 != NULL ? json_pack("{ss}", "key", b64) : NULL;
    json_t *ans = NULL;
    long status = 0;
    double sent;
    char why[TM_LEASE_ERROR_MAX];
    int rc = req == NULL ? TM_ERR_NOMEM
                         : tml_call(l, &h, NULL, true, "/v3/kv/range", req,
                                    &sent, &ans, &status, why, sizeof why);
    const json_t *kvs = json_object_get(ans, "kvs");
    const json_t *kv = json_array_get(kvs, 0);
    const char *v64 = json_string_value(json_object_get(kv, "value"));
    if (rc == 0 && status != 200) {
        tml_say(why, sizeof why, "etcd %s refused the range (HTTP %ld): %s",
                tml_ep(l), status, tml_message(ans));
        rc = TM_ERR_PERM;
    } else if (rc == 0 && kv != NULL && !json_is_object(kv)) {
        tml_say(why, sizeof why, "etcd %s: a range answer without kvs",
                tml_ep(l));
        rc = TM_ERR_WIRE_FIELD;
    } else if (rc == 0 && kv != NULL && v64 != NULL && v64[0] != '\0') {
        size_t n64 = strlen(v64);
        unsigned char *bin = malloc(n64 / 4 * 3 + 3);
        size_t len = 0;
        if (bin == NULL) {
            rc = TM_ERR_NOMEM;
        } else if (sodium_base642bin(bin, n64 / 4 * 3 + 3, v64, n64, NULL, &len,
                                     NULL,
                                     sodium_base64_VARIANT_ORIGINAL) != 0) {
            tml_say(why, sizeof why, "etcd %s: a value that is not base64",
                    tml_ep(l));
            rc = TM_ERR_WIRE_FIELD;
        } else if (value != NULL && cap > 0) {
            size_t n = len < cap - 1 ? len : cap - 1;
            memcpy(value, bin, n);
            value[n] = '\0';
        }
        free(bin);
    }
    if (rc == 0) {
        *alive = kv != NULL;
    } else if (rc == TM_ERR_IO) {
        tml_say(err, errlen, "lease: no etcd endpoint answered: %s", why);
    } else if (rc != TM_ERR_NOMEM) {
        tml_say(err, errlen, "lease: %s", why);
    }
    json_decref(req);
    json_decref(ans);
    free(b64);
    tml_http_fini(&h);
    return rc;
}

void tm_lease_stats(const tm_lease_t *l, tm_lease_stats_t *out)
{
    tm_lease_t *m = (tm_lease_t *)l; /* the mutex; nothing else changes */
    pthread_mutex_lock(&m->mu);
    *out = l->st;
    pthread_mutex_unlock(&m->mu);
    snprintf(out->endpoint, sizeof out->endpoint, "%s",
             l->endpoints[atomic_load(&m->current)]);
    out->safe_until = tm_lease_safe_until(l);
}

void tm_lease_destroy(tm_lease_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_lease_t *l = *p;
    *p = NULL;
    pthread_mutex_lock(&l->mu);
    atomic_store(&l->stop, true);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    curl_multi_wakeup(l->http.multi);
    if (l->started) {
        pthread_join(l->thread, NULL);
    }
    if (l->lease_id != 0) {
        char why[TM_LEASE_ERROR_MAX];
        if (s_revoke(l, l->lease_id, why, sizeof why) != 0) {
            tm_log(TM_LOG_WARN,
                   "lease: %s: revoking lease %" PRId64
                   " failed (%s); it expires by itself",
                   l->key, l->lease_id, why);
        }
    }
    tml_http_fini(&l->http);
    s_lib_unref();
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    s_free(l);
}
