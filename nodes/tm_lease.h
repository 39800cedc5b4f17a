/* tm_lease: this node's lease in etcd, and the two facts failover needs.
 *
 * A node that runs its actors under a lease may step and publish them only
 * while it is sure its lease is alive; a standby may take them over only
 * once the lease has expired. tm_lease holds the lease and tells the node
 * the first fact, conservatively: tm_lease_safe_until(). tm_lease_peer()
 * tells a standby the second: whether another node's key still exists.
 *
 * At open it grants a lease of ttl_s whole seconds and puts
 * <prefix>nodes/<node> = value attached to it, then a thread of its own
 * keeps the lease alive every TTL/3 (after a failed attempt, again after
 * TTL/6). etcd is reached through its v3 JSON gateway over HTTP (libcurl):
 * POST /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke,
 * /v3/kv/put and /v3/kv/range. Each request goes to the endpoint that
 * answered last; when an endpoint does not answer (no connection, a
 * timeout, a 5xx) the next one in the list is tried, each at most once
 * per request.
 *
 * The margin. etcd moves a lease's expiry to (its time of the renewal) +
 * TTL, and it sees a renewal after the node sent it, so the lease lives at
 * least until (send time + TTL) by the node's clock if both clocks run at
 * the same rate. safe_until is the send time of the last renewal etcd
 * answered with TTL > 0 (or of the grant, once the key is put), plus that
 * TTL, minus a margin of max(1 s, TTL/4) for clocks that run at different
 * rates and for the time the node needs to notice. A renewal that etcd
 * answers late still counts from its send time, never from its answer.
 *
 * A lost lease. A renewal answered with TTL 0 or "lease not found" means
 * etcd has let the lease go (it expired, or it was revoked): the key is
 * gone and a standby may have taken the actors over. The thread grants a
 * new lease and puts the key again (regrants in the statistics, a new
 * lease_id); safe_until moves forward from the new grant only. Whether the
 * node still owns its actors after that is for failover to decide (the
 * directory's epochs), not for this module: safe_until only says that the
 * node's key has existed without a break since the grant it counts from.
 * The guarantee assumes that only this module ends its lease: a lease
 * revoked by hand is noticed at the next renewal (up to TTL/3 later) and
 * a key deleted by hand while its lease lives is not noticed at all.
 *
 * Clocks: CLOCK_MONOTONIC seconds (tm_time_now()) throughout.
 *
 * Threading: tm_lease_safe_until() and tm_lease_safe() are lock-free (one
 * atomic load) and may be called from any thread, e.g. on every tick;
 * tm_lease_stats() takes a mutex briefly; tm_lease_peer() blocks on HTTP
 * (up to timeout_s per endpoint) and is for a console command, not the
 * tick path; it may run on any thread, concurrently with the keepalives.
 * open and destroy on one thread.
 */
#ifndef TM_LEASE_H_INCLUDED
#define TM_LEASE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tm_lease tm_lease_t;

#define TM_LEASE_VALUE_MAX     1024u /* bytes in a node key's value */
#define TM_LEASE_ENDPOINTS_MAX 8u    /* endpoints in the list */
#define TM_LEASE_ERROR_MAX     256u  /* bytes of an error, with the NUL */

typedef struct {
    const char *endpoints; /* "http://127.0.0.1:2379,http://10.0.0.2:2379" */
    const char *prefix;    /* key prefix, e.g. "/twinmesh/<mesh name>/" */
    const char *node;      /* this node's name (tm_text_name_valid) */
    const char *value;     /* what the node's key holds, e.g. an incarnation;
                              NULL: "" */
    double ttl_s;          /* lease TTL in seconds, >= 2; etcd is asked for
                              the whole seconds, and may grant more */
    double timeout_s;      /* per HTTP request and endpoint; <= 0: TTL/4 */
} tm_lease_opts_t;

typedef struct {
    uint64_t renewals;  /* keepalives etcd answered with TTL > 0 */
    uint64_t failures;  /* keepalives, grants or puts that failed */
    uint64_t regrants;  /* leases granted again after etcd lost one */
    int64_t lease_id;   /* the lease held now; 0 while there is none */
    double ttl_s;       /* TTL etcd granted (whole seconds) */
    double margin_s;    /* max(1, TTL/4) */
    double counted_at;  /* send time safe_until counts from (monotonic) */
    double safe_until;  /* as tm_lease_safe_until() */
    char taken_by[64];  /* the node that took this one's actors over
                           (its marker holds the key off); "" if none */
    char endpoint[256]; /* the endpoint that answered last */
    char last_error[TM_LEASE_ERROR_MAX]; /* the last failure; "" if none */
} tm_lease_stats_t;

