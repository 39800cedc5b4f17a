/* store_crash_test: kill a committing writer with SIGKILL at random moments
 * and check that the store keeps every acknowledged commit, intact.
 *
 * Each cycle forks a child that opens (or, the first time, creates) the
 * store and commits batches in a loop. Batch c puts 1..4 records of random
 * size (0..6000 bytes, so some span overflow pages) under keys (c, i),
 * deletes the records of batch c - S_WINDOW (so free pages get reused),
 * sets meta "counter" = c and appends one audit record holding c. After
 * each successful commit the child writes c to a pipe: that is the
 * acknowledgement. The parent kills the child after a random delay: in one
 * cycle of four up to S_BLIND_US after the fork (so creation and open are
 * hit too), otherwise up to S_AFTER_US after the child's first
 * acknowledgement (so the kill lands in or between commits whatever the
 * disk's fsync latency). Then it reads the acknowledgements, reopens the
 * store and checks: it opens cleanly; the counter C never goes back and is at
 * least every acknowledged c; the audit log is exactly 1..C with matching
 * values (so every acknowledged batch is there, and no batch is half
 * there); the records of batches C - S_WINDOW + 1 .. C are all present
 * with the right bytes and nothing else is.
 *
 * TM_CRASH_CYCLES sets the number of cycles (default 200), TM_CRASH_SEED
 * the random seed (default: time; printed for replay).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_store.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_WINDOW    300   /* batches whose records are kept */
#define S_MAX_VALUE 6000  /* largest record, bytes */
#define S_BLIND_US  20000 /* kill within this long after the fork ... */
#define S_AFTER_US  10000 /* ... or this long after the first commit */

static char s_root[512];

/* ---- the workload, shared by child and parent -------------------------- */

static uint64_t s_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static unsigned s_records(uint64_t c)
{
    return 1 + (unsigned)(s_mix(c) % 4);
}

static size_t s_value_len(uint64_t c, unsigned i)
{
    return (size_t)(s_mix(c * 8 + i + 1) % (S_MAX_VALUE + 1));
}

static void s_value(unsigned char *p, size_t n, uint64_t c, unsigned i)
{
    uint64_t x = s_mix(c * 8 + i + 12345) | 1;
    for (size_t j = 0; j < n; j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[j] = (unsigned char)x;
    }
}

static void s_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t s_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Record key: big-endian c, then the record index. */
static void s_key(unsigned char k[9], uint64_t c, unsigned i)
{
    s_be64(k, c);
    k[8] = (unsigned char)i;
}

/* ---- child: commit until killed ---------------------------------------- */

static int s_child(const char *dir, int ack_fd)
{
    tm_store_t *s = NULL;
    tm_store_batch_t *b = NULL;
    tm_store_opts_t o = {64 << 10, 0, 1, 0}; /* tiny: grows under fire */
    unsigned char val[S_MAX_VALUE];
    unsigned char k[9], cb[8];
    void *v = NULL;
    size_t vl = 0;
    uint64_t c = 0;
    int rc = tm_store_open(&s, dir, &o);
    if (rc != 0) {
        fprintf(stderr, "child: open: %s\n", tm_err_name(rc));
        return 2;
    }
    rc = tm_store_get(s, TM_DB_META, "counter", 7, &v, &vl);
    if (rc == 0 && vl == 8) {
        c = s_get_be64(v);
    } else if (rc != TM_ERR_NOT_FOUND) {
        fprintf(stderr, "child: counter: %s\n", tm_err_name(rc));
        free(v);
        tm_store_close(&s);
        return 3;
    }
    free(v);
    b = tm_store_batch_new(s);
    for (rc = b == NULL ? TM_ERR_NOMEM : 0; rc == 0;) {
        c++;
        for (unsigned i = 0; i < s_records(c) && rc == 0; i++) {
            size_t n = s_value_len(c, i);
            s_value(val, n, c, i);
            s_key(k, c, i);
            rc = tm_store_batch_put(b, TM_DB_ACTORS, k, sizeof(k), val, n);
        }
        if (c > S_WINDOW) {
            for (unsigned i = 0; i < s_records(c - S_WINDOW) && rc == 0; i++) {
                s_key(k, c - S_WINDOW, i);
                rc = tm_store_batch_del(b, TM_DB_ACTORS, k, sizeof(k));
            }
        }
        s_be64(cb, c);
        if (rc == 0) {
            rc = tm_store_batch_put(b, TM_DB_META, "counter", 7, cb, 8);
        }
        if (rc == 0) {
            rc = tm_store_batch_audit(b, cb, 8);
        }
        if (rc == 0) {
            rc = tm_store_batch_commit(b);
        }
        if (rc == 0 && write(ack_fd, cb, 8) != 8) {
            rc = TM_ERR_CLOSED;
        }
    }
    fprintf(stderr, "child: commit %llu: %s\n", (unsigned long long)c,
            tm_err_name(rc));
    tm_store_batch_destroy(&b);
    tm_store_close(&s);
    return 4;
}

