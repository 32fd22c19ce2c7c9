/*
 * The migration linter: a small SQL tokenizer (comments, strings, quoted
 * identifiers, dollar quoting) and per-statement rules for additivity.
 *
 * Rules, and why (see sql/README.md):
 * - DROP anything, RENAME anything, TRUNCATE, DELETE: remove what V1 uses.
 * - ALTER COLUMN: TYPE / SET DATA TYPE, SET NOT NULL, DROP NOT NULL,
 *   DROP DEFAULT, DROP IDENTITY/EXPRESSION, ADD GENERATED change a column
 *   V1 reads or writes; SET DEFAULT, SET STATISTICS/STORAGE are allowed.
 * - ADD COLUMN ... NOT NULL without DEFAULT (or PRIMARY KEY) on a table
 *   this file did not create fails on a table with rows.
 * - ADD CONSTRAINT (PRIMARY KEY, UNIQUE, CHECK, FOREIGN KEY, EXCLUDE) and
 *   CREATE UNIQUE INDEX on a table this file did not create can fail on
 *   existing rows or refuse V1's writes; a unique index only over columns
 *   this file added (all NULL so far) is allowed.
 * - UPDATE is allowed only on columns this file added (backfills);
 *   INSERT ... ON CONFLICT DO UPDATE and data-modifying WITH are refused.
 *   The price list ("ModelPrice") is the exception: V1 never reads it, a
 *   generation keeps its own model and cost, and a price changed or a
 *   model taken out is what a module's migration is for (UPDATE, DELETE,
 *   DO UPDATE on it are allowed; TRUNCATE is not).
 * - BEGIN/COMMIT/... and VACUUM: the runner wraps each migration in one
 *   transaction.
 * - CREATE INDEX (also UNIQUE) on one of V1's tables, or from migration
 *   026 on any table this file did not create: its SHARE lock holds V1's
 *   writes for the whole build.  Such an index is built with CREATE INDEX
 *   CONCURRENTLY IF NOT EXISTS "name" in a file marked no-transaction
 *   (NANO_SQL_NO_TRANSACTION), which holds nothing else: each of its
 *   statements commits on its own, and the runner rebuilds an index an
 *   interrupted build left invalid.  CONCURRENTLY elsewhere is refused.
 * - ADD COLUMN on the same tables that rewrites the table under ACCESS
 *   EXCLUSIVE: serial types, GENERATED (identity, stored), a DEFAULT
 *   calling a volatile function (random(), gen_random_uuid(), ...).
 * - DO blocks and REVOKE: not checkable / take away what V1 needs.
 * - ALTER TABLE ... OWNER TO on a table this file did not create, and
 *   REASSIGN OWNED: V1's role, when it owned the table, loses every right
 *   on it.  ALTER DATABASE / ROLE ... SET or RESET: V1's sessions take
 *   those settings too (a search_path, a TimeZone, read-only).
 * - SET (but SET LOCAL, SET CONSTRAINTS, SET TRANSACTION) and RESET: a
 *   session's setting outlives the migration's transaction, and the
 *   runner runs every later migration in that session (a search_path set
 *   so put their tables in another schema).
 * - CREATE RULE, and BEFORE or INSTEAD OF triggers, on a table this file
 *   did not create: they rewrite, change or silently drop V1's writes.
 *   AFTER triggers are allowed (they see V1's rows, never change them).
 * Function bodies ($$...$$) are not linted: they run only when called.
 * Tables count as "new" only when created earlier in the same file, so
 * V2's own tables get the same protection as V1's once they hold data.
 */

#include "sql_lint.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN  128

typedef enum {
    TK_WORD,        /* keyword or unquoted identifier */
    TK_QIDENT,      /* "quoted identifier" */
    TK_STRING,      /* '...', E'...', $tag$...$tag$ */
    TK_NUMBER,
    TK_PUNCT,       /* one character */
    TK_SEMI
} tk_kind_t;

typedef struct {
    tk_kind_t    kind;
    const char  *s;
    size_t       len;
    unsigned     line;
} token_t;

typedef struct {
    char table[NAME_MAX_LEN];
    char column[NAME_MAX_LEN];   /* "" for a created table */
} lint_name_t;

typedef struct {
    const char          *filename;
    nano_sql_finding_t  *out;
    size_t               max;
    int                  count;
    token_t             *tok;
    size_t               ntok;
    size_t               tokcap;
    lint_name_t         *names;     /* tables created, columns added */
    size_t               nnames;
    size_t               namecap;
    int                  nomem;
    int                  notx;      /* marked NANO_SQL_NO_TRANSACTION */
    int                  all_tables; /* lock rules cover every table */
} lint_t;

/* From this migration on, the lock rules cover every existing table, not
 * only V1's: earlier files built plain indexes on V2's tables (applied
 * long ago, or on a new database's empty tables) and must still lint. */
#define LOCK_RULES_ALL_TABLES_FROM  26

