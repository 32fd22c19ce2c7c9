/*
 * Setting up a call to a provider: its base URL and key from the
 * environment (nano_provider.h's table), the key header, and turning a
 * failed call into the provider error people see.
 */

#ifndef NANO_PROVIDER_CALL_H
#define NANO_PROVIDER_CALL_H

#include "nano_client.h"
#include "nano_provider.h"

/*
 * Prepares call (already nano_client_call_init'ed) to p: URL
 * <base><path> (<P>_BASE_URL, else the public endpoint) and the key
 * header from <P>_API_KEY.  Returns 0, or -1 with err set when there is
 * no key or the URL does not fit.
 */
int nano_provider_call(nano_client_call_t *call, nano_provider_t p,
    const char *path, nano_provider_error_t *err);

/*
 * The error of a call that did not succeed: a response with a failure
 * status (read in p's error shape, Retry-After honoured), or none at all
 * (timeout, connection).  The key never reaches err's message.  Returns
 * -1.
 */
int nano_provider_call_error(nano_provider_t p, const nano_client_res_t *res,
    nano_provider_error_t *err);

/*
 * At a module's start: when the key named key_env is set, whether it and
 * its provider's <P>_BASE_URL make a request at all (a key header that
 * builds; a base that is an http(s) URL without a query, blanks or
 * control characters).  0, or -1 with the variable named in err.
 */
int nano_provider_env_check(const char *key_env, char *err, size_t errlen);

#endif /* NANO_PROVIDER_CALL_H */
