/* tm_msg_mesh: node-to-node messages - heartbeat, link batch, directory.
 *
 * Same rules as tm_msg.c: every decoder checks its whole input with
 * tm_wire_check() first, reads with the bounded reader, allocates only
 * after validation and in proportion to the input (with a cap per message).
 */
#include "tm_err.h"
#include "tm_msg.h"
#include "tm_msg_int.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- heartbeat --------------------------------------------------------- */

static bool s_hb_ok(const tm_heartbeat_t *hb)
{
    if (!tmi_msg_cstr_ok(hb->node, TM_MSG_NAME_MAX) || hb->node[0] == '\0' ||
        !tmi_msg_cstr_ok(hb->site, TM_MSG_NAME_MAX) ||
        !tmi_msg_cstr_ok(hb->state, TM_MSG_NAME_MAX) ||
        !tmi_msg_cstr_ok(hb->endpoint, TM_MSG_ENDPOINT_MAX) ||
        !tmi_msg_cstr_ok(hb->clock, TM_MSG_NAME_MAX) ||
        hb->n_members > TM_MSG_MEMBERS_MAX ||
        hb->step_us > TM_MSG_STEP_US_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < hb->n_members; i++) {
        if (!tmi_msg_cstr_ok(hb->members[i].name, TM_MSG_NAME_MAX) ||
            !tmi_msg_cstr_ok(hb->members[i].endpoint, TM_MSG_ENDPOINT_MAX)) {
            return false;
        }
    }
    return true;
}

int tm_heartbeat_encode(const tm_heartbeat_t *hb, uint8_t **out,
                        size_t *out_len)
{
    tm_wire_buf_t b;

    if (hb == NULL || out == NULL || out_len == NULL || !s_hb_ok(hb)) {
        return TM_ERR_INVAL;
    }
    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 11);
    tm_wire_pack_kv_str(&b.pk, "node", hb->node);
    tm_wire_pack_kv_str(&b.pk, "site", hb->site);
    tm_wire_pack_kv_u64(&b.pk, "tick", hb->tick);
    tm_wire_pack_kv_u64(&b.pk, "actors", hb->actors);
    tm_wire_pack_kv_str(&b.pk, "state", hb->state);
    tm_wire_pack_kv_str(&b.pk, "endpoint", hb->endpoint);
    tm_wire_pack_kv_str(&b.pk, "clock", hb->clock);
    tm_wire_pack_kv_u64(&b.pk, "incarnation", hb->incarnation);
    tm_wire_pack_kv_u64(&b.pk, "dir_seq", hb->dir_seq);
    tm_wire_pack_kv_u64(&b.pk, "step_us", hb->step_us);
    tm_wire_pack_str(&b.pk, "members");
    msgpack_pack_array(&b.pk, hb->n_members);
    for (uint32_t i = 0; i < hb->n_members; i++) {
        msgpack_pack_array(&b.pk, 2);
        tm_wire_pack_str(&b.pk, hb->members[i].name);
        tm_wire_pack_str(&b.pk, hb->members[i].endpoint);
    }
    return tmi_msg_finish(&b, out, out_len);
}

enum {
    S_HB_NODE,
    S_HB_SITE,
    S_HB_TICK,
    S_HB_ACTORS,
    S_HB_STATE,
    S_HB_ENDPOINT,
    S_HB_CLOCK,
    S_HB_INC,
    S_HB_DIR_SEQ,
    S_HB_MEMBERS,
    S_HB_STEP_US
};

static int s_hb_members(tm_wire_reader_t *r, tm_heartbeat_t *hb)
{
    uint32_t n = 0;
    int rc = tm_wire_read_array(r, &n);
    if (rc == 0 && n > TM_MSG_MEMBERS_MAX) {
        rc = TM_ERR_WIRE_FIELD;
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        uint32_t two = 0;
        rc = tm_wire_read_array(r, &two);
        if (rc == 0 && two != 2) {
            rc = TM_ERR_WIRE_FIELD;
        }
        if (rc == 0) {
            rc = tmi_msg_read_name(r, hb->members[i].name, TM_MSG_NAME_MAX);
        }
        if (rc == 0) {
            rc = tmi_msg_read_name(r, hb->members[i].endpoint,
                                   TM_MSG_ENDPOINT_MAX);
        }
    }
    if (rc == 0) {
        hb->n_members = n;
    }
    return rc;
}