static void finding(lint_t *l, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
finding(lint_t *l, unsigned line, const char *fmt, ...)
{
    nano_sql_finding_t *f;
    va_list             ap;

    if ((size_t) l->count < l->max) {
        f = &l->out[l->count];
        f->line = line;
        va_start(ap, fmt);
        vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
        va_end(ap);
        snprintf(f->text, sizeof(f->text), "%s:%u: %s", l->filename, line,
                 f->reason);
    }
    l->count++;
}

static void
push_token(lint_t *l, tk_kind_t kind, const char *s, size_t len,
    unsigned line)
{
    token_t *t;
    size_t   cap;

    if (l->nomem) {
        return;
    }
    if (l->ntok == l->tokcap) {
        cap = l->tokcap ? l->tokcap * 2 : 256;
        t = realloc(l->tok, cap * sizeof(*t));
        if (t == NULL) {
            l->nomem = 1;
            return;
        }
        l->tok = t;
        l->tokcap = cap;
    }
    l->tok[l->ntok].kind = kind;
    l->tok[l->ntok].s = s;
    l->tok[l->ntok].len = len;
    l->tok[l->ntok].line = line;
    l->ntok++;
}

static int
is_ident_start(int c)
{
    return isalpha(c) || c == '_' || c >= 0x80;
}

static int
is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Length of a dollar-quote tag ("$tag$" or "$$") at p, or 0. */
static size_t
dollar_tag(const char *p, const char *end)
{
    const char *q = p + 1;

    if (q < end && *q == '$') {
        return 2;
    }
    if (q >= end || !(isalpha((unsigned char) *q) || *q == '_')) {
        return 0;
    }
    while (q < end && (isalnum((unsigned char) *q) || *q == '_')) {
        q++;
    }
    return (q < end && *q == '$') ? (size_t) (q - p) + 1 : 0;
}

static unsigned
count_lines(const char *s, const char *e)
{
    unsigned n = 0;

    for (; s < e; s++) {
        n += *s == '\n';
    }
    return n;
}

/*
 * Splits sql into tokens; what comments, strings and quoted identifiers
 * contain never becomes a keyword.  Returns 0, or -1 after reporting an
 * unterminated construct (the rest of the file cannot be read reliably).
 */
static int
tokenize(lint_t *l, const char *sql, size_t len)
{
    const char *p = sql, *end = sql + len, *start, *q;
    unsigned    line = 1, startline;
    size_t      tag;
    int         depth, esc;

    while (p < end) {
        unsigned char c = (unsigned char) *p;

        start = p;
        startline = line;
        if (c == '\n') {
            line++;
            p++;
        } else if (isspace(c)) {
            p++;
        } else if (c == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n') {
                p++;
            }
        } else if (c == '/' && p + 1 < end && p[1] == '*') {
            /* PostgreSQL's block comments nest. */
            depth = 0;
            while (p < end) {
                if (*p == '/' && p + 1 < end && p[1] == '*') {
                    depth++;
                    p += 2;
                } else if (*p == '*' && p + 1 < end && p[1] == '/') {
                    p += 2;
                    if (--depth == 0) {
                        break;
                    }
                } else {
                    line += *p++ == '\n';
                }
            }
            if (depth != 0) {
                finding(l, startline, "unterminated /* comment");
                return -1;
            }
        } else if (c == '\'' || ((c == 'e' || c == 'E') && p + 1 < end
                                 && p[1] == '\'' && (p == sql
                                 || !is_ident_char((unsigned char) p[-1]))))
        {
            esc = c != '\'';
            p += esc ? 2 : 1;
            for (;;) {
                if (p >= end) {
                    finding(l, startline, "unterminated string literal");
                    return -1;
                }
                if (esc && *p == '\\' && p + 1 < end) {
                    line += p[1] == '\n';
                    p += 2;
                } else if (*p == '\'' && p + 1 < end && p[1] == '\'') {
                    p += 2;
                } else if (*p == '\'') {
                    p++;
                    break;
                } else {
                    line += *p++ == '\n';
                }
            }
            push_token(l, TK_STRING, start, (size_t) (p - start), startline);
        } else if (c == '"') {
            p++;
            for (;;) {
                if (p >= end) {
                    finding(l, startline, "unterminated quoted identifier");
                    return -1;
                }
                if (*p == '"' && p + 1 < end && p[1] == '"') {
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    line += *p++ == '\n';
                }
            }
            push_token(l, TK_QIDENT, start, (size_t) (p - start), startline);
        } else if (c == '$' && (tag = dollar_tag(p, end)) > 0) {
            q = memmem(p + tag, (size_t) (end - p - tag), p, tag);
            if (q == NULL) {
                finding(l, startline, "unterminated dollar-quoted string");
                return -1;
            }
            line += count_lines(p, q);
            p = q + tag;
            push_token(l, TK_STRING, start, (size_t) (p - start), startline);
        } else if (is_ident_start(c)) {
            while (p < end && is_ident_char((unsigned char) *p)) {
                p++;
            }
            push_token(l, TK_WORD, start, (size_t) (p - start), line);
        } else if (isdigit(c)) {
            while (p < end && (isalnum((unsigned char) *p) || *p == '.')) {
                p++;
            }
            push_token(l, TK_NUMBER, start, (size_t) (p - start), line);
        } else {
            p++;
            push_token(l, c == ';' ? TK_SEMI : TK_PUNCT, start, 1, line);
        }
    }
    return 0;
}

/* ---- statement helpers: t[0..n) is one statement ---- */

static int
is_kw(const token_t *t, size_t n, size_t i, const char *word)
{
    return i < n && t[i].kind == TK_WORD && strlen(word) == t[i].len
           && strncasecmp(t[i].s, word, t[i].len) == 0;
}

static int
is_punct(const token_t *t, size_t n, size_t i, char c)
{
    return i < n && t[i].kind == TK_PUNCT && t[i].s[0] == c;
}

static int
is_ident(const token_t *t, size_t n, size_t i)
{
    return i < n && (t[i].kind == TK_WORD || t[i].kind == TK_QIDENT);
}

/* Identifier as PostgreSQL resolves it: unquoted folds to lower case,
 * quoted keeps its case with "" undoubled. */
