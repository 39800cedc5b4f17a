/* tm_rollout_int.h: what tm_rollout.c (the stages, rollback, the
 * service), tm_rollout_params.c (rollouts of a parameter set) and
 * tm_rollout_rec.c (the durable record, the status) share. Not part of
 * the node's API. */
#ifndef TM_ROLLOUT_INT_H_INCLUDED
#define TM_ROLLOUT_INT_H_INCLUDED

#include "tm_log.h"
#include "tm_models.h"
#include "tm_rollout.h"
#include "tm_wire.h"

#include <stdbool.h>
#include <stdint.h>

#define TMI_RO_MAX 65536u /* rollout records: families, actors' sets */
/* A record's key: the family, or "params:" and the actor's id. */
#define TMI_RO_PARAMS_KEY TM_MUT_ROLLOUT_PARAMS
#define TMI_RO_KEY_MAX    (sizeof TMI_RO_PARAMS_KEY - 1 + TM_ID_MAX)

typedef enum {
    TMI_RO_SHADOW,
    TMI_RO_CANARY,
    TMI_RO_DONE,
    TMI_RO_ROLLED_BACK
} tmi_ro_stage_t;

typedef struct {
    char key[TMI_RO_KEY_MAX + 1];
    char family[TM_MODEL_NAME_MAX + 1];
    char from[TM_MODEL_NAME_MAX + 1]; /* versions, or params@N */
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
    /* A parameter set's rollout (tm_rollout_params.c): the actor (""
     * for a version's rollout), its model's version, the set's values and
     * the state the trial starts from. */
    char actor[TM_ID_MAX + 1];
    char version[TM_MODEL_NAME_MAX + 1];
    uint8_t fidelity; /* tm_fidelity_t of the model it was fitted on */
    uint32_t np, ns;
    double params[TM_MODEL_MAX_VARS];
    double state[TM_MODEL_MAX_VARS];
} tmi_ro_t;

struct tm_rollout {
    tm_mesh_t *mesh; /* NULL: a node on its own */
    tm_rt_t *rt;
    tm_mut_t *mut;
    tm_store_t *store;
    tmi_ro_t *ro; /* n records, room for cap */
    size_t n, cap;
    /* records in their shadow or canary stage (tmi_ro_recount): the
     * service does nothing per tick while there are none, however many
     * finished ones are kept (one per calibrated actor) */
    size_t n_active;
    /* The writer (tm_rollout_writer): a stage's decision that must commit
     * while a checkpoint is in flight waits for it, with the clock held
     * at its tick, instead of holding the loop. */
    bool (*busy)(void *arg);
    void *busy_arg;
    bool deferred;
    uint64_t deferred_tick;
    uint64_t deferrals;
};

/* The record of key (a family, or TMI_RO_PARAMS_KEY ID), or NULL. */
tmi_ro_t *tmi_ro_find(tm_rollout_t *r, const char *key);
/* A new record built apart (nr) in its key's slot: its old record goes
 * only now. NULL (nr's canary freed) without memory or room. */
tmi_ro_t *tmi_ro_install(tm_rollout_t *r, tmi_ro_t *nr);
/* Count the records in their shadow or canary stage again (after a
 * record is installed, a stage ends, a rollback). */
void tmi_ro_recount(tm_rollout_t *r);
/* Whether key's record has a slot (its old one, or room for one). */
bool tmi_ro_room(tm_rollout_t *r, const char *key);
/* "HEAD FROM -> TO: DECISION" (HEAD: the actor of a parameter set, else
 * the family), TM_ROLLOUT_WHY_MAX bytes: ro's line in the log and in
 * its audit record. */
void tmi_ro_line(const tmi_ro_t *ro, char *out);
/* ro's decision logged at level and committed with its record. */
void tmi_ro_decided(tm_rollout_t *r, const tmi_ro_t *ro, tm_log_level_t level);
/* Commit ro's record with an audit record saying reason (and deleting
 * the kept records of the n_forget ids in forget). */
int tmi_ro_save(tm_rollout_t *r, const tmi_ro_t *ro, const char *reason,
                char *why);
int tmi_ro_save_forget(tm_rollout_t *r, const tmi_ro_t *ro, const char *reason,
                       const char *const *forget, size_t n_forget, char *why);
/* Stop the trials, put the switched actors back, save the decision. */
void tmi_ro_roll_back(tm_rollout_t *r, tmi_ro_t *ro, const char *decision);

/* TM_ERR_BUSY with why while a rollout of family's versions is in its
 * shadow or canary stage, else 0. */
int tmi_ro_family_busy(tm_rollout_t *r, const char *family, char *why);

/* Parameter sets (tm_rollout_params.c): the key of id's record (out:
 * TMI_RO_KEY_MAX + 1 bytes); start ro's trial; the end of its
 * canary stage (the set stays); whether a set of an actor of family is
 * being rolled out. */
void tmi_ro_params_key(const char *id, char *key);
int tmi_ro_params_arm(tm_rollout_t *r, tmi_ro_t *ro, char *why);
/* Whether the actor still runs the model ro's set was fitted on (or is
 * gone); why if not. */
bool tmi_ro_params_fits(tm_rollout_t *r, const tmi_ro_t *ro, char *why,
                        size_t cap);
void tmi_ro_params_done(tm_rollout_t *r, tmi_ro_t *ro);
bool tmi_ro_params_busy(const tm_rollout_t *r, const char *family);

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
