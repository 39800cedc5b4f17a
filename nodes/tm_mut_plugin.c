/* tm_mut_plugin: loading a model plugin through the mutation path - the
 * file written and checked, the catalog record committed in one batch,
 * then the models added (docs/architecture.md, "Model plugins"). */
#include "tm_mut_int.h"

#include "tm_err.h"
#include "tm_plugins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tm_mut_plugin(tm_mut_t *m, const char *data_dir, const char *file,
                  const uint8_t *bytes, size_t len, tm_plugins_prep_t *out,
                  char *why)
{
    if (data_dir == NULL) {
        return tmi_mut_why(why, TM_ERR_UNSUPPORTED,
                           "this node has no data directory for plugins");
    }
    int rc = tm_plugins_prepare(data_dir, file, bytes, len, out, why);
    if (rc != 0 || out->already) {
        return rc;
    }
    char key[128];
    uint8_t *val = NULL;
    size_t vlen = 0;
    tm_store_batch_t *b = NULL;
    rc = tm_plugins_record(out, key, sizeof key, &val, &vlen);
    if (rc == 0) {
        rc = tmi_mut_new_batch(m, &b);
    }
    if (rc == 0) {
        rc = tm_store_batch_put(b, TM_DB_CATALOG, key, strlen(key), val, vlen);
    }
    if (rc == 0) {
        char reason[TM_AUDIT_REASON_MAX + 1];
        snprintf(reason, sizeof reason, "plugin %s, BLAKE2b %s", out->file,
                 out->hex);
        rc = tmi_mut_audit(m, b, "load", NULL, NULL, out->versions, reason);
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
        if (rc != 0) {
            tmi_mut_store_failed(m, why, rc);
        }
    } else {
        tmi_mut_why(why, rc, "cannot record the plugin: %s", tm_err_str(rc));
    }
    free(val);
    tm_store_batch_destroy(&b);
    if (rc != 0) {
        tm_plugins_abort(out);
        return rc;
    }
    return tm_plugins_commit(out, why);
}