static void
ident_name(const token_t *t, char *out, size_t outlen)
{
    size_t i, o = 0;

    if (t->kind == TK_QIDENT) {
        for (i = 1; i + 1 < t->len && o + 1 < outlen; i++) {
            out[o++] = t->s[i];
            if (t->s[i] == '"') {
                i++;
            }
        }
    } else {
        for (i = 0; i < t->len && o + 1 < outlen; i++) {
            out[o++] = (char) tolower((unsigned char) t->s[i]);
        }
    }
    out[o] = '\0';
}

/* Reads a possibly qualified name at *i; keeps its last part (tables are
 * matched by name: a migration works in one schema). */
static int
read_name(const token_t *t, size_t n, size_t *i, char *out, size_t outlen)
{
    if (!is_ident(t, n, *i)) {
        return 0;
    }
    ident_name(&t[*i], out, outlen);
    (*i)++;
    while (is_punct(t, n, *i, '.') && is_ident(t, n, *i + 1)) {
        ident_name(&t[*i + 1], out, outlen);
        *i += 2;
    }
    return 1;
}

static void
skip_if_exists(const token_t *t, size_t n, size_t *i, int not)
{
    if (is_kw(t, n, *i, "if") && not && is_kw(t, n, *i + 1, "not")
        && is_kw(t, n, *i + 2, "exists"))
    {
        *i += 3;
    } else if (is_kw(t, n, *i, "if") && !not
               && is_kw(t, n, *i + 1, "exists"))
    {
        *i += 2;
    }
}

/* 1 when the word sequence a b (b may be NULL) occurs in t[from..to). */
static int
has_seq(const token_t *t, size_t to, size_t from, const char *a,
    const char *b)
{
    size_t i;

    for (i = from; i < to; i++) {
        if (is_kw(t, to, i, a) && (b == NULL || is_kw(t, to, i + 1, b))) {
            return 1;
        }
    }
    return 0;
}

static void
add_name(lint_t *l, const char *table, const char *column)
{
    lint_name_t *p;
    size_t       cap;

    if (l->nnames == l->namecap) {
        cap = l->namecap ? l->namecap * 2 : 32;
        p = realloc(l->names, cap * sizeof(*p));
        if (p == NULL) {
            l->nomem = 1;
            return;
        }
        l->names = p;
        l->namecap = cap;
    }
    snprintf(l->names[l->nnames].table, NAME_MAX_LEN, "%s", table);
    snprintf(l->names[l->nnames].column, NAME_MAX_LEN, "%s", column);
    l->nnames++;
}

/* column "" asks whether this file created table. */
static int
known(const lint_t *l, const char *table, const char *column)
{
    size_t i;

    for (i = 0; i < l->nnames; i++) {
        if (strcmp(l->names[i].table, table) == 0
            && strcmp(l->names[i].column, column) == 0)
        {
            return 1;
        }
    }
    return 0;
}

static int
table_is_new(const lint_t *l, const char *table)
{
    return known(l, table, "");
}

static int
column_is_new(const lint_t *l, const char *table, const char *column)
{
    return table_is_new(l, table) || known(l, table, column);
}

/* Upper-cased copy of a word token, for messages. */
static void
upper_word(const token_t *t, char *out, size_t outlen)
{
    size_t i;

    for (i = 0; i < t->len && i + 1 < outlen; i++) {
        out[i] = (char) toupper((unsigned char) t->s[i]);
    }
    out[i] = '\0';
}

/* Index of the first top-level ',' (or end) in t[i..n). */
static size_t
item_end(const token_t *t, size_t n, size_t i)
{
    int depth = 0;

    for (; i < n; i++) {
        if (is_punct(t, n, i, '(')) {
            depth++;
        } else if (is_punct(t, n, i, ')')) {
            depth--;
        } else if (depth == 0 && is_punct(t, n, i, ',')) {
            break;
        }
    }
    return i;
}

/* ---- rules ---- */

/* 1 when table is the modules' price list, which migrations may change
 * (docs/MODULES.md): quoted as every migration names it, since an
 * unquoted ModelPrice is another table, modelprice. */
static int
table_is_prices(const char *table)
{
    return strcmp(table, "ModelPrice") == 0;
}

/* 1 when table is one of V1's, whose writers (sign-ups, profile updates,
 * OAuth links) keep running during a migration. */
static int
table_is_v1(const char *table)
{
    return strcmp(table, "User") == 0 || strcmp(table, "Account") == 0
           || strcmp(table, "Session") == 0
           || strcmp(table, "VerificationToken") == 0;
}

/* 1 when a statement holding a long lock on table would stall its
 * writers: V1's tables always, any existing table from migration 026. */
static int
lock_matters(const lint_t *l, const char *table)
{
    return !table_is_new(l, table) && (table_is_v1(table) || l->all_tables);
}

/* 1 when t[i] is DELETE or INSERT whose target (after FROM [ONLY] or
 * INTO) is the price list. */
static int
target_is_prices(const token_t *t, size_t n, size_t i)
{
    char table[NAME_MAX_LEN];

    i++;
    if (!is_kw(t, n, i, "from") && !is_kw(t, n, i, "into")) {
        return 0;
    }
    i++;
    if (is_kw(t, n, i, "only")) {
        i++;
    }
    return read_name(t, n, &i, table, sizeof(table))
           && table_is_prices(table);
}

static void
check_drop(lint_t *l, const token_t *t, size_t n)
{
    char what[64] = "", w2[32];

    if (n > 1 && t[1].kind == TK_WORD) {
        upper_word(&t[1], what, sizeof(what));
        if ((is_kw(t, n, 1, "materialized") || is_kw(t, n, 1, "foreign")
             || is_kw(t, n, 1, "event") || is_kw(t, n, 1, "access")
             || is_kw(t, n, 1, "text") || is_kw(t, n, 1, "user"))
            && n > 2 && t[2].kind == TK_WORD)
        {
            upper_word(&t[2], w2, sizeof(w2));
            strcat(what, " ");
            strcat(what, w2);
        }
    }
    finding(l, t[0].line, "DROP %s%sis not additive", what, *what ? " " : "");
}

