/* tm_score: confusion counts and the benchmark's F1, FAR and MAR. */
#include "tm_score.h"

#include <math.h>

void tm_score_add(tm_score_t *s, int alarm, int label)
{
    if (alarm && label) {
        s->tp++;
    } else if (alarm) {
        s->fp++;
    } else if (label) {
        s->fn++;
    } else {
        s->tn++;
    }
}

void tm_score_rows(tm_score_t *s, const int8_t *alarm, const uint8_t *label,
                   size_t rows, size_t skip)
{
    for (size_t i = skip; i < rows; i++) {
        tm_score_add(s, alarm[i] > 0, label[i]);
    }
}

void tm_score_merge(tm_score_t *into, const tm_score_t *s)
{
    into->tp += s->tp;
    into->fp += s->fp;
    into->fn += s->fn;
    into->tn += s->tn;
}

uint64_t tm_score_total(const tm_score_t *s)
{
    return s->tp + s->fp + s->fn + s->tn;
}

double tm_score_f1(const tm_score_t *s)
{
    double den = (double)s->tp + ((double)s->fp + (double)s->fn) / 2.0;
    return den > 0 ? (double)s->tp / den : NAN;
}

double tm_score_far(const tm_score_t *s)
{
    uint64_t den = s->fp + s->tn;
    return den > 0 ? 100.0 * (double)s->fp / (double)den : NAN;
}

double tm_score_mar(const tm_score_t *s)
{
    uint64_t den = s->fn + s->tp;
    return den > 0 ? 100.0 * (double)s->fn / (double)den : NAN;
}