static int s_hb_field(tm_wire_reader_t *r, int idx, void *arg)
{
    tm_heartbeat_t *hb = arg;
    int rc = 0;

    switch (idx) {
    case S_HB_NODE:
        rc = tmi_msg_read_name(r, hb->node, TM_MSG_NAME_MAX);
        if (rc == 0 && hb->node[0] == '\0') {
            rc = TM_ERR_WIRE_FIELD;
        }
        break;
    case S_HB_SITE:
        rc = tmi_msg_read_name(r, hb->site, TM_MSG_NAME_MAX);
        break;
    case S_HB_TICK:
        rc = tm_wire_read_u64(r, &hb->tick);
        break;
    case S_HB_ACTORS:
        rc = tm_wire_read_u64(r, &hb->actors);
        break;
    case S_HB_STATE:
        rc = tmi_msg_read_name(r, hb->state, TM_MSG_NAME_MAX);
        break;
    case S_HB_ENDPOINT:
        rc = tmi_msg_read_name(r, hb->endpoint, TM_MSG_ENDPOINT_MAX);
        break;
    case S_HB_CLOCK:
        rc = tmi_msg_read_name(r, hb->clock, TM_MSG_NAME_MAX);
        break;
    case S_HB_INC:
        rc = tm_wire_read_u64(r, &hb->incarnation);
        break;
    case S_HB_DIR_SEQ:
        rc = tm_wire_read_u64(r, &hb->dir_seq);
        break;
    case S_HB_MEMBERS:
        rc = s_hb_members(r, hb);
        break;
    default: /* S_HB_STEP_US */
        rc = tm_wire_read_u64(r, &hb->step_us);
        if (rc == 0 && hb->step_us > TM_MSG_STEP_US_MAX) {
            rc = TM_ERR_WIRE_FIELD;
        }
        break;
    }
    return rc;
}

int tm_heartbeat_decode(const uint8_t *payload, size_t len,
                        const tm_wire_limits_t *limits, tm_heartbeat_t *out)
{
    static const char *const keys[] = {
        "node",  "site",        "tick",    "actors",  "state",  "endpoint",
        "clock", "incarnation", "dir_seq", "members", "step_us"};
    tm_heartbeat_t *hb = calloc(1, sizeof *hb);
    int rc = TM_ERR_INVAL;

    if (hb == NULL) {
        return TM_ERR_NOMEM;
    }
    if (out != NULL) {
        rc = tmi_msg_decode_map(payload, len, limits, keys, TMI_MSG_NKEYS(keys),
                                tmi_msg_all(5), s_hb_field, hb);
    }
    if (rc == 0) {
        *out = *hb;
    }
    free(hb);
    return rc;
}

/* ---- link batch -------------------------------------------------------- */

int tm_link_batch_encode(const tm_link_batch_t *batch, uint8_t **out,
                         size_t *out_len)
{
    tm_wire_buf_t b;

    if (batch == NULL || out == NULL || out_len == NULL ||
        (batch->count > 0 && batch->values == NULL)) {
        return TM_ERR_INVAL;
    }
    if (batch->count > UINT32_MAX / 8) {
        return TM_ERR_TOO_BIG; /* values would not fit a bin32 */
    }
    if (batch->n_degraded > 0 && batch->degraded == NULL) {
        return TM_ERR_INVAL;
    }

    bool ids = batch->ids != NULL || batch->count == 0;
    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 2 + (ids ? 1 : 0) + (batch->n_degraded > 0));
    tm_wire_pack_kv_u64(&b.pk, "tick", batch->tick);
    if (ids) {
        tm_wire_pack_str(&b.pk, "ids");
        msgpack_pack_array(&b.pk, batch->count);
        for (uint32_t i = 0; i < batch->count; i++) {
            msgpack_pack_uint64(&b.pk, batch->ids[i]);
        }
    }
    tm_wire_pack_str(&b.pk, "values");
    msgpack_pack_bin(&b.pk, (size_t)batch->count * 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    tm_wire_pack_raw(&b.pk, (const uint8_t *)batch->values,
                     (size_t)batch->count * 8);
#else
    for (uint32_t i = 0; i < batch->count; i++) {
        uint64_t bits;
        uint8_t le[8];
        memcpy(&bits, &batch->values[i], sizeof bits);
        for (int k = 0; k < 8; k++) {
            le[k] = (uint8_t)(bits >> (8 * k));
        }
        tm_wire_pack_raw(&b.pk, le, sizeof le);
    }
#endif
    if (batch->n_degraded > 0) {
        tm_wire_pack_str(&b.pk, "degraded");
        msgpack_pack_array(&b.pk, batch->n_degraded);
        for (uint32_t i = 0; i < batch->n_degraded; i++) {
            msgpack_pack_uint32(&b.pk, batch->degraded[i]);
        }
    }
    return tmi_msg_finish(&b, out, out_len);
}

