/* lease_test: a node's lease in a real etcd (tm_lease) - open grants and
 * puts the key, renewals move safe_until forward, the node stops being
 * safe before another node can see its key gone (a partition through a
 * proxy of the test's own, and a SIGSTOPped etcd), a lost lease is
 * granted again, destroy revokes promptly, endpoints that do not answer.
 *
 * It starts its own etcd (/usr/bin/etcd, or $TM_ETCD) on free loopback
 * ports with a data directory under $TM_TEST_TMPDIR, and kills it at the
 * end, also when the test dies (PR_SET_PDEATHSIG). Without etcd it exits
 * 77 (skipped). Also run under TSan (label "threads"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_lease.h"
#include "tm_time.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_TTL     3.0 /* seconds: margin max(1, 3/4) = 1 s, renewals 1 s */
#define S_MARGIN  1.0
#define S_TIMEOUT 0.5 /* seconds per request */

/* ---- free ports (the claim files of tests/integration/tm_itest.c) ------- */

static bool s_port_free(unsigned p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)p);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* A port handed out once in 15 minutes to every test of this machine:
 * the same directory of claim files as `tm_itest port`. */
static bool s_port_claim(unsigned p)
{
    char path[64];
    struct stat st;
    (void)mkdir("/tmp/tm-itest-ports", 0777);
    snprintf(path, sizeof path, "/tmp/tm-itest-ports/%u", p);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0666);
    if (fd < 0 && stat(path, &st) == 0 && time(NULL) - st.st_mtime > 900 &&
        unlink(path) == 0) {
        fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0666);
    }
    if (fd < 0) {
        return false;
    }
    close(fd);
    return true;
}

/* Below the ephemeral range, so no outgoing connection takes it. */
static unsigned s_port(void)
{
    static unsigned seed;
    if (seed == 0) {
        seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)clock();
    }
    for (int i = 0; i < 500; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned p = 20000u + (seed >> 8) % 12000u;
        if (s_port_free(p) && s_port_claim(p)) {
            return p;
        }
    }
    fail_msg("no free port in 20000..31999");
    return 0;
}

/* ---- direct HTTP to etcd ------------------------------------------------- */

typedef struct {
    char buf[8192];
    size_t len;
} s_body_t;

static size_t s_on_body(char *data, size_t size, size_t n, void *arg)
{
    s_body_t *b = arg;
    size_t add = size * n;
    size_t room = sizeof b->buf - 1 - b->len;
    size_t take = add < room ? add : room;
    memcpy(b->buf + b->len, data, take);
    b->len += take;
    b->buf[b->len] = '\0';
    return add;
}

