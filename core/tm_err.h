/* tm_err: the one error table of twinmesh (codes, names and messages).
 *
 * Functions that can fail return int: 0 on success, a negative tm_err_t on
 * failure. Errors are named by meaning, not origin: LMDB, errno and ZeroMQ
 * failures are translated at the module boundary. Add new codes at the end
 * of TM_ERR_MAP only, so that codes already on the wire keep their value.
 */
#ifndef TM_ERR_H_INCLUDED
#define TM_ERR_H_INCLUDED

/* XX(NAME, code, "message") */
#define TM_ERR_MAP(XX)                                                         \
    XX(OK, 0, "success")                                                       \
    XX(NOMEM, -1, "out of memory")                                             \
    XX(INVAL, -2, "invalid argument")                                          \
    XX(IO, -3, "input/output error")                                           \
    XX(NOT_FOUND, -4, "not found")                                             \
    XX(EXISTS, -5, "already exists")                                           \
    XX(TOO_BIG, -6, "value too large")                                         \
    XX(RANGE, -7, "value out of range")                                        \
    XX(BUSY, -8, "resource busy")                                              \
    XX(TIMEOUT, -9, "timed out")                                               \
    XX(CLOSED, -10, "closed")                                                  \
    XX(INTERNAL, -11, "internal error")                                        \
    XX(PERM, -12, "permission denied")                                         \
    XX(UNSUPPORTED, -13, "not supported")                                      \
    /* wire decoding */                                                        \
    XX(WIRE_TRUNCATED, -20, "message truncated")                               \
    XX(WIRE_TOO_LARGE, -21, "message exceeds the size limit")                  \
    XX(WIRE_TOO_DEEP, -22, "message nesting too deep")                         \
    XX(WIRE_TYPE, -23, "field has the wrong type")                             \
    XX(WIRE_VERSION, -24, "unknown protocol version")                          \
    XX(WIRE_TRAILING, -25, "trailing bytes after message")                     \
    XX(WIRE_COUNT, -26, "element count exceeds remaining bytes")               \
    XX(WIRE_MSGTYPE, -27, "unknown message type")                              \
    XX(WIRE_FIELD, -28, "missing or invalid field")                            \
    XX(WIRE_MALFORMED, -29, "malformed MessagePack")                           \
    /* store */                                                                \
    XX(STORE_MISSING, -40, "data directory does not exist")                    \
    XX(STORE_FOREIGN, -41, "data directory is not a twinmesh store")           \
    XX(STORE_CORRUPT, -42, "data store is corrupt")                            \
    XX(STORE_VERSION, -43, "data store format version not supported")          \
    XX(STORE_FULL, -44, "data store map is full and cannot grow")              \
    XX(STORE_LOCKED, -45, "data store is in use by another process")           \
    /* runtime and models */                                                   \
    XX(UNKNOWN_ACTOR, -60, "unknown actor")                                    \
    XX(DUPLICATE_ACTOR, -61, "actor id already exists")                        \
    XX(BAD_ID, -62, "bad actor id")                                            \
    XX(UNKNOWN_MODEL, -63, "unknown model family")                             \
    XX(UNKNOWN_VERSION, -64, "unknown model version")                          \
    XX(UNKNOWN_FIDELITY, -65, "model has no such fidelity tier")               \
    XX(UNKNOWN_PORT, -66, "unknown port")                                      \
    XX(BAD_VALUE, -67, "bad parameter value")                                  \
    XX(INPUT_LINKED, -68, "input is already linked")                           \
    XX(NOT_LINKED, -69, "no such link")                                        \
    XX(MODEL_ABI, -70, "model ABI version mismatch")                           \
    XX(MODEL_FAILED, -71, "model step failed")                                 \
    /* config and console */                                                   \
    XX(CONFIG, -80, "bad configuration")                                       \
    XX(USAGE, -81, "bad command usage")                                        \
    XX(UNKNOWN_COMMAND, -82, "unknown command")                                \
    /* storage, appended (values in the store range) */                        \
    XX(NOSPACE, -46, "no space left on device")                                \
    XX(READONLY, -47, "read-only file system or permission denied")            \
    XX(NO_DIR, -48, "no such directory")                                       \
    /* console, appended */                                                    \
    XX(PLANT, -83, "invalid plant file")                                       \
    /* mesh, appended */                                                       \
    XX(UNKNOWN_NODE, -90, "unknown node")                                      \
    XX(NODE_DOWN, -91, "node unreachable")                                     \
    XX(ID_CONFLICT, -92, "actor id claimed by two nodes")                      \
    XX(STALE, -93, "claim older than the owner's (a moved actor)")             \
    /* models, appended */                                                     \
    XX(PLUGIN, -72, "model plugin refused")

typedef enum {
#define TM_ERR_ENUM(name, code, msg) TM_ERR_##name = (code),
    TM_ERR_MAP(TM_ERR_ENUM)
#undef TM_ERR_ENUM
} tm_err_t;

/* Symbolic name of an error code ("NOT_FOUND"); "UNKNOWN" if not in table.
 * The returned string is static. */
const char *tm_err_name(int code);

/* Human-readable message for an error code; static string. */
const char *tm_err_str(int code);

/* Reverse lookup of a name produced by tm_err_name(); TM_ERR_INTERNAL if
 * the name is not in the table. */
int tm_err_from_name(const char *name);

/* Translate an errno value into the closest tm_err_t (negative). */
int tm_err_from_errno(int errnum);

#endif
