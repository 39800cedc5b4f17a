/* dir_test: nodes/tm_dir, the directory of the actors other nodes own.
 *
 * put/get/del with their owner rules, drop_owner, the conflict table (each
 * conflict once, capped, the excess counted), then a seeded random sequence
 * of thousands of operations applied to the table and to a plain array
 * written from the contract in tm_dir.h: after every operation every id
 * must be found (or not) as the array says, and every stored entry must be
 * found at its own position (removal moves the last entry into the hole,
 * so the index must follow it). Ownership epochs: a higher claim by another
 * owner replaces the entry and says whose it was, a lower one is stale, an
 * equal one a conflict; the random sequence runs again with epochs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_dir.h"
#include "tm_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tm_dir_ent_t s_ent(const char *id, uint32_t owner, const char *model)
{
    tm_dir_ent_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.id, sizeof e.id, "%s", id);
    snprintf(e.model, sizeof e.model, "%s", model);
    snprintf(e.tier, sizeof e.tier, "%s", "high");
    e.owner = owner;
    return e;
}

/* Every stored entry is found by its id at its own position. */
static void s_assert_indexed(const tm_dir_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const tm_dir_ent_t *e = tm_dir_get(d, d->ents[i].id);
        if (e != &d->ents[i]) {
            print_error("entry %zu (%s) found at %p, expected %p\n", i,
                        d->ents[i].id, (const void *)e,
                        (const void *)&d->ents[i]);
            fail();
        }
    }
}

