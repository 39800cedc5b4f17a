/* tm_lease_take: takeover markers in etcd (tm_lease.h, "Takeovers"), with
 * etcd transactions through the v3 JSON gateway (POST /v3/kv/txn). */
#include "tm_err.h"
#include "tm_lease_int.h"
#include "tm_log.h"
#include "tm_text.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_KEY_MAX 512u

/* <prefix><kind>/<node> */
static void s_key(const tm_lease_t *l, const char *kind, const char *node,
                  char *out, size_t cap)
{
    snprintf(out, cap, "%s%s/%s", l->prefix, kind, node);
}

/* A comparison "key does not exist" (its version is 0). */
static json_t *s_absent(const char *key)
{
    char *b64 = tml_b64(key, strlen(key));
    json_t *c = b64 == NULL
                    ? NULL
                    : json_pack("{ssssssss}", "key", b64, "result", "EQUAL",
                                "target", "VERSION", "version", "0");
    free(b64);
    return c;
}

/* {"request_range": {"key": key}} */
static json_t *s_range_op(const char *key)
{
    char *b64 = tml_b64(key, strlen(key));
    json_t *op =
        b64 == NULL ? NULL : json_pack("{s{ss}}", "request_range", "key", b64);
    free(b64);
    return op;
}

/* {"request_put": {"key": key, "value": value[, "lease": id]}} */
static json_t *s_put_op(const char *key, const char *value, int64_t lease)
{
    char *k = tml_b64(key, strlen(key));
    char *v = tml_b64(value, strlen(value));
    json_t *put = k != NULL && v != NULL
                      ? json_pack("{ssss}", "key", k, "value", v)
                      : NULL;
    if (put != NULL && lease != 0) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, lease);
        if (json_object_set_new(put, "lease", json_string(id)) != 0) {
            json_decref(put);
            put = NULL;
        }
    }
    free(k);
    free(v);
    return put == NULL ? NULL : json_pack("{so}", "request_put", put);
}

/* One transaction: *ok whether the comparisons held, *ans the answer
 * (owned by the caller). Errors: tml_call's, TM_ERR_NOT_FOUND (a put's
 * lease is gone), TM_ERR_PERM (refused). */
static int s_txn(tm_lease_t *l, s_http_t *h, const atomic_bool *stop,
                 json_t *req, bool *ok, json_t **ans, char *why, size_t cap)
{
    long status = 0;
    double sent;
    *ok = false;
    int rc = req == NULL ? TM_ERR_NOMEM
                         : tml_call(l, h, stop, true, "/v3/kv/txn", req, &sent,
                                    ans, &status, why, cap);
    if (rc == 0 && status != 200) {
        const char *m = tml_message(*ans);
        rc = strstr(m, "lease not found") != NULL ? TM_ERR_NOT_FOUND
                                                  : TM_ERR_PERM;
        tml_say(why, cap, "etcd %s refused a transaction (HTTP %ld): %s",
                tml_ep(l), status, m);
    }
    if (rc == 0) {
        *ok = json_is_true(json_object_get(*ans, "succeeded"));
    }
    return rc;
}

/* Whether the i-th response of a transaction is a range that found a key;
 * its value (decoded) into out. */