/* POST body to url; the HTTP status, or -1 when there is no answer. */
static long s_post(const char *url, const char *body, s_body_t *out)
{
    s_body_t local;
    s_body_t *b = out != NULL ? out : &local;
    b->len = 0;
    b->buf[0] = '\0';
    CURL *e = curl_easy_init();
    assert_non_null(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    long status = -1;
    if (curl_easy_perform(e) == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(e);
    return status;
}

/* ---- the etcd of the test ------------------------------------------------ */

static struct {
    pid_t pid;
    unsigned client_port;
    unsigned peer_port;
    char url[64];
    char dir[512];
    char log[600];
} s_etcd;

static const char *s_etcd_bin(void)
{
    const char *bin = getenv("TM_ETCD");
    return bin != NULL && bin[0] != '\0' ? bin : "/usr/bin/etcd";
}

static void s_etcd_kill(void)
{
    if (s_etcd.pid > 0) {
        kill(s_etcd.pid, SIGCONT);
        kill(s_etcd.pid, SIGKILL);
        waitpid(s_etcd.pid, NULL, 0);
        s_etcd.pid = 0;
    }
}

static void s_etcd_start(void)
{
    const char *base = getenv("TM_TEST_TMPDIR");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base ? base : "/tmp");
    assert_int_equal(system(cmd), 0);
    snprintf(s_etcd.dir, sizeof s_etcd.dir, "%s/lease_test_%ld",
             base ? base : "/tmp", (long)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", s_etcd.dir,
             s_etcd.dir);
    assert_int_equal(system(cmd), 0);
    snprintf(s_etcd.log, sizeof s_etcd.log, "%s/etcd.log", s_etcd.dir);
    s_etcd.client_port = s_port();
    s_etcd.peer_port = s_port();
    snprintf(s_etcd.url, sizeof s_etcd.url, "http://127.0.0.1:%u",
             s_etcd.client_port);
    char data[600], client[64], peer[64], cluster[80];
    snprintf(data, sizeof data, "%s/data", s_etcd.dir);
    snprintf(client, sizeof client, "http://127.0.0.1:%u", s_etcd.client_port);
    snprintf(peer, sizeof peer, "http://127.0.0.1:%u", s_etcd.peer_port);
    snprintf(cluster, sizeof cluster, "t=%s", peer);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* etcd dies with the test, however the test ends. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        int fd = open(s_etcd.log, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(s_etcd_bin(), "etcd", "--name", "t", "--data-dir", data,
              "--listen-client-urls", client, "--advertise-client-urls", client,
              "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
              "--initial-cluster", cluster, (char *)NULL);
        _exit(127);
    }
    s_etcd.pid = pid;
    char url[128];
    snprintf(url, sizeof url, "%s/v3/kv/range", s_etcd.url);
    double until = tm_time_now() + 30.0;
    while (s_post(url, "{\"key\":\"AA==\"}", NULL) != 200) {
        if (tm_time_now() > until || waitpid(pid, NULL, WNOHANG) == pid) {
            snprintf(cmd, sizeof cmd, "tail -20 '%s' >&2", s_etcd.log);
            (void)system(cmd);
            s_etcd.pid = 0;
            fail_msg("etcd did not answer at %s within 30 s", s_etcd.url);
        }
        usleep(50 * 1000);
    }
}

static int s_group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s_etcd_start();
    return 0;
}

static int s_group_teardown(void **state)
{
    (void)state;
    char cmd[700];
    s_etcd_kill();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_etcd.dir);
    assert_int_equal(system(cmd), 0);
    curl_global_cleanup();
    return 0;
}

/* ---- a TCP proxy the test can cut (a network partition) ------------------ */

#define S_PAIRS 32

typedef struct {
    int lfd;
    unsigned port;
    unsigned upstream;
    int pair[S_PAIRS][2]; /* -1: unused */
    atomic_bool cut;      /* nothing is read, written or accepted */
    atomic_bool stop;
    pthread_t thread;
} s_proxy_t;

static void s_pair_close(s_proxy_t *p, int i)
{
    close(p->pair[i][0]);
    close(p->pair[i][1]);
    p->pair[i][0] = p->pair[i][1] = -1;
}

static void s_proxy_accept(s_proxy_t *p)
{
    int c = accept(p->lfd, NULL, NULL);
    if (c < 0) {
        return;
    }
    int u = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)p->upstream);
    int i = 0;
    while (i < S_PAIRS && p->pair[i][0] >= 0) {
        i++;
    }
    if (u < 0 || i == S_PAIRS ||
        connect(u, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c);
        if (u >= 0) {
            close(u);
        }
        return;
    }
    p->pair[i][0] = c;
    p->pair[i][1] = u;
}

