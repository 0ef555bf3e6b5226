/*
 * GSSAPI (RFC 4752) and GS2-KRB5 (RFC 5801) through the C API, client and server of this
 * library in one process, against the private MIT KDC that tests/capi_gssapi.rs starts (it
 * sets KRB5_CONFIG, KRB5CCNAME with alice's ticket and KRB5_KTNAME with the key of
 * smtp/localhost). Needs a library built with the `gssapi` feature (make FEATURES=gssapi).
 *
 *   test_gssapi            success (the principal answered with a local user), a principal
 *                          the server refuses, an authzid the server refuses
 *   test_gssapi noticket   KRB5CCNAME names an empty cache: the client cannot start
 *
 * Exit status 0 only if every check passed; one line "checks: N" on stdout.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saslmech.h"

static unsigned checks, failures;

static void check(int ok, const char *what, int line)
{
    checks++;
    if (!ok) {
        failures++;
        fprintf(stderr, "test_gssapi.c:%d: check failed: %s\n", line, what);
    }
}

#define CHECK(c) check((c) != 0, #c, __LINE__)
#define EQ(a, b) check((unsigned long long)(a) == (unsigned long long)(b), #a " == " #b, __LINE__)
#define OK(x) EQ((x), SASLMECH_OK)
#define S(s) (const uint8_t *)(s), strlen(s)
#define SAME(p, n, lit) CHECK((n) == strlen(lit) && memcmp((p), (lit), (n)) == 0)

#define PRINCIPAL "alice@SASLMECH.TEST"

/* How the server answers the principal request. */
enum policy { MAP_TO_LOCAL_USER, REFUSE };

static saslmech_credentials *client_credentials(const char *service, const char *authzid)
{
    saslmech_credentials *cr = NULL;
    OK(saslmech_credentials_new(&cr));
    OK(saslmech_credentials_set(cr, SASLMECH_CREDENTIAL_SERVICE, S(service)));
    OK(saslmech_credentials_set(cr, SASLMECH_CREDENTIAL_HOST, S("localhost")));
    if (authzid)
        OK(saslmech_credentials_set(cr, SASLMECH_CREDENTIAL_AUTHZID, S(authzid)));
    return cr;
}

/* Answer the server's pending request as the policy says; count the principal requests. */
static saslmech_result answer(saslmech_server *s, enum policy policy, unsigned *principals,
                              saslmech_status *st)
{
    saslmech_request *req = NULL;
    saslmech_request_kind kind = 0;
    const uint8_t *p = NULL;
    size_t n = 0;
    saslmech_result r;

    OK(saslmech_server_request(s, &req, &kind));
    if (kind != SASLMECH_REQUEST_PRINCIPAL) {
        /* An authzid other than the mapped user: no one may act as another here. */
        EQ(kind, SASLMECH_REQUEST_AUTHORIZE);
        r = saslmech_request_answer(req, SASLMECH_VERDICT_REJECT);
    } else {
        (*principals)++;
        OK(saslmech_request_authcid(req, &p, &n));
        SAME(p, n, PRINCIPAL);
        r = policy == REFUSE ? saslmech_request_answer(req, SASLMECH_VERDICT_REJECT)
                             : saslmech_request_answer_token_owner(req, S("alice"));
    }
    if (r == SASLMECH_OK)
        OK(saslmech_server_status(s, st));
    return r;
}

struct outcome {
    saslmech_status status;
    saslmech_failure failure;
    unsigned principals;
};

