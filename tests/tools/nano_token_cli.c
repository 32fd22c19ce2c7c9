/*
 * nano-token: signs or verifies a session token with a key file, through
 * the same code the platform and the gateway use; hashes a password the
 * way the platform stores it.  For tests and bench.
 *
 *   nano-token sign KEYFILE SUB [EMAIL [NAME [TTL]]]
 *   nano-token seal KEYFILE SUB [EMAIL [NAME [TTL]]]   (NextAuth's JWE)
 *   nano-token verify KEYFILE TOKEN                    (either format)
 *   nano-token hash PASSWORD      (bcrypt $2b$, cost 12, as V1 and the
 *                                  platform store it; any length, so a
 *                                  test can make a V1 user whose password
 *                                  is longer than 72 bytes)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_password.h"
#include "nano_token.h"


static nano_str_t
str(const char *s)
{
    nano_str_t  r;

    r.data = s;
    r.len = s ? strlen(s) : 0;
    return r;
}


int
main(int argc, char **argv)
{
    int              rc;
    char            *token, err[512], *scratch;
    long long        now;
    nano_claims_t    c;
    nano_keyring_t  *kr;

    if (argc == 3 && strcmp(argv[1], "hash") == 0) {
        token = nano_password_hash(argv[2]);
        if (token == NULL) {
            fprintf(stderr, "nano-token: cannot hash the password\n");
            return 1;
        }
        printf("%s\n", token);
        free(token);
        return 0;
    }

    if (argc < 4 || (strcmp(argv[1], "sign") && strcmp(argv[1], "seal")
                     && strcmp(argv[1], "verify")))
    {
        fprintf(stderr, "usage: nano-token sign KEYFILE SUB [EMAIL [NAME [TTL]]]\n"
                        "       nano-token seal KEYFILE SUB [EMAIL [NAME [TTL]]]\n"
                        "       nano-token verify KEYFILE TOKEN\n"
                        "       nano-token hash PASSWORD\n");
        return 2;
    }

    kr = nano_keyring_load(argv[2], err, sizeof(err));
    if (kr == NULL) {
        fprintf(stderr, "nano-token: %s\n", err);
        return 2;
    }

    now = (long long) time(NULL);
    rc = 1;

    if (strcmp(argv[1], "verify") != 0) {
        memset(&c, 0, sizeof(c));
        c.sub = str(argv[3]);
        c.email = str(argc > 4 ? argv[4] : NULL);
        c.name = str(argc > 5 ? argv[5] : NULL);
        c.jti = str("bench-session");
        c.iat = now;
        c.has_iat = 1;
        c.exp = now + (argc > 6 ? atoll(argv[6]) : NANO_TOKEN_MAX_AGE);

        token = strcmp(argv[1], "seal") == 0 ? nano_token_encrypt(kr, &c)
                                              : nano_token_sign(kr, &c);
        if (token) {
            printf("%s\n", token);
            free(token);
            rc = 0;
        }

    } else {
        scratch = malloc(strlen(argv[3]) + 1);
        if (scratch) {
            rc = nano_token_verify(kr, argv[3], strlen(argv[3]), now, 60,
                                   scratch, strlen(argv[3]) + 1, &c);
            printf("%s", nano_token_status_name(rc));
            if (rc == NANO_TOKEN_OK) {
                printf(" sub=%s email=%s name=%s", c.sub.data,
                       c.email.data ? c.email.data : "",
                       c.name.data ? c.name.data : "");
            }
            printf("\n");
            free(scratch);
        }
    }

    nano_keyring_free(kr);
    return rc;
}
