/* tm_itest: helpers of the integration test scripts (tm_itest.c). */
#ifndef TM_ITEST_H_INCLUDED
#define TM_ITEST_H_INCLUDED

int tmi_it_count(int argc, char **argv);
int tmi_it_chain(int n, long ticks, double h);
int tmi_it_near(const char *a, const char *b, double tol);
int tmi_it_index(const char *key, const char *value);
int tmi_it_sorted(const char *key);
int tmi_it_telem_send(const char *endpoint);
int tmi_it_telem_sub(const char *endpoint, long count, double seconds);

#endif
