/* tm_dir: the directory of the actors other nodes own (id -> owner, model,
 * tier), as their heartbeats and directory messages tell it.
 *
 * Each node is the authority for its own actors and replicates only their
 * entries; this table holds the entries of every peer. An id that two
 * nodes claim is a conflict: the first claim stays in the table, the
 * other is recorded (tm_dir_conflicts) and neither is dropped on its node.
 * Unless their ownership epochs differ: an actor that moved (a migration, a
 * failover) is claimed by its new node with a higher epoch, and that claim
 * replaces the old one whatever order the two nodes' messages arrive in.
 * Control thread only.
 */
#ifndef TM_DIR_H_INCLUDED
#define TM_DIR_H_INCLUDED

#include "tm_index.h"
#include "tm_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_DIR_CONFLICTS_MAX 256u

typedef struct {
    char id[TM_MSG_NAME_MAX + 1];
    char model[TM_MSG_NAME_MAX + 1]; /* family@version */
    char tier[TM_MSG_NAME_MAX + 1];
    uint32_t owner; /* the caller's peer number */
    uint32_t epoch; /* ownership epoch: the higher claim wins */
} tm_dir_ent_t;

typedef struct {
    char id[TM_MSG_NAME_MAX + 1];
    uint32_t owner; /* holds the entry */
    uint32_t other; /* claims it too (UINT32_MAX: this node) */
} tm_dir_conflict_t;

typedef struct {
    tm_dir_ent_t *ents;
    size_t n, cap;
    tm_index_t ix;
    tm_dir_conflict_t conflicts[TM_DIR_CONFLICTS_MAX];
    size_t n_conflicts;
    uint64_t conflicts_dropped; /* beyond the table */
} tm_dir_t;

void tm_dir_init(tm_dir_t *d);
void tm_dir_free(tm_dir_t *d);

/* Add or update owner's entry. When another owner holds the id: a higher
 * epoch replaces its entry (the actor moved; *moved_from, if not NULL,
 * gets the earlier owner, else UINT32_MAX), a lower one is TM_ERR_STALE
 * (a claim the mesh has moved past; the table is unchanged), the same one
 * TM_ERR_EXISTS (recorded as a conflict; the table is unchanged).
 * TM_ERR_NOMEM. */
int tm_dir_put(tm_dir_t *d, const tm_dir_ent_t *e, uint32_t *moved_from);
/* Remove owner's entry of id (nothing if another owner holds it). */
void tm_dir_del(tm_dir_t *d, const char *id, uint32_t owner);
/* Remove every entry of owner (a reset or a restarted peer). */
void tm_dir_drop_owner(tm_dir_t *d, uint32_t owner);
/* The entry of id, or NULL. Valid until the next change. */
const tm_dir_ent_t *tm_dir_get(const tm_dir_t *d, const char *id);
/* Entries of owner. */
size_t tm_dir_count(const tm_dir_t *d, uint32_t owner);
/* Record that this node and the entry's owner both hold id. */
void tm_dir_conflict(tm_dir_t *d, const char *id, uint32_t owner,
                     uint32_t other);

#endif
