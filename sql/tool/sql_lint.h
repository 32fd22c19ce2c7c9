/*
 * The migration linter: finds statements in a migration that are not
 * additive (they drop, rename, retype, delete or can fail on V1's rows).
 */

#ifndef NANO_SQL_LINT_H
#define NANO_SQL_LINT_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    unsigned line;          /* 1-based line of the offending keyword */
    char     reason[256];   /* e.g. "DROP COLUMN is not additive" */
    char     text[640];     /* "<filename>:<line>: <reason>" */
} nano_sql_finding_t;

/*
 * Lints sql[0..len) (need not be NUL-terminated); filename is only used
 * in the findings' text.  Stores the first max findings in out (out may
 * be NULL when max is 0) and returns how many there are in all: 0 means
 * the migration is additive.  Returns -1 when out of memory.
 */
int nano_sql_lint(const char *filename, const char *sql, size_t len,
    nano_sql_finding_t *out, size_t max);

/*
 * Reads the whole file at path into a new NUL-terminated buffer the
 * caller frees, its length in *len; NULL after printing why to report.
 */
char *nano_sql_read_file(const char *path, size_t *len, FILE *report);

/*
 * Reads and lints the file at path, printing each finding's text on its
 * own line to report (or a read error naming the file).  Returns the
 * number of findings, or -1 when the file cannot be read or linted.
 */
int nano_sql_lint_file(const char *path, FILE *report);

/*
 * A migration whose leading comment lines include this one exactly runs
 * without a transaction, each statement on its own: it may hold only
 * CREATE INDEX CONCURRENTLY IF NOT EXISTS "name" statements.
 */
#define NANO_SQL_NO_TRANSACTION  "-- nano-migrate: no-transaction"

/* 1 when sql[0..len) is so marked, 0 when not. */
int nano_sql_no_transaction(const char *sql, size_t len);

/*
 * When stmt[0..len) is CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS
 * name ..., stores the index's name (folded as PostgreSQL does, without
 * its schema) in name and returns 1; 0 otherwise.
 */
int nano_sql_index_name(const char *stmt, size_t len, char *name,
    size_t namelen);

typedef struct {
    size_t   offset;        /* byte offset of the statement's first token */
    size_t   len;           /* up to the end of its last token (no ';') */
    unsigned line;          /* 1-based line of its first token */
} nano_sql_stmt_t;

/*
 * Splits sql[0..len) into statements as the linter reads them (comments
 * between statements belong to none).  Stores the first max in out and
 * returns how many there are, or -1 when out of memory or a string,
 * quoted identifier or comment is unterminated.
 */
int nano_sql_statements(const char *sql, size_t len, nano_sql_stmt_t *out,
    size_t max);

#endif /* NANO_SQL_LINT_H */
