/* tm_plugins: model plugins of a node - files, catalog records, opening,
 * checking and adding them (see tm_plugins.h). */
#include "tm_plugins.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_wire.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_why(char *why, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_why(char *why, int rc, const char *fmt, ...)
{
    if (why != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, TM_PLUGINS_WHY_MAX, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* A path into out (cap bytes; data directories are far shorter). */
static void s_path(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static int s_errno_rc(int e)
{
    return e == ENOSPC || e == EDQUOT  ? TM_ERR_NOSPACE
           : e == EROFS || e == EACCES ? TM_ERR_READONLY
                                       : TM_ERR_IO;
}

static bool s_file_name_ok(const char *f)
{
    size_t n = f != NULL ? strlen(f) : 0;
    if (n == 0 || n >= TM_MODELS_ORIGIN_MAX || strcmp(f, ".") == 0 ||
        strcmp(f, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)f[i];
        if (c < 0x20 || c == 0x7f || c == '/') {
            return false;
        }
    }
    return true;
}

/* The sum's plugin in the catalog (a plugin, not a built-in), or NULL. */
static const tm_models_entry_t *s_loaded(const uint8_t *sum)
{
    size_t n = 0;
    const tm_models_entry_t *e = tm_models_entries(&n);
    for (size_t i = 0; i < n; i++) {
        if (!e[i].builtin && memcmp(e[i].sum, sum, TM_MODELS_SUM_BYTES) == 0) {
            return &e[i];
        }
    }
    return NULL;
}

static int s_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return s_errno_rc(errno);
    }
    int rc = fsync(fd) != 0 ? s_errno_rc(errno) : 0;
    close(fd);
    return rc;
}

static int s_write_all(int fd, const uint8_t *bytes, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, bytes, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return s_errno_rc(w < 0 ? errno : EIO);
        }
        bytes += w;
        len -= (size_t)w;
    }
    return 0;
}

/* bytes into p->path: a temporary file (0600), fsync, rename, fsync of
 * the folder. */
static int s_write_file(const char *data_dir, tm_plugins_prep_t *p,
                        const uint8_t *bytes, size_t len, char *why)
{
    char dir[4096];
    char tmp[4096 + 8];
    s_path(dir, sizeof dir, "%s/%s", data_dir, TM_PLUGINS_DIR);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return s_why(why, s_errno_rc(errno), "cannot make %s: %s", dir,
                     strerror(errno));
    }
    s_path(p->path, sizeof p->path, "%s/%s.so", dir, p->hex);
    s_path(tmp, sizeof tmp, "%s.tmp", p->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return s_why(why, s_errno_rc(errno), "cannot write %s: %s", tmp,
                     strerror(errno));
    }
    int rc = s_write_all(fd, bytes, len);
    if (rc == 0 && fsync(fd) != 0) {
        rc = s_errno_rc(errno);
    }
    if (close(fd) != 0 && rc == 0) {
        rc = s_errno_rc(errno);
    }
    if (rc == 0 && rename(tmp, p->path) != 0) {
        rc = s_errno_rc(errno);
    }
    if (rc != 0) {
        unlink(tmp);
        return s_why(why, rc, "cannot write %s: %s", p->path, tm_err_str(rc));
    }
    rc = s_fsync_dir(dir);
    return rc != 0 ? s_why(why, rc, "cannot sync %s: %s", dir, tm_err_str(rc))
                   : 0;
}

/* "fam@ver (high, low), ..." of a checked plugin. */
static void s_versions(tm_plugins_prep_t *p)
{
    const tm_plugin_t *pl = p->plugin;
    size_t off = 0;
    p->versions[0] = '\0';
    for (uint32_t i = 0; i < pl->count; i++) {
        const tm_model_t *m = pl->models[i];
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) {
            seen = strcmp(pl->models[j]->family, m->family) == 0 &&
                   strcmp(pl->models[j]->version, m->version) == 0;
        }
        if (seen || off >= sizeof p->versions) {
            continue;
        }
        int w =
            snprintf(p->versions + off, sizeof p->versions - off, "%s%s@%s (",
                     off > 0 ? ", " : "", m->family, m->version);
        off += w > 0 ? (size_t)w : 0;
        const char *sep = "";
        for (uint32_t j = i; j < pl->count && off < sizeof p->versions; j++) {
            const tm_model_t *t = pl->models[j];
            if (strcmp(t->family, m->family) == 0 &&
                strcmp(t->version, m->version) == 0) {
                w = snprintf(p->versions + off, sizeof p->versions - off,
                             "%s%s", sep, tm_fidelity_name(t->fidelity));
                off += w > 0 ? (size_t)w : 0;
                sep = ", ";
            }
        }
        if (off < sizeof p->versions) {
            w = snprintf(p->versions + off, sizeof p->versions - off, ")");
            off += w > 0 ? (size_t)w : 0;
        }
    }
}