/* One ALTER TABLE ... ALTER [COLUMN] action: t[a..b). */
static void
check_alter_column(lint_t *l, const token_t *t, size_t a, size_t b,
    const char *table)
{
    size_t i = a + 1;
    char   col[NAME_MAX_LEN], what[32];

    if (is_kw(t, b, i, "column")) {
        i++;
    }
    if (!read_name(t, b, &i, col, sizeof(col))) {
        return;
    }
    if (column_is_new(l, table, col)) {
        return;
    }
    if (is_kw(t, b, i, "type")
        || (is_kw(t, b, i, "set") && is_kw(t, b, i + 1, "data")))
    {
        finding(l, t[a].line, "ALTER COLUMN \"%s\".\"%s\" TYPE changes a "
                "V1 column's type", table, col);
    } else if (is_kw(t, b, i, "set") && is_kw(t, b, i + 1, "not")) {
        finding(l, t[a].line, "SET NOT NULL on \"%s\".\"%s\" is not "
                "additive", table, col);
    } else if (is_kw(t, b, i, "drop") && is_kw(t, b, i + 1, "not")) {
        finding(l, t[a].line, "DROP NOT NULL on \"%s\".\"%s\" is not "
                "additive", table, col);
    } else if (is_kw(t, b, i, "drop") && is_kw(t, b, i + 1, "default")) {
        finding(l, t[a].line, "DROP DEFAULT on \"%s\".\"%s\" is not "
                "additive", table, col);
    } else if (is_kw(t, b, i, "set") || is_kw(t, b, i, "reset")) {
        /* SET DEFAULT / STATISTICS / STORAGE / COMPRESSION / (...) */
        return;
    } else if (i < b && t[i].kind == TK_WORD) {
        upper_word(&t[i], what, sizeof(what));
        finding(l, t[a].line, "ALTER COLUMN \"%s\".\"%s\" %s is not "
                "additive", table, col, what);
    }
}

/*
 * ADD COLUMN t[i..b) whose values PostgreSQL must compute row by row:
 * the table is rewritten under ACCESS EXCLUSIVE, which holds every V1
 * query on it (reads too) for the whole rewrite.  A constant or stable
 * default (now(), CURRENT_TIMESTAMP) is stored once, without one.  A
 * function this list does not know is taken as harmless: functions are
 * volatile unless declared otherwise, but a default calling one of the
 * migrations' own is not how columns are added here.
 */
static void
check_rewrite(lint_t *l, const token_t *t, size_t a, size_t b, size_t i,
    const char *table, const char *col)
{
    static const char *const types[] = {
        "serial", "bigserial", "smallserial", "serial2", "serial4",
        "serial8", NULL
    };
    static const char *const volatile_fns[] = {
        "random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
        "uuid_generate_v4", "clock_timestamp", "timeofday", "nextval",
        "txid_current", "pg_current_xact_id", "random_normal", NULL
    };
    const char *why = NULL;
    size_t      j, k;
    int         fn = 0;

    if (!lock_matters(l, table)) {
        return;
    }
    for (j = i; j < b && why == NULL; j++) {
        for (k = 0; types[k] != NULL && why == NULL; k++) {
            if (is_kw(t, b, j, types[k])) {
                why = types[k];
            }
        }
        if (is_kw(t, b, j, "generated")) {
            why = "GENERATED";
        }
        for (k = 0; volatile_fns[k] != NULL && why == NULL; k++) {
            if (is_kw(t, b, j, volatile_fns[k]) && is_punct(t, b, j + 1, '('))
            {
                why = volatile_fns[k];
                fn = 1;
            }
        }
    }
    if (why != NULL) {
        finding(l, t[a].line, "ADD COLUMN \"%s\".\"%s\" %s%s rewrites "
                "the table under an ACCESS EXCLUSIVE lock that holds V1 for "
                "the whole rewrite (add it nullable, or with a constant "
                "default)", table, col, why, fn ? "()" : "");
    }
}

/* One ALTER TABLE ... ADD action: t[a..b). */
static void
check_add(lint_t *l, const token_t *t, size_t a, size_t b,
    const char *table)
{
    static const char *const kinds[][2] = {
        { "primary", "PRIMARY KEY" }, { "unique", "UNIQUE" },
        { "check", "CHECK" }, { "foreign", "FOREIGN KEY" },
        { "exclude", "EXCLUDE" }
    };
    size_t      i = a + 1, k;
    char        col[NAME_MAX_LEN];
    int         is_column = 1, has_default;
    const char *kind = NULL;

    if (is_kw(t, b, i, "column")) {
        i++;
    } else if (is_kw(t, b, i, "constraint")) {
        is_column = 0;
    }
    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (is_kw(t, b, i, kinds[k][0])) {
            is_column = 0;
        }
        if (kind == NULL && has_seq(t, b, i, kinds[k][0], NULL)) {
            kind = kinds[k][1];
        }
    }
    if (!is_column) {
        if (!table_is_new(l, table)) {
            finding(l, t[a].line, "ADD CONSTRAINT %s on existing table "
                    "\"%s\" can fail on its rows or refuse V1's writes",
                    kind ? kind : "", table);
        }
        return;
    }
    skip_if_exists(t, b, &i, 1);
    if (!read_name(t, b, &i, col, sizeof(col))) {
        return;
    }
    add_name(l, table, col);
    if (table_is_new(l, table)) {
        return;
    }
    has_default = has_seq(t, b, i, "default", NULL)
                  || has_seq(t, b, i, "generated", NULL)
                  || has_seq(t, b, i, "serial", NULL)
                  || has_seq(t, b, i, "bigserial", NULL)
                  || has_seq(t, b, i, "smallserial", NULL);
    check_rewrite(l, t, a, b, i, table, col);
    if (has_seq(t, b, i, "primary", "key")) {
        finding(l, t[a].line, "ADD COLUMN \"%s\".\"%s\" PRIMARY KEY on an "
                "existing table is not additive", table, col);
    } else if (has_seq(t, b, i, "not", "null") && !has_default) {
        finding(l, t[a].line, "ADD COLUMN \"%s\".\"%s\" NOT NULL without "
                "DEFAULT fails on an existing table with rows", table, col);
    }
}