/* ---- parent: check what survived --------------------------------------- */

typedef struct {
    uint64_t counter; /* C */
    uint64_t next;    /* audit: next expected sequence */
    size_t records;   /* actors: records seen */
    int bad;
} s_check_t;

static int s_audit_cb(const void *key, size_t klen, const void *val,
                      size_t vlen, void *arg)
{
    s_check_t *ck = arg;
    if (klen != 8 || vlen != 8 || s_get_be64(key) != ck->next ||
        s_get_be64(val) != ck->next) {
        ck->bad = 1;
        return 1;
    }
    ck->next++;
    return 0;
}

static int s_actors_cb(const void *key, size_t klen, const void *val,
                       size_t vlen, void *arg)
{
    s_check_t *ck = arg;
    unsigned char want[S_MAX_VALUE];
    if (klen != 9) {
        ck->bad = 2;
        return 1;
    }
    uint64_t c = s_get_be64(key);
    unsigned i = ((const unsigned char *)key)[8];
    uint64_t lo = ck->counter > S_WINDOW ? ck->counter - S_WINDOW + 1 : 1;
    if (c < lo || c > ck->counter || i >= s_records(c)) {
        ck->bad = 3; /* a record that should not exist */
        return 1;
    }
    size_t n = s_value_len(c, i);
    s_value(want, n, c, i);
    if (vlen != n || (n > 0 && memcmp(val, want, n) != 0)) {
        ck->bad = 4; /* damaged value */
        return 1;
    }
    ck->records++;
    return 0;
}

/* Open, check, close. Returns the counter C; fails the test on damage. */
static uint64_t s_verify(const char *dir, uint64_t acked, uint64_t prev,
                         int read_only)
{
    tm_store_t *s = NULL;
    tm_store_opts_t o = {0, 0, 0, read_only};
    s_check_t ck;
    void *v = NULL;
    size_t vl = 0;
    int rc = tm_store_open(&s, dir, &o);
    if ((rc == TM_ERR_STORE_MISSING || rc == TM_ERR_NO_DIR) && acked == 0) {
        return 0; /* killed before the directory or the store was made */
    }
    if (rc != 0) {
        fail_msg("reopen after kill: %s (acked %llu)", tm_err_name(rc),
                 (unsigned long long)acked);
    }
    memset(&ck, 0, sizeof(ck));
    rc = tm_store_get(s, TM_DB_META, "counter", 7, &v, &vl);
    if (rc == 0) {
        assert_int_equal(vl, 8);
        ck.counter = s_get_be64(v);
        free(v);
    } else {
        assert_int_equal(rc, TM_ERR_NOT_FOUND);
    }
    if (ck.counter < acked || ck.counter < prev) {
        fail_msg("lost commits: counter %llu, acknowledged %llu, before %llu",
                 (unsigned long long)ck.counter, (unsigned long long)acked,
                 (unsigned long long)prev);
    }

    ck.next = 1;
    assert_int_equal(tm_store_foreach(s, TM_DB_AUDIT, s_audit_cb, &ck), 0);
    assert_int_equal(ck.bad, 0);
    assert_int_equal(ck.next, ck.counter + 1); /* audit is exactly 1..C */

    assert_int_equal(tm_store_foreach(s, TM_DB_ACTORS, s_actors_cb, &ck), 0);
    if (ck.bad != 0) {
        fail_msg("actors check failed (%d) at counter %llu", ck.bad,
                 (unsigned long long)ck.counter);
    }
    size_t want = 0;
    uint64_t lo = ck.counter > S_WINDOW ? ck.counter - S_WINDOW + 1 : 1;
    for (uint64_t c = lo; c <= ck.counter; c++) {
        want += s_records(c);
    }
    assert_int_equal(ck.records, want); /* every record of the window */
    size_t n = 0;
    assert_int_equal(tm_store_count(s, TM_DB_ACTORS, &n), 0);
    assert_int_equal(n, want);
    tm_store_close(&s);
    return ck.counter;
}

