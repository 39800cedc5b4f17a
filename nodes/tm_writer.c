/* tm_writer: one background thread committing checkpoint batches. */
#include "tm_writer.h"

#include "tm_err.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct tm_writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tm_writer_done_fn done;
    void *arg;
    tm_store_batch_t *job; /* in flight, owned by the writer */
    uint64_t job_tick;
    tm_writer_fill_fn fill; /* completes the job's batch, may be NULL */
    void (*fill_free)(void *arg);
    void *fill_arg;
    bool busy;
    bool stop;
    bool have_result;
    tm_writer_result_t result;
};

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *s_main(void *arg)
{
    tm_writer_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->job == NULL && !w->stop) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->job == NULL) {
            break;
        }
        tm_store_batch_t *job = w->job;
        uint64_t tick = w->job_tick;
        tm_writer_fill_fn fill = w->fill;
        void (*fill_free)(void *) = w->fill_free;
        void *fill_arg = w->fill_arg;
        w->fill = NULL;
        w->fill_free = NULL;
        w->fill_arg = NULL;
        pthread_mutex_unlock(&w->mu);

        double t0 = s_now_ms();
        int rc = fill != NULL ? fill(fill_arg, job) : 0;
        if (fill_free != NULL) {
            fill_free(fill_arg);
        }
        size_t records = tm_store_batch_size(job);
        if (rc == 0) {
            rc = tm_store_batch_commit(job);
        }
        double ms = s_now_ms() - t0;
        tm_store_batch_destroy(&job);

        pthread_mutex_lock(&w->mu);
        w->job = NULL;
        w->busy = false;
        w->have_result = true;
        w->result.tick = tick;
        w->result.records = records;
        w->result.rc = rc;
        w->result.ms = ms;
        pthread_cond_broadcast(&w->cv);
        if (w->done != NULL) {
            w->done(w->arg);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int tm_writer_open(tm_writer_t **out, tm_writer_done_fn done, void *arg)
{
    *out = NULL;
    tm_writer_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return TM_ERR_NOMEM;
    }
    w->done = done;
    w->arg = arg;
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        free(w);
        return TM_ERR_IO;
    }
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return TM_ERR_IO;
    }
    if (pthread_create(&w->thread, NULL, s_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return TM_ERR_IO;
    }
    *out = w;
    return 0;
}

void tm_writer_destroy(tm_writer_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_writer_t *w = *p;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    *p = NULL;
}

int tm_writer_submit_fill(tm_writer_t *w, tm_store_batch_t **batch,
                          uint64_t tick, tm_writer_fill_fn fill,
                          void (*free_fn)(void *arg), void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    if (w->busy) {
        rc = TM_ERR_BUSY;
    } else {
        w->job = *batch;
        w->job_tick = tick;
        w->fill = fill;
        w->fill_free = free_fn;
        w->fill_arg = arg;
        w->busy = true;
        *batch = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int tm_writer_submit(tm_writer_t *w, tm_store_batch_t **batch, uint64_t tick)
{
    return tm_writer_submit_fill(w, batch, tick, NULL, NULL, NULL);
}

bool tm_writer_busy(tm_writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    bool busy = w->busy;
    pthread_mutex_unlock(&w->mu);
    return busy;
}

void tm_writer_wait(tm_writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->busy) {
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

int tm_writer_poll(tm_writer_t *w, tm_writer_result_t *out)
{
    pthread_mutex_lock(&w->mu);
    int got = w->have_result ? 1 : 0;
    if (got) {
        *out = w->result;
        w->have_result = false;
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}