static void *s_proxy_main(void *arg)
{
    s_proxy_t *p = arg;
    bool was_cut = false;
    while (!atomic_load(&p->stop)) {
        if (atomic_load(&p->cut)) {
            was_cut = true;
            usleep(5 * 1000);
            continue;
        }
        if (was_cut) {
            /* The partition broke every connection, also those that were
             * made while it lasted and are still in the backlog. */
            was_cut = false;
            for (int i = 0; i < S_PAIRS; i++) {
                if (p->pair[i][0] >= 0) {
                    s_pair_close(p, i);
                }
            }
            int c;
            while ((c = accept(p->lfd, NULL, NULL)) >= 0) {
                close(c);
            }
        }
        struct pollfd fds[1 + 2 * S_PAIRS];
        int n = 0;
        fds[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        for (int i = 0; i < S_PAIRS; i++) {
            for (int k = 0; k < 2; k++) {
                fds[n++] =
                    (struct pollfd){.fd = p->pair[i][k], .events = POLLIN};
            }
        }
        if (poll(fds, (nfds_t)n, 5) <= 0) {
            continue;
        }
        if (fds[0].revents & POLLIN) {
            s_proxy_accept(p);
        }
        for (int i = 0; i < S_PAIRS; i++) {
            for (int k = 0; k < 2; k++) {
                short ev = fds[1 + 2 * i + k].revents;
                if (p->pair[i][k] < 0 || ev == 0) {
                    continue;
                }
                char buf[16384];
                ssize_t r = read(p->pair[i][k], buf, sizeof buf);
                if (r <= 0 || write(p->pair[i][1 - k], buf, (size_t)r) != r) {
                    s_pair_close(p, i);
                }
            }
        }
    }
    for (int i = 0; i < S_PAIRS; i++) {
        if (p->pair[i][0] >= 0) {
            s_pair_close(p, i);
        }
    }
    return NULL;
}

static void s_proxy_start(s_proxy_t *p, unsigned upstream)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < S_PAIRS; i++) {
        p->pair[i][0] = p->pair[i][1] = -1;
    }
    p->upstream = upstream;
    p->port = s_port();
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(p->lfd >= 0);
    int one = 1;
    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)p->port);
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->lfd, 64), 0);
    assert_int_equal(pthread_create(&p->thread, NULL, s_proxy_main, p), 0);
}

static void s_proxy_stop(s_proxy_t *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    close(p->lfd);
}

/* ---- helpers ------------------------------------------------------------- */

static int s_open(tm_lease_t **l, const char *endpoints, const char *prefix,
                  const char *node, const char *value, char *err, size_t errlen)
{
    tm_lease_opts_t o = {.endpoints = endpoints,
                         .prefix = prefix,
                         .node = node,
                         .value = value,
                         .ttl_s = S_TTL,
                         .timeout_s = S_TIMEOUT};
    return tm_lease_open(l, &o, err, errlen);
}

static bool s_alive(tm_lease_t *via, const char *node, char *value, size_t cap)
{
    bool alive = false;
    char err[TM_LEASE_ERROR_MAX];
    int rc = tm_lease_peer(via, node, &alive, value, cap, err, sizeof err);
    if (rc != 0) {
        fail_msg("tm_lease_peer(%s): %s: %s", node, tm_err_name(rc), err);
    }
    return alive;
}

static tm_lease_stats_t s_stats(const tm_lease_t *l)
{
    tm_lease_stats_t st;
    tm_lease_stats(l, &st);
    return st;
}

/* ---- tests --------------------------------------------------------------- */

/* open grants a lease and puts the key; another lease sees it alive with
 * its value; a key nobody put is not alive; the numbers are etcd's. */
static void test_open_and_peer(void **state)
{
    (void)state;
    tm_lease_t *a = NULL, *b = NULL;
    char err[TM_LEASE_ERROR_MAX];
    double t0 = tm_time_now();
    assert_int_equal(
        s_open(&a, s_etcd.url, "/tm/t1/", "n1", "inc-7", err, sizeof err), 0);
    assert_int_equal(
        s_open(&b, s_etcd.url, "/tm/t1/", "n2", NULL, err, sizeof err), 0);
    double now = tm_time_now();
    tm_lease_stats_t st = s_stats(a);
    assert_true(st.lease_id != 0);
    assert_true(st.ttl_s == S_TTL);
    assert_true(st.margin_s == S_MARGIN);
    assert_true(st.counted_at >= t0 && st.counted_at <= now);
    assert_true(tm_lease_safe(a, now));
    assert_true(tm_lease_safe_until(a) > now);
    assert_true(tm_lease_safe_until(a) <= st.counted_at + S_TTL - S_MARGIN);
    assert_string_equal(st.endpoint, s_etcd.url);
    assert_string_equal(st.last_error, "");
    assert_true(s_stats(b).lease_id != st.lease_id);

    char value[64];
    assert_true(s_alive(b, "n1", value, sizeof value));
    assert_string_equal(value, "inc-7");
    assert_true(s_alive(a, "n2", value, sizeof value));
    assert_string_equal(value, "");
    assert_false(s_alive(a, "nobody", value, sizeof value));
    assert_string_equal(value, "");
    /* Another mesh (prefix) does not see them. */
    tm_lease_t *c = NULL;
    assert_int_equal(
        s_open(&c, s_etcd.url, "/tm/other/", "n3", "x", err, sizeof err), 0);
    assert_false(s_alive(c, "n1", value, sizeof value));
    /* Truncated to the caller's buffer. */
    char small[4];
    assert_true(s_alive(b, "n1", small, sizeof small));
    assert_string_equal(small, "inc");
    bool alive = true;
    assert_int_equal(
        tm_lease_peer(a, "bad name", &alive, NULL, 0, err, sizeof err),
        TM_ERR_INVAL);
    assert_true(alive); /* untouched on error */
    tm_lease_destroy(&c);
    tm_lease_destroy(&b);
    tm_lease_destroy(&a);
    assert_null(a);
    tm_lease_destroy(&a); /* twice is fine */
    tm_lease_destroy(NULL);
}

