/* tm_units: the unit table and conversions (see tm_units.h). */
#include "tm_units.h"

#include "tm_err.h"

#include <stddef.h>
#include <string.h>

typedef struct {
    const char *unit;
    const char *si; /* the quantity's SI unit, as models name it */
    double scale;   /* si = scale * v + offset */
    double offset;
} s_unit_t;

#define S_F_TO_C_SCALE (5.0 / 9.0)

static const s_unit_t s_units[] = {
    /* acceleration */
    {"m/s^2", "m/s^2", 1.0, 0.0},
    {"m/s2", "m/s^2", 1.0, 0.0},
    {"mm/s^2", "m/s^2", 1e-3, 0.0},
    {"g", "m/s^2", 9.80665, 0.0},
    /* current */
    {"A", "A", 1.0, 0.0},
    {"mA", "A", 1e-3, 0.0},
    {"kA", "A", 1e3, 0.0},
    /* pressure */
    {"Pa", "Pa", 1.0, 0.0},
    {"hPa", "Pa", 1e2, 0.0},
    {"kPa", "Pa", 1e3, 0.0},
    {"MPa", "Pa", 1e6, 0.0},
    {"mbar", "Pa", 1e2, 0.0},
    {"bar", "Pa", 1e5, 0.0},
    {"psi", "Pa", 6894.757293168361, 0.0},
    /* temperature */
    {"degC", "degC", 1.0, 0.0},
    {"C", "degC", 1.0, 0.0},
    {"\xc2\xb0"
     "C",
     "degC", 1.0, 0.0},
    {"K", "degC", 1.0, -273.15},
    {"degF", "degC", S_F_TO_C_SCALE, -32.0 * S_F_TO_C_SCALE},
    /* voltage */
    {"V", "V", 1.0, 0.0},
    {"mV", "V", 1e-3, 0.0},
    {"kV", "V", 1e3, 0.0},
    /* volume flow */
    {"m^3/s", "m^3/s", 1.0, 0.0},
    {"m3/s", "m^3/s", 1.0, 0.0},
    {"m^3/h", "m^3/s", 1.0 / 3600.0, 0.0},
    {"m3/h", "m^3/s", 1.0 / 3600.0, 0.0},
    {"l/s", "m^3/s", 1e-3, 0.0},
    {"L/s", "m^3/s", 1e-3, 0.0},
    {"l/min", "m^3/s", 1e-3 / 60.0, 0.0},
    {"L/min", "m^3/s", 1e-3 / 60.0, 0.0},
    /* power, speed, length, dimensionless */
    {"W", "W", 1.0, 0.0},
    {"kW", "W", 1e3, 0.0},
    {"MW", "W", 1e6, 0.0},
    {"rad/s", "rad/s", 1.0, 0.0},
    {"rpm", "rad/s", 0.10471975511965977, 0.0},
    {"m", "m", 1.0, 0.0},
    {"mm", "m", 1e-3, 0.0},
    {"cm", "m", 1e-2, 0.0},
    {"1", "1", 1.0, 0.0},
    {"%", "1", 1e-2, 0.0},
};

static const s_unit_t *s_find(const char *unit)
{
    for (size_t i = 0; i < sizeof s_units / sizeof s_units[0]; i++) {
        if (strcmp(s_units[i].unit, unit) == 0) {
            return &s_units[i];
        }
    }
    return NULL;
}

int tm_unit_to(const char *from, const char *to, double v, double *out)
{
    if (to == NULL) {
        return TM_ERR_UNSUPPORTED;
    }
    if (from == NULL || from[0] == '\0' || strcmp(from, to) == 0) {
        *out = v;
        return 0;
    }
    const s_unit_t *f = s_find(from);
    const s_unit_t *t = s_find(to);
    if (f == NULL || t == NULL || strcmp(f->si, t->si) != 0) {
        return TM_ERR_UNSUPPORTED;
    }
    /* from -> SI -> to */
    double si = f->scale * v + f->offset;
    *out = (si - t->offset) / t->scale;
    return 0;
}
