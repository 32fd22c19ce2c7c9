/*
 * Unit tests for the migration linter (nano_sql_lint) and statement
 * splitter: every refusal with its exact text and line, and the SQL that
 * must not trigger it (comments, strings, quoted names, function bodies).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../sql/tool/sql_lint.h"

typedef struct {
    const char *name;
    const char *sql;
    const char *findings[4];   /* exact texts, in order; NULL-terminated */
} lint_case_t;

#define F "sql/002_x.sql"

static const lint_case_t cases[] = {
    /* ---- refusals ---- */
    { "drop table", "DROP TABLE \"User\";",
      { F ":1: DROP TABLE is not additive" } },
    { "drop lowercase", "drop index if exists foo;",
      { F ":1: DROP INDEX is not additive" } },
    { "drop materialized view", "DROP MATERIALIZED VIEW v;",
      { F ":1: DROP MATERIALIZED VIEW is not additive" } },
    { "drop type after a comment line", "-- cleanup\nDrop Type mood;",
      { F ":2: DROP TYPE is not additive" } },
    { "drop column", "ALTER TABLE \"User\" DROP COLUMN \"image\";",
      { F ":1: DROP COLUMN is not additive" } },
    { "drop column without COLUMN", "ALTER TABLE \"User\" DROP \"image\";",
      { F ":1: DROP COLUMN is not additive" } },
    { "drop constraint on its own line",
      "ALTER TABLE \"Account\"\n    DROP CONSTRAINT \"Account_userId_fkey\";",
      { F ":2: DROP CONSTRAINT is not additive" } },
    { "rename column", "ALTER TABLE \"User\" RENAME COLUMN \"name\" TO \"n\";",
      { F ":1: RENAME is not additive" } },
    { "rename table", "alter table \"User\" rename to \"Users\";",
      { F ":1: RENAME is not additive" } },
    { "rename index", "ALTER INDEX \"User_email_key\"\nRENAME TO k;",
      { F ":2: RENAME is not additive" } },
    { "alter type drop attribute", "ALTER TYPE t DROP ATTRIBUTE a;",
      { F ":1: ALTER ... DROP is not additive" } },
    { "alter view set schema", "ALTER VIEW v SET SCHEMA other;",
      { F ":1: SET SCHEMA is not additive" } },
    { "column type", "ALTER TABLE \"User\" ALTER COLUMN \"email\" TYPE "
      "VARCHAR(100);",
      { F ":1: ALTER COLUMN \"User\".\"email\" TYPE changes a V1 column's "
        "type" } },
    { "column set data type", "ALTER TABLE \"User\" ALTER \"email\" SET DATA "
      "TYPE citext;",
      { F ":1: ALTER COLUMN \"User\".\"email\" TYPE changes a V1 column's "
        "type" } },
    { "set not null", "ALTER TABLE \"User\"\n  ALTER COLUMN \"email\" SET NOT "
      "NULL;",
      { F ":2: SET NOT NULL on \"User\".\"email\" is not additive" } },
    { "drop not null", "ALTER TABLE \"Session\" ALTER COLUMN \"expires\" DROP "
      "NOT NULL;",
      { F ":1: DROP NOT NULL on \"Session\".\"expires\" is not additive" } },
    { "drop default", "ALTER TABLE \"User\" ALTER COLUMN \"createdAt\" DROP "
      "DEFAULT;",
      { F ":1: DROP DEFAULT on \"User\".\"createdAt\" is not additive" } },
    { "drop identity", "ALTER TABLE t ALTER COLUMN id DROP IDENTITY;",
      { F ":1: ALTER COLUMN \"t\".\"id\" DROP is not additive" } },
    { "add generated", "ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS "
      "AS IDENTITY;",
      { F ":1: ALTER COLUMN \"t\".\"id\" ADD is not additive" } },
    { "add not null without default", "ALTER TABLE \"User\" ADD COLUMN "
      "\"credits\" INTEGER NOT NULL;",
      { F ":1: ADD COLUMN \"User\".\"credits\" NOT NULL without DEFAULT "
        "fails on an existing table with rows" } },
    { "add not null without COLUMN keyword", "alter table \"User\" add "
      "credits int not null;",
      { F ":1: ADD COLUMN \"User\".\"credits\" NOT NULL without DEFAULT "
        "fails on an existing table with rows" } },
    { "add primary key column", "ALTER TABLE \"VerificationToken\" ADD "
      "COLUMN \"id\" TEXT PRIMARY KEY;",
      { F ":1: ADD COLUMN \"VerificationToken\".\"id\" PRIMARY KEY on an "
        "existing table is not additive" } },
    { "add unique constraint", "ALTER TABLE \"User\" ADD CONSTRAINT "
      "\"User_name_key\" UNIQUE (\"name\");",
      { F ":1: ADD CONSTRAINT UNIQUE on existing table \"User\" can fail on "
        "its rows or refuse V1's writes" } },
    { "add primary key", "ALTER TABLE \"VerificationToken\" ADD PRIMARY KEY "
      "(\"token\");",
      { F ":1: ADD CONSTRAINT PRIMARY KEY on existing table "
        "\"VerificationToken\" can fail on its rows or refuse V1's writes" } },
    { "add check", "ALTER TABLE \"User\" ADD CONSTRAINT c CHECK (length("
      "\"name\") > 0);",
      { F ":1: ADD CONSTRAINT CHECK on existing table \"User\" can fail on "
        "its rows or refuse V1's writes" } },
    { "add foreign key", "ALTER TABLE \"User\" ADD FOREIGN KEY (\"image\") "
      "REFERENCES \"Image\"(\"id\");",
      { F ":1: ADD CONSTRAINT FOREIGN KEY on existing table \"User\" can "
        "fail on its rows or refuse V1's writes" } },
    { "set schema on a table", "ALTER TABLE \"User\" SET SCHEMA old;",
      { F ":1: SET SCHEMA on existing table \"User\" is not additive" } },
    { "set unlogged", "ALTER TABLE \"Session\" SET UNLOGGED;",
      { F ":1: SET UNLOGGED on existing table \"Session\" is not "
        "additive" } },
    { "detach partition", "ALTER TABLE t DETACH PARTITION p;",
      { F ":1: ALTER TABLE ... DETACH on existing table \"t\" is not "
        "additive" } },
    { "unique index on existing table", "CREATE UNIQUE INDEX \"k\""
      " ON \"CreditLedger\"(\"note\");",
      { F ":1: CREATE UNIQUE INDEX on existing table \"CreditLedger\" can "
        "fail on its rows" } },
    { "unique index mixing old and new columns",
      "ALTER TABLE \"CreditLedger\" ADD COLUMN \"handle\" TEXT;\n"
      "CREATE UNIQUE INDEX k ON \"CreditLedger\" (\"handle\", \"note\");",
      { F ":2: CREATE UNIQUE INDEX on existing table \"CreditLedger\" can "
        "fail on its rows" } },
    { "unique index on an expression", "ALTER TABLE \"CreditLedger\" ADD "
      "COLUMN h TEXT;\nCREATE UNIQUE INDEX k ON \"CreditLedger\" "
      "(lower(h));",
      { F ":2: CREATE UNIQUE INDEX on existing table \"CreditLedger\" can "
        "fail on its rows" } },
    /* a plain build holds V1's writes for the whole build: 3 s at
     * 1,000,000 users (sql/002 and 008 until 2026-12-07) */
    { "plain index on a V1 table", "CREATE INDEX IF NOT EXISTS "
      "\"Session_userId_idx\" ON \"Session\"(\"userId\");",
      { F ":1: CREATE INDEX on existing table \"Session\" holds its writes "
        "for the whole build: use CREATE INDEX CONCURRENTLY IF NOT EXISTS "
        "in a file marked \"-- nano-migrate: no-transaction\"" } },
    { "index on an expression of a V1 table, lower case",
      "-- sign-in\ncreate index \"e\" on public.\"User\" (lower(email));",
      { F ":2: CREATE INDEX on existing table \"User\" holds its writes for "
        "the whole build: use CREATE INDEX CONCURRENTLY IF NOT EXISTS in a "
        "file marked \"-- nano-migrate: no-transaction\"" } },
    { "unique index over a new column of a V1 table", "ALTER TABLE \"User\" "
      "ADD COLUMN \"handle\" TEXT;\nCREATE UNIQUE INDEX \"User_handle_key\" "
      "ON \"User\" (\"handle\");",
      { F ":2: CREATE INDEX on existing table \"User\" holds its writes for "
        "the whole build: use CREATE INDEX CONCURRENTLY IF NOT EXISTS in a "
        "file marked \"-- nano-migrate: no-transaction\"" } },
    { "index concurrently in a transaction", "CREATE INDEX CONCURRENTLY k ON "
      "\"User\" (\"name\");",
      { F ":1: CREATE INDEX CONCURRENTLY cannot run inside a transaction: "
        "put it in a file marked \"-- nano-migrate: no-transaction\"" } },
    { "the mark after a statement does not count", "CREATE TABLE t (a INT);\n"
      "-- nano-migrate: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT "
      "EXISTS k ON \"User\" (\"name\");",
      { F ":3: CREATE INDEX CONCURRENTLY cannot run inside a transaction: "
        "put it in a file marked \"-- nano-migrate: no-transaction\"" } },
    { "no-transaction: anything but an index", "-- nano-migrate: "
      "no-transaction\nALTER TABLE \"User\" ADD COLUMN x TEXT;\n"
      "CREATE TABLE t (a INT);\nUPDATE t SET a = 1;",
      { F ":2: ALTER in a no-transaction migration: it may hold only CREATE "
        "INDEX CONCURRENTLY IF NOT EXISTS statements",
        F ":3: CREATE in a no-transaction migration: it may hold only CREATE "
        "INDEX CONCURRENTLY IF NOT EXISTS statements",
        F ":4: UPDATE in a no-transaction migration: it may hold only CREATE "
        "INDEX CONCURRENTLY IF NOT EXISTS statements" } },
    { "no-transaction: an index not CONCURRENTLY, without IF NOT EXISTS, "
      "without a name", "-- nano-migrate: no-transaction\n"
      "CREATE INDEX IF NOT EXISTS a ON \"User\" (\"name\");\n"
      "CREATE INDEX CONCURRENTLY b ON \"User\" (\"name\");\n"
      "CREATE INDEX CONCURRENTLY ON \"User\" (\"name\");",
      { F ":2: CREATE INDEX in a no-transaction migration must be CREATE "
        "INDEX CONCURRENTLY IF NOT EXISTS \"name\"",
        F ":3: CREATE INDEX in a no-transaction migration must be CREATE "
        "INDEX CONCURRENTLY IF NOT EXISTS \"name\"",
        F ":4: CREATE INDEX in a no-transaction migration must be CREATE "
        "INDEX CONCURRENTLY IF NOT EXISTS \"name\"" } },
    { "no-transaction: a unique index on an existing table",
      "-- nano-migrate: no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF "
      "NOT EXISTS k ON \"User\" (\"name\");",
      { F ":2: CREATE UNIQUE INDEX on existing table \"User\" can fail on "
        "its rows" } },
    /* a volatile default, serial, identity or stored generated column is
     * computed row by row: the whole table rewritten under ACCESS
     * EXCLUSIVE, which holds V1's reads too */
    { "add column rewriting a V1 table",
      "ALTER TABLE \"User\" ADD COLUMN a UUID DEFAULT gen_random_uuid();\n"
      "ALTER TABLE \"Account\" ADD COLUMN b BIGSERIAL,\n"
      "  ADD COLUMN c INT GENERATED ALWAYS AS IDENTITY;\n"
      "ALTER TABLE \"Session\" ADD COLUMN d TIMESTAMP(3) NOT NULL DEFAULT "
      "clock_timestamp();",
      { F ":1: ADD COLUMN \"User\".\"a\" gen_random_uuid() rewrites the "
        "table under an ACCESS EXCLUSIVE lock that holds V1 for the whole "
        "rewrite (add it nullable, or with a constant default)",
        F ":2: ADD COLUMN \"Account\".\"b\" bigserial rewrites the table "
        "under an ACCESS EXCLUSIVE lock that holds V1 for the whole rewrite "
        "(add it nullable, or with a constant default)",
        F ":3: ADD COLUMN \"Account\".\"c\" GENERATED rewrites the table "
        "under an ACCESS EXCLUSIVE lock that holds V1 for the whole rewrite "
        "(add it nullable, or with a constant default)",
        F ":4: ADD COLUMN \"Session\".\"d\" clock_timestamp() rewrites the "
        "table under an ACCESS EXCLUSIVE lock that holds V1 for the whole "
        "rewrite (add it nullable, or with a constant default)" } },
    { "truncate", "TRUNCATE \"Session\";",
      { F ":1: TRUNCATE deletes data" } },
    { "delete", "DELETE FROM \"Session\" WHERE \"expires\" < now();",
      { F ":1: DELETE deletes data" } },
    /* the price list alone: another table, or one of the same name
     * unquoted (PostgreSQL folds it to modelprice), is protected */
    { "delete of another table beside the price list",
      "DELETE FROM \"ModelPrice\";\nDELETE FROM \"Generation\" WHERE "
      "\"module\" = 'x';", { F ":2: DELETE deletes data" } },
    { "delete of an unquoted modelprice", "DELETE FROM ModelPrice;",
      { F ":1: DELETE deletes data" } },
    { "update of another table beside the price list",
      "UPDATE \"ModelPrice\" SET \"credits\" = 1;\nUPDATE \"CreditAccount\" "
      "SET \"balance\" = 0;",
      { F ":2: UPDATE of existing column \"CreditAccount\".\"balance\" "
        "changes data V1 owns" } },
    { "upsert of another table", "INSERT INTO \"Generation\" (\"id\") "
      "VALUES ('x') ON CONFLICT (\"id\") DO UPDATE SET \"cost\" = 0;",
      { F ":1: INSERT ... ON CONFLICT DO UPDATE changes existing rows" } },
    { "truncate of the price list", "TRUNCATE \"ModelPrice\";",
      { F ":1: TRUNCATE deletes data" } },
    { "delete in a WITH", "WITH gone AS (\n  DELETE FROM \"Session\" "
      "RETURNING *)\nSELECT count(*) FROM gone;",
      { F ":2: DELETE deletes data" } },
    { "update of a V1 column", "UPDATE \"User\" SET \"name\" = "
      "lower(\"name\");",
      { F ":1: UPDATE of existing column \"User\".\"name\" changes data V1 "
        "owns" } },
    { "update of a new and an old column",
      "ALTER TABLE \"User\" ADD COLUMN \"credits\" INT;\n"
      "UPDATE \"User\" u SET \"credits\" = 0, \"email\" = NULL;",
      { F ":2: UPDATE of existing column \"User\".\"email\" changes data V1 "
        "owns" } },
    { "update of a column list", "ALTER TABLE \"User\" ADD COLUMN a INT;\n"
      "UPDATE \"User\" SET (a, \"image\") = (1, NULL);",
      { F ":2: UPDATE of existing column \"User\".\"image\" changes data V1 "
        "owns" } },
    { "upsert", "INSERT INTO \"User\" (\"id\") VALUES ('x') ON CONFLICT "
      "(\"id\") DO UPDATE SET \"name\" = 'y';",
      { F ":1: INSERT ... ON CONFLICT DO UPDATE changes existing rows" } },
    { "transaction control", "BEGIN;\nCREATE TABLE t (id INT);\nCOMMIT;",
      { F ":1: BEGIN: the runner runs each migration in its own transaction",
        F ":3: COMMIT: the runner runs each migration in its own "
          "transaction" } },
    { "start transaction", "start transaction;",
      { F ":1: START: the runner runs each migration in its own "
        "transaction" } },
    { "vacuum", "VACUUM \"User\";",
      { F ":1: VACUUM cannot run inside the migration's transaction" } },
    { "do block", "DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$;",
      { F ":1: DO blocks cannot be checked for additivity" } },
    { "revoke", "REVOKE ALL ON \"User\" FROM app;",
      { F ":1: REVOKE takes away privileges V1 uses" } },
    { "several findings, lines counted through strings and comments",
      "/* a\n   block\n   comment */\n"
      "INSERT INTO t VALUES ('multi\nline');\n"
      "DROP TABLE a; DROP TABLE b;\n"
      "-- tail\n"
      "CREATE FUNCTION f() RETURNS int AS $body$\nSELECT 1;\n$body$ "
      "LANGUAGE sql;\n"
      "TRUNCATE c;",
      { F ":6: DROP TABLE is not additive", F ":6: DROP TABLE is not additive",
        F ":11: TRUNCATE deletes data" } },
    { "qualified table name", "ALTER TABLE public.\"User\" DROP COLUMN x;",
      { F ":1: DROP COLUMN is not additive" } },
    { "quoted name differs from unquoted", "CREATE TABLE \"Foo\" (x INT);\n"
      "ALTER TABLE foo ADD CONSTRAINT c UNIQUE (x);",
      { F ":2: ADD CONSTRAINT UNIQUE on existing table \"foo\" can fail on "
        "its rows or refuse V1's writes" } },
    { "statement after BEGIN ATOMIC body",
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n"
      "  SELECT CASE WHEN true THEN 1 END;\n  SELECT 2;\nEND;\n"
      "DROP TABLE x;",
      { F ":6: DROP TABLE is not additive" } },
    { "rule on an existing table", "CREATE OR REPLACE RULE \"keep\" AS ON "
      "DELETE TO public.\"User\"\n  DO INSTEAD NOTHING;",
      { F ":1: CREATE RULE on existing table \"User\" rewrites V1's "
        "statements" } },
    { "before trigger on an existing table", "CREATE TRIGGER t\n  BEFORE "
      "INSERT OR UPDATE ON \"User\" FOR EACH ROW EXECUTE FUNCTION f();",
      { F ":1: BEFORE trigger on existing table \"User\" can change or drop "
        "V1's rows" } },
    { "instead of trigger", "create or replace trigger t instead of delete on "
      "v for each row execute function f();",
      { F ":1: INSTEAD OF trigger on existing table \"v\" can change or "
        "drop V1's rows" } },
    { "session settings", "SET search_path TO elsewhere, public;\n"
      "set session role other;\nRESET search_path;",
      { F ":1: SET outlives the migration: the later ones run in the same "
        "session (use SET LOCAL)",
        F ":2: SET outlives the migration: the later ones run in the same "
        "session (use SET LOCAL)",
        F ":3: RESET outlives the migration: the later ones run in the "
        "same session (use SET LOCAL)" } },
    { "owner of an existing table, and ownership reassigned",
      "ALTER TABLE \"User\" OWNER TO nano;\nREASSIGN OWNED BY v1 TO nano;",
      { F ":1: ALTER TABLE ... OWNER on existing table \"User\" is not "
        "additive",
        F ":2: REASSIGN OWNED takes V1's tables from the role V1 connects "
        "as" } },
    { "database and role settings", "ALTER DATABASE nano SET TimeZone = "
      "'Europe/Paris';\nALTER ROLE v1 IN DATABASE nano\n  RESET ALL;\n"
      "ALTER USER v1 SET search_path = x;",
      { F ":1: ALTER DATABASE ... SET changes the settings of V1's sessions "
        "too",
        F ":3: ALTER ROLE ... RESET changes the settings of V1's sessions "
        "too",
        F ":4: ALTER ROLE ... SET changes the settings of V1's sessions "
        "too" } },

    /* ---- unterminated input ---- */
    { "unterminated string", "INSERT INTO t VALUES (1);\nSELECT 'abc;\n",
      { F ":2: unterminated string literal" } },
    { "unterminated comment", "/* outer /* inner */ still open\nDROP TABLE x;",
      { F ":1: unterminated /* comment" } },
    { "unterminated quoted identifier", "CREATE TABLE \"T (x INT);",
      { F ":1: unterminated quoted identifier" } },
    { "unterminated dollar quote", "\n\nCREATE FUNCTION f() AS $fn$ SELECT 1 "
      "$other$;",
      { F ":3: unterminated dollar-quoted string" } },

    /* ---- additive: no findings ---- */
    { "line comment", "-- DROP TABLE \"User\";\nCREATE TABLE t (id INT);",
      { NULL } },
    { "block comment", "/* DROP TABLE x; TRUNCATE y; */ SELECT 1;", { NULL } },
    { "nested block comment", "/* a /* DROP TABLE x; */ DELETE FROM y; */\n"
      "SELECT 1;", { NULL } },
    { "string literal", "INSERT INTO t (v) VALUES ('DROP TABLE x; it''s "
      "fine');", { NULL } },
    { "escape string", "INSERT INTO t (v) VALUES (E'it\\'s; DROP TABLE x');",
      { NULL } },
    { "quoted identifiers named like keywords",
      "CREATE TABLE \"Log\" (\"Drop\" TEXT, \"delete\" TEXT, \"rename\" "
      "TEXT);\nALTER TABLE \"User\" ADD COLUMN \"Drop\" TEXT;", { NULL } },
    { "words that contain keywords", "ALTER TABLE \"User\" ADD COLUMN "
      "dropped_at TIMESTAMP(3), ADD COLUMN renamed BOOLEAN DEFAULT false;",
      { NULL } },
    { "dollar-quoted function body", "CREATE OR REPLACE FUNCTION f() "
      "RETURNS trigger AS $fn$\nBEGIN\n  DELETE FROM x;\n  DROP TABLE y;\n"
      "  RETURN NEW;\nEND\n$fn$ LANGUAGE plpgsql;", { NULL } },
    { "empty dollar tag", "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; "
      "DROP TABLE t; $$ LANGUAGE sql;", { NULL } },
    { "positional parameter is not a dollar quote", "PREPARE p AS SELECT "
      "$1; SELECT 1;", { NULL } },
    { "new table with NOT NULL columns and constraints",
      "CREATE TABLE \"Credit\" (\n  \"id\" TEXT NOT NULL,\n  \"userId\" TEXT "
      "NOT NULL,\n  \"amount\" INTEGER NOT NULL,\n  CONSTRAINT "
      "\"Credit_pkey\" PRIMARY KEY (\"id\")\n);\n"
      "CREATE UNIQUE INDEX \"Credit_userId_key\" ON \"Credit\"(\"userId\");\n"
      "ALTER TABLE \"Credit\" ADD CONSTRAINT \"Credit_userId_fkey\" FOREIGN "
      "KEY (\"userId\") REFERENCES \"User\"(\"id\") ON DELETE CASCADE ON "
      "UPDATE CASCADE;\n"
      "ALTER TABLE \"Credit\" ALTER COLUMN \"amount\" SET NOT NULL, ADD "
      "COLUMN n INT NOT NULL;", { NULL } },
    { "nullable and defaulted columns", "ALTER TABLE \"User\" ADD COLUMN IF "
      "NOT EXISTS \"createdAt\" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP;\n"
      "ALTER TABLE \"User\" ADD COLUMN \"credits\" INTEGER NOT NULL DEFAULT "
      "0;\nALTER TABLE \"User\" ADD \"bio\" TEXT;\n"
      "ALTER TABLE \"CreditLedger\" ADD COLUMN n BIGSERIAL NOT NULL;\n"
      "ALTER TABLE \"CreditLedger\" ADD COLUMN g INT NOT NULL GENERATED "
      "ALWAYS AS IDENTITY;", { NULL } },
    { "new column with inline references", "ALTER TABLE \"User\" ADD COLUMN "
      "\"planId\" TEXT REFERENCES \"Plan\"(\"id\") ON DELETE SET NULL;",
      { NULL } },
    { "set default and statistics", "ALTER TABLE \"User\" ALTER COLUMN "
      "\"name\" SET DEFAULT '', ALTER COLUMN \"email\" SET STATISTICS 100;",
      { NULL } },
    { "changes to a column added in the same file",
      "ALTER TABLE \"User\" ADD COLUMN x TEXT;\n"
      "ALTER TABLE \"User\" ALTER COLUMN x SET NOT NULL;\n"
      "ALTER TABLE \"User\" ALTER COLUMN x TYPE VARCHAR(9);", { NULL } },
    { "unique index over a new column", "ALTER TABLE \"CreditLedger\" ADD "
      "COLUMN \"handle\" TEXT;\nCREATE UNIQUE INDEX \"k\" ON "
      "\"CreditLedger\" USING btree (\"handle\" ASC);", { NULL } },
    /* V2's, before 026: 004-025 built such indexes (applied long ago) */
    { "plain index on an existing V2 table before 026", "CREATE INDEX IF "
      "NOT EXISTS \"AuthSession_x_idx\" ON \"AuthSession\"(\"userId\");",
      { NULL } },
    { "plain index on a table created here", "CREATE TABLE \"User2\" (a "
      "TEXT);\nCREATE INDEX k ON \"User2\" (a);", { NULL } },
    { "no-transaction: concurrent builds on V1's tables",
      "\n-- nano-migrate: no-transaction \r\n-- why\r\n"
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"User_x_idx\" ON \"User\" "
      "(lower(\"name\"));\ncreate index concurrently if not exists k2 on "
      "public.\"Account\" using btree (\"type\");", { NULL } },
    { "add column with a constant or stable default", "ALTER TABLE \"User\" "
      "ADD COLUMN a TIMESTAMP(3) DEFAULT now(),\n  ADD COLUMN b INT NOT NULL "
      "DEFAULT 0, ADD COLUMN \"random\" TEXT;\nCREATE TABLE t (id SERIAL, "
      "u UUID DEFAULT gen_random_uuid());", { NULL } },
    { "backfill of a new column", "ALTER TABLE \"User\" ADD COLUMN c INT;\n"
      "UPDATE \"User\" SET c = 0 WHERE \"email\" IS NOT NULL;", { NULL } },
    { "update of a table created here", "CREATE TABLE t (a INT);\nUPDATE t "
      "SET a = a + 1;", { NULL } },
    { "insert and do nothing", "INSERT INTO t VALUES (1) ON CONFLICT DO "
      "NOTHING;", { NULL } },
    /* the price list is the modules' own: a price changed, a model taken
     * out (the scaffold's offline model once a real provider is in), as
     * docs/MODULES.md and the scaffold's migration say a new migration
     * does; every one was refused, so no price could ever change */
    { "a price changed", "UPDATE \"ModelPrice\" SET \"credits\" = 2, "
      "\"label\" = 'Qwen Max'\n  WHERE \"module\" = 'qwen' AND \"model\" = "
      "'qwen-max';", { NULL } },
    { "a model taken out of the price list", "DELETE FROM public.\"ModelPrice\""
      " WHERE \"module\" = 'x' AND \"model\" = 'offline-text';", { NULL } },
    { "a price set whether or not its row exists", "INSERT INTO \"ModelPrice\""
      " (\"module\", \"model\", \"label\", \"credits\")\n  VALUES ('x', 'm', "
      "'M', 3)\n  ON CONFLICT (\"module\", \"model\") DO UPDATE SET "
      "\"credits\" = EXCLUDED.\"credits\";", { NULL } },
    { "a model taken out in a WITH", "WITH gone AS (DELETE FROM \"ModelPrice\""
      " WHERE \"module\" = 'x' RETURNING 1) SELECT count(*) FROM gone;",
      { NULL } },
    { "unquoted names fold", "create table Foo (x int);\nALTER TABLE FOO ADD "
      "CONSTRAINT c UNIQUE (x);", { NULL } },
    { "grants, comments, views, enums", "GRANT SELECT ON \"User\" TO ro;\n"
      "COMMENT ON TABLE \"User\" IS 'users; DROP';\nCREATE VIEW v AS SELECT "
      "1;\nALTER TYPE mood ADD VALUE 'meh';\nCREATE TYPE t AS ENUM ('a');",
      { NULL } },
    { "BEGIN ATOMIC body", "CREATE FUNCTION f() RETURNS int LANGUAGE sql\n"
      "BEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN true THEN 2 END;\nEND;",
      { NULL } },
    { "after trigger on an existing table, rule and before trigger on a new "
      "one", "CREATE TRIGGER \"User_gone\" AFTER DELETE ON \"User\"\n"
      "  FOR EACH ROW EXECUTE FUNCTION f();\n"
      "CREATE CONSTRAINT TRIGGER c AFTER UPDATE ON \"Session\" FOR EACH ROW "
      "EXECUTE FUNCTION f();\nCREATE TABLE t (a INT);\n"
      "CREATE RULE r AS ON INSERT TO t DO ALSO NOTIFY t;\n"
      "CREATE TRIGGER b BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();",
      { NULL } },
    { "settings of the migration's own transaction", "SET LOCAL "
      "lock_timeout = '2s';\nSET CONSTRAINTS ALL DEFERRED;\n"
      "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;", { NULL } },
    { "owner of a new table", "CREATE TABLE t (a INT);\nALTER TABLE t "
      "OWNER TO nano;\nALTER FUNCTION f() OWNER TO nano;", { NULL } },
    { "empty file", "", { NULL } },
    { "only comments and semicolons", "-- nothing\n;;\n/* here */", { NULL } },
};