/* Renewals move safe_until forward, never back, and never past now + ttl
 * - margin; each counts from a send time in the past. */
static void test_renewals(void **state)
{
    (void)state;
    tm_lease_t *a = NULL;
    char err[TM_LEASE_ERROR_MAX];
    assert_int_equal(
        s_open(&a, s_etcd.url, "/tm/t2/", "n1", "v", err, sizeof err), 0);
    double first = tm_lease_safe_until(a);
    double last = first;
    double end = tm_time_now() + 3.5;
    int moves = 0;
    while (tm_time_now() < end) {
        double until = tm_lease_safe_until(a);
        double now = tm_time_now();
        assert_true(until >= last);
        assert_true(until <= now + S_TTL - S_MARGIN);
        assert_true(tm_lease_safe(a, now));
        moves += until > last;
        last = until;
        tm_lease_stats_t st = s_stats(a);
        assert_true(st.counted_at <= now);
        assert_true(st.safe_until >= st.counted_at + S_TTL - S_MARGIN - 1e-6);
        usleep(20 * 1000);
    }
    tm_lease_stats_t st = s_stats(a);
    /* Every TTL/3 = 1 s: 3 in 3.5 s (2 tolerated on a slow machine). */
    assert_true(st.renewals >= 2);
    assert_true(moves >= 2);
    assert_true(last >= first + 1.5);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.regrants, 0);
    tm_lease_destroy(&a);
}

/* The test cuts the node off etcd (a proxy that stops forwarding) and
 * watches the node's key from another lease straight at etcd: the node
 * must stop being safe at least the margin before its key is gone. When
 * the cut heals, the node grants a new lease and its key is back. */