static bool s_found(const json_t *ans, size_t i, char *out, size_t cap)
{
    const json_t *r = json_array_get(json_object_get(ans, "responses"), i);
    const json_t *rr = json_object_get(r, "response_range");
    if (rr == NULL) {
        rr = json_object_get(r, "responseRange");
    }
    const json_t *kv = json_array_get(json_object_get(rr, "kvs"), 0);
    if (!json_is_object(kv)) {
        return false;
    }
    const char *v64 = json_string_value(json_object_get(kv, "value"));
    size_t len = 0;
    if (out != NULL && cap > 0) {
        out[0] = '\0';
        if (v64 != NULL &&
            sodium_base642bin((unsigned char *)out, cap - 1, v64, strlen(v64),
                              NULL, &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0) {
            out[len] = '\0';
        }
    }
    return true;
}

int tml_put_guarded(tm_lease_t *l, const atomic_bool *stop, int64_t id,
                    char *taker, size_t tcap, char *why, size_t cap)
{
    char marker[S_KEY_MAX];
    s_key(l, "taken", l->node, marker, sizeof marker);
    json_t *req = json_pack("{s[o]s[o]s[o]}", "compare", s_absent(marker),
                            "success", s_put_op(l->key, l->value, id),
                            "failure", s_range_op(marker));
    json_t *ans = NULL;
    bool ok = false;
    int rc = s_txn(l, &l->http, stop, req, &ok, &ans, why, cap);
    if (rc == 0 && !ok) {
        if (!s_found(ans, 0, taker, tcap)) {
            tml_say(taker, tcap, "%s", "?"); /* gone again since */
        }
        rc = TM_ERR_EXISTS;
    }
    json_decref(req);
    json_decref(ans);
    return rc;
}

int tml_taken_check(tm_lease_t *l, const atomic_bool *stop, char *taker,
                    size_t tcap, char *why, size_t cap)
{
    char marker[S_KEY_MAX];
    s_key(l, "taken", l->node, marker, sizeof marker);
    json_t *req =
        json_pack("{s[]s[o]}", "compare", "success", s_range_op(marker));
    json_t *ans = NULL;
    bool ok = false;
    int rc = s_txn(l, &l->http, stop, req, &ok, &ans, why, cap);
    if (rc == 0 && s_found(ans, 0, taker, tcap)) {
        rc = TM_ERR_EXISTS;
    }
    json_decref(req);
    json_decref(ans);
    return rc;
}

int tml_release(tm_lease_t *l, const atomic_bool *stop, char *why, size_t cap)
{
    char marker[S_KEY_MAX];
    s_key(l, "taken", l->node, marker, sizeof marker);
    char *b64 = tml_b64(marker, strlen(marker));
    json_t *req = b64 == NULL ? NULL : json_pack("{ss}", "key", b64);
    json_t *ans = NULL;
    long status = 0;
    double sent;
    int rc = req == NULL
                 ? TM_ERR_NOMEM
                 : tml_call(l, &l->http, stop, true, "/v3/kv/deleterange", req,
                            &sent, &ans, &status, why, cap);
    if (rc == 0 && status != 200) {
        tml_say(why, cap, "etcd %s refused the delete of %s (HTTP %ld): %s",
                tml_ep(l), marker, status, tml_message(ans));
        rc = TM_ERR_PERM;
    }
    json_decref(req);
    json_decref(ans);
    free(b64);
    return rc;
}

void tml_mark_taken(tm_lease_t *l, const char *taker)
{
    if (taker[0] == '\0') {
        taker = "?"; /* an unreadable name: taken all the same */
    }
    pthread_mutex_lock(&l->mu);
    bool news = strcmp(l->st.taken_by, taker) != 0;
    snprintf(l->st.taken_by, sizeof l->st.taken_by, "%s", taker);
    pthread_mutex_unlock(&l->mu);
    if (news) {
        tm_log(TM_LOG_WARN,
               "lease: %s: node %s took this node's actors over (marker "
               "%staken/%s): this node does not step or change them; it "
               "lets them go when it sees %s's directory",
               l->key, taker, l->prefix, l->node, taker);
    }
}

int tm_lease_take(tm_lease_t *l, const char *node, char *err, size_t errlen)
{
    tml_say(err, errlen, "%s", "");
    if (!tm_text_name_valid(node)) {
        tml_say(err, errlen, "lease: bad node name \"%s\"",
                node != NULL ? node : "(null)");
        return TM_ERR_INVAL;
    }
    char alive[S_KEY_MAX];
    char marker[S_KEY_MAX];
    s_key(l, "nodes", node, alive, sizeof alive);
    s_key(l, "taken", node, marker, sizeof marker);
    s_http_t h;
    if (tml_http_init(&h) != 0) {
        return TM_ERR_NOMEM;
    }
    json_t *req =
        json_pack("{s[oo]s[o]s[oo]}", "compare", s_absent(alive),
                  s_absent(marker), "success", s_put_op(marker, l->node, 0),
                  "failure", s_range_op(alive), s_range_op(marker));
    json_t *ans = NULL;
    bool ok = false;
    char why[TM_LEASE_ERROR_MAX];
    char taker[64];
    int rc = s_txn(l, &h, NULL, req, &ok, &ans, why, sizeof why);
    if (rc == 0 && !ok) {
        if (s_found(ans, 0, NULL, 0)) {
            tml_say(err, errlen,
                    "node %s's lease in etcd is alive (key %s exists): it "
                    "may still be stepping its actors; its lease ends at "
                    "most one TTL after it last reached etcd",
                    node, alive);
            rc = TM_ERR_BUSY;
        } else if (s_found(ans, 1, taker, sizeof taker) &&
                   strcmp(taker, l->node) != 0) {
            tml_say(err, errlen, "node %s was taken over by %s already (%s)",
                    node, taker, marker);
            rc = TM_ERR_EXISTS;
        } /* else this node's own marker: taken already */
    } else if (rc == TM_ERR_IO) {
        tml_say(err, errlen, "lease: no etcd endpoint answered: %s", why);
    } else if (rc != 0 && rc != TM_ERR_NOMEM) {
        tml_say(err, errlen, "lease: %s", why);
    }
    json_decref(req);
    json_decref(ans);
    tml_http_fini(&h);
    return rc;
}

bool tm_lease_taken(tm_lease_t *l, char *by, size_t cap)
{
    pthread_mutex_lock(&l->mu);
    bool taken = l->st.taken_by[0] != '\0';
    if (by != NULL && cap > 0) {
        snprintf(by, cap, "%s", l->st.taken_by);
    }
    pthread_mutex_unlock(&l->mu);
    return taken;
}

bool tm_lease_release(tm_lease_t *l)
{
    pthread_mutex_lock(&l->mu);
    bool asked = !atomic_exchange(&l->release, true);
    if (asked) {
        atomic_store(&l->wake, true);
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return asked;
}