static void
check_alter_table(lint_t *l, const token_t *t, size_t n)
{
    size_t i = 2, a, b;
    char   table[NAME_MAX_LEN], what[32];

    skip_if_exists(t, n, &i, 0);
    if (is_kw(t, n, i, "only")) {
        i++;
    }
    if (!read_name(t, n, &i, table, sizeof(table))) {
        return;
    }
    if (is_punct(t, n, i, '*')) {
        i++;
    }
    for (a = i; a < n; a = b + 1) {
        b = item_end(t, n, a);
        if (a == b) {
            continue;
        }
        if (is_kw(t, b, a, "drop")) {
            finding(l, t[a].line, is_kw(t, b, a + 1, "constraint")
                    ? "DROP CONSTRAINT is not additive"
                    : "DROP COLUMN is not additive");
        } else if (is_kw(t, b, a, "rename")) {
            finding(l, t[a].line, "RENAME is not additive");
        } else if (is_kw(t, b, a, "alter")) {
            check_alter_column(l, t, a, b, table);
        } else if (is_kw(t, b, a, "add")) {
            check_add(l, t, a, b, table);
        } else if (table_is_new(l, table)) {
            continue;
        } else if (is_kw(t, b, a, "set") && (is_kw(t, b, a + 1, "schema")
                   || is_kw(t, b, a + 1, "unlogged")))
        {
            upper_word(&t[a + 1], what, sizeof(what));
            finding(l, t[a].line, "SET %s on existing table \"%s\" is not "
                    "additive", what, table);
        } else if (!is_kw(t, b, a, "set") && !is_kw(t, b, a, "reset")
                   && !is_kw(t, b, a, "validate")
                   && !is_kw(t, b, a, "cluster") && t[a].kind == TK_WORD)
        {
            upper_word(&t[a], what, sizeof(what));
            finding(l, t[a].line, "ALTER TABLE ... %s on existing table "
                    "\"%s\" is not additive", what, table);
        }
    }
}

/* ALTER on anything but a table: renames, drops and moves matter, and
 * a database's or role's settings, which V1's sessions take too. */
static void
check_alter_other(lint_t *l, const token_t *t, size_t n)
{
    size_t i;

    if (is_kw(t, n, 1, "database") || is_kw(t, n, 1, "role")
        || is_kw(t, n, 1, "user"))
    {
        for (i = 2; i < n; i++) {
            if (is_kw(t, n, i, "set") || is_kw(t, n, i, "reset")) {
                finding(l, t[i].line, "ALTER %s ... %s changes the settings "
                        "of V1's sessions too", is_kw(t, n, 1, "database")
                        ? "DATABASE" : "ROLE", is_kw(t, n, i, "set")
                        ? "SET" : "RESET");
                return;
            }
        }
    }
    for (i = 1; i < n; i++) {
        if (is_kw(t, n, i, "rename")) {
            finding(l, t[i].line, "RENAME is not additive");
            return;
        }
        if (is_kw(t, n, i, "drop")) {
            finding(l, t[i].line, "ALTER ... DROP is not additive");
            return;
        }
        if (is_kw(t, n, i, "set") && is_kw(t, n, i + 1, "schema")) {
            finding(l, t[i].line, "SET SCHEMA is not additive");
            return;
        }
    }
}

/*
 * CREATE [CONSTRAINT] TRIGGER / RULE from t[i] (past OR REPLACE): a rule
 * rewrites V1's statements (DO INSTEAD NOTHING drops them) and a BEFORE
 * or INSTEAD OF trigger can change or drop V1's rows, all without an
 * error V1 would see.  Returns 1 when t[i] was one of them.
 */
static int
check_trigger_rule(lint_t *l, const token_t *t, size_t n, size_t i)
{
    char   table[NAME_MAX_LEN], when[16] = "";
    int    rule;

    if (is_kw(t, n, i, "constraint") && is_kw(t, n, i + 1, "trigger")) {
        return 1;                   /* always AFTER */
    }
    rule = is_kw(t, n, i, "rule");
    if (!rule && !is_kw(t, n, i, "trigger")) {
        return 0;
    }
    for (i++; i < n && !is_kw(t, n, i, rule ? "to" : "on"); i++) {
        if (!rule && *when == '\0'
            && (is_kw(t, n, i, "before") || is_kw(t, n, i, "instead")))
        {
            upper_word(&t[i], when, sizeof(when));
            if (is_kw(t, n, i + 1, "of")) {
                strcat(when, " OF");
            }
        }
    }
    i++;
    if ((!rule && *when == '\0') || !read_name(t, n, &i, table, sizeof(table))
        || table_is_new(l, table))
    {
        return 1;
    }
    if (rule) {
        finding(l, t[0].line, "CREATE RULE on existing table \"%s\" "
                "rewrites V1's statements", table);
    } else {
        finding(l, t[0].line, "%s trigger on existing table \"%s\" can "
                "change or drop V1's rows", when, table);
    }
    return 1;
}