static void
test_case(void **state)
{
    const lint_case_t  *c = *state;
    nano_sql_finding_t  found[8];
    int                 n, want = 0, i;

    while (want < 4 && c->findings[want] != NULL) {
        want++;
    }
    memset(found, 0, sizeof(found));
    n = nano_sql_lint(F, c->sql, strlen(c->sql), found, 8);
    for (i = 0; n != want && i < n && i < 8; i++) {
        print_message("finding: %s\n", found[i].text);
    }
    assert_int_equal(n, want);
    for (i = 0; i < want; i++) {
        assert_string_equal(found[i].text, c->findings[i]);
    }
}

static void
test_reason_and_line_fields(void **state)
{
    nano_sql_finding_t f[1];
    const char        *sql = "\n\nALTER TABLE \"User\" DROP COLUMN x;";

    (void) state;
    assert_int_equal(nano_sql_lint("a.sql", sql, strlen(sql), f, 1), 1);
    assert_int_equal(f[0].line, 3);
    assert_string_equal(f[0].reason, "DROP COLUMN is not additive");
    assert_string_equal(f[0].text, "a.sql:3: DROP COLUMN is not additive");
}

static void
test_count_beyond_max(void **state)
{
    nano_sql_finding_t f[1];
    const char        *sql = "DROP TABLE a; TRUNCATE b;\nDELETE FROM c;";

    (void) state;
    memset(f, 0, sizeof(f));
    assert_int_equal(nano_sql_lint("a.sql", sql, strlen(sql), f, 1), 3);
    assert_string_equal(f[0].text, "a.sql:1: DROP TABLE is not additive");
    assert_int_equal(nano_sql_lint("a.sql", sql, strlen(sql), NULL, 0), 3);
}