static void test_partition(void **state)
{
    (void)state;
    s_proxy_t px;
    s_proxy_start(&px, s_etcd.client_port);
    char via[64];
    snprintf(via, sizeof via, "http://127.0.0.1:%u", px.port);
    tm_lease_t *a = NULL, *watch = NULL;
    char err[TM_LEASE_ERROR_MAX];
    assert_int_equal(s_open(&a, via, "/tm/t3/", "n1", "inc-1", err, sizeof err),
                     0);
    assert_int_equal(
        s_open(&watch, s_etcd.url, "/tm/t3/", "w", NULL, err, sizeof err), 0);
    usleep(1200 * 1000); /* a renewal or two through the proxy */
    int64_t old_id = s_stats(a).lease_id;
    assert_true(s_stats(a).renewals >= 1);

    double t_cut = tm_time_now();
    atomic_store(&px.cut, true);
    double t_unsafe = 0, t_gone = 0;
    double last = tm_lease_safe_until(a);
    char value[64];
    while (t_gone == 0 && tm_time_now() < t_cut + 3 * S_TTL) {
        double now = tm_time_now();
        bool safe = tm_lease_safe(a, now);
        bool alive = s_alive(watch, "n1", value, sizeof value);
        double after = tm_time_now();
        assert_true(tm_lease_safe_until(a) >= last);
        last = tm_lease_safe_until(a);
        if (!safe && t_unsafe == 0) {
            t_unsafe = now;
            /* No other node can see the key gone yet. */
            assert_true(alive);
        }
        if (!alive) {
            t_gone = after;
            /* Gone: this node is no longer safe, and was not for at least
             * the margin (less the polling's slack). */
            assert_true(t_unsafe > 0);
            assert_false(tm_lease_safe(a, after));
        }
        usleep(10 * 1000);
    }
    assert_true(t_unsafe > 0);
    assert_true(t_gone > 0);
    print_message("partition: unsafe %.3f s after the cut, key gone %.3f s "
                  "after, %.3f s later\n",
                  t_unsafe - t_cut, t_gone - t_cut, t_gone - t_unsafe);
    assert_true(t_unsafe - t_cut <= S_TTL);
    assert_true(t_gone - t_unsafe >= S_MARGIN - 0.25);
    tm_lease_stats_t st = s_stats(a);
    assert_true(st.failures >= 1);
    assert_true(st.last_error[0] != '\0');
    assert_non_null(strstr(st.last_error, via));

    /* Healed: a new lease, the key back, safe again, from the new grant. */
    double t_heal = tm_time_now();
    atomic_store(&px.cut, false);
    while (!tm_lease_safe(a, tm_time_now()) &&
           tm_time_now() < t_heal + 2 * S_TTL) {
        usleep(10 * 1000);
    }
    assert_true(tm_lease_safe(a, tm_time_now()));
    st = s_stats(a);
    assert_int_equal(st.regrants, 1);
    assert_true(st.lease_id != 0 && st.lease_id != old_id);
    assert_true(st.counted_at >= t_heal);
    assert_true(s_alive(watch, "n1", value, sizeof value));
    assert_string_equal(value, "inc-1");
    tm_lease_destroy(&a);
    tm_lease_destroy(&watch);
    s_proxy_stop(&px);
}

/* etcd stops (SIGSTOP): the node stops being safe before the lease it
 * last renewed can expire; etcd continues: renewals resume, safe again. */
static void test_etcd_stopped(void **state)
{
    (void)state;
    tm_lease_t *a = NULL;
    char err[TM_LEASE_ERROR_MAX];
    assert_int_equal(
        s_open(&a, s_etcd.url, "/tm/t4/", "n1", "v", err, sizeof err), 0);
    usleep(1200 * 1000);
    double t_stop = tm_time_now();
    assert_int_equal(kill(s_etcd.pid, SIGSTOP), 0);
    while (tm_lease_safe(a, tm_time_now()) &&
           tm_time_now() < t_stop + 2 * S_TTL) {
        usleep(5 * 1000);
    }
    double t_unsafe = tm_time_now();
    tm_lease_stats_t st = s_stats(a);
    uint64_t renewals = st.renewals;
    assert_int_equal(kill(s_etcd.pid, SIGCONT), 0);
    /* unsafe when the loop saw it (read before SIGCONT: a renewal that
     * etcd answers once it continues moves safe_until on) */
    assert_true(st.safe_until <= t_unsafe);
    /* The last renewal etcd answered was sent before it stopped; the
     * lease lives until at least then + TTL, and safe_until is the margin
     * short of that. */
    assert_true(st.counted_at < t_stop);
    assert_true(st.safe_until < st.counted_at + st.ttl_s);
    assert_true(st.safe_until <= st.counted_at + st.ttl_s - S_MARGIN + 1e-6);
    assert_true(t_unsafe <= t_stop + S_TTL);
    print_message("stopped etcd: unsafe %.3f s after SIGSTOP\n",
                  t_unsafe - t_stop);

    double t_cont = tm_time_now();
    while (!tm_lease_safe(a, tm_time_now()) &&
           tm_time_now() < t_cont + 2 * S_TTL) {
        usleep(10 * 1000);
    }
    assert_true(tm_lease_safe(a, tm_time_now()));
    st = s_stats(a);
    assert_true(st.renewals > renewals || st.regrants > 0);
    assert_true(st.failures >= 1);
    tm_lease_destroy(&a);
}

/* Revoked behind its back: the key is gone at once for the others; the
 * node notices at its next renewal, grants a new lease, puts the key. */