static void
check_create(lint_t *l, const token_t *t, size_t n)
{
    size_t i = 1, j, e, close;
    char   table[NAME_MAX_LEN], col[NAME_MAX_LEN];
    int    unique = 0, ok, depth, concurrently, if_not_exists, named;

    if (is_kw(t, n, i, "or") && is_kw(t, n, i + 1, "replace")) {
        i += 2;
    }
    if (check_trigger_rule(l, t, n, i)) {
        return;
    }
    while (is_kw(t, n, i, "temporary") || is_kw(t, n, i, "temp")
           || is_kw(t, n, i, "unlogged") || is_kw(t, n, i, "global")
           || is_kw(t, n, i, "local"))
    {
        i++;
    }
    if (is_kw(t, n, i, "table")) {
        i++;
        skip_if_exists(t, n, &i, 1);
        if (read_name(t, n, &i, table, sizeof(table))) {
            add_name(l, table, "");
        }
        return;
    }
    if (is_kw(t, n, i, "unique")) {
        unique = 1;
        i++;
    }
    if (!is_kw(t, n, i, "index")) {
        return;
    }
    i++;
    concurrently = is_kw(t, n, i, "concurrently");
    i += concurrently;
    if_not_exists = is_kw(t, n, i, "if");
    skip_if_exists(t, n, &i, 1);
    named = !is_kw(t, n, i, "on");
    while (i < n && !is_kw(t, n, i, "on")) {
        i++;
    }
    i++;
    if (is_kw(t, n, i, "only")) {
        i++;
    }
    if (!read_name(t, n, &i, table, sizeof(table))) {
        return;
    }
    if (l->notx && !(concurrently && if_not_exists && named)) {
        /* a rerun after an interruption must find it by name and skip
         * it once built */
        finding(l, t[0].line, "CREATE INDEX in a no-transaction migration "
                "must be CREATE INDEX CONCURRENTLY IF NOT EXISTS \"name\"");
    } else if (!l->notx && concurrently) {
        finding(l, t[0].line, "CREATE INDEX CONCURRENTLY cannot run inside "
                "a transaction: put it in a file marked \""
                NANO_SQL_NO_TRANSACTION "\"");
    } else if (!l->notx && lock_matters(l, table)) {
        finding(l, t[0].line, "CREATE INDEX on existing table \"%s\" holds "
                "its writes for the whole build: use CREATE INDEX "
                "CONCURRENTLY IF NOT EXISTS in a file marked \""
                NANO_SQL_NO_TRANSACTION "\"", table);
        return;
    }
    if (!unique || table_is_new(l, table)) {
        return;
    }
    if (is_kw(t, n, i, "using")) {
        i += 2;
    }
    /* Allowed when every key is a plain column this file added: such a
     * column holds only NULLs (or one default) so far. */
    ok = is_punct(t, n, i, '(');
    close = i;
    for (depth = 0; ok && close < n; close++) {
        depth += is_punct(t, n, close, '(') - is_punct(t, n, close, ')');
        if (depth == 0) {
            break;
        }
    }
    for (j = i + 1; ok && j < close; j = e + 1) {
        e = item_end(t, close, j);
        ok = is_ident(t, close, j) && (e == j + 1
             || is_kw(t, close, j + 1, "asc") || is_kw(t, close, j + 1, "desc")
             || is_kw(t, close, j + 1, "nulls"));
        if (ok) {
            ident_name(&t[j], col, sizeof(col));
            ok = known(l, table, col);
        }
    }
    if (!ok) {
        finding(l, t[0].line, "CREATE UNIQUE INDEX on existing table \"%s\" "
                "can fail on its rows", table);
    }
}

static void
check_update(lint_t *l, const token_t *t, size_t n, size_t start)
{
    size_t i = start + 1, a, b, j;
    char   table[NAME_MAX_LEN], col[NAME_MAX_LEN];

    if (is_kw(t, n, i, "only")) {
        i++;
    }
    if (!read_name(t, n, &i, table, sizeof(table)) || table_is_prices(table))
    {
        return;
    }
    while (i < n && !is_kw(t, n, i, "set")) {
        i++;
    }
    for (a = i + 1; a < n; a = b + 1) {
        b = item_end(t, n, a);
        for (j = a; j < b; j++) {
            if (is_kw(t, b, j, "from") || is_kw(t, b, j, "where")
                || is_kw(t, b, j, "returning"))
            {
                b = n;
                break;
            }
        }
        /* (a, b) = (...) assigns each column listed before '='. */
        for (j = a; j < n && !is_punct(t, n, j, '='); j++) {
            if (!is_ident(t, n, j) || (j > a && is_punct(t, n, j - 1, '.'))
                || (j > a && is_punct(t, n, j - 1, '[')))
            {
                continue;
            }
            ident_name(&t[j], col, sizeof(col));
            if (!column_is_new(l, table, col)) {
                finding(l, t[start].line, "UPDATE of existing column "
                        "\"%s\".\"%s\" changes data V1 owns", table, col);
                return;
            }
            if (!is_punct(t, n, a, '(')) {
                break;
            }
        }
    }
}

