/* tm_score: the benchmark's detection scores from per-row alarms and
 * labels (SKAB's protocol: the first rows of every file are for
 * calibration and are not scored; the rest are pooled over files).
 *
 * F1 = TP / (TP + (FP + FN) / 2), FAR = FP / (FP + TN) * 100 %,
 * MAR = FN / (FN + TP) * 100 %. A score whose denominator is 0 (F1 and
 * MAR of a file without anomalies and alarms, say) is NaN: undefined, not
 * 0 or 100.
 */
#ifndef TM_SCORE_H_INCLUDED
#define TM_SCORE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/* The rows of a file the benchmark keeps for training or calibration. */
#define TM_SCORE_SKIP_ROWS 400

typedef struct {
    uint64_t tp; /* alarm on an anomalous row */
    uint64_t fp; /* alarm on a normal row */
    uint64_t fn; /* no alarm on an anomalous row */
    uint64_t tn; /* no alarm on a normal row */
} tm_score_t;

/* Count one row: alarm and label are 0 or non-zero. */
void tm_score_add(tm_score_t *s, int alarm, int label);

/* Count rows skip.. of a file: alarm[i] (< 1 counts as no alarm: a row
 * without an output is no alarm) against label[i]. */
void tm_score_rows(tm_score_t *s, const int8_t *alarm, const uint8_t *label,
                   size_t rows, size_t skip);

/* into += s */
void tm_score_merge(tm_score_t *into, const tm_score_t *s);

uint64_t tm_score_total(const tm_score_t *s);
double tm_score_f1(const tm_score_t *s);
double tm_score_far(const tm_score_t *s);
double tm_score_mar(const tm_score_t *s);

#endif
