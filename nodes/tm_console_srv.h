/* tm_console_srv: the node's console server, as a service.
 *
 * A ROUTER socket (made by tm_sock) watched with tm_zwatch: each request
 * frame is decoded (envelope, CONSOLE_REQ), parsed with the command table
 * (tm_cmd_parse) and run with tm_console_exec(); replies, long lists in
 * parts, and streams (watch, top, run progress) go back to the peer that
 * asked. Every malformed request is answered with an error reply. A
 * console has at most one stream; a new request from it ends the previous
 * one. Streams send a keepalive after a second without items; a send that
 * fails because the console went away ends its stream. Replies that cannot
 * be sent are dropped and counted.
 */
#ifndef TM_CONSOLE_SRV_H_INCLUDED
#define TM_CONSOLE_SRV_H_INCLUDED

#include "tm_console.h"
#include "tm_sched.h"
#include "tm_service.h"

typedef struct tm_console_srv tm_console_srv_t;

/* Bind endpoint in zctx. ctx must outlive the server; ctx->sched is
 * subscribed to (ticks for watch streams, run ends). Errors: those of
 * tm_sock_open (TM_ERR_BUSY: address in use, TM_ERR_INVAL: bad endpoint),
 * TM_ERR_NOMEM; err gets a message. */
int tm_console_srv_open(tm_console_srv_t **out, void *zctx,
                        const char *endpoint, tm_console_ctx_t *ctx, char *err,
                        size_t errlen);

/* The address the console is bound to (the real port when 0 or '*' was
 * asked for). */
const char *tm_console_srv_endpoint(const tm_console_srv_t *s);

/* The service (attach, stats, stop, close). */
tm_service_t tm_console_srv_service(tm_console_srv_t *s);

/* Changes and the writer: a change (a command that mutates) that comes
 * while busy(arg) is true - a checkpoint is being written - or while other
 * changes wait, waits as its request frame, in order (at most 1,024 and
 * 64 MiB; beyond, it is refused with TM_ERR_BUSY and changes nothing),
 * and ticks, reads and other consoles are served meanwhile. The node runs
 * them with tm_console_srv_drain when the writer is free, and starts no
 * checkpoint while tm_console_srv_waiting: console changes run in the
 * order they came, none is overwritten by a checkpoint taken before it,
 * and each is answered once it is durable. Changes from elsewhere (another
 * node, a rollout) do not queue here: they wait for the writer on the
 * loop and may run before console changes that wait. Stopping answers
 * the waiting ones "node stopping" (not made).
 * Without busy, changes run at once. */
void tm_console_srv_writer(tm_console_srv_t *s, bool (*busy)(void *arg),
                           void *arg);
void tm_console_srv_drain(void *s);
bool tm_console_srv_waiting(void *s);

#endif
