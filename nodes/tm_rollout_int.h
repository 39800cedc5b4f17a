/* tm_rollout_int.h: what tm_rollout.c (the stages, rollback, the
 * service) and tm_rollout_rec.c (the durable record, the status) share.
 * Not part of the node's API. */
#ifndef TM_ROLLOUT_INT_H_INCLUDED
#define TM_ROLLOUT_INT_H_INCLUDED

#include "tm_models.h"
#include "tm_rollout.h"
#include "tm_wire.h"

#include <stdbool.h>
#include <stdint.h>

#define TMI_RO_MAX 16u /* families with a rollout record */

typedef enum {
    TMI_RO_SHADOW,
    TMI_RO_CANARY,
    TMI_RO_DONE,
    TMI_RO_ROLLED_BACK
} tmi_ro_stage_t;

typedef struct {
    char family[TM_MODEL_NAME_MAX + 1];
    char from[TM_MODEL_NAME_MAX + 1];
    char to[TM_MODEL_NAME_MAX + 1];
    tm_rollout_opts_t o;
    tmi_ro_stage_t stage;
    uint64_t started, stage_tick;
    char (*canary)[TM_ID_MAX + 1];
    size_t n_canary;
    bool armed;     /* the canary's trials are running */
    bool mesh_tell; /* a rollback of its own is told to the mesh */
    size_t total;
    double rmse, mape; /* worst scores of the canary */
    char worst[TM_MODEL_NAME_MAX + 1];
    /* Against measurements: the samples scored, and the most the new
     * version's RMSE and MAPE exceed the live version's (worst output) */
    uint64_t m_n;
    double m_rmse, m_mape;
    char m_worst[TM_MODEL_NAME_MAX + 1];
    char decision[TM_ROLLOUT_WHY_MAX];
} tmi_ro_t;

struct tm_rollout {
    tm_mesh_t *mesh; /* NULL: a node on its own */
    tm_rt_t *rt;
    tm_mut_t *mut;
    tm_store_t *store;
    tmi_ro_t ro[TMI_RO_MAX];
    size_t n;
    /* The writer (tm_rollout_writer): a stage's decision that must commit
     * while a checkpoint is in flight waits for it, with the clock held
     * at its tick, instead of holding the loop. */
    bool (*busy)(void *arg);
    void *busy_arg;
    bool deferred;
    uint64_t deferred_tick;
    uint64_t deferrals;
};

/* "shadow", "canary", "done", "rolled-back". */
const char *tmi_ro_stage_name(tmi_ro_stage_t stage);
/* In its shadow or canary stage. */
bool tmi_ro_active(const tmi_ro_t *ro);
/* ro's durable record into w (TM_DB_CATALOG, under TM_MUT_ROLLOUT_KEY). */
void tmi_ro_encode(const tmi_ro_t *ro, tm_wire_buf_t *w);
/* A record read back into ro (ro->canary allocated; freed by the caller
 * also on error). Errors: TM_ERR_STORE_CORRUPT, TM_ERR_NOMEM. */
int tmi_ro_decode(const void *val, size_t len, tmi_ro_t *ro);

#endif
