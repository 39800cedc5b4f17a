/* tm_plugins: a node's model plugins - their files in <data>/plugins,
 * their records in the store's catalog (TM_DB_CATALOG), and opening,
 * checking and adding them to the model catalog (actors/models/tm_models).
 *
 * Loading a plugin is three steps, so that a refusal changes nothing:
 * tm_plugins_prepare writes the bytes to <data>/plugins/<hex>.so (hex: the
 * BLAKE2b-256 of the bytes; mode 0600, fsync, rename, fsync of the
 * folder), opens it (dlopen RTLD_NOW | RTLD_LOCAL) and checks it
 * (core/tm_plugin.h; tm_models_check_set); the caller commits the record
 * (tm_plugins_record) and then tm_plugins_commit adds the models, or
 * tm_plugins_abort closes and removes the file. tm_mut_plugin (nodes/tm_mut)
 * does all three. A plugin added is never closed.
 *
 * At start, tm_plugins_restore loads every plugin the store's catalog
 * names, before the actors: a file that is missing, or whose checksum
 * differs from the record's, is refused with a log line and its models
 * stay out of the catalog (the actors of those models are then left in
 * the store, not loaded; the node runs the rest).
 *
 * Threading: the control thread.
 */
#ifndef TM_PLUGINS_H_INCLUDED
#define TM_PLUGINS_H_INCLUDED

#include "tm_models.h"
#include "tm_plugin.h"
#include "tm_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_PLUGINS_DIR       "plugins"
#define TM_PLUGINS_BYTES_MAX (64u * 1024u * 1024u)
#define TM_PLUGINS_KEY       "plugin/" /* catalog key: plugin/<hex> */
#define TM_PLUGINS_WHY_MAX   1024u

/* A plugin prepared (written, opened and checked) or already loaded. */
typedef struct tm_plugins_prep {
    uint8_t sum[TM_MODELS_SUM_BYTES];
    char hex[2 * TM_MODELS_SUM_BYTES + 1];
    char file[TM_MODELS_ORIGIN_MAX]; /* the name the operator gave */
    char path[4096];                 /* <data>/plugins/<hex>.so */
    bool already;                    /* the same bytes are loaded: no-op */
    void *handle;                    /* dlopen's */
    const tm_plugin_t *plugin;
    char versions[512]; /* "flaky@1.0.0 (high, low), ..." */
} tm_plugins_prep_t;

/* Checksum bytes, then (unless the catalog has a plugin with that
 * checksum: out->already) write, open and check them as the plugin
 * `file` (a file name: 1 to TM_MODELS_ORIGIN_MAX - 1 printable bytes, no
 * '/'). On error nothing is left behind. Errors, with one line in why
 * (TM_PLUGINS_WHY_MAX bytes): TM_ERR_INVAL (file name), TM_ERR_TOO_BIG,
 * TM_ERR_IO / TM_ERR_NOSPACE (writing), TM_ERR_PLUGIN (not a loadable
 * shared object, no TM_PLUGIN_SYMBOL, it returned NULL), TM_ERR_MODEL_ABI,
 * and the errors of tm_models_check_set. */
int tm_plugins_prepare(const char *data_dir, const char *file,
                       const uint8_t *bytes, size_t len, tm_plugins_prep_t *out,
                       char *why);

/* The catalog record of a prepared plugin: key TM_PLUGINS_KEY<hex> into
 * key (cap bytes), value {"file": str, "path": str, "versions": [str]}
 * (MessagePack, *val malloc'd). Errors: TM_ERR_NOMEM, TM_ERR_TOO_BIG. */
int tm_plugins_record(const tm_plugins_prep_t *p, char *key, size_t cap,
                      uint8_t **val, size_t *vlen);

/* Add a prepared plugin's models to the catalog (after its record was
 * committed). Errors: those of tm_models_add (none after a successful
 * prepare on the same thread). */
int tm_plugins_commit(tm_plugins_prep_t *p, char *why);

/* Undo a prepare: close the plugin and remove its file. */
void tm_plugins_abort(tm_plugins_prep_t *p);

/* The bytes of the plugin file <data_dir>/plugins/<hex>.so into *bytes
 * (malloc'd). Errors: TM_ERR_NOT_FOUND, TM_ERR_IO, TM_ERR_TOO_BIG,
 * TM_ERR_NOMEM. */
int tm_plugins_read(const char *data_dir, const char *hex, uint8_t **bytes,
                    size_t *len);

/* What a restore did. */
typedef struct {
    size_t loaded;
    size_t refused; /* logged */
} tm_plugins_restored_t;

/* Load every plugin the store's catalog records (see above). Errors: store
 * errors, TM_ERR_NOMEM; a refused plugin is no error. */
int tm_plugins_restore(tm_store_t *store, const char *data_dir,
                       tm_plugins_restored_t *out);

#endif
