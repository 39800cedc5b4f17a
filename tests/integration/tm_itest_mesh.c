/* tm_itest_mesh: helpers of the mesh integration tests (see tm_itest.c).
 *
 *   tm_itest count [KEY=VALUE]        entries of the JSON array on stdin
 *                                     (those whose KEY is VALUE)
 *   tm_itest chain-ref N TICKS H      positions of oscillators o0..oN-1 of
 *                                     the chain built by mesh.sh after
 *                                     TICKS ticks of H s, computed here
 *                                     from the model equations and the
 *                                     coupling rule (inputs at tick k are
 *                                     the outputs of tick k-1), apart from
 *                                     the runtime
 *   tm_itest near FILE FILE TOL       the two files hold as many numbers,
 *                                     pairwise within TOL relative
 *   tm_itest index KEY VALUE          position of the first entry of the
 *                                     JSON array on stdin whose KEY is
 *                                     VALUE (exit 1 if none)
 *   tm_itest sorted KEY               the entries of the JSON array on
 *                                     stdin have KEY (a whole number) in
 *                                     ascending order (exit 1 if not, or
 *                                     if one lacks it)
 */
#include "tm_itest.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tmi_it_count(int argc, char **argv)
{
    json_error_t err;
    json_t *doc = json_loadf(stdin, 0, &err);
    const char *kv = argc > 0 ? argv[0] : "";
    const char *eq = strchr(kv, '=');
    size_t klen = eq != NULL ? (size_t)(eq - kv) : 0;
    char key[128];
    if (doc == NULL || !json_is_array(doc) || klen >= sizeof key) {
        fprintf(stderr, "tm_itest count: stdin is no JSON array\n");
        json_decref(doc);
        return 1;
    }
    memcpy(key, kv, klen);
    key[klen] = '\0';
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(doc, i, e)
    {
        json_t *v = klen > 0 ? json_object_get(e, key) : NULL;
        n += klen == 0 ||
             (json_is_string(v) && strcmp(json_string_value(v), eq + 1) == 0);
    }
    printf("%zu\n", n);
    json_decref(doc);
    return 0;
}

int tmi_it_sorted(const char *key)
{
    json_error_t err;
    json_t *doc = json_loadf(stdin, 0, &err);
    size_t i;
    json_t *e;
    json_int_t last = 0;
    int rc = doc != NULL && json_is_array(doc) ? 0 : 1;
    json_array_foreach(doc, i, e)
    {
        json_t *v = json_object_get(e, key);
        if (rc == 0 && (!json_is_integer(v) || json_integer_value(v) < last)) {
            fprintf(stderr, "tm_itest sorted: entry %zu: %s out of order\n", i,
                    key);
            rc = 1;
        }
        last = json_is_integer(v) ? json_integer_value(v) : last;
    }
    json_decref(doc);
    return rc;
}

/* RK4 of m x'' = -k x - c v + f with f held over the step (the
 * oscillator's documented high tier, docs/models.md). */
static void s_rk4(double h, double m, double k, double c, double f, double *x,
                  double *v)
{
#define A(X, V) ((-k * (X)-c * (V) + f) / m)
    double x0 = *x, v0 = *v;
    double k1x = v0, k1v = A(x0, v0);
    double k2x = v0 + h / 2.0 * k1v;
    double k2v = A(x0 + h / 2.0 * k1x, v0 + h / 2.0 * k1v);
    double k3x = v0 + h / 2.0 * k2v;
    double k3v = A(x0 + h / 2.0 * k2x, v0 + h / 2.0 * k2v);
    double k4x = v0 + h * k3v;
    double k4v = A(x0 + h * k3x, v0 + h * k3v);
    *x = x0 + h / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x);
    *v = v0 + h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v);
#undef A
}

int tmi_it_chain(int n, long ticks, double h)
{
    if (n < 2 || n > 9 || ticks < 0 || !(h > 0)) {
        fprintf(stderr, "tm_itest chain-ref: 2 <= N <= 9, TICKS >= 0\n");
        return 2;
    }
    double x[9], v[9], X[9], fa[8], fb[8];
    for (int i = 0; i < n; i++) {
        x[i] = 0.01 * (i + 1); /* --param x0=0.0<i+1> */
        v[i] = 0;
        X[i] = x[i];
    }
    for (int j = 0; j < n - 1; j++) {
        fa[j] = fb[j] = 0; /* spawned with zero inputs */
    }
    for (long t = 0; t < ticks; t++) {
        double nfa[8], nfb[8];
        for (int i = 0; i < n; i++) {
            double fl = i > 0 ? fb[i - 1] : 0.0;
            double fr = i < n - 1 ? fa[i] : 0.0;
            s_rk4(h, 1.0, 100.0, 0.1 * i, fl + fr, &x[i], &v[i]);
        }
        for (int j = 0; j < n - 1; j++) {
            nfa[j] = (20.0 + j) * (X[j + 1] - X[j]);
            nfb[j] = -nfa[j];
        }
        memcpy(fa, nfa, sizeof fa);
        memcpy(fb, nfb, sizeof fb);
        memcpy(X, x, sizeof X);
    }
    for (int i = 0; i < n; i++) {
        printf("%.17g\n", x[i]);
    }
    return 0;
}

int tmi_it_near(const char *a, const char *b, double tol)
{
    FILE *fa = fopen(a, "r");
    FILE *fb = fopen(b, "r");
    int rc = fa != NULL && fb != NULL ? 0 : 1;
    double x, y;
    int n = 0;
    while (rc == 0) {
        int ra = fscanf(fa, "%lf", &x);
        int rb = fscanf(fb, "%lf", &y);
        if (ra != rb) {
            fprintf(stderr, "tm_itest near: %s and %s differ in length\n", a,
                    b);
            rc = 1;
        } else if (ra != 1) {
            break;
        } else if (!(fabs(x - y) <= tol * fmax(1.0, fabs(y)))) {
            fprintf(stderr, "tm_itest near: value %d: %.17g vs %.17g\n", n, x,
                    y);
            rc = 1;
        }
        n++;
    }
    if (fa != NULL) {
        fclose(fa);
    }
    if (fb != NULL) {
        fclose(fb);
    }
    return rc == 0 && n == 0 ? 1 : rc;
}

int tmi_it_index(const char *key, const char *value)
{
    json_error_t err;
    json_t *doc = json_loadf(stdin, 0, &err);
    size_t i;
    json_t *e;
    int rc = 1;
    json_array_foreach(doc, i, e)
    {
        json_t *v = json_object_get(e, key);
        if (json_is_string(v) && strcmp(json_string_value(v), value) == 0) {
            printf("%zu\n", i);
            rc = 0;
            break;
        }
    }
    if (rc != 0) {
        fprintf(stderr, "tm_itest index: no entry with %s = %s\n", key, value);
    }
    json_decref(doc);
    return rc;
}
