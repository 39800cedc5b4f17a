/* tm_units: conversion of measured values into the SI units models use.
 *
 * A data contract names each signal's unit (the measured input's unit,
 * e.g. "m^3/s"); telemetry may come in another unit of the same quantity
 * ("l/min"). tm_unit_to converts value = scale * v + offset, with the
 * table in tm_units.c (docs/models.md lists it). Units of different
 * quantities, or unknown units, do not convert.
 */
#ifndef TM_UNITS_H_INCLUDED
#define TM_UNITS_H_INCLUDED

/* Convert v from unit `from` into unit `to` (both as in the table; NULL or
 * "" for `from` means `to`). 0 and *out, or TM_ERR_UNSUPPORTED (unknown
 * unit, or another quantity). */
int tm_unit_to(const char *from, const char *to, double v, double *out);

#endif