/* Open p->path and check the plugin it holds. */
static int s_open(tm_plugins_prep_t *p, char *why)
{
    dlerror();
    p->handle = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
    if (p->handle == NULL) {
        const char *e = dlerror();
        return s_why(why, TM_ERR_PLUGIN,
                     "%s is not a loadable shared object: %s", p->file,
                     e != NULL ? e : "dlopen failed");
    }
    void *sym = dlsym(p->handle, TM_PLUGIN_SYMBOL);
    if (sym == NULL) {
        return s_why(why, TM_ERR_PLUGIN,
                     "%s does not export %s() (missing symbol): not a "
                     "twinmesh model plugin",
                     p->file, TM_PLUGIN_SYMBOL);
    }
    tm_plugin_fn fn;
    memcpy(&fn, &sym, sizeof fn); /* object to function pointer */
    const tm_plugin_t *pl = fn();
    if (pl == NULL) {
        return s_why(why, TM_ERR_PLUGIN, "%s: %s() returned NULL", p->file,
                     TM_PLUGIN_SYMBOL);
    }
    if (pl->abi_version != TM_PLUGIN_ABI_VERSION ||
        pl->struct_size < sizeof(tm_plugin_t)) {
        return s_why(why, TM_ERR_MODEL_ABI,
                     "%s was built for model ABI version %u (descriptor "
                     "size %u); this node runs ABI version %u (size %zu): "
                     "rebuild it against this node's core/tm_plugin.h",
                     p->file, pl->abi_version, pl->struct_size,
                     TM_PLUGIN_ABI_VERSION, sizeof(tm_plugin_t));
    }
    char detail[TM_PLUGINS_WHY_MAX];
    int rc = tm_models_check_set(pl->models, pl->count, detail, sizeof detail);
    if (rc != 0) {
        return s_why(why, rc, "%s: %s", p->file, detail);
    }
    p->plugin = pl;
    s_versions(p);
    return 0;
}

int tm_plugins_prepare(const char *data_dir, const char *file,
                       const uint8_t *bytes, size_t len, tm_plugins_prep_t *out,
                       char *why)
{
    memset(out, 0, sizeof *out);
    if (!s_file_name_ok(file)) {
        return s_why(why, TM_ERR_INVAL,
                     "a plugin's file name has 1 to %u printable bytes and "
                     "no '/'",
                     TM_MODELS_ORIGIN_MAX - 1);
    }
    snprintf(out->file, sizeof out->file, "%s", file);
    if (data_dir == NULL || bytes == NULL || len == 0) {
        return s_why(why, TM_ERR_PLUGIN, "%s is empty", file);
    }
    if (len > TM_PLUGINS_BYTES_MAX) {
        return s_why(why, TM_ERR_TOO_BIG, "%s has %zu bytes, at most %u", file,
                     len, TM_PLUGINS_BYTES_MAX);
    }
    crypto_generichash(out->sum, sizeof out->sum, bytes, len, NULL, 0);
    tm_models_sum_hex(out->sum, out->hex);
    const tm_models_entry_t *e = s_loaded(out->sum);
    if (e != NULL) {
        out->already = true;
        snprintf(out->versions, sizeof out->versions, "%s@%s (loaded from %s)",
                 e->family, e->version, e->origin);
        return 0;
    }
    int rc = s_write_file(data_dir, out, bytes, len, why);
    if (rc == 0) {
        rc = s_open(out, why);
        if (rc != 0) {
            tm_plugins_abort(out);
        }
    }
    return rc;
}

int tm_plugins_record(const tm_plugins_prep_t *p, char *key, size_t cap,
                      uint8_t **val, size_t *vlen)
{
    int n = snprintf(key, cap, "%s%s", TM_PLUGINS_KEY, p->hex);
    if (n < 0 || (size_t)n >= cap) {
        return TM_ERR_TOO_BIG;
    }
    tm_wire_buf_t b;
    tm_wire_buf_init(&b);
    size_t order = 0;
    tm_models_entries(&order); /* loaded after the entries there are */
    msgpack_pack_map(&b.pk, 4);
    tm_wire_pack_kv_u64(&b.pk, "order", order);
    tm_wire_pack_kv_str(&b.pk, "file", p->file);
    const char *slash = strrchr(p->path, '/');
    tm_wire_pack_kv_str(&b.pk, "path", slash != NULL ? slash + 1 : p->path);
    tm_wire_pack_str(&b.pk, "versions");
    const tm_plugin_t *pl = p->plugin;
    msgpack_pack_array(&b.pk, pl != NULL ? pl->count : 0);
    for (uint32_t i = 0; pl != NULL && i < pl->count; i++) {
        char spec[2 * TM_MODEL_NAME_MAX + 16];
        snprintf(spec, sizeof spec, "%s@%s/%s", pl->models[i]->family,
                 pl->models[i]->version,
                 tm_fidelity_name(pl->models[i]->fidelity));
        tm_wire_pack_str(&b.pk, spec);
    }
    int rc = tm_wire_buf_finish(&b, val, vlen);
    tm_wire_buf_destroy(&b);
    return rc;
}

