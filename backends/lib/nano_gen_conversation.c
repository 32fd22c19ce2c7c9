/*
 * A conversation's earlier turns, read back from "Generation" as the
 * messages of its next one: the latest that fit, oldest first, each
 * turn as it was asked.
 */

#include <stdio.h>
#include <string.h>

#include "nano_gen.h"

/* The messages a turn was asked with (params' "messages", as JSON text;
 * NULL when it was asked with a prompt), each as {"role","content"}; NULL
 * when they are not that (the row's prompt stands for them then). */
static json_t *
nano_gen_turn_asked(const char *asked)
{
    json_t      *given, *out, *m;
    const char  *role, *content;
    size_t       i;

    given = asked != NULL ? json_loads(asked, 0, NULL) : NULL;
    out = json_is_array(given) && json_array_size(given) > 0
          ? json_array() : NULL;
    json_array_foreach(given, i, m) {
        role = json_string_value(json_object_get(m, "role"));
        content = json_string_value(json_object_get(m, "content"));
        if (out == NULL || role == NULL || content == NULL
            || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0
                && strcmp(role, "system") != 0)
            || json_array_append_new(out, json_pack("{s:s, s:s}", "role",
                                                    role, "content",
                                                    content)) != 0)
        {
            json_decref(out);
            out = NULL;
            break;
        }
    }
    json_decref(given);
    return out;
}

nano_db_status_t
nano_gen_conversation(nano_db_t *db, const char *conversation_id,
    const char *user_id, const char *module, int max_turns,
    size_t max_messages, json_t **messages, int *found)
{
    static const char   known[] =
        "SELECT 1 FROM \"Generation\" WHERE \"conversationId\" = $1"
        " AND \"userId\" = $2 AND \"module\" = $3 LIMIT 1";
    /* newest first: the turns that fit max_messages are the latest.
     * Turns made in one millisecond share "createdAt" (TIMESTAMP(3)): they
     * go by their debit's ledger id, which the admission takes from a
     * sequence in the order the turns come (the generation's id is a
     * random UUID); the id last, should a debit be missing */
    static const char   sql[] =
        "SELECT g.\"prompt\", g.\"text\", g.\"params\"->'messages'"
        " FROM \"Generation\" g WHERE g.\"conversationId\" = $1"
        " AND g.\"userId\" = $2 AND g.\"module\" = $4"
        " AND g.\"status\" = 'succeeded'"
        " ORDER BY g.\"createdAt\" DESC,"
        " (SELECT l.\"id\" FROM \"CreditLedger\" l"
        "  WHERE l.\"generationId\" = g.\"id\" AND l.\"reason\" = 'debit')"
        " DESC NULLS LAST, g.\"id\" DESC LIMIT $3";
    const char         *params[4];
    char                lim[16];
    nano_db_status_t    st;
    PGresult           *r;
    json_t             *turns = NULL, *turn, *m;
    size_t              total = 0;
    int                 i, n, ok = 1;

    *found = 0;
    *messages = json_array();
    turns = json_array();
    if (*messages == NULL || turns == NULL) {
        json_decref(*messages);
        json_decref(turns);
        *messages = NULL;
        return NANO_DB_FAILED;
    }
    snprintf(lim, sizeof(lim), "%d", max_turns);
    params[0] = conversation_id;
    params[1] = user_id;
    params[2] = lim;
    params[3] = module;
    r = nano_db_exec(db, sql, 4, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        json_decref(turns);
        json_decref(*messages);
        *messages = NULL;
        return st;
    }
    n = PQntuples(r);
    for (i = 0; i < n && ok; i++) {
        /* a turn asked with messages (a system prompt, earlier turns the
         * client kept) goes again as it was asked, not only its last
         * user message */
        turn = nano_gen_turn_asked(PQgetisnull(r, i, 2)
                                   ? NULL : PQgetvalue(r, i, 2));
        if (turn == NULL) {
            turn = json_array();
            m = json_pack("{s:s, s:s}", "role", "user",
                          "content", PQgetvalue(r, i, 0));
            ok = turn != NULL && m != NULL
                 && json_array_append_new(turn, m) == 0;
        }
        if (ok && !PQgetisnull(r, i, 1)) {
            m = json_pack("{s:s, s:s}", "role", "assistant",
                          "content", PQgetvalue(r, i, 1));
            ok = m != NULL && json_array_append_new(turn, m) == 0;
        }
        if (ok && total + json_array_size(turn) > max_messages) {
            json_decref(turn);
            break;              /* this turn and older ones do not fit */
        }
        if (ok) {
            total += json_array_size(turn);
            ok = json_array_append_new(turns, turn) == 0;
        } else {
            json_decref(turn);
        }
    }
    PQclear(r);
    /* oldest first */
    for (i = (int) json_array_size(turns) - 1; i >= 0 && ok; i--) {
        ok = json_array_extend(*messages, json_array_get(turns, i)) == 0;
    }
    json_decref(turns);
    if (!ok) {
        json_decref(*messages);
        *messages = NULL;
        return NANO_DB_FAILED;
    }
    *found = n > 0;
    if (n == 0) {
        /* no answered turn: a first turn still running, or one that
         * failed, still makes the conversation one of this user's */
        params[2] = module;
        r = nano_db_exec(db, known, 3, params, PGRES_TUPLES_OK, &st);
        if (r == NULL) {
            json_decref(*messages);
            *messages = NULL;
            return st;
        }
        *found = PQntuples(r) > 0;
        PQclear(r);
    }
    return NANO_DB_OK;
}
