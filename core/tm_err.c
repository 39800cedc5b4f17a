/* tm_err: names and messages generated from the TM_ERR_MAP table. */
#include "tm_err.h"

#include <errno.h>
#include <string.h>

const char *tm_err_name(int code)
{
    switch (code) {
#define TM_ERR_NAME_CASE(name, value, msg)                                     \
    case value:                                                                \
        return #name;
        TM_ERR_MAP(TM_ERR_NAME_CASE)
#undef TM_ERR_NAME_CASE
    default:
        return "UNKNOWN";
    }
}

const char *tm_err_str(int code)
{
    switch (code) {
#define TM_ERR_STR_CASE(name, value, msg)                                      \
    case value:                                                                \
        return msg;
        TM_ERR_MAP(TM_ERR_STR_CASE)
#undef TM_ERR_STR_CASE
    default:
        return "unknown error";
    }
}

int tm_err_from_name(const char *name)
{
    if (name == NULL) {
        return TM_ERR_INTERNAL;
    }
#define TM_ERR_FROM_NAME(ident, value, msg)                                    \
    if (strcmp(name, #ident) == 0) {                                           \
        return value;                                                          \
    }
    TM_ERR_MAP(TM_ERR_FROM_NAME)
#undef TM_ERR_FROM_NAME
    return TM_ERR_INTERNAL;
}

int tm_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return TM_ERR_OK;
    case ENOMEM:
        return TM_ERR_NOMEM;
    case EINVAL:
        return TM_ERR_INVAL;
    case ENOENT:
        return TM_ERR_NOT_FOUND;
    case EEXIST:
        return TM_ERR_EXISTS;
    case E2BIG:
    case EFBIG:
    case EMSGSIZE:
        return TM_ERR_TOO_BIG;
    case ERANGE:
        return TM_ERR_RANGE;
    case EBUSY:
    case EAGAIN:
        return TM_ERR_BUSY;
    case ETIMEDOUT:
        return TM_ERR_TIMEOUT;
    case EACCES:
    case EPERM:
        return TM_ERR_PERM;
    case ENOTSUP:
        return TM_ERR_UNSUPPORTED;
    default:
        return TM_ERR_IO;
    }
}
