/*
 * What nano_gen.c and nano_gen_runner.c share: the columns of a
 * "Generation" row as nano_gen_read takes them, and the database's
 * clocks every time is set and judged by.
 */

#ifndef NANO_GEN_ROW_H
#define NANO_GEN_ROW_H

#include <libpq-fe.h>

#include "nano_gen.h"

#define NANO_GEN_ISO(col)                                                     \
    "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Every column a nano_gen_t holds, as nano_gen_read() takes them. */
#define NANO_GEN_COLUMNS(t)                                                   \
    t "\"id\", " t "\"userId\" AS user_id, " t "\"module\", " t "\"model\", " \
    t "\"kind\", " t "\"status\", " t "\"prompt\", " t "\"text\", "           \
    t "\"conversationId\" AS conversation_id, "                               \
    t "\"providerTaskId\" AS provider_task_id, " t "\"phase\", "              \
    NANO_GEN_ISO(t "\"createdAt\"") " AS created_at, "                        \
    NANO_GEN_ISO(t "\"startedAt\"") " AS started_at, "                        \
    NANO_GEN_ISO(t "\"finishedAt\"") " AS finished_at, "                      \
    t "\"params\", " t "\"outputs\", " t "\"error\", " t "\"cost\", "         \
    t "\"offline\", to_char(" t "\"createdAt\","                              \
    " 'YYYY-MM-DD HH24:MI:SS.US') AS created_raw"

#define NANO_GEN_NOW  "(now() AT TIME ZONE 'utc')"
/* Seconds since the epoch by the database's clock: every lease is set
 * and judged by it, so hosts need not agree on the time. */
#define NANO_GEN_EPOCH  "extract(epoch FROM clock_timestamp())::bigint"

/*
 * Reads row i of r (NANO_GEN_COLUMNS) into g: 0, a jsonb column jansson
 * refuses left NULL and flagged in g->unreadable (the rest can still be
 * shown or ended); -1 when out of memory or a column is missing, g
 * cleaned up.
 */
int nano_gen_read(const PGresult *r, int i, nano_gen_t *g);

#endif /* NANO_GEN_ROW_H */