static void test_regrant(void **state)
{
    (void)state;
    tm_lease_t *a = NULL, *b = NULL;
    char err[TM_LEASE_ERROR_MAX];
    assert_int_equal(
        s_open(&a, s_etcd.url, "/tm/t5/", "n1", "inc-2", err, sizeof err), 0);
    assert_int_equal(
        s_open(&b, s_etcd.url, "/tm/t5/", "n2", NULL, err, sizeof err), 0);
    char value[64];
    assert_true(s_alive(b, "n1", value, sizeof value));
    int64_t old_id = s_stats(a).lease_id;
    char url[128], body[96];
    snprintf(url, sizeof url, "%s/v3/lease/revoke", s_etcd.url);
    snprintf(body, sizeof body, "{\"ID\":\"%" PRId64 "\"}", old_id);
    assert_int_equal(s_post(url, body, NULL), 200);
    assert_false(s_alive(b, "n1", value, sizeof value));

    double t0 = tm_time_now();
    double last = tm_lease_safe_until(a);
    while (!s_alive(b, "n1", value, sizeof value) &&
           tm_time_now() < t0 + 2 * S_TTL) {
        assert_true(tm_lease_safe_until(a) >= last);
        last = tm_lease_safe_until(a);
        usleep(20 * 1000);
    }
    assert_true(s_alive(b, "n1", value, sizeof value));
    assert_string_equal(value, "inc-2");
    tm_lease_stats_t st = s_stats(a);
    assert_int_equal(st.regrants, 1);
    assert_true(st.lease_id != 0 && st.lease_id != old_id);
    assert_non_null(strstr(st.last_error, "no longer has lease"));
    assert_true(st.counted_at > t0);
    assert_true(tm_lease_safe(a, tm_time_now()));
    tm_lease_destroy(&b);
    tm_lease_destroy(&a);
}

/* Takeover: refused while the node's key lives; once a partition lets it
 * expire, one taker wins (a second is told who), the node - healed - is
 * held off by the marker and never safe again by itself, also after a
 * restart; release deletes the marker and the node is safe again. */
