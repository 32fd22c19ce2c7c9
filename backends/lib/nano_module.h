/*
 * What every AI module app serves in this phase: its page at / and the
 * caller's identity at /api/me, both taken from the gateway's FastCGI
 * params (NANO_USER_ID, NANO_USER_EMAIL, NANO_USER_NAME).
 */

#ifndef NANO_MODULE_H
#define NANO_MODULE_H

#include "nano_http.h"

/*
 * GET /: renders public/index.html with {{title}} (the app's title),
 * {{header}}, {{user_name}}, {{user_email}} and {{base}} (SCRIPT_NAME).
 * 401 JSON when the gateway passed no identity.
 */
int nano_module_page(nano_req_t *req, nano_res_t *res);

/* GET /api/me: {"id","email","name","module"}; 401 JSON without an
 * identity. */
int nano_module_me(nano_req_t *req, nano_res_t *res);

#endif /* NANO_MODULE_H */