static void s_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") != 0 &&
                    strcmp(e->d_name, "..") != 0) {
                    char sub[1024];
                    snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
                    s_rmtree(sub);
                }
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_crash_cycles(void **state)
{
    (void)state;
    const char *env = getenv("TM_CRASH_CYCLES");
    long cycles = env != NULL ? strtol(env, NULL, 10) : 200;
    env = getenv("TM_CRASH_SEED");
    unsigned long seed =
        env != NULL ? strtoul(env, NULL, 10) : (unsigned long)time(NULL);
    uint64_t rng = seed * 2654435761u + 1;
    char dir[600];
    uint64_t acked = 0, counter = 0, early = 0, mid = 0, max_cycle = 0;
    uint64_t unacked = 0;
    double t0 = s_now();
    if (cycles <= 0) {
        cycles = 200;
    }
    snprintf(dir, sizeof(dir), "%s/store", s_root);
    printf("store_crash_test: %ld cycles, seed %lu (TM_CRASH_SEED)\n", cycles,
           seed);
    fflush(stdout);

    for (long cycle = 0; cycle < cycles; cycle++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            _exit(s_child(dir, fds[1]));
        }
        close(fds[1]);

        rng = s_mix(rng + 0x9e3779b97f4a7c15ull);
        int blind = rng % 4 == 0;
        useconds_t delay =
            (useconds_t)((rng >> 8) % (blind ? S_BLIND_US : S_AFTER_US));
        unsigned char cb[8];
        uint64_t got = 0;
        ssize_t r = 8;
        if (!blind) {
            r = read(fds[0], cb, 8); /* the first acknowledgement */
        }
        if (r == 8 && delay > 0) {
            usleep(delay);
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status)) {
            fail_msg("child ended by itself (status %d) in cycle %ld",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, cycle);
        }

        /* Acknowledgements are consecutive and continue the last ones. */
        if (blind) {
            r = read(fds[0], cb, 8);
        }
        for (; r == 8; r = read(fds[0], cb, 8)) {
            uint64_t c = s_get_be64(cb);
            if (c != (acked > counter ? acked : counter) + 1) {
                fail_msg("acknowledgement %llu out of order after %llu",
                         (unsigned long long)c, (unsigned long long)acked);
            }
            acked = c;
            got++;
        }
        assert_int_equal(r, 0); /* whole 8-byte writes only */
        close(fds[0]);
        if (got == 0) {
            early++;
        } else {
            mid++;
        }
        if (got > max_cycle) {
            max_cycle = got;
        }
        uint64_t known = acked > counter ? acked : counter;
        counter = s_verify(dir, acked, counter, (int)(cycle & 1));
        if (counter > known) {
            unacked += counter - known; /* killed before the ack */
        }
    }
    double dt = s_now() - t0;
    printf("store_crash_test: %ld kills (%llu before the first commit of "
           "their cycle), %llu commits acknowledged, counter %llu, %llu "
           "unacknowledged commits found durable, up to %llu commits per "
           "cycle, %.1f s\n",
           cycles, (unsigned long long)early, (unsigned long long)acked,
           (unsigned long long)counter, (unsigned long long)unacked,
           (unsigned long long)max_cycle, dt);
    assert_true(mid > 0); /* some kills landed between commits */
    assert_true(counter >= acked);
}

static int s_setup(void **state)
{
    (void)state;
    const char *base = getenv("TM_TEST_TMPDIR");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    mkdir(base, 0700);
    snprintf(s_root, sizeof(s_root), "%s/store_crash.XXXXXX", base);
    return mkdtemp(s_root) == NULL ? -1 : 0;
}

static int s_teardown(void **state)
{
    (void)state;
    s_rmtree(s_root);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_cycles),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