/* Read count link ids at r, into ids when not NULL. */
static int s_batch_ids(tm_wire_reader_t *r, uint32_t count, uint64_t *ids)
{
    for (uint32_t i = 0; i < count; i++) {
        uint64_t id = 0;
        int rc = tm_wire_read_u64(r, &id);
        if (rc != 0) {
            return rc;
        }
        if (ids != NULL) {
            ids[i] = id;
        }
    }
    return 0;
}

enum { S_LB_TICK, S_LB_IDS, S_LB_VALUES, S_LB_DEGRADED };

/* Decoding state of a link batch: ids are validated first, copied once
 * the values are known to match them. */
typedef struct {
    tm_link_batch_t batch;
    bool has_ids;
    tm_wire_reader_t ids_at; /* at the first id */
    const uint8_t *values;
    size_t values_len;
    tm_wire_reader_t degraded_at; /* at the first position */
} s_lb_t;

/* Read n positions (u32) at r, into out when not NULL. */
static int s_batch_positions(tm_wire_reader_t *r, uint32_t n, uint32_t *out)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v = 0;
        int rc = tm_wire_read_u64(r, &v);
        if (rc != 0) {
            return rc;
        }
        if (v > UINT32_MAX) {
            return TM_ERR_WIRE_FIELD;
        }
        if (out != NULL) {
            out[i] = (uint32_t)v;
        }
    }
    return 0;
}

static int s_lb_field(tm_wire_reader_t *r, int idx, void *arg)
{
    s_lb_t *lb = arg;
    int rc = 0;

    switch (idx) {
    case S_LB_TICK:
        rc = tm_wire_read_u64(r, &lb->batch.tick);
        break;
    case S_LB_IDS:
        rc = tm_wire_read_array(r, &lb->batch.count);
        lb->has_ids = true;
        if (rc == 0) {
            lb->ids_at = *r;
            rc = s_batch_ids(r, lb->batch.count, NULL);
        }
        break;
    case S_LB_VALUES:
        rc = tm_wire_read_bin(r, &lb->values, &lb->values_len);
        break;
    default: /* S_LB_DEGRADED */
        rc = tm_wire_read_array(r, &lb->batch.n_degraded);
        if (rc == 0) {
            lb->degraded_at = *r;
            rc = s_batch_positions(r, lb->batch.n_degraded, NULL);
        }
        break;
    }
    return rc;
}