/* One exchange of `m`, client and server of this library, raw or base64. */
static struct outcome exchange(saslmech_mechanism m, const char *authzid, enum policy policy,
                               bool base64)
{
    struct outcome out = {SASLMECH_STATUS_FAILURE, SASLMECH_FAILURE_NONE, 0};
    saslmech_server_config *c = NULL;
    saslmech_credentials *cr = client_credentials("smtp", authzid);
    saslmech_client *cl = NULL;
    saslmech_server *s = NULL;
    saslmech_status st = 0;
    bool has = false, done = false;
    const uint8_t *p = NULL;
    size_t n = 0;
    int rounds;

    OK(saslmech_server_config_new(&c));
    OK(saslmech_server_config_set_mechanisms(c, &m, 1));
    OK(saslmech_client_new(m, cr, NULL, base64 ? SASLMECH_CLIENT_BASE64 : 0, &cl));
    saslmech_credentials_free(cr); /* the session copied what it needs */
    OK(saslmech_server_new(c, m, base64 ? SASLMECH_SERVER_BASE64 : 0, &s));
    saslmech_server_config_free(c);
    if (cl == NULL || s == NULL) {
        saslmech_client_free(cl);
        saslmech_server_free(s);
        return out;
    }

    OK(saslmech_client_start(cl, &has, &p, &n));
    CHECK(has); /* both mechanisms send the first context token at once */
    OK(saslmech_server_start(s, has ? p : NULL, has ? n : 0, &st));
    for (rounds = 0; rounds < 20; rounds++) {
        if (st == SASLMECH_STATUS_CHALLENGE) {
            const uint8_t *ch = NULL;
            size_t ch_len = 0;
            OK(saslmech_server_message(s, &ch, &ch_len));
            if (saslmech_client_step(cl, ch, ch_len, &p, &n) != SASLMECH_OK) {
                OK(saslmech_server_cancel(s, &st));
                continue;
            }
            OK(saslmech_server_step(s, p, n, &st));
        } else if (st == SASLMECH_STATUS_REQUEST) {
            OK(answer(s, policy, &out.principals, &st));
        } else {
            break;
        }
    }
    CHECK(rounds < 20);
    out.status = st;
    if (st == SASLMECH_STATUS_SUCCESS) {
        const saslmech_identity *id = NULL;
        OK(saslmech_client_finish(cl, NULL, 0));
        OK(saslmech_client_is_finished(cl, &done));
        CHECK(done);
        OK(saslmech_server_identity(s, &id));
        OK(saslmech_identity_authcid(id, &p, &n));
        SAME(p, n, "alice");
    } else {
        OK(saslmech_server_failure(s, &out.failure));
    }
    saslmech_server_free(s);
    saslmech_client_free(cl);
    return out;
}

static void test_with_ticket(void)
{
    static const saslmech_mechanism mechs[] = {SASLMECH_MECH_GSSAPI, SASLMECH_MECH_GS2_KRB5};
    size_t i;
    int b;

    for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        for (b = 0; b < 2; b++) {
            struct outcome o;
            /* Success: the principal maps to the local user alice. */
            o = exchange(mechs[i], NULL, MAP_TO_LOCAL_USER, b);
            EQ(o.status, SASLMECH_STATUS_SUCCESS);
            EQ(o.principals, 1);
            /* Acting as oneself needs no further question. */
            o = exchange(mechs[i], "alice", MAP_TO_LOCAL_USER, b);
            EQ(o.status, SASLMECH_STATUS_SUCCESS);
            /* The server refuses the principal. */
            o = exchange(mechs[i], NULL, REFUSE, b);
            EQ(o.status, SASLMECH_STATUS_FAILURE);
            EQ(o.failure, SASLMECH_FAILURE_AUTHZ_DENIED);
            EQ(o.principals, 1);
            /* The server refuses the authorization identity the client asks for. */
            o = exchange(mechs[i], "bob", MAP_TO_LOCAL_USER, b);
            EQ(o.status, SASLMECH_STATUS_FAILURE);
            EQ(o.failure, SASLMECH_FAILURE_AUTHZ_DENIED);
        }
    }
}

static void test_without_ticket(void)
{
    static const saslmech_mechanism mechs[] = {SASLMECH_MECH_GSSAPI, SASLMECH_MECH_GS2_KRB5};
    size_t i;

    for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        saslmech_credentials *cr = client_credentials("smtp", NULL);
        saslmech_client *cl = NULL;
        EQ(saslmech_client_new(mechs[i], cr, NULL, 0, &cl), SASLMECH_INVALID_ARGUMENT);
        CHECK(cl == NULL);
        saslmech_credentials_free(cr);
    }
}

/* Setting the service: UTF-8 only; without it the client cannot name its target. */
static void test_service_field(void)
{
    saslmech_credentials *cr = NULL;
    saslmech_client *cl = NULL;
    OK(saslmech_credentials_new(&cr));
    EQ(saslmech_credentials_set(cr, SASLMECH_CREDENTIAL_SERVICE, (const uint8_t *)"\xff", 1),
       SASLMECH_INVALID_UTF8);
    OK(saslmech_credentials_set(cr, SASLMECH_CREDENTIAL_HOST, S("localhost")));
    EQ(saslmech_client_new(SASLMECH_MECH_GSSAPI, cr, NULL, 0, &cl), SASLMECH_INVALID_ARGUMENT);
    CHECK(cl == NULL);
    saslmech_credentials_free(cr);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "noticket") == 0) {
        test_without_ticket();
    } else {
        test_service_field();
        test_with_ticket();
    }
    printf("checks: %u\n", checks);
    if (failures) {
        fprintf(stderr, "%u of %u checks failed\n", failures, checks);
        return 1;
    }
    return 0;
}
