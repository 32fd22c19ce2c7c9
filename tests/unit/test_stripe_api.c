/*
 * Unit tests for Stripe's Checkout wire format (nano_stripe_api): the
 * exact form body, Checkout Session answers and Stripe's error shape.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nano_stripe_api.h"

static void
test_checkout_body(void **state)
{
    nano_stripe_checkout_t  c = {
        .currency = "usd",
        .unit_amount = 499,
        .product_name = "Starter: 100 credits & more",
        .success_url = "https://app.example.com/billing?checkout=success"
                       "&session_id={CHECKOUT_SESSION_ID}",
        .cancel_url = "https://app.example.com/billing?checkout=cancel",
        .user_id = "cuid123",
        .purchase_id = "pur_1",
        .pack = "starter",
        .credits = 100,
    };
    nano_buf_t              b;

    (void) state;
    nano_buf_init(&b);
    assert_int_equal(nano_stripe_checkout_body(&c, &b), 0);
    assert_string_equal(b.data,
        "mode=payment"
        "&line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=usd"
        "&line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=499"
        "&line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D="
        "Starter%3A%20100%20credits%20%26%20more"
        "&line_items%5B0%5D%5Bquantity%5D=1"
        "&success_url=https%3A%2F%2Fapp.example.com%2Fbilling%3Fcheckout%3D"
        "success%26session_id%3D%7BCHECKOUT_SESSION_ID%7D"
        "&cancel_url=https%3A%2F%2Fapp.example.com%2Fbilling%3Fcheckout%3D"
        "cancel"
        "&client_reference_id=cuid123"
        "&metadata%5BuserId%5D=cuid123"
        "&metadata%5BpurchaseId%5D=pur_1"
        "&metadata%5Bpack%5D=starter"
        "&metadata%5Bcredits%5D=100");
    nano_buf_cleanup(&b);
}

static void
session(const char *body, int rc, const char *id, const char *url)
{
    char  *i = (char *) "x", *u = (char *) "x";

    assert_int_equal(nano_stripe_session_read(body, strlen(body), &i, &u), rc);
    if (rc == 0) {
        assert_string_equal(i, id);
        assert_string_equal(u, url);
    } else {
        assert_null(i);
        assert_null(u);
    }
    free(i);
    free(u);
}

static void
test_session_read(void **state)
{
    (void) state;
    session("{\"id\":\"cs_test_a1\",\"object\":\"checkout.session\","
            "\"url\":\"https://checkout.stripe.com/c/pay/cs_test_a1#fid\","
            "\"payment_status\":\"unpaid\",\"amount_total\":499}", 0,
            "cs_test_a1", "https://checkout.stripe.com/c/pay/cs_test_a1#fid");
    session("{\"id\":\"cs_test_a1\",\"url\":\"http://127.0.0.1:9/pay/1\"}",
            0, "cs_test_a1", "http://127.0.0.1:9/pay/1");
    /* not a session, no url (embedded mode), a url that is no web page */
    session("{\"id\":\"pi_1\",\"url\":\"https://x\"}", -1, NULL, NULL);
    session("{\"id\":\"cs_1\",\"object\":\"payment_intent\","
            "\"url\":\"https://x\"}", -1, NULL, NULL);
    session("{\"id\":\"cs_1\",\"url\":null}", -1, NULL, NULL);
    session("{\"id\":\"cs_1\",\"url\":\"javascript:alert(1)\"}", -1, NULL,
            NULL);
    session("{\"id\":\"cs_1\",\"url\":\"https://x/\\r\\nSet-Cookie: a\"}", -1,
            NULL, NULL);
    session("not json", -1, NULL, NULL);
    session("[]", -1, NULL, NULL);
}

static void
test_error_read(void **state)
{
    nano_stripe_error_t  e;
    const char          *b;

    (void) state;
    b = "{\"error\":{\"code\":\"parameter_missing\",\"doc_url\":\"https://"
        "stripe.com/docs/error-codes/parameter-missing\",\"message\":"
        "\"Missing required param: line_items[0][price_data][currency].\","
        "\"param\":\"line_items[0][price_data][currency]\","
        "\"type\":\"invalid_request_error\"}}";
    assert_int_equal(nano_stripe_error_read(b, strlen(b), &e), 0);
    assert_string_equal(e.type, "invalid_request_error");
    assert_string_equal(e.code, "parameter_missing");
    assert_string_equal(e.param, "line_items[0][price_data][currency]");
    assert_string_equal(e.message,
                        "Missing required param: line_items[0][price_data]"
                        "[currency].");
    b = "{\"error\":{\"message\":\"Invalid API Key provided: sk_test_****"
        "abcd\",\"type\":\"invalid_request_error\"}}";
    assert_int_equal(nano_stripe_error_read(b, strlen(b), &e), 0);
    assert_string_equal(e.code, "");
    b = "{\"error\":\"nope\"}";
    assert_int_equal(nano_stripe_error_read(b, strlen(b), &e), -1);
    assert_string_equal(e.type, "");
    b = "<html>502 Bad Gateway</html>";
    assert_int_equal(nano_stripe_error_read(b, strlen(b), &e), -1);
    b = "{\"error\":{}}";
    assert_int_equal(nano_stripe_error_read(b, strlen(b), &e), -1);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_checkout_body),
        cmocka_unit_test(test_session_read),
        cmocka_unit_test(test_error_read),
    };

    return cmocka_run_group_tests_name("stripe_api", tests, NULL, NULL);
}
