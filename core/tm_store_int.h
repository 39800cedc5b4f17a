/* tm_store_int: what tm_store.c shares with tm_store_reserve.c. Internal
 * to core/. */
#ifndef TM_STORE_INT_H_INCLUDED
#define TM_STORE_INT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

/* The space reserve: a file of this many allocated bytes in the data
 * directory, given up by a commit that frees space on a full disk. */
#define TMI_STORE_RESERVE_NAME  "reserve.space"
#define TMI_STORE_RESERVE_BYTES ((uint64_t)8 << 20)

/* The reserve file is there with its blocks. */
bool tmi_store_reserve_present(int dirfd);

/* Make the reserve if it is missing and the file system has room for it
 * four times over. 0, or TM_ERR_NOSPACE (not now) / TM_ERR_IO. */
int tmi_store_reserve_make(int dirfd);

/* Delete the reserve: 0, TM_ERR_NOT_FOUND (none), TM_ERR_IO. */
int tmi_store_reserve_release(int dirfd);

#endif
