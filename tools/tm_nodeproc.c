/* tm_nodeproc: start, watch and stop a node of the tool's own. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "tm_nodeproc.h"

#include "tm_client.h"
#include "tm_err.h"
#include "tm_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_PATH_MAX      4096
#define S_EP_MAX        64
#define S_READY_MS      30000
#define S_STOP_MS       10000
#define S_PROBE_MS      300
#define S_ERR_LOG_LINES 8
#define S_NODE_BINARY   "twinmesh-node"
#define S_NODE_ENV_VAR  "TWINMESH_NODE"

struct tm_nodeproc {
    pid_t pid;
    char dir[S_PATH_MAX];    /* the temporary directory */
    char binary[S_PATH_MAX]; /* what was started */
    char console[S_EP_MAX];
    char telemetry[S_EP_MAX];
    char outputs[S_EP_MAX];
};

static void s_append_log(const tm_nodeproc_t *p, char *err, size_t errlen);

static bool s_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
           access(path, X_OK) == 0;
}

/* The folder of the running program. */
static bool s_self_dir(const tm_nodeproc_opts_t *o, char *dir, size_t cap)
{
    char self[S_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
    } else if (o->self_exe != NULL && strchr(o->self_exe, '/') != NULL) {
        snprintf(self, sizeof self, "%s", o->self_exe);
    } else {
        return false;
    }
    char *slash = strrchr(self, '/');
    if (slash == NULL) {
        return false;
    }
    *slash = '\0';
    return (size_t)snprintf(dir, cap, "%s", self) < cap;
}

static bool s_on_path(char *buf, size_t cap)
{
    const char *path = getenv("PATH");
    while (path != NULL && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n > 0 &&
            (size_t)snprintf(buf, cap, "%.*s/%s", (int)n, path, S_NODE_BINARY) <
                cap &&
            s_executable(buf)) {
            return true;
        }
        path = colon ? colon + 1 : NULL;
    }
    return false;
}

int tm_nodeproc_find(const tm_nodeproc_opts_t *o, char *buf, size_t cap,
                     char *err, size_t errlen)
{
    const char *env = getenv(S_NODE_ENV_VAR);
    const char *given = o->binary != NULL ? o->binary : env;
    char dir[S_PATH_MAX];
    if (given != NULL && given[0] != '\0') {
        if (s_executable(given) &&
            (size_t)snprintf(buf, cap, "%s", given) < cap) {
            return 0;
        }
        snprintf(err, errlen, "%s: not an executable node binary%s", given,
                 o->binary == NULL ? " ($" S_NODE_ENV_VAR ")" : "");
        return TM_ERR_NOT_FOUND;
    }
    if (s_self_dir(o, dir, sizeof dir)) {
        static const char *const rel[] = {"/" S_NODE_BINARY,
                                          "/../nodes/" S_NODE_BINARY};
        for (size_t i = 0; i < 2; i++) {
            char real[S_PATH_MAX];
            if ((size_t)snprintf(buf, cap, "%s%s", dir, rel[i]) < cap &&
                s_executable(buf)) {
                if (realpath(buf, real) != NULL) {
                    snprintf(buf, cap, "%s", real);
                }
                return 0;
            }
        }
    }
    if (s_on_path(buf, cap)) {
        return 0;
    }
    snprintf(err, errlen,
             "cannot find %s (looked beside this program, in ../nodes/ of "
             "it and on PATH; set $%s, or use -c to reach a running node)",
             S_NODE_BINARY, S_NODE_ENV_VAR);
    return TM_ERR_NOT_FOUND;
}

/* Three distinct free loopback ports: each socket stays bound until all
 * are chosen. */
static int s_free_ports(int ports[3])
{
    int fds[3] = {-1, -1, -1};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &alen) != 0) {
            rc = TM_ERR_IO;
        } else {
            ports[i] = ntohs(a.sin_port);
        }
    }
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    return rc;
}