static void
test_length_not_nul(void **state)
{
    nano_sql_finding_t f[1];
    const char        *sql = "SELECT 1; DROP TABLE x;";

    (void) state;
    /* Only "SELECT 1; " is inside the given length. */
    assert_int_equal(nano_sql_lint("a.sql", sql, 10, f, 1), 0);
}

/* The migrations in sql/ lint clean, the V1 baseline included. */
static void
test_repository_migrations(void **state)
{
    static const char *const files[] = {
        "sql/000_v1_baseline.sql", "sql/001_user_created_at.sql",
        "sql/002_user_email_lower_idx.sql", "sql/008_oauth.sql",
        "sql/026_account_userid_idx.sql", NULL
    };
    char  path[1024];
    FILE *devnull;
    int   i;

    (void) state;
    devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    for (i = 0; files[i] != NULL; i++) {
        /* From the repository root (make test), or next to this file. */
        snprintf(path, sizeof(path), "%s", files[i]);
        if (access(path, R_OK) != 0) {
            snprintf(path, sizeof(path), "%.*s../../%s",
                     (int) (strrchr(__FILE__, '/') - __FILE__ + 1), __FILE__,
                     files[i]);
        }
        assert_int_equal(nano_sql_lint_file(path, devnull), 0);
    }
    fclose(devnull);
}