int tm_plugins_commit(tm_plugins_prep_t *p, char *why)
{
    if (p->already) {
        return 0;
    }
    char detail[TM_PLUGINS_WHY_MAX];
    int rc = tm_models_add(p->plugin->models, p->plugin->count, p->file, p->sum,
                           detail, sizeof detail);
    if (rc != 0) {
        tm_plugins_abort(p);
        return s_why(why, rc, "%s: %s", p->file, detail);
    }
    p->handle = NULL; /* in the catalog: never closed */
    return 0;
}

void tm_plugins_abort(tm_plugins_prep_t *p)
{
    if (p->handle != NULL) {
        dlclose(p->handle);
        p->handle = NULL;
    }
    p->plugin = NULL;
    if (!p->already && p->path[0] != '\0') {
        unlink(p->path);
        p->path[0] = '\0';
    }
}

/* ---- restore at start --------------------------------------------------- */

/* The whole of path into *bytes (malloc'd). */
static int s_read_file(const char *path, uint8_t **bytes, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? TM_ERR_NOT_FOUND : TM_ERR_IO;
    }
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? TM_ERR_IO : 0;
    if (rc == 0 && (st.st_size <= 0 || st.st_size > TM_PLUGINS_BYTES_MAX)) {
        rc = TM_ERR_TOO_BIG;
    }
    uint8_t *b = rc == 0 ? malloc((size_t)st.st_size) : NULL;
    rc = rc == 0 && b == NULL ? TM_ERR_NOMEM : rc;
    size_t got = 0;
    while (rc == 0 && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        rc = r <= 0 ? TM_ERR_IO : 0;
        got += r > 0 ? (size_t)r : 0;
    }
    close(fd);
    if (rc != 0) {
        free(b);
        return rc;
    }
    *bytes = b;
    *len = got;
    return 0;
}

int tm_plugins_read(const char *data_dir, const char *hex, uint8_t **bytes,
                    size_t *len)
{
    char path[4096];
    s_path(path, sizeof path, "%s/%s/%s.so", data_dir, TM_PLUGINS_DIR, hex);
    return s_read_file(path, bytes, len);
}

/* The "file" (into file, cap bytes) and "order" of a catalog record. */
static int s_record_read(const void *val, size_t vlen, char *file, size_t cap,
                         uint64_t *order)
{
    tm_wire_reader_t r;
    uint32_t n = 0;
    int rc = tm_wire_check(val, vlen, NULL);
    bool have_file = false;
    *order = UINT64_MAX; /* records without one load last */
    tm_wire_reader_init(&r, val, vlen);
    rc = rc == 0 ? tm_wire_read_map(&r, &n) : rc;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const char *k = NULL;
        const char *v = NULL;
        size_t kl = 0;
        size_t vl = 0;
        rc = tm_wire_read_str(&r, &k, &kl);
        if (rc == 0 && kl == 4 && memcmp(k, "file", 4) == 0) {
            rc = tm_wire_read_str(&r, &v, &vl);
            rc = rc == 0 && vl >= cap ? TM_ERR_WIRE_FIELD : rc;
            if (rc == 0) {
                memcpy(file, v, vl);
                file[vl] = '\0';
                have_file = true;
            }
        } else if (rc == 0 && kl == 5 && memcmp(k, "order", 5) == 0) {
            rc = tm_wire_read_u64(&r, order);
        } else if (rc == 0) {
            rc = tm_wire_read_skip(&r, NULL, NULL);
        }
    }
    return rc != 0 ? rc : have_file ? 0 : TM_ERR_WIRE_FIELD;
}

/* A recorded plugin, loaded in the order plugins were first loaded (so
 * the catalog lists them as before a restart). */
typedef struct {
    uint64_t order;
    char hex[2 * TM_MODELS_SUM_BYTES + 1];
    char file[TM_MODELS_ORIGIN_MAX];
} s_rec_t;

typedef struct {
    const char *data_dir;
    tm_plugins_restored_t *out;
    s_rec_t *recs;
    size_t n, cap;
    int rc;
} s_restore_t;

