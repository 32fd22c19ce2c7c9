/*
 * Whether the database has the schema the installed files were made
 * for: the newest migration of <NANO_ROOT>/sql (where make run's
 * checkout and the packages keep them) recorded in "_nano_migrations"
 * by nano-migrate.
 */

#ifndef NANO_SCHEMA_H
#define NANO_SCHEMA_H

/*
 * For the platform's and every module's start: warns, naming the
 * migration and the command, when the database lacks it (the packages
 * restart the apps on an upgrade before the operator runs nano-migrate,
 * and new code on the old schema answers 500 where it needs what the
 * migration adds).  Only a warning: the apps keep serving what still
 * works.  Silent when root has no migrations, or when no connection
 * comes within a second (the pool reports that itself).
 */
void nano_schema_check(const char *root);

/* 1 when name is a migration's file name, NNN_name.sql (three or more
 * digits, '_', letters, digits and '_'), with its number in *number;
 * nano-migrate's rule, and its order: by number, then by name. */
int nano_schema_migration_name(const char *name, unsigned long *number);

#endif /* NANO_SCHEMA_H */