static void
test_lint_file_errors(void **state)
{
    char  buf[512] = "";
    FILE *mem;

    (void) state;
    mem = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(mem);
    assert_int_equal(nano_sql_lint_file("/nonexistent/x.sql", mem), -1);
    fclose(mem);
    assert_string_equal(buf, "/nonexistent/x.sql: cannot read: No such file "
                        "or directory\n");
}

/* From 026 on, a plain index build is refused on any existing table (V2's
 * too); a file not named NNN_name.sql is held to that as a new one. */
static void
test_lock_rules_by_number(void **state)
{
    static const char sql[] = "CREATE INDEX k ON \"CreditLedger\" (\"note\");";
    nano_sql_finding_t f[1];

    (void) state;
    assert_int_equal(nano_sql_lint("sql/025_x.sql", sql, strlen(sql), f, 1),
                     0);
    assert_int_equal(nano_sql_lint("sql/026_x.sql", sql, strlen(sql), f, 1),
                     1);
    assert_string_equal(f[0].text, "sql/026_x.sql:1: CREATE INDEX on "
                        "existing table \"CreditLedger\" holds its writes for "
                        "the whole build: use CREATE INDEX CONCURRENTLY IF NOT "
                        "EXISTS in a file marked \"-- nano-migrate: "
                        "no-transaction\"");
    assert_int_equal(nano_sql_lint("/tmp/1200_x.sql", sql, strlen(sql), f, 1),
                     1);
    assert_int_equal(nano_sql_lint("new.sql", sql, strlen(sql), f, 1), 1);
    assert_int_equal(nano_sql_lint("sql/02x_y.sql", sql, strlen(sql), f, 1),
                     1);
}