/* Grant a lease, put <prefix>nodes/<node> = value with it, and start the
 * thread that keeps it alive. Blocks for up to timeout_s per endpoint and
 * request. On success safe_until is already in the future.
 *
 * Errors (a one-line reason in err, which may be NULL):
 *   TM_ERR_INVAL      bad options (which one, why)
 *   TM_ERR_IO         no endpoint answered (each endpoint and what curl
 *                     said, e.g. "http://127.0.0.1:2379: Couldn't
 *                     connect to server")
 *   TM_ERR_PERM       etcd refused the grant or the put (what it answered)
 *   TM_ERR_WIRE_FIELD etcd's answer was not what the gateway sends
 *   TM_ERR_NOMEM
 * On failure nothing is left behind (a lease granted before the put
 * failed is revoked, or expires). */
int tm_lease_open(tm_lease_t **out, const tm_lease_opts_t *o, char *err,
                  size_t errlen);

/* CLOCK_MONOTONIC seconds until which this node may step and publish its
 * actors (see "The margin" above); 0 if never. Never moves backwards. */
double tm_lease_safe_until(const tm_lease_t *l);

/* now_mono < tm_lease_safe_until(l). */
bool tm_lease_safe(const tm_lease_t *l, double now_mono);

/* Whether node's key <prefix>nodes/<node> exists, i.e. its lease is alive
 * as etcd sees it now: *alive, and its value into value (cap bytes,
 * truncated, NUL-terminated; "" when not alive; value may be NULL).
 * Blocking: up to timeout_s per endpoint.
 * Errors: TM_ERR_INVAL (a bad node name), TM_ERR_IO (no endpoint
 * answered), TM_ERR_PERM (etcd refused), TM_ERR_WIRE_FIELD (a bad answer),
 * TM_ERR_NOMEM; *alive is written only on success. */
int tm_lease_peer(tm_lease_t *l, const char *node, bool *alive, char *value,
                  size_t cap, char *err, size_t errlen);

/* Takeovers. A node that takes a dead node's actors over first writes
 * the marker <prefix>taken/<dead> = <its own name>, in one etcd
 * transaction that succeeds only if <prefix>nodes/<dead> does not exist
 * (the dead node's lease has expired, so it has stopped stepping: see
 * "The margin") and no other node wrote the marker first. The dead node's
 * own put of its key is one transaction too, which fails while the marker
 * exists: a node whose actors were taken over never becomes safe again by
 * itself, even if etcd answers it again (it has been partitioned, or it
 * restarts). Once it has let go of those actors (the taker's directory
 * fenced them) it calls tm_lease_release(): the marker is deleted and the
 * key put again, and safe_until moves on from there.
 *
 * tm_lease_take: 0 when this node holds the marker of node (it wrote it
 * now, or it already had). TM_ERR_BUSY: node's key exists (its lease is
 * alive; it may be stepping). TM_ERR_EXISTS: another node took it over
 * (named in err). TM_ERR_INVAL, TM_ERR_IO, TM_ERR_PERM, TM_ERR_WIRE_FIELD,
 * TM_ERR_NOMEM as tm_lease_peer. Blocking, as tm_lease_peer. */
int tm_lease_take(tm_lease_t *l, const char *node, char *err, size_t errlen);

/* Whether this node's actors were taken over (its key is held off by a
 * marker): the taker's name into by (cap bytes; may be NULL). */
bool tm_lease_taken(tm_lease_t *l, char *by, size_t cap);

/* Ask the thread to delete this node's marker and put its key again (the
 * actors taken over have been let go). Returns at once: true when this
 * asked, false when it was asked already (and not done yet). */
bool tm_lease_release(tm_lease_t *l);

/* A copy of the counters and state, for `stats`. */
void tm_lease_stats(const tm_lease_t *l, tm_lease_stats_t *out);

/* Stop the thread (an HTTP request in flight is abandoned at once), then
 * revoke the lease with one request of at most timeout_s to the endpoint
 * that answered last, so that the key goes at once on a clean stop; if
 * that fails the lease expires by itself. NULL-safe, sets *p to NULL. */
void tm_lease_destroy(tm_lease_t **p);

#endif
