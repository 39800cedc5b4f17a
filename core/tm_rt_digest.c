/* tm_rt_digest: the mesh digest (definition in tm_rt.h). */
#include "tm_rt_int.h"

#include "tm_err.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- digest ------------------------------------------------------------- */

static void s_hash_bytes(crypto_generichash_state *st, const void *p, size_t n)
{
    crypto_generichash_update(st, p, n);
}

static void s_hash_str(crypto_generichash_state *st, const char *s)
{
    s_hash_bytes(st, s, strlen(s) + 1);
}

static void s_hash_u64(crypto_generichash_state *st, uint64_t v)
{
    unsigned char le[8];
    for (int b = 0; b < 8; b++) {
        le[b] = (unsigned char)(v >> (8 * b));
    }
    s_hash_bytes(st, le, sizeof le);
}

/* n doubles as their little-endian IEEE 754 bits, after their count. */
static void s_hash_f64s(crypto_generichash_state *st, const double *v,
                        uint32_t n)
{
    s_hash_u64(st, n);
    for (uint32_t j = 0; j < n; j++) {
        uint64_t bits;
        memcpy(&bits, &v[j], sizeof bits);
        s_hash_u64(st, bits);
    }
}

/* An incoming link, for sorting: input, then source id, then output. */
typedef struct {
    uint16_t in;
    uint16_t out;
    uint16_t delay;
    uint32_t srci; /* source actor handle */
    const char *src;
} s_in_link_t;

static int s_in_link_cmp(const void *a, const void *b)
{
    const s_in_link_t *x = a;
    const s_in_link_t *y = b;
    if (x->in != y->in) {
        return x->in < y->in ? -1 : 1;
    }
    int c = strcmp(x->src, y->src);
    if (c != 0) {
        return c;
    }
    return x->out < y->out ? -1 : x->out > y->out ? 1 : 0;
}

/* The incoming links of actor a, sorted, into *links (*cap entries,
 * grown); *n gets their number. TM_ERR_NOMEM. */
static int s_in_links(const tm_rt_t *rt, uint32_t a, s_in_link_t **links,
                      size_t *cap, size_t *count)
{
    size_t n = 0;
    uint32_t head = rt->actors[a].head[TMI_RT_IN];
    if (head != TMI_RT_NONE) {
        uint32_t li = head;
        do {
            if (n == *cap) {
                size_t grown = *cap ? *cap * 2 : 16;
                s_in_link_t *v = realloc(*links, grown * sizeof *v);
                if (v == NULL) {
                    return TM_ERR_NOMEM;
                }
                *links = v;
                *cap = grown;
            }
            const tmi_rt_link_t *l = &rt->links[li];
            (*links)[n].in = l->in;
            (*links)[n].out = l->out;
            (*links)[n].delay = l->delay;
            (*links)[n].srci = l->src;
            (*links)[n].src = rt->actors[l->src].id;
            n++;
            li = rt->adj[li].next[TMI_RT_IN];
        } while (li != head);
    }
    if (n > 1) {
        qsort(*links, n, sizeof **links, s_in_link_cmp);
    }
    *count = n;
    return 0;
}

/* H(actor): everything that defines it (see tm_rt_digest). links is
 * scratch space for its incoming links (*cap entries, grown). */