static void
test_no_transaction_mark(void **state)
{
    static const char *const yes[] = {
        "-- nano-migrate: no-transaction\nCREATE INDEX ...",
        "\n  -- why\n-- nano-migrate: no-transaction\t\r\n",
        "-- nano-migrate: no-transaction", NULL
    };
    static const char *const no[] = {
        "", "-- nano-migrate: no-transactions\n",
        "--  nano-migrate: no-transaction\n",
        "SELECT 1;\n-- nano-migrate: no-transaction\n",
        "/* x */\n-- nano-migrate: no-transaction\n",
        "x -- nano-migrate: no-transaction\n", NULL
    };
    int i;

    (void) state;
    for (i = 0; yes[i] != NULL; i++) {
        assert_int_equal(nano_sql_no_transaction(yes[i], strlen(yes[i])), 1);
    }
    for (i = 0; no[i] != NULL; i++) {
        assert_int_equal(nano_sql_no_transaction(no[i], strlen(no[i])), 0);
    }
    /* the length, not a NUL, ends it */
    assert_int_equal(nano_sql_no_transaction(yes[0], 20), 0);
}

static void
test_index_name(void **state)
{
    char name[64];

    (void) state;
    assert_int_equal(nano_sql_index_name("CREATE INDEX CONCURRENTLY IF NOT "
        "EXISTS \"User_email_lower_idx\" ON \"User\" (lower(\"email\"))",
        89, name, sizeof(name)), 1);
    assert_string_equal(name, "User_email_lower_idx");
    strcpy(name, "-");
    assert_int_equal(nano_sql_index_name("create unique index concurrently "
        "if not exists Public.My_Idx on t (a)", 69, name, sizeof(name)), 1);
    assert_string_equal(name, "my_idx");
    assert_int_equal(nano_sql_index_name("CREATE INDEX CONCURRENTLY k ON t "
        "(a)", 36, name, sizeof(name)), 0);
    assert_int_equal(nano_sql_index_name("CREATE INDEX IF NOT EXISTS k ON t "
        "(a)", 37, name, sizeof(name)), 0);
    assert_int_equal(nano_sql_index_name("SELECT 1", 8, name, sizeof(name)),
                     0);
}