static void
check_with(lint_t *l, const token_t *t, size_t n)
{
    size_t i;

    for (i = 1; i + 1 < n; i++) {
        if (!is_punct(t, n, i, '(')) {
            continue;
        }
        if (is_kw(t, n, i + 1, "delete") && !target_is_prices(t, n, i + 1)) {
            finding(l, t[i + 1].line, "DELETE deletes data");
        } else if (is_kw(t, n, i + 1, "update")) {
            check_update(l, t, n, i + 1);
        }
    }
}

static void
check_statement(lint_t *l, const token_t *t, size_t n)
{
    char what[32];

    if (n == 0 || t[0].kind != TK_WORD) {
        return;
    }
    if (l->notx && !(is_kw(t, n, 0, "create") && (is_kw(t, n, 1, "index")
                     || (is_kw(t, n, 1, "unique")
                         && is_kw(t, n, 2, "index")))))
    {
        /* each statement commits on its own: a failure half-way would
         * leave the file half applied, and a rerun would repeat it */
        upper_word(&t[0], what, sizeof(what));
        finding(l, t[0].line, "%s in a no-transaction migration: it may hold "
                "only CREATE INDEX CONCURRENTLY IF NOT EXISTS statements",
                what);
        return;
    }
    if (is_kw(t, n, 0, "drop")) {
        check_drop(l, t, n);
    } else if (is_kw(t, n, 0, "truncate")) {
        finding(l, t[0].line, "TRUNCATE deletes data");
    } else if (is_kw(t, n, 0, "delete")) {
        if (!target_is_prices(t, n, 0)) {
            finding(l, t[0].line, "DELETE deletes data");
        }
    } else if (is_kw(t, n, 0, "update")) {
        check_update(l, t, n, 0);
    } else if (is_kw(t, n, 0, "with")) {
        check_with(l, t, n);
    } else if (is_kw(t, n, 0, "insert")) {
        if (has_seq(t, n, 1, "do", "update") && !target_is_prices(t, n, 0)) {
            finding(l, t[0].line, "INSERT ... ON CONFLICT DO UPDATE changes "
                    "existing rows");
        }
    } else if (is_kw(t, n, 0, "alter")) {
        if (is_kw(t, n, 1, "table")) {
            check_alter_table(l, t, n);
        } else {
            check_alter_other(l, t, n);
        }
    } else if (is_kw(t, n, 0, "create")) {
        check_create(l, t, n);
    } else if (is_kw(t, n, 0, "begin") || is_kw(t, n, 0, "commit")
               || is_kw(t, n, 0, "rollback") || is_kw(t, n, 0, "start")
               || is_kw(t, n, 0, "end") || is_kw(t, n, 0, "abort")
               || is_kw(t, n, 0, "savepoint") || is_kw(t, n, 0, "release"))
    {
        upper_word(&t[0], what, sizeof(what));
        finding(l, t[0].line, "%s: the runner runs each migration in its "
                "own transaction", what);
    } else if (is_kw(t, n, 0, "vacuum")) {
        finding(l, t[0].line, "VACUUM cannot run inside the migration's "
                "transaction");
    } else if (is_kw(t, n, 0, "do")) {
        finding(l, t[0].line, "DO blocks cannot be checked for additivity");
    } else if (is_kw(t, n, 0, "reassign")) {
        finding(l, t[0].line, "REASSIGN OWNED takes V1's tables from the "
                "role V1 connects as");
    } else if (is_kw(t, n, 0, "revoke")) {
        finding(l, t[0].line, "REVOKE takes away privileges V1 uses");
    } else if ((is_kw(t, n, 0, "set") && !is_kw(t, n, 1, "local")
                && !is_kw(t, n, 1, "constraints")
                && !is_kw(t, n, 1, "transaction"))
               || is_kw(t, n, 0, "reset"))
    {
        upper_word(&t[0], what, sizeof(what));
        finding(l, t[0].line, "%s outlives the migration: the later ones "
                "run in the same session (use SET LOCAL)", what);
    }
}

typedef void (*stmt_fn_t)(lint_t *l, const token_t *t, size_t n,
    void *arg);

/*
 * Tokenizes sql and calls fn for each statement.  A SQL-standard function
 * body (BEGIN ATOMIC ... END) holds semicolons that do not end its CREATE
 * statement.  Returns 0, or -1 when out of memory or unterminated.
 */
static int
each_statement(lint_t *l, const char *sql, size_t len, stmt_fn_t fn,
    void *arg)
{
    size_t i, start;
    int    atomic = 0;

    if (tokenize(l, sql, len) != 0 || l->nomem) {
        return -1;
    }
    for (i = 0, start = 0; i <= l->ntok && !l->nomem; i++) {
        if (i < l->ntok && is_kw(l->tok, l->ntok, i, "begin")
            && is_kw(l->tok, l->ntok, i + 1, "atomic"))
        {
            atomic++;
        } else if (atomic && is_kw(l->tok, l->ntok, i, "case")) {
            atomic++;
        } else if (atomic && is_kw(l->tok, l->ntok, i, "end")) {
            atomic--;
        }
        if (i == l->ntok || (l->tok[i].kind == TK_SEMI && atomic == 0)) {
            if (i > start) {
                fn(l, l->tok + start, i - start, arg);
            }
            start = i + 1;
        }
    }
    return l->nomem ? -1 : 0;
}

static void
lint_statement(lint_t *l, const token_t *t, size_t n, void *arg)
{
    (void) arg;
    check_statement(l, t, n);
}

/* The NNN of a path's .../NNN_name.sql; a file not so named (nano-migrate
 * lint of any file) counts as a new one, under every rule. */