static int s_rm_entry(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void s_remove_dir(const char *dir)
{
    if (dir[0] != '\0') {
        nftw(dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* In the child: log to dir/node.log, die with the parent, exec. */
static void s_exec_child(const tm_nodeproc_t *p, const tm_nodeproc_opts_t *o)
{
    char log[S_PATH_MAX + 16];
    char data[S_PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/node.log", p->dir);
    snprintf(data, sizeof data, "%s/data", p->dir);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int devnull = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    const char *argv[] = {p->binary,    "--name",    "replay",   "--data",
                          data,         "--console", p->console, "--telemetry",
                          p->telemetry, "--outputs", p->outputs, "--tick",
                          o->tick,      "--clock",   o->clock,   "--log",
                          "warn",       NULL};
    execv(p->binary, (char *const *)argv);
    fprintf(stderr, "cannot run %s: %s\n", p->binary, strerror(errno));
    _exit(127);
}

/* Poll the console with `stats` until it answers. */
static int s_wait_ready(tm_nodeproc_t *p, int ready_ms, char *err,
                        size_t errlen)
{
    tm_client_t *c = NULL;
    int rc = tm_client_open(&c, p->console);
    double deadline = tm_time_now() + ready_ms / 1000.0;
    const char *argv[] = {"stats"};
    while (rc == 0) {
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = -1;
            snprintf(err, errlen, "%s exited during start-up", p->binary);
            rc = TM_ERR_CLOSED;
            break;
        }
        tm_client_reply_t rep;
        if (tm_client_send(c, 1, argv) == 0 &&
            tm_client_recv(c, S_PROBE_MS, NULL, &rep) == 0) {
            tm_client_reply_free(&rep);
            break;
        }
        tm_client_reset(c);
        if (tm_time_now() > deadline) {
            snprintf(err, errlen, "%s did not answer on %s within %d s",
                     p->binary, p->console, ready_ms / 1000);
            rc = TM_ERR_TIMEOUT;
        }
    }
    tm_client_destroy(&c);
    return rc;
}

static int s_prepare(tm_nodeproc_t *p, const tm_nodeproc_opts_t *o, char *err,
                     size_t errlen)
{
    int ports[3];
    int rc = tm_nodeproc_find(o, p->binary, sizeof p->binary, err, errlen);
    if (rc != 0) {
        return rc;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(p->dir, sizeof p->dir, "%s/twinmesh-replay.XXXXXX",
             tmp != NULL && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(p->dir) == NULL) {
        snprintf(err, errlen, "cannot make a directory %s: %s", p->dir,
                 strerror(errno));
        p->dir[0] = '\0';
        return TM_ERR_IO;
    }
    if (s_free_ports(ports) != 0) {
        snprintf(err, errlen, "no free loopback port: %s", strerror(errno));
        return TM_ERR_IO;
    }
    snprintf(p->console, sizeof p->console, "tcp://127.0.0.1:%d", ports[0]);
    snprintf(p->telemetry, sizeof p->telemetry, "tcp://127.0.0.1:%d", ports[1]);
    snprintf(p->outputs, sizeof p->outputs, "tcp://127.0.0.1:%d", ports[2]);
    return 0;
}

int tm_nodeproc_start(tm_nodeproc_t **out, const tm_nodeproc_opts_t *o,
                      char *err, size_t errlen)
{
    *out = NULL;
    tm_nodeproc_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return TM_ERR_NOMEM;
    }
    p->pid = -1;
    int rc = s_prepare(p, o, err, errlen);
    if (rc == 0) {
        fflush(NULL);
        p->pid = fork();
        if (p->pid == 0) {
            s_exec_child(p, o);
        }
        if (p->pid < 0) {
            snprintf(err, errlen, "cannot start %s: %s", p->binary,
                     strerror(errno));
            rc = TM_ERR_IO;
        }
    }
    if (rc == 0) {
        rc = s_wait_ready(p, o->ready_ms > 0 ? o->ready_ms : S_READY_MS, err,
                          errlen);
        if (rc != 0) {
            s_append_log(p, err, errlen);
        }
    }
    if (rc != 0) {
        tm_nodeproc_stop(&p);
        return rc;
    }
    *out = p;
    return 0;
}

const char *tm_nodeproc_console(const tm_nodeproc_t *p)
{
    return p->console;
}

const char *tm_nodeproc_telemetry(const tm_nodeproc_t *p)
{
    return p->telemetry;
}

const char *tm_nodeproc_outputs(const tm_nodeproc_t *p)
{
    return p->outputs;
}

const char *tm_nodeproc_binary(const tm_nodeproc_t *p)
{
    return p->binary;
}

void tm_nodeproc_log_tail(const tm_nodeproc_t *p, FILE *f, int lines)
{
    char path[S_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/node.log", p->dir);
    FILE *in = fopen(path, "r");
    if (in == NULL) {
        return;
    }
    /* two passes: count the lines, then print the last ones */
    int total = 0;
    int ch;
    while ((ch = fgetc(in)) != EOF) {
        total += ch == '\n';
    }
    rewind(in);
    int skip = total > lines ? total - lines : 0;
    char buf[1024];
    while (fgets(buf, sizeof buf, in) != NULL) {
        bool whole = strchr(buf, '\n') != NULL;
        if (skip <= 0) {
            fprintf(f, "  %s%s", buf, whole ? "" : "\n");
        }
        skip -= whole;
    }
    fclose(in);
}

/* Append ", its log ends:" and the log's last lines to err. */
static void s_append_log(const tm_nodeproc_t *p, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (mem == NULL) {
        return;
    }
    tm_nodeproc_log_tail(p, mem, S_ERR_LOG_LINES);
    fclose(mem);
    size_t used = strlen(err);
    if (len > 0 && used < errlen) {
        snprintf(err + used, errlen - used, "; its log ends:\n%s", buf);
        used = strlen(err);
        if (used > 0 && err[used - 1] == '\n') {
            err[used - 1] = '\0';
        }
    }
    free(buf);
}

/* Wait up to ms for the process; its exit status, or -1 if still there. */
static int s_reap(pid_t pid, int ms)
{
    double deadline = tm_time_now() + ms / 1000.0;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        }
        if (r < 0 || tm_time_now() > deadline) {
            return r < 0 ? 128 : -1;
        }
        usleep(10000);
    }
}

int tm_nodeproc_stop(tm_nodeproc_t **pp)
{
    if (pp == NULL || *pp == NULL) {
        return 0;
    }
    tm_nodeproc_t *p = *pp;
    int status = -1;
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        status = s_reap(p->pid, S_STOP_MS);
        if (status < 0) {
            kill(p->pid, SIGKILL);
            s_reap(p->pid, S_STOP_MS);
        } else if (status == 128) {
            status = -1;
        }
    }
    s_remove_dir(p->dir);
    free(p);
    *pp = NULL;
    return status;
}