static void
test_statements(void **state)
{
    nano_sql_stmt_t st[4];
    const char     *sql = "-- head\nCREATE TABLE t (\n  a TEXT DEFAULT ';'\n);"
                          "\n/* c; */ INSERT INTO t VALUES ($$x;y$$);\n\n"
                          "SELECT 1";

    (void) state;
    assert_int_equal(nano_sql_statements(sql, strlen(sql), NULL, 0), 3);
    assert_int_equal(nano_sql_statements(sql, strlen(sql), st, 4), 3);
    assert_int_equal(st[0].line, 2);
    assert_memory_equal(sql + st[0].offset,
                        "CREATE TABLE t (\n  a TEXT DEFAULT ';'\n)",
                        st[0].len);
    assert_int_equal(st[0].len, strlen("CREATE TABLE t (\n  a TEXT DEFAULT "
                                       "';'\n)"));
    assert_int_equal(st[1].line, 5);
    assert_int_equal(st[1].len, strlen("INSERT INTO t VALUES ($$x;y$$)"));
    assert_memory_equal(sql + st[1].offset, "INSERT INTO t VALUES ($$x;y$$)",
                        st[1].len);
    assert_int_equal(st[2].line, 7);
    assert_int_equal(st[2].len, 8);
    assert_int_equal(nano_sql_statements("SELECT 'x", 9, st, 4), -1);
}

int
main(void)
{
    static const struct CMUnitTest  extra[] = {
        UNIT_TEST("reason and line fields", test_reason_and_line_fields),
        UNIT_TEST("count beyond max", test_count_beyond_max),
        UNIT_TEST("length, not NUL, ends the input", test_length_not_nul),
        UNIT_TEST("sql/ migrations lint clean", test_repository_migrations),
        UNIT_TEST("lint_file read error", test_lint_file_errors),
        UNIT_TEST("statement splitting", test_statements),
        UNIT_TEST("lock rules by migration number", test_lock_rules_by_number),
        UNIT_TEST("no-transaction mark", test_no_transaction_mark),
        UNIT_TEST("concurrent index name", test_index_name),
    };

    return unit_run_table("sql_lint", cases, sizeof(cases) / sizeof(cases[0]),
                          sizeof(cases[0]), test_case, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