/* Load one recorded plugin; refusals are logged. */
static void s_restore_one(s_restore_t *st, const char *hex, const char *file)
{
    tm_plugins_prep_t p;
    char why[TM_PLUGINS_WHY_MAX];
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(&p, 0, sizeof p);
    snprintf(p.file, sizeof p.file, "%s", file);
    snprintf(p.hex, sizeof p.hex, "%s", hex);
    s_path(p.path, sizeof p.path, "%s/%s/%s.so", st->data_dir, TM_PLUGINS_DIR,
           hex);
    int rc = s_read_file(p.path, &bytes, &len);
    if (rc != 0) {
        tm_log(TM_LOG_ERROR,
               "plugins: %s (%s): cannot read the file (%s): refused; actors "
               "of its models stay in the store, not loaded",
               file, p.path, tm_err_str(rc));
        st->out->refused++;
        return;
    }
    crypto_generichash(p.sum, sizeof p.sum, bytes, len, NULL, 0);
    free(bytes);
    char got[2 * TM_MODELS_SUM_BYTES + 1];
    tm_models_sum_hex(p.sum, got);
    if (strcmp(got, hex) != 0) {
        tm_log(TM_LOG_ERROR,
               "plugins: %s (%s): checksum %.16s... differs from the "
               "catalog's %.16s...: the file was changed; refused, actors of "
               "its models stay in the store, not loaded (load the plugin "
               "again to replace the file)",
               file, p.path, got, hex);
        st->out->refused++;
        return;
    }
    rc = s_open(&p, why);
    if (rc == 0) {
        char detail[TM_PLUGINS_WHY_MAX];
        rc = tm_models_add(p.plugin->models, p.plugin->count, p.file, p.sum,
                           detail, sizeof detail);
        if (rc != 0) {
            s_why(why, rc, "%s: %s", p.file, detail);
        }
    }
    if (rc != 0 && p.handle != NULL) {
        dlclose(p.handle); /* refused: nothing of it is referenced; the
                              file stays, for the operator to look at */
    }
    if (rc != 0) {
        tm_log(TM_LOG_ERROR, "plugins: refused at start: %s", why);
        st->out->refused++;
        return;
    }
    tm_log(TM_LOG_INFO, "plugins: loaded %s: %s (checksum %.16s...)", file,
           p.versions, hex);
    st->out->loaded++;
}

static int s_restore_cb(const void *key, size_t klen, const void *val,
                        size_t vlen, void *arg)
{
    s_restore_t *st = arg;
    const size_t pre = strlen(TM_PLUGINS_KEY);
    char hex[2 * TM_MODELS_SUM_BYTES + 1];
    char file[TM_MODELS_ORIGIN_MAX];
    if (klen != pre + 2 * TM_MODELS_SUM_BYTES ||
        memcmp(key, TM_PLUGINS_KEY, pre) != 0) {
        return 0; /* another kind of catalog record */
    }
    memcpy(hex, (const char *)key + pre, 2 * TM_MODELS_SUM_BYTES);
    hex[2 * TM_MODELS_SUM_BYTES] = '\0';
    for (size_t i = 0; hex[i] != '\0'; i++) {
        if (!((hex[i] >= '0' && hex[i] <= '9') ||
              (hex[i] >= 'a' && hex[i] <= 'f'))) {
            tm_log(TM_LOG_ERROR, "plugins: catalog record %s: bad key", hex);
            st->out->refused++;
            return 0;
        }
    }
    uint64_t order = 0;
    if (s_record_read(val, vlen, file, sizeof file, &order) != 0 ||
        !s_file_name_ok(file)) {
        tm_log(TM_LOG_ERROR,
               "plugins: catalog record of %.16s...: unreadable, refused", hex);
        st->out->refused++;
        return 0;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap > 0 ? 2 * st->cap : 8;
        s_rec_t *r = realloc(st->recs, cap * sizeof *r);
        if (r == NULL) {
            st->rc = TM_ERR_NOMEM;
            return 1;
        }
        st->recs = r;
        st->cap = cap;
    }
    s_rec_t *r = &st->recs[st->n++];
    r->order = order;
    memcpy(r->hex, hex, sizeof r->hex);
    memcpy(r->file, file, sizeof r->file);
    return 0;
}

static int s_rec_cmp(const void *a, const void *b)
{
    const s_rec_t *x = a;
    const s_rec_t *y = b;
    if (x->order != y->order) {
        return x->order < y->order ? -1 : 1;
    }
    return strcmp(x->hex, y->hex);
}

int tm_plugins_restore(tm_store_t *store, const char *data_dir,
                       tm_plugins_restored_t *out)
{
    s_restore_t st = {data_dir, out, NULL, 0, 0, 0};
    memset(out, 0, sizeof *out);
    int rc = tm_store_foreach(store, TM_DB_CATALOG, s_restore_cb, &st);
    rc = rc == 1 ? st.rc : rc;
    if (rc == 0 && st.n > 0) {
        qsort(st.recs, st.n, sizeof st.recs[0], s_rec_cmp);
        for (size_t i = 0; i < st.n; i++) {
            s_restore_one(&st, st.recs[i].hex, st.recs[i].file);
        }
    }
    free(st.recs);
    return rc;
}