int tm_link_batch_decode(const uint8_t *payload, size_t len,
                         const tm_wire_limits_t *limits, tm_link_batch_t *out)
{
    static const char *const keys[] = {"tick", "ids", "values", "degraded"};
    s_lb_t lb;
    tm_link_batch_t *batch = &lb.batch;
    int rc = 0;

    memset(&lb, 0, sizeof lb);
    if (out == NULL) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    rc = tmi_msg_decode_map(payload, len, limits, keys, TMI_MSG_NKEYS(keys),
                            (1u << S_LB_TICK) | (1u << S_LB_VALUES), s_lb_field,
                            &lb);
    if (rc == 0 && !lb.has_ids) {
        batch->count = (uint32_t)(lb.values_len / 8); /* positions */
        if (lb.values_len / 8 > UINT32_MAX) {
            rc = TM_ERR_WIRE_FIELD;
        }
    }
    if (rc == 0 &&
        (lb.values_len / 8 != batch->count || lb.values_len % 8 != 0 ||
         batch->n_degraded > batch->count)) {
        rc = TM_ERR_WIRE_FIELD;
    }
    if (rc != 0 || batch->count == 0) {
        batch->count = 0;
        batch->n_degraded = 0;
        goto done;
    }
    if (batch->n_degraded > 0) {
        batch->degraded = malloc((size_t)batch->n_degraded * sizeof(uint32_t));
        if (batch->degraded == NULL) {
            rc = TM_ERR_NOMEM;
            goto done;
        }
        rc = s_batch_positions(&lb.degraded_at, batch->n_degraded,
                               batch->degraded);
        if (rc != 0) {
            goto done;
        }
    }
    /* count <= len: each value took eight bytes of the payload. */
    batch->ids =
        lb.has_ids ? malloc((size_t)batch->count * sizeof *batch->ids) : NULL;
    batch->values = malloc((size_t)batch->count * sizeof *batch->values);
    if ((lb.has_ids && batch->ids == NULL) || batch->values == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    rc = lb.has_ids ? s_batch_ids(&lb.ids_at, batch->count, batch->ids) : 0;
    if (rc != 0) {
        goto done;
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(batch->values, lb.values, (size_t)batch->count * 8);
#else
    for (uint32_t i = 0; i < batch->count; i++) {
        uint64_t bits = 0;
        for (int k = 7; k >= 0; k--) {
            bits = (bits << 8) | lb.values[8 * (size_t)i + (size_t)k];
        }
        memcpy(&batch->values[i], &bits, sizeof bits);
    }
#endif
done:
    if (rc == 0) {
        *out = *batch;
    } else {
        free(batch->ids);
        free(batch->values);
        free(batch->degraded);
    }
    return rc;
}

void tm_link_batch_free(tm_link_batch_t *batch)
{
    if (batch != NULL) {
        free(batch->ids);
        free(batch->values);
        free(batch->degraded);
        batch->ids = NULL;
        batch->values = NULL;
        batch->degraded = NULL;
        batch->count = 0;
        batch->n_degraded = 0;
    }
}

/* ---- directory --------------------------------------------------------- */

static bool s_entry_ok(const tm_dir_entry_t *e, bool full)
{
    return tmi_msg_cstr_ok(e->id, TM_MSG_NAME_MAX) && e->id[0] != '\0' &&
           (!full || (tmi_msg_cstr_ok(e->model, TM_MSG_NAME_MAX) &&
                      tmi_msg_cstr_ok(e->tier, TM_MSG_NAME_MAX)));
}

int tm_directory_encode(const tm_directory_t *dir, uint8_t **out,
                        size_t *out_len)
{
    tm_wire_buf_t b;

    if (dir == NULL || out == NULL || out_len == NULL ||
        (dir->n_add > 0 && dir->add == NULL) ||
        (dir->n_del > 0 && dir->del == NULL)) {
        return TM_ERR_INVAL;
    }
    if ((uint64_t)dir->n_add + dir->n_del > TM_MSG_DIR_MAX) {
        return TM_ERR_TOO_BIG;
    }
    for (uint32_t i = 0; i < dir->n_add; i++) {
        if (!s_entry_ok(&dir->add[i], true)) {
            return TM_ERR_INVAL;
        }
    }
    for (uint32_t i = 0; i < dir->n_del; i++) {
        if (!s_entry_ok(&dir->del[i], false)) {
            return TM_ERR_INVAL;
        }
    }
    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 5);
    tm_wire_pack_kv_u64(&b.pk, "inc", dir->inc);
    tm_wire_pack_kv_u64(&b.pk, "seq", dir->seq);
    tm_wire_pack_kv_bool(&b.pk, "reset", dir->reset);
    tm_wire_pack_str(&b.pk, "add");
    msgpack_pack_array(&b.pk, dir->n_add);
    for (uint32_t i = 0; i < dir->n_add; i++) {
        /* the epoch only when there is one: entries of actors that never
         * moved stay as they were */
        msgpack_pack_array(&b.pk, dir->add[i].epoch > 0 ? 4 : 3);
        tm_wire_pack_str(&b.pk, dir->add[i].id);
        tm_wire_pack_str(&b.pk, dir->add[i].model);
        tm_wire_pack_str(&b.pk, dir->add[i].tier);
        if (dir->add[i].epoch > 0) {
            msgpack_pack_uint64(&b.pk, dir->add[i].epoch);
        }
    }
    tm_wire_pack_str(&b.pk, "del");
    msgpack_pack_array(&b.pk, dir->n_del);
    for (uint32_t i = 0; i < dir->n_del; i++) {
        tm_wire_pack_str(&b.pk, dir->del[i].id);
    }
    return tmi_msg_finish(&b, out, out_len);
}

enum { S_DIR_INC, S_DIR_SEQ, S_DIR_RESET, S_DIR_ADD, S_DIR_DEL };

typedef struct {
    tm_directory_t dir;
    tm_wire_reader_t add_at; /* at the first entry */
    tm_wire_reader_t del_at;
} s_dir_t;

/* Read n entries at r ([id, model, tier] or [id, model, tier, epoch], or
 * bare ids when !full) into out when not NULL. */
static int s_dir_entries(tm_wire_reader_t *r, uint32_t n, bool full,
                         tm_dir_entry_t *out)
{
    tm_dir_entry_t e;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        memset(&e, 0, sizeof e);
        uint32_t size = 0;
        if (full) {
            rc = tm_wire_read_array(r, &size);
            if (rc == 0 && size != 3 && size != 4) {
                rc = TM_ERR_WIRE_FIELD;
            }
        }
        if (rc == 0) {
            rc = tmi_msg_read_name(r, e.id, TM_MSG_NAME_MAX);
        }
        if (rc == 0 && e.id[0] == '\0') {
            rc = TM_ERR_WIRE_FIELD;
        }
        if (rc == 0 && full) {
            rc = tmi_msg_read_name(r, e.model, TM_MSG_NAME_MAX);
        }
        if (rc == 0 && full) {
            rc = tmi_msg_read_name(r, e.tier, TM_MSG_NAME_MAX);
        }
        uint64_t epoch = 0;
        if (rc == 0 && size == 4) {
            rc = tm_wire_read_u64(r, &epoch);
            rc = rc == 0 && (epoch == 0 || epoch > UINT32_MAX)
                     ? TM_ERR_WIRE_FIELD
                     : rc;
            e.epoch = (uint32_t)epoch;
        }
        if (rc == 0 && out != NULL) {
            out[i] = e;
        }
    }
    return rc;
}

