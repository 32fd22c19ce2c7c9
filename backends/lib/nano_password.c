/*
 * bcrypt/yescrypt password hashes via libxcrypt's reentrant API.
 */

#include <stdlib.h>
#include <string.h>

#include <crypt.h>
#include <openssl/crypto.h>

#include "nano_password.h"

/* A cost-12 bcrypt hash of a random string nobody knows; verifying
 * against it takes as long as verifying a real account. */
static const char  nano_password_dummy[] =
    "$2b$12$uHdkKjvyOZtykukjjOk2iegMK1ItuWo1Nf3J7rEzSCIClMQ5kLtli";

static int
nano_password_scheme_ok(const char *hash)
{
    return strncmp(hash, "$2a$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0
           || strncmp(hash, "$y$", 3) == 0;
}

char *
nano_password_hash(const char *password)
{
    struct crypt_data  *cd;
    char                salt[CRYPT_GENSALT_OUTPUT_SIZE];
    char               *out = NULL;
    const char         *h;

    /* crypt_data is ~32 KiB: keep it off worker stacks. */
    cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        return NULL;
    }
    /* NULL random bytes: libxcrypt reads the kernel's CSPRNG itself. */
    if (crypt_gensalt_rn("$2b$", NANO_PASSWORD_COST, NULL, 0, salt,
                         sizeof(salt)) == NULL)
    {
        goto out;
    }
    h = crypt_rn(password, salt, cd, sizeof(*cd));
    if (h == NULL || h[0] == '*') {
        goto out;
    }
    out = strdup(h);
out:
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return out;
}

int
nano_password_verify(const char *password, const char *hash)
{
    struct crypt_data  *cd;
    const char         *setting, *h;
    size_t              len;
    int                 ok = 0, real;

    real = hash != NULL && nano_password_scheme_ok(hash);
    setting = real ? hash : nano_password_dummy;

    cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        return 0;
    }
    h = crypt_rn(password != NULL ? password : "", setting, cd, sizeof(*cd));
    if (h == NULL || h[0] == '*' || !real) {
        goto out;
    }
    len = strlen(setting);
    ok = strlen(h) == len && CRYPTO_memcmp(h, setting, len) == 0;
out:
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}