static int s_actor_hash(const tm_rt_t *rt, uint32_t a, s_in_link_t **links,
                        size_t *cap, unsigned char h[32])
{
    const tmi_rt_actor_t *ac = &rt->actors[a];
    const tmi_rt_group_t *g = rt->groups[ac->group];
    const tm_model_t *m = g->model;
    size_t s = ac->slot;
    size_t n = 0;
    int rc = s_in_links(rt, a, links, cap, &n);
    if (rc != 0) {
        return rc;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    s_hash_str(&st, ac->id);
    s_hash_str(&st, m->family);
    s_hash_str(&st, m->version);
    s_hash_u64(&st, (uint64_t)m->fidelity);
    s_hash_u64(&st, g->period);
    s_hash_f64s(&st, g->params + s * g->np, g->np);
    s_hash_f64s(&st, g->held + s * g->ni, g->ni);
    s_hash_f64s(&st, g->state + s * g->ns, g->ns);
    s_hash_f64s(&st, g->out[0] + s * g->no, g->no);
    s_hash_u64(&st, n);
    for (size_t i = 0; i < n; i++) {
        s_hash_str(&st, m->inputs[(*links)[i].in].name);
        s_hash_str(&st, (*links)[i].src);
        const tmi_rt_actor_t *src = &rt->actors[(*links)[i].srci];
        const tm_model_t *sm = rt->groups[src->group]->model;
        s_hash_str(&st, sm->outputs[(*links)[i].out].name);
        s_hash_u64(&st, (*links)[i].delay);
    }
    if (ac->sup != TMI_RT_NONE) {
        /* Supervision, only for an actor that has a record: "sup", target,
         * pinned, quarantined, shadow tier (or 3 for none), seeded,
         * healthy, the shadow state when seeded, the lowest-tier faults. */
        const tmi_rt_sup_t *sp = &rt->sups[ac->sup];
        s_hash_str(&st, "sup");
        s_hash_u64(&st, sp->target);
        s_hash_u64(&st, sp->pinned);
        s_hash_u64(&st, sp->quarantined);
        s_hash_u64(&st, sp->shadow != NULL ? (uint64_t)sp->shadow->fidelity
                                           : TM_FIDELITY_COUNT);
        s_hash_u64(&st, sp->seeded);
        s_hash_u64(&st, sp->healthy);
        if (sp->seeded && sp->shadow != NULL) {
            s_hash_f64s(&st, sp->shadow_state, sp->shadow->n_states);
        }
        s_hash_u64(&st, sp->n_low);
        for (uint32_t i = 0; i < sp->n_low; i++) {
            s_hash_u64(&st, sp->low[i]);
        }
        if (sp->resid_run > 0 || (sp->shadow != NULL && sp->shadow_y)) {
            /* Residual checks, only where they left something: "resid",
             * the run over the limit, the shadow's last outputs or none. */
            s_hash_str(&st, "resid");
            s_hash_u64(&st, sp->resid_run);
            bool y = sp->shadow != NULL && sp->shadow_y;
            s_hash_u64(&st, y);
            if (y) {
                s_hash_f64s(&st, sp->shadow_out, sp->shadow->n_outputs);
            }
        }
    }
    crypto_generichash_final(&st, h, 32);
    return 0;
}

/* sum += h, as 256-bit little-endian numbers (mod 2^256). */
static void s_add256(unsigned char sum[32], const unsigned char h[32])
{
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = (unsigned)sum[i] + h[i] + carry;
        sum[i] = (unsigned char)v;
        carry = v >> 8;
    }
}

int tm_rt_digest_part(tm_rt_t *rt, tm_rt_digest_part_t *part)
{
    s_in_link_t *links = NULL;
    size_t cap = 0;
    int rc = 0;
    memset(part, 0, sizeof *part);
    for (size_t a = 0; a < rt->n_actor_slots && rc == 0; a++) {
        uint32_t gi = rt->actors[a].group;
        if (gi == TMI_RT_NONE || rt->groups[gi]->remote) {
            continue;
        }
        unsigned char h[32];
        rc = s_actor_hash(rt, (uint32_t)a, &links, &cap, h);
        if (rc == 0) {
            s_add256(part->sum, h);
            part->actors++;
        }
    }
    part->tick = rt->tick;
    free(links);
    return rc;
}

int tm_rt_digest_combine(const tm_rt_digest_part_t *parts, size_t n,
                         uint8_t out[32])
{
    tm_rt_digest_part_t all;
    memset(&all, 0, sizeof all);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && parts[i].tick != parts[0].tick) {
            return TM_ERR_INVAL;
        }
        s_add256(all.sum, parts[i].sum);
        all.actors += parts[i].actors;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    s_hash_str(&st, TM_RT_DIGEST_NAME);
    s_hash_u64(&st, all.actors);
    s_hash_bytes(&st, all.sum, sizeof all.sum);
    crypto_generichash_final(&st, out, 32);
    return 0;
}

int tm_rt_digest(tm_rt_t *rt, uint8_t out[32])
{
    tm_rt_digest_part_t part;
    int rc = tm_rt_digest_part(rt, &part);
    if (rc == 0) {
        rc = tm_rt_digest_combine(&part, 1, out);
    }
    return rc;
}