static int s_dir_field(tm_wire_reader_t *r, int idx, void *arg)
{
    s_dir_t *d = arg;
    int rc = 0;

    switch (idx) {
    case S_DIR_INC:
        rc = tm_wire_read_u64(r, &d->dir.inc);
        break;
    case S_DIR_SEQ:
        rc = tm_wire_read_u64(r, &d->dir.seq);
        break;
    case S_DIR_RESET:
        rc = tm_wire_read_bool(r, &d->dir.reset);
        break;
    case S_DIR_ADD:
        rc = tm_wire_read_array(r, &d->dir.n_add);
        if (rc == 0 && d->dir.n_add > TM_MSG_DIR_MAX) {
            rc = TM_ERR_TOO_BIG;
        }
        if (rc == 0) {
            d->add_at = *r;
            rc = s_dir_entries(r, d->dir.n_add, true, NULL);
        }
        break;
    default: /* S_DIR_DEL */
        rc = tm_wire_read_array(r, &d->dir.n_del);
        if (rc == 0 && d->dir.n_del > TM_MSG_DIR_MAX) {
            rc = TM_ERR_TOO_BIG;
        }
        if (rc == 0) {
            d->del_at = *r;
            rc = s_dir_entries(r, d->dir.n_del, false, NULL);
        }
        break;
    }
    return rc;
}

int tm_directory_decode(const uint8_t *payload, size_t len,
                        const tm_wire_limits_t *limits, tm_directory_t *out)
{
    static const char *const keys[] = {"inc", "seq", "reset", "add", "del"};
    s_dir_t d;
    int rc = TM_ERR_INVAL;

    memset(&d, 0, sizeof d);
    if (out != NULL) {
        rc = tmi_msg_decode_map(payload, len, limits, keys, TMI_MSG_NKEYS(keys),
                                tmi_msg_all(TMI_MSG_NKEYS(keys)), s_dir_field,
                                &d);
    }
    if (rc == 0 && (uint64_t)d.dir.n_add + d.dir.n_del > TM_MSG_DIR_MAX) {
        rc = TM_ERR_TOO_BIG;
    }
    if (rc == 0 && d.dir.n_add > 0) {
        d.dir.add = calloc(d.dir.n_add, sizeof *d.dir.add);
        rc = d.dir.add == NULL
                 ? TM_ERR_NOMEM
                 : s_dir_entries(&d.add_at, d.dir.n_add, true, d.dir.add);
    }
    if (rc == 0 && d.dir.n_del > 0) {
        d.dir.del = calloc(d.dir.n_del, sizeof *d.dir.del);
        rc = d.dir.del == NULL
                 ? TM_ERR_NOMEM
                 : s_dir_entries(&d.del_at, d.dir.n_del, false, d.dir.del);
    }
    if (rc == 0) {
        *out = d.dir;
    } else {
        tm_directory_free(&d.dir);
    }
    return rc;
}

void tm_directory_free(tm_directory_t *dir)
{
    if (dir != NULL) {
        free(dir->add);
        free(dir->del);
        dir->add = NULL;
        dir->del = NULL;
        dir->n_add = 0;
        dir->n_del = 0;
    }
}