static void test_put_get_del(void **state)
{
    tm_dir_t d;
    tm_dir_ent_t e;
    const tm_dir_ent_t *got = NULL;

    (void)state;
    tm_dir_init(&d);
    assert_null(tm_dir_get(&d, "pump-1"));
    e = s_ent("pump-1", 3, "pump@1");
    assert_int_equal(tm_dir_put(&d, &e, NULL), 0);
    e = s_ent("tank-1", 4, "tank@2");
    assert_int_equal(tm_dir_put(&d, &e, NULL), 0);
    got = tm_dir_get(&d, "pump-1");
    assert_non_null(got);
    assert_string_equal(got->id, "pump-1");
    assert_string_equal(got->model, "pump@1");
    assert_string_equal(got->tier, "high");
    assert_int_equal(got->owner, 3);
    assert_int_equal(tm_dir_get(&d, "tank-1")->owner, 4);
    assert_null(tm_dir_get(&d, "pump-"));
    assert_null(tm_dir_get(&d, "pump-10"));

    /* the owner updates its entry in place */
    e = s_ent("pump-1", 3, "pump@2");
    assert_int_equal(tm_dir_put(&d, &e, NULL), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(tm_dir_get(&d, "pump-1")->model, "pump@2");
    assert_int_equal(d.n_conflicts, 0);

    /* only the owner deletes */
    tm_dir_del(&d, "pump-1", 4);
    assert_non_null(tm_dir_get(&d, "pump-1"));
    tm_dir_del(&d, "nobody", 3);
    assert_int_equal(d.n, 2);
    tm_dir_del(&d, "pump-1", 3);
    assert_null(tm_dir_get(&d, "pump-1"));
    assert_int_equal(d.n, 1);
    assert_int_equal(tm_dir_get(&d, "tank-1")->owner, 4);
    s_assert_indexed(&d);

    /* deleted ids can come back, under another owner too */
    e = s_ent("pump-1", 5, "pump@1");
    assert_int_equal(tm_dir_put(&d, &e, NULL), 0);
    assert_int_equal(tm_dir_get(&d, "pump-1")->owner, 5);
    assert_int_equal(tm_dir_count(&d, 5), 1);
    assert_int_equal(tm_dir_count(&d, 3), 0);
    s_assert_indexed(&d);

    tm_dir_free(&d);
    assert_int_equal(d.n, 0);
    assert_null(d.ents);
    tm_dir_free(&d); /* twice is fine */
}

static void test_drop_owner(void **state)
{
    tm_dir_t d;
    char id[32];

    (void)state;
    tm_dir_init(&d);
    /* owners interleaved, more than the first allocation */
    for (uint32_t i = 0; i < 900; i++) {
        snprintf(id, sizeof id, "a-%u", i);
        tm_dir_ent_t e = s_ent(id, i % 3, "m@1");
        assert_int_equal(tm_dir_put(&d, &e, NULL), 0);
    }
    assert_int_equal(tm_dir_count(&d, 0), 300);
    assert_int_equal(tm_dir_count(&d, 1), 300);
    assert_int_equal(tm_dir_count(&d, 2), 300);

    tm_dir_drop_owner(&d, 1);
    assert_int_equal(d.n, 600);
    assert_int_equal(tm_dir_count(&d, 1), 0);
    assert_int_equal(tm_dir_count(&d, 0), 300);
    for (uint32_t i = 0; i < 900; i++) {
        snprintf(id, sizeof id, "a-%u", i);
        const tm_dir_ent_t *e = tm_dir_get(&d, id);
        if (i % 3 == 1) {
            assert_null(e);
        } else {
            assert_non_null(e);
            assert_int_equal(e->owner, i % 3);
        }
    }
    s_assert_indexed(&d);

    tm_dir_drop_owner(&d, 7); /* no entries: nothing happens */
    assert_int_equal(d.n, 600);
    tm_dir_drop_owner(&d, 0);
    tm_dir_drop_owner(&d, 2);
    assert_int_equal(d.n, 0);
    snprintf(id, sizeof id, "a-%u", 3);
    assert_null(tm_dir_get(&d, id));
    tm_dir_free(&d);
}

static void test_conflicts(void **state)
{
    tm_dir_t d;
    tm_dir_ent_t e;
    char id[32];

    (void)state;
    tm_dir_init(&d);
    e = s_ent("valve-1", 1, "valve@1");
    assert_int_equal(tm_dir_put(&d, &e, NULL), 0);

    /* another owner's claim: refused, the first stays, recorded once */
    e = s_ent("valve-1", 2, "valve@9");
    assert_int_equal(tm_dir_put(&d, &e, NULL), TM_ERR_EXISTS);
    assert_int_equal(tm_dir_put(&d, &e, NULL), TM_ERR_EXISTS);
    assert_int_equal(tm_dir_get(&d, "valve-1")->owner, 1);
    assert_string_equal(tm_dir_get(&d, "valve-1")->model, "valve@1");
    assert_int_equal(d.n, 1);
    assert_int_equal(d.n_conflicts, 1);
    assert_string_equal(d.conflicts[0].id, "valve-1");
    assert_int_equal(d.conflicts[0].owner, 1);
    assert_int_equal(d.conflicts[0].other, 2);

    /* a third claimant is another conflict; so is this node's own */
    e.owner = 3;
    assert_int_equal(tm_dir_put(&d, &e, NULL), TM_ERR_EXISTS);
    tm_dir_conflict(&d, "valve-1", 1, UINT32_MAX);
    tm_dir_conflict(&d, "valve-1", 1, UINT32_MAX);
    assert_int_equal(d.n_conflicts, 3);
    assert_int_equal(d.conflicts[2].other, UINT32_MAX);

    /* the owner itself is no conflict, nor is a delete by another */
    e.owner = 1;
    assert_int_equal(tm_dir_put(&d, &e, NULL), 0);
    tm_dir_del(&d, "valve-1", 2);
    assert_non_null(tm_dir_get(&d, "valve-1"));
    assert_int_equal(d.n_conflicts, 3);

    /* capped: the rest is counted, not stored */
    for (uint32_t i = 0; d.n_conflicts < TM_DIR_CONFLICTS_MAX; i++) {
        snprintf(id, sizeof id, "c-%u", i);
        tm_dir_conflict(&d, id, 1, 2);
    }
    assert_true(d.conflicts_dropped == 0);
    tm_dir_conflict(&d, "over-1", 1, 2);
    tm_dir_conflict(&d, "over-2", 1, 2);
    e = s_ent("valve-1", 4, "valve@1");
    assert_int_equal(tm_dir_put(&d, &e, NULL), TM_ERR_EXISTS);
    assert_int_equal(d.n_conflicts, TM_DIR_CONFLICTS_MAX);
    assert_true(d.conflicts_dropped == 3);
    /* one already recorded is not counted again */
    tm_dir_conflict(&d, "valve-1", 1, 2);
    tm_dir_conflict(&d, "c-0", 1, 2);
    assert_true(d.conflicts_dropped == 3);
    for (size_t i = 0; i < d.n_conflicts; i++) {
        assert_true(strncmp(d.conflicts[i].id, "over-", 5) != 0);
    }
    tm_dir_free(&d);
    assert_int_equal(d.n_conflicts, 0);
}

/* ---- random operations against a reference ------------------------------ */

#define S_POOL   400u /* distinct ids */
#define S_OWNERS 5u
#define S_OPS    20000u

typedef struct {
    bool present;
    uint32_t owner;
    uint32_t epoch;
    char model[TM_MSG_NAME_MAX + 1];
} s_ref_t;

static uint64_t s_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void s_id(char *out, size_t cap, uint32_t k)
{
    snprintf(out, cap, "actor-%u", k);
}

/* The table agrees with the reference on every id, count and owner. */
static void s_assert_same(const tm_dir_t *d, const s_ref_t *ref, uint64_t op)
{
    size_t n = 0;
    size_t per_owner[S_OWNERS] = {0};
    char id[32];

    for (uint32_t k = 0; k < S_POOL; k++) {
        const tm_dir_ent_t *e = NULL;
        s_id(id, sizeof id, k);
        e = tm_dir_get(d, id);
        if (ref[k].present != (e != NULL)) {
            print_error("op %llu: %s %s in the table\n", (unsigned long long)op,
                        id, ref[k].present ? "missing" : "unexpectedly");
            fail();
        }
        if (e != NULL) {
            assert_string_equal(e->id, id);
            assert_int_equal(e->owner, ref[k].owner);
            assert_int_equal(e->epoch, ref[k].epoch);
            assert_string_equal(e->model, ref[k].model);
            n++;
            per_owner[ref[k].owner]++;
        }
    }
    assert_int_equal(d->n, n);
    for (uint32_t o = 0; o < S_OWNERS; o++) {
        assert_int_equal(tm_dir_count(d, o), per_owner[o]);
    }
    s_assert_indexed(d);
}

typedef struct {
    size_t refused; /* TM_ERR_EXISTS */
    size_t stale;   /* TM_ERR_STALE */
    size_t moved;   /* replaced another owner's entry */
    size_t removed;
} s_counts_t;

/* S_OPS seeded operations; puts carry an epoch of 0 .. epochs - 1. The
 * reference applies the rules of tm_dir.h: another owner's entry is
 * replaced by a higher epoch (moved_from: that owner), kept against a
 * lower one (TM_ERR_STALE) and an equal one (TM_ERR_EXISTS, a conflict);
 * the owner's own entry is updated whatever its epoch. */
static void s_random(uint64_t seed, uint32_t epochs, s_counts_t *c)
{
    static s_ref_t ref[S_POOL];
    uint64_t rng = seed;
    tm_dir_t d;
    char id[32];

    memset(ref, 0, sizeof ref);
    memset(c, 0, sizeof *c);
    tm_dir_init(&d);
    print_message("seed %llu, %u epochs\n", (unsigned long long)seed, epochs);
    for (uint64_t op = 0; op < S_OPS; op++) {
        uint64_t r = s_next(&rng);
        uint32_t k = (uint32_t)(r % S_POOL);
        uint32_t owner = (uint32_t)((r >> 16) % S_OWNERS);
        unsigned kind = (unsigned)((r >> 32) % 100);
        uint32_t epoch = (uint32_t)((r >> 48) % epochs);
        s_id(id, sizeof id, k);
        if (kind < 55) {
            char model[32];
            snprintf(model, sizeof model, "m@%llu",
                     (unsigned long long)(op % 7));
            tm_dir_ent_t e = s_ent(id, owner, model);
            e.epoch = epoch;
            uint32_t moved_from = 12345;
            size_t conflicts = d.n_conflicts + d.conflicts_dropped;
            int rc = tm_dir_put(&d, &e, &moved_from);
            bool other = ref[k].present && ref[k].owner != owner;
            if (other && epoch == ref[k].epoch) {
                assert_int_equal(rc, TM_ERR_EXISTS);
                assert_int_equal(moved_from, UINT32_MAX);
                /* recorded, unless that pair was already */
                assert_true(d.n_conflicts + d.conflicts_dropped >= conflicts);
                c->refused++;
            } else if (other && epoch < ref[k].epoch) {
                assert_int_equal(rc, TM_ERR_STALE);
                assert_int_equal(moved_from, UINT32_MAX);
                assert_true(d.n_conflicts + d.conflicts_dropped == conflicts);
                c->stale++;
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal(moved_from, other ? ref[k].owner : UINT32_MAX);
                assert_true(d.n_conflicts + d.conflicts_dropped == conflicts);
                c->moved += other;
                ref[k].present = true;
                ref[k].owner = owner;
                ref[k].epoch = epoch;
                snprintf(ref[k].model, sizeof ref[k].model, "%s", model);
            }
        } else if (kind < 99) {
            tm_dir_del(&d, id, owner);
            if (ref[k].present && ref[k].owner == owner) {
                ref[k].present = false;
                c->removed++;
            }
        } else {
            tm_dir_drop_owner(&d, owner);
            for (uint32_t j = 0; j < S_POOL; j++) {
                if (ref[j].present && ref[j].owner == owner) {
                    ref[j].present = false;
                    c->removed++;
                }
            }
        }
        s_assert_same(&d, ref, op);
    }
    assert_true(d.n > 50);
    tm_dir_free(&d);
}

static void test_random_against_reference(void **state)
{
    s_counts_t c;

    (void)state;
    s_random(20261201, 1, &c); /* every epoch 0: the rule before epochs */
    /* the sequence exercised what it is meant to */
    assert_true(c.refused > 1000);
    assert_true(c.removed > 1000);
    assert_int_equal(c.stale + c.moved, 0);
}

static void test_random_epochs(void **state)
{
    s_counts_t c;

    (void)state;
    s_random(20261202, 4, &c);
    assert_true(c.refused > 200);
    assert_true(c.stale > 200);
    assert_true(c.moved > 200);
    assert_true(c.removed > 1000);
}

/* ---- ownership epochs --------------------------------------------------- */

/* The entry of id is exactly *want. */
static void s_assert_ent(const tm_dir_t *d, const tm_dir_ent_t *want)
{
    const tm_dir_ent_t *e = tm_dir_get(d, want->id);
    assert_non_null(e);
    assert_string_equal(e->id, want->id);
    assert_string_equal(e->model, want->model);
    assert_string_equal(e->tier, want->tier);
    assert_int_equal(e->owner, want->owner);
    assert_int_equal(e->epoch, want->epoch);
}

static void test_epochs(void **state)
{
    tm_dir_t d;
    tm_dir_ent_t old, moved, e;
    uint32_t from = 0;

    (void)state;
    tm_dir_init(&d);
    /* an id no one holds: added, moved from no one */
    old = s_ent("pump-1", 1, "pump@1");
    assert_int_equal(tm_dir_put(&d, &old, &from), 0);
    assert_int_equal(from, UINT32_MAX);
    s_assert_ent(&d, &old);

    /* the actor moved to owner 2, epoch 1: replaces, says from whom */
    moved = s_ent("pump-1", 2, "pump@2");
    moved.epoch = 1;
    from = 0;
    assert_int_equal(tm_dir_put(&d, &moved, &from), 0);
    assert_int_equal(from, 1);
    s_assert_ent(&d, &moved);
    assert_int_equal(d.n, 1);
    assert_int_equal(tm_dir_count(&d, 1), 0);
    assert_int_equal(tm_dir_count(&d, 2), 1);
    assert_int_equal(d.n_conflicts, 0);
    s_assert_indexed(&d);

    /* the old owner's late message: stale, nothing changes */
    from = 0;
    assert_int_equal(tm_dir_put(&d, &old, &from), TM_ERR_STALE);
    assert_int_equal(from, UINT32_MAX);
    s_assert_ent(&d, &moved);
    assert_int_equal(d.n_conflicts, 0);
    assert_int_equal(d.conflicts_dropped, 0);
    /* its delete neither: the entry is owner 2's */
    tm_dir_del(&d, "pump-1", 1);
    s_assert_ent(&d, &moved);

    /* another claim at the same epoch: a conflict, the holder stays */
    e = s_ent("pump-1", 3, "pump@9");
    e.epoch = 1;
    from = 0;
    assert_int_equal(tm_dir_put(&d, &e, &from), TM_ERR_EXISTS);
    assert_int_equal(from, UINT32_MAX);
    s_assert_ent(&d, &moved);
    assert_int_equal(d.n_conflicts, 1);
    assert_string_equal(d.conflicts[0].id, "pump-1");
    assert_int_equal(d.conflicts[0].owner, 2);
    assert_int_equal(d.conflicts[0].other, 3);

    /* moved again, to the highest epoch; moved_from may be NULL */
    e.epoch = UINT32_MAX;
    assert_int_equal(tm_dir_put(&d, &e, NULL), 0);
    s_assert_ent(&d, &e);
    moved.epoch = UINT32_MAX - 1;
    assert_int_equal(tm_dir_put(&d, &moved, NULL), TM_ERR_STALE);
    s_assert_ent(&d, &e);

    /* the owner updates its own entry whatever the epoch */
    e.epoch = 5;
    snprintf(e.model, sizeof e.model, "pump@10");
    from = 0;
    assert_int_equal(tm_dir_put(&d, &e, &from), 0);
    assert_int_equal(from, UINT32_MAX);
    s_assert_ent(&d, &e);
    assert_int_equal(d.n_conflicts, 1);
    tm_dir_free(&d);
}

/* Whichever order the old and the new owner's claims arrive in, the
 * higher epoch holds the id, and the old claim is no conflict. */
static void test_epochs_any_order(void **state)
{
    tm_dir_t a, b;
    tm_dir_ent_t old = s_ent("valve-7", 4, "valve@1");
    tm_dir_ent_t moved = s_ent("valve-7", 6, "valve@1");
    uint32_t from = 0;

    (void)state;
    old.epoch = 2;
    moved.epoch = 3;
    tm_dir_init(&a);
    tm_dir_init(&b);
    assert_int_equal(tm_dir_put(&a, &old, NULL), 0);
    assert_int_equal(tm_dir_put(&a, &moved, &from), 0);
    assert_int_equal(from, 4);
    assert_int_equal(tm_dir_put(&b, &moved, &from), 0);
    assert_int_equal(from, UINT32_MAX);
    assert_int_equal(tm_dir_put(&b, &old, &from), TM_ERR_STALE);
    s_assert_ent(&a, &moved);
    s_assert_ent(&b, &moved);
    assert_int_equal(a.n_conflicts + b.n_conflicts, 0);
    tm_dir_free(&a);
    tm_dir_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_drop_owner),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_random_epochs),
        cmocka_unit_test(test_epochs),
        cmocka_unit_test(test_epochs_any_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