static void test_takeover(void **state)
{
    (void)state;
    s_proxy_t px;
    s_proxy_start(&px, s_etcd.client_port);
    char via[64];
    snprintf(via, sizeof via, "http://127.0.0.1:%u", px.port);
    tm_lease_t *a = NULL, *b = NULL, *c = NULL;
    char err[TM_LEASE_ERROR_MAX];
    assert_int_equal(s_open(&a, via, "/tm/t8/", "a", "inc", err, sizeof err),
                     0);
    assert_int_equal(
        s_open(&b, s_etcd.url, "/tm/t8/", "b", NULL, err, sizeof err), 0);
    assert_int_equal(
        s_open(&c, s_etcd.url, "/tm/t8/", "c", NULL, err, sizeof err), 0);
    assert_int_equal(tm_lease_take(b, "a", err, sizeof err), TM_ERR_BUSY);
    assert_non_null(strstr(err, "alive"));
    assert_int_equal(tm_lease_take(b, "no such!", err, sizeof err),
                     TM_ERR_INVAL);
    assert_false(tm_lease_taken(a, NULL, 0));

    atomic_store(&px.cut, true);
    double t_cut = tm_time_now();
    int rc = TM_ERR_BUSY;
    while (rc == TM_ERR_BUSY && tm_time_now() < t_cut + 3 * S_TTL) {
        usleep(50 * 1000);
        rc = tm_lease_take(b, "a", err, sizeof err);
        /* the key can only be gone once a is no longer safe */
        if (rc == 0) {
            assert_false(tm_lease_safe(a, tm_time_now()));
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(tm_lease_take(b, "a", err, sizeof err), 0); /* again */
    assert_int_equal(tm_lease_take(c, "a", err, sizeof err), TM_ERR_EXISTS);
    assert_non_null(strstr(err, "taken over by b"));

    /* healed: held off by the marker, never safe */
    atomic_store(&px.cut, false);
    double t_heal = tm_time_now();
    char by[64];
    while (!tm_lease_taken(a, by, sizeof by) &&
           tm_time_now() < t_heal + 2 * S_TTL) {
        usleep(20 * 1000);
    }
    assert_true(tm_lease_taken(a, by, sizeof by));
    assert_string_equal(by, "b");
    assert_string_equal(s_stats(a).taken_by, "b");
    usleep((useconds_t)(S_TTL * 1e6));
    assert_false(tm_lease_safe(a, tm_time_now()));
    assert_false(s_alive(c, "a", NULL, 0));

    /* a restart is held off too */
    tm_lease_destroy(&a);
    assert_int_equal(s_open(&a, via, "/tm/t8/", "a", "inc", err, sizeof err),
                     0);
    assert_true(tm_lease_taken(a, by, sizeof by));
    assert_false(tm_lease_safe(a, tm_time_now()));
    assert_false(s_alive(c, "a", NULL, 0));

    /* released: the marker goes, the key is back, safe again */
    tm_lease_release(a);
    double t_rel = tm_time_now();
    while (!tm_lease_safe(a, tm_time_now()) &&
           tm_time_now() < t_rel + 2 * S_TTL) {
        usleep(20 * 1000);
    }
    assert_true(tm_lease_safe(a, tm_time_now()));
    assert_false(tm_lease_taken(a, NULL, 0));
    assert_true(s_alive(c, "a", NULL, 0));
    assert_int_equal(tm_lease_take(c, "a", err, sizeof err), TM_ERR_BUSY);
    tm_lease_destroy(&a);
    tm_lease_destroy(&b);
    tm_lease_destroy(&c);
    s_proxy_stop(&px);
}

/* destroy revokes: the key is gone at once; destroy is prompt, also when
 * etcd does not answer (the request in flight is abandoned, the revoke
 * waits one timeout). */
static void test_destroy(void **state)
{
    (void)state;
    tm_lease_t *a = NULL, *b = NULL;
    char err[TM_LEASE_ERROR_MAX];
    char value[64];
    assert_int_equal(
        s_open(&a, s_etcd.url, "/tm/t6/", "n1", "v", err, sizeof err), 0);
    assert_int_equal(
        s_open(&b, s_etcd.url, "/tm/t6/", "n2", NULL, err, sizeof err), 0);
    assert_true(s_alive(b, "n1", value, sizeof value));
    double t0 = tm_time_now();
    tm_lease_destroy(&a);
    double took = tm_time_now() - t0;
    assert_true(took < 2 * S_TIMEOUT);
    assert_false(s_alive(b, "n1", value, sizeof value));

    /* etcd stopped while a renewal is in flight (a renewal every 1 s, the
     * stop lasts 1.2 s). */
    assert_int_equal(
        s_open(&a, s_etcd.url, "/tm/t6/", "n1", "v", err, sizeof err), 0);
    assert_int_equal(kill(s_etcd.pid, SIGSTOP), 0);
    usleep(1200 * 1000);
    t0 = tm_time_now();
    tm_lease_destroy(&a);
    double took_a = tm_time_now() - t0;
    t0 = tm_time_now();
    tm_lease_destroy(&b);
    double took_b = tm_time_now() - t0;
    assert_int_equal(kill(s_etcd.pid, SIGCONT), 0);
    print_message("destroy with etcd stopped: %.3f s and %.3f s\n", took_a,
                  took_b);
    assert_true(took_a < 2 * S_TIMEOUT);
    assert_true(took_b < 2 * S_TIMEOUT);
}

/* Endpoints: one that nobody listens on fails at once and is named; one
 * that accepts and never answers fails within the timeout; a dead one
 * before a live one works; an HTTP server that is not etcd's gateway is a
 * bad answer; bad options are refused. */
static void test_endpoints(void **state)
{
    (void)state;
    tm_lease_t *a = NULL;
    char err[TM_LEASE_ERROR_MAX];
    char dead[64], list[160];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%u", s_port());
    double t0 = tm_time_now();
    assert_int_equal(s_open(&a, dead, "/tm/t7/", "n1", "v", err, sizeof err),
                     TM_ERR_IO);
    assert_null(a);
    assert_true(tm_time_now() - t0 < S_TIMEOUT);
    print_message("dead endpoint: %s\n", err);
    assert_non_null(strstr(err, dead));

    /* Accepts (the kernel's backlog) and never answers. */
    s_proxy_t hole;
    s_proxy_start(&hole, s_etcd.client_port);
    atomic_store(&hole.cut, true);
    char mute[64];
    snprintf(mute, sizeof mute, "http://127.0.0.1:%u", hole.port);
    t0 = tm_time_now();
    assert_int_equal(s_open(&a, mute, "/tm/t7/", "n1", "v", err, sizeof err),
                     TM_ERR_IO);
    double took = tm_time_now() - t0;
    print_message("mute endpoint after %.3f s: %s\n", took, err);
    assert_true(took >= S_TIMEOUT * 0.9 && took < 2 * S_TIMEOUT);
    assert_non_null(strstr(err, mute));
    s_proxy_stop(&hole);

    snprintf(list, sizeof list, "%s,%s", dead, s_etcd.url);
    assert_int_equal(s_open(&a, list, "/tm/t7/", "n1", "v", err, sizeof err),
                     0);
    tm_lease_stats_t st = s_stats(a);
    assert_string_equal(st.endpoint, s_etcd.url);
    char value[64];
    assert_true(s_alive(a, "n1", value, sizeof value));
    assert_string_equal(value, "v");
    usleep(1200 * 1000);
    st = s_stats(a);
    assert_true(st.renewals >= 1);
    assert_int_equal(st.failures, 0); /* it stays with the live one */
    tm_lease_destroy(&a);

    /* etcd's peer port speaks HTTP but is not the gateway. */
    char peer[64];
    snprintf(peer, sizeof peer, "http://127.0.0.1:%u", s_etcd.peer_port);
    int rc = s_open(&a, peer, "/tm/t7/", "n1", "v", err, sizeof err);
    print_message("peer port: %s: %s\n", tm_err_name(rc), err);
    assert_true(rc == TM_ERR_WIRE_FIELD || rc == TM_ERR_PERM);
    assert_non_null(strstr(err, peer));
    assert_null(a);

    tm_lease_opts_t o = {.endpoints = s_etcd.url,
                         .prefix = "/tm/t7/",
                         .node = "n1",
                         .ttl_s = 1.5};
    assert_int_equal(tm_lease_open(&a, &o, err, sizeof err), TM_ERR_INVAL);
    assert_non_null(strstr(err, "ttl"));
    o.ttl_s = 3;
    o.timeout_s = 2;
    assert_int_equal(tm_lease_open(&a, &o, err, sizeof err), TM_ERR_INVAL);
    o.timeout_s = 0;
    o.node = "bad name";
    assert_int_equal(tm_lease_open(&a, &o, err, sizeof err), TM_ERR_INVAL);
    o.node = "n1";
    o.endpoints = "127.0.0.1:2379";
    assert_int_equal(tm_lease_open(&a, &o, err, sizeof err), TM_ERR_INVAL);
    assert_non_null(strstr(err, "127.0.0.1:2379"));
    o.endpoints = "http://127.0.0.1:1,,http://127.0.0.1:2";
    assert_int_equal(tm_lease_open(&a, &o, err, sizeof err), TM_ERR_INVAL);
    o.endpoints = "";
    assert_int_equal(tm_lease_open(&a, &o, err, sizeof err), TM_ERR_INVAL);
    o.endpoints = s_etcd.url;
    o.prefix = "";
    assert_int_equal(tm_lease_open(&a, &o, err, sizeof err), TM_ERR_INVAL);
    assert_null(a);
}

int main(void)
{
    if (access(s_etcd_bin(), X_OK) != 0) {
        fprintf(stderr,
                "lease_test: skipped: no etcd at %s (apt-get install "
                "etcd-server, or tools/dev.sh deps; or set TM_ETCD)\n",
                s_etcd_bin());
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_peer),
        cmocka_unit_test(test_renewals),
        cmocka_unit_test(test_partition),
        cmocka_unit_test(test_etcd_stopped),
        cmocka_unit_test(test_regrant),
        cmocka_unit_test(test_takeover),
        cmocka_unit_test(test_destroy),
        cmocka_unit_test(test_endpoints),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