static unsigned long
file_number(const char *path)
{
    const char    *base = strrchr(path, '/');
    unsigned long  n = 0;

    base = base ? base + 1 : path;
    if (!isdigit((unsigned char) *base)) {
        return (unsigned long) -1;
    }
    while (isdigit((unsigned char) *base) && n < 100000000UL) {
        n = n * 10 + (unsigned long) (*base++ - '0');
    }
    return *base == '_' ? n : (unsigned long) -1;
}

int
nano_sql_no_transaction(const char *sql, size_t len)
{
    static const char  mark[] = NANO_SQL_NO_TRANSACTION;
    const char        *p = sql, *end = sql + len, *eol, *e;

    /* among the comments and blank lines before the first statement */
    for (; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t) (end - p));
        eol = eol ? eol : end;
        for (e = eol; e > p && isspace((unsigned char) e[-1]); e--) {
            /* trailing blanks and a CRLF's \r */
        }
        if ((size_t) (e - p) == sizeof(mark) - 1
            && memcmp(p, mark, sizeof(mark) - 1) == 0)
        {
            return 1;
        }
        while (p < e && isspace((unsigned char) *p)) {
            p++;
        }
        if (p < e && !(e - p >= 2 && p[0] == '-' && p[1] == '-')) {
            return 0;
        }
    }
    return 0;
}

/* Calls fn for each statement of sql, linting nothing.  Returns 0, or -1
 * when out of memory or unterminated. */
static int
walk_statements(const char *sql, size_t len, stmt_fn_t fn, void *arg)
{
    lint_t l;
    int    rc;

    memset(&l, 0, sizeof(l));
    l.filename = "-";
    rc = each_statement(&l, sql, len, fn, arg);
    free(l.tok);
    free(l.names);
    return rc != 0 || l.count ? -1 : 0;
}

typedef struct {
    char   *name;
    size_t  namelen;
    int     found;
} index_name_t;

static void
index_name_statement(lint_t *l, const token_t *t, size_t n, void *arg)
{
    index_name_t *ix = arg;
    size_t        i = 1;

    (void) l;
    if (!is_kw(t, n, 0, "create")) {
        return;
    }
    i += is_kw(t, n, i, "unique");
    if (!is_kw(t, n, i, "index") || !is_kw(t, n, i + 1, "concurrently")
        || !is_kw(t, n, i + 2, "if"))
    {
        return;
    }
    i += 2;
    skip_if_exists(t, n, &i, 1);
    if (!is_kw(t, n, i, "on") && read_name(t, n, &i, ix->name, ix->namelen)) {
        ix->found = 1;
    }
}

int
nano_sql_index_name(const char *stmt, size_t len, char *name, size_t namelen)
{
    index_name_t ix = { name, namelen, 0 };

    return walk_statements(stmt, len, index_name_statement, &ix) == 0
           && ix.found;
}

int
nano_sql_lint(const char *filename, const char *sql, size_t len,
    nano_sql_finding_t *out, size_t max)
{
    lint_t  l;
    int     result;

    memset(&l, 0, sizeof(l));
    l.filename = filename ? filename : "-";
    l.out = out;
    l.max = out ? max : 0;
    l.notx = nano_sql_no_transaction(sql, len);
    l.all_tables = file_number(l.filename) >= LOCK_RULES_ALL_TABLES_FROM;
    each_statement(&l, sql, len, lint_statement, NULL);
    result = l.nomem ? -1 : l.count;
    free(l.tok);
    free(l.names);
    return result;
}

typedef struct {
    const char       *sql;
    nano_sql_stmt_t  *out;
    size_t            max;
    size_t            count;
} split_t;

static void
split_statement(lint_t *l, const token_t *t, size_t n, void *arg)
{
    split_t *sp = arg;

    (void) l;
    if (sp->count < sp->max) {
        sp->out[sp->count].offset = (size_t) (t[0].s - sp->sql);
        sp->out[sp->count].len = (size_t) (t[n - 1].s + t[n - 1].len
                                           - t[0].s);
        sp->out[sp->count].line = t[0].line;
    }
    sp->count++;
}

int
nano_sql_statements(const char *sql, size_t len, nano_sql_stmt_t *out,
    size_t max)
{
    split_t sp = { sql, out, out ? max : 0, 0 };

    return walk_statements(sql, len, split_statement, &sp) != 0
           ? -1 : (int) sp.count;
}

char *
nano_sql_read_file(const char *path, size_t *len, FILE *report)
{
    FILE   *f;
    char   *buf = NULL, *p;
    size_t  n = 0, cap = 0, got;
    int     ok = 0;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(report, "%s: cannot read: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 65536;
            p = realloc(buf, cap + 1);
            if (p == NULL) {
                fprintf(report, "%s: out of memory\n", path);
                goto out;
            }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        fprintf(report, "%s: cannot read: %s\n", path, strerror(errno));
        goto out;
    }
    buf[n] = '\0';
    *len = n;
    ok = 1;
out:
    fclose(f);
    if (!ok) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

int
nano_sql_lint_file(const char *path, FILE *report)
{
    nano_sql_finding_t  found[32];
    char               *buf;
    size_t              len = 0, k;
    int                 n = -1;

    buf = nano_sql_read_file(path, &len, report);
    if (buf == NULL) {
        goto out;
    }
    n = nano_sql_lint(path, buf, len, found, sizeof(found) / sizeof(found[0]));
    if (n < 0) {
        fprintf(report, "%s: out of memory\n", path);
        goto out;
    }
    for (k = 0; k < (size_t) n && k < sizeof(found) / sizeof(found[0]); k++) {
        fprintf(report, "%s\n", found[k].text);
    }
    if ((size_t) n > k) {
        fprintf(report, "%s: %d more findings\n", path, n - (int) k);
    }
out:
    free(buf);
    return n;
}
