/*
 * In-process libsasl2 test: a client and a server connection in one process, talking through
 * memory. The client side loads its plugins from one directory and the server side from
 * another, so that each pairing (saslmech's plugin against Cyrus's own plugins, either way,
 * or against itself) runs through the real libsasl2 glue.
 *
 *   inproc -c CLIENT_PLUGIN_DIR -s SERVER_PLUGIN_DIR -f CONF_DIR [-r REALM]
 *          [-a APP] [-l] [-k USER:PASSWORD] CASE...
 *
 * The server application is APP (default "sample": CONF_DIR/sample.conf). -l prints the
 * mechanisms the server and the client sides offer (sasl_listmech) as "server: ..." and
 * "client: ...". -k stores SCRAM-SHA-256 keys for USER, SCRAM-SHA-1 keys for USER-sha1 and
 * SCRAM-SHA-512 keys for USER-sha512 as RFC 5803 authPassword values through the auxprop layer
 * (no userPassword), computed with saslmech_scram_keys_derive. Each CASE is
 *   MECH,USER,PASSWORD,EXPECT[,OPTION...]
 * EXPECT: ok (both sides succeed, the server's SASL_USERNAME is the expected user) or fail
 * (the server refuses). OPTIONs:
 *   authz=NAME    the authorization identity
 *   ext=ID        an external identity on both sides
 *   cb            channel-binding data on both sides
 *   cbbad         different channel-binding data on the client (a man in the middle)
 *   sd            the protocol carries success data
 *   noplain       the client sets SASL_SEC_NOPLAINTEXT
 *   noir          the protocol has no initial response
 *   interact      the client has no credential callbacks: SASL_INTERACT prompts
 *   detail=TEXT   the client's sasl_errdetail must contain TEXT
 *   sdetail=TEXT  the server's must
 *   as=NAME       the expected SASL_USERNAME (by default the user, or the authz name, with
 *                 "@REALM" appended when it has no "@")
 * Prints one line per case; exits 0 only if every case matched its expectation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "saslmech.h"

struct test_case {
    char mech[64];
    char user[256];
    char authz[256];
    char expect_as[256];
    char detail[256];
    char sdetail[256];
    char ext[256];
    int expect_ok, cb, cb_bad, success_data, noplain, no_ir, interact;
    sasl_secret_t *secret;
};

static const char *client_dir, *server_dir, *conf_dir;
static const char *realm = "localhost";
static int verbose;

/* -l: what each side offers, as an application sees it. */
static int list_mechs(void)
{
    sasl_callback_t interact_cbs[] = {
        {SASL_CB_AUTHNAME, NULL, NULL},
        {SASL_CB_PASS, NULL, NULL},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    sasl_conn_t *server = NULL, *client = NULL;
    const char *list = NULL;
    unsigned len = 0;
    int count = 0, r = 1;
    if (sasl_server_new("smtp", "localhost", realm, NULL, NULL, NULL, 0, &server) != SASL_OK ||
        sasl_listmech(server, NULL, "", " ", "", &list, &len, &count) != SASL_OK)
        goto out;
    printf("server: %s\n", list);
    if (sasl_client_new("smtp", "localhost", NULL, NULL, interact_cbs, 0, &client) != SASL_OK ||
        sasl_listmech(client, NULL, "", " ", "", &list, &len, &count) != SASL_OK)
        goto out;
    printf("client: %s\n", list);
    r = 0;
out:
    sasl_dispose(&client);
    sasl_dispose(&server);
    return r;
}

static int getpath_client(void *context, const char **path)
{
    (void)context;
    *path = client_dir;
    return SASL_OK;
}
static int getpath_server(void *context, const char **path)
{
    (void)context;
    *path = server_dir;
    return SASL_OK;
}
static int getconfpath(void *context, char **path)
{
    (void)context;
    *path = (char *)conf_dir;
    return SASL_OK;
}
static int log_cb(void *context, int level, const char *message)
{
    (void)context;
    if (verbose || level <= SASL_LOG_ERR) fprintf(stderr, "libsasl2[%d]: %s\n", level, message);
    return SASL_OK;
}

static int get_simple(void *context, int id, const char **result, unsigned *len)
{
    struct test_case *tc = context;
    if (id == SASL_CB_AUTHNAME) {
        *result = tc->user;
    } else if (id == SASL_CB_USER) {
        *result = tc->authz;
    } else {
        return SASL_BADPARAM;
    }
    if (len) *len = (unsigned)strlen(*result);
    return SASL_OK;
}
static int get_secret(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
    struct test_case *tc = context;
    (void)conn;
    if (id != SASL_CB_PASS) return SASL_BADPARAM;
    *psecret = tc->secret;
    return SASL_OK;
}

/* Fills the prompts the client plugin asked for from the case. */
static void answer_prompts(struct test_case *tc, sasl_interact_t *prompts)
{
    for (; prompts->id != SASL_CB_LIST_END; prompts++) {
        const char *value = "";
        if (prompts->id == SASL_CB_AUTHNAME) value = tc->user;
        if (prompts->id == SASL_CB_USER) value = tc->authz;
        if (prompts->id == SASL_CB_PASS) value = (const char *)tc->secret->data;
        prompts->result = value;
        prompts->len = (unsigned)strlen(value);
    }
}

static int parse_case(const char *arg, struct test_case *tc)
{
    char buf[2048], *fields[16], *save = NULL, *tok;
    int n = 0, i;
    const char *pass;
    size_t plen;
    memset(tc, 0, sizeof(*tc));
    if (strlen(arg) >= sizeof(buf)) return -1;
    strcpy(buf, arg);
    /* Empty fields are allowed: split by hand. */
    tok = buf;
    fields[n++] = tok;
    while ((tok = strchr(tok, ',')) != NULL && n < 16) {
        *tok++ = '\0';
        fields[n++] = tok;
    }
    (void)save;
    if (n < 4) return -1;
    snprintf(tc->mech, sizeof(tc->mech), "%s", fields[0]);
    snprintf(tc->user, sizeof(tc->user), "%s", fields[1]);
    snprintf(tc->expect_as, sizeof(tc->expect_as), "%s", fields[1]);
    pass = fields[2];
    tc->expect_ok = strcmp(fields[3], "ok") == 0;
    for (i = 4; i < n; i++) {
        if (strncmp(fields[i], "authz=", 6) == 0) {
            snprintf(tc->authz, sizeof(tc->authz), "%s", fields[i] + 6);
            snprintf(tc->expect_as, sizeof(tc->expect_as), "%s", fields[i] + 6);
        } else if (strncmp(fields[i], "as=", 3) == 0) {
            snprintf(tc->expect_as, sizeof(tc->expect_as), "%s", fields[i] + 3);
        } else if (strncmp(fields[i], "ext=", 4) == 0) {
            snprintf(tc->ext, sizeof(tc->ext), "%s", fields[i] + 4);
        } else if (strncmp(fields[i], "sdetail=", 8) == 0) {
            snprintf(tc->sdetail, sizeof(tc->sdetail), "%s", fields[i] + 8);
        } else if (strncmp(fields[i], "detail=", 7) == 0) {
            snprintf(tc->detail, sizeof(tc->detail), "%s", fields[i] + 7);
        } else if (strcmp(fields[i], "cb") == 0) {
            tc->cb = 1;
        } else if (strcmp(fields[i], "cbbad") == 0) {
            tc->cb = 1;
            tc->cb_bad = 1;
        } else if (strcmp(fields[i], "noplain") == 0) {
            tc->noplain = 1;
        } else if (strcmp(fields[i], "sd") == 0) {
            tc->success_data = 1;
        } else if (strcmp(fields[i], "noir") == 0) {
            tc->no_ir = 1;
        } else if (strcmp(fields[i], "interact") == 0) {
            tc->interact = 1;
        } else {
            return -1;
        }
    }
    /* libsasl2's canonical name carries the realm. */
    if (strchr(tc->expect_as, '@') == NULL && realm[0] != '\0') {
        size_t l = strlen(tc->expect_as);
        snprintf(tc->expect_as + l, sizeof(tc->expect_as) - l, "@%s", realm);
    }
    plen = strlen(pass);
    tc->secret = malloc(sizeof(sasl_secret_t) + plen + 1);
    if (tc->secret == NULL) return -1;
    tc->secret->len = (unsigned long)plen;
    memcpy(tc->secret->data, pass, plen + 1);
    return 0;
}

/* The client's step, answering prompts as an interactive application would. */
static int client_step(struct test_case *tc, sasl_conn_t *conn, const char *in, unsigned inlen,
                       const char **out, unsigned *outlen)
{
    sasl_interact_t *prompts = NULL;
    int r, rounds = 0;
    do {
        r = sasl_client_step(conn, in, inlen, &prompts, out, outlen);
        if (r == SASL_INTERACT) answer_prompts(tc, prompts);
    } while (r == SASL_INTERACT && ++rounds < 3);
    return r;
}

/* Runs one case; returns 1 if it matched its expectation. */
static int run_case(struct test_case *tc)
{
    sasl_callback_t client_cbs[] = {
        {SASL_CB_AUTHNAME, (sasl_callback_ft)&get_simple, tc},
        {SASL_CB_USER, (sasl_callback_ft)&get_simple, tc},
        {SASL_CB_PASS, (sasl_callback_ft)&get_secret, tc},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    /* An interactive application lists the values it will prompt for, with no procedure. */
    sasl_callback_t interact_cbs[] = {
        {SASL_CB_AUTHNAME, NULL, NULL},
        {SASL_CB_USER, NULL, NULL},
        {SASL_CB_PASS, NULL, NULL},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    static const unsigned char cb_data[32] = "saslmech-test-channel-binding-32";
    static const unsigned char other_data[32] = "a-different-tls-connection-32byt";
    sasl_channel_binding_t cb = {"tls-exporter", 0, sizeof(cb_data), cb_data};
    sasl_channel_binding_t cb_other = {"tls-exporter", 0, sizeof(other_data), other_data};
    sasl_conn_t *client = NULL, *server = NULL;
    sasl_interact_t *prompts = NULL;
    const char *cout = NULL, *sout = NULL, *chosen = NULL;
    unsigned coutlen = 0, soutlen = 0;
    int cr, sr = SASL_FAIL, rounds, ok = 0, server_ok = 0, client_ok = 0;
    const void *username = NULL;
    const char *client_detail = "", *server_detail = "";
    char cdetail[512] = "", sdetail[512] = "";

    if (sasl_server_new("smtp", "localhost", realm, "127.0.0.1;25", "127.0.0.1;40000", NULL,
                        tc->success_data ? SASL_SUCCESS_DATA : 0, &server) != SASL_OK ||
        sasl_client_new("smtp", "localhost", "127.0.0.1;40000", "127.0.0.1;25",
                        tc->interact ? interact_cbs : client_cbs, 0, &client) != SASL_OK) {
        printf("FAIL %s: cannot make connections\n", tc->mech);
        goto out;
    }
    if (tc->ext[0] != '\0') {
        sasl_ssf_t ssf = 256;
        sasl_setprop(server, SASL_SSF_EXTERNAL, &ssf);
        sasl_setprop(server, SASL_AUTH_EXTERNAL, tc->ext);
        sasl_setprop(client, SASL_SSF_EXTERNAL, &ssf);
        sasl_setprop(client, SASL_AUTH_EXTERNAL, tc->ext);
    }
    if (tc->cb) {
        sasl_setprop(server, SASL_CHANNEL_BINDING, &cb);
        sasl_setprop(client, SASL_CHANNEL_BINDING, tc->cb_bad ? &cb_other : &cb);
    }
    {
        /* A loopback test: plaintext mechanisms allowed. */
        sasl_security_properties_t props;
        memset(&props, 0, sizeof(props));
        props.maxbufsize = 65536;
        props.max_ssf = 256;
        sasl_setprop(server, SASL_SEC_PROPS, &props);
        /* noplain: the client refuses mechanisms open to a passive attack (Postfix's SMTP
         * client's default smtp_sasl_security_options = noplaintext). */
        if (tc->noplain) props.security_flags = SASL_SEC_NOPLAINTEXT;
        sasl_setprop(client, SASL_SEC_PROPS, &props);
    }

    rounds = 0;
    do {
        cr = sasl_client_start(client, tc->mech, &prompts, tc->no_ir ? NULL : &cout,
                               tc->no_ir ? NULL : &coutlen, &chosen);
        if (cr == SASL_INTERACT) answer_prompts(tc, prompts);
    } while (cr == SASL_INTERACT && ++rounds < 3);
    if (cr != SASL_OK && cr != SASL_CONTINUE) goto done;
    sr = sasl_server_start(server, chosen, (tc->no_ir || cout == NULL) ? NULL : cout,
                           (tc->no_ir || cout == NULL) ? 0 : coutlen, &sout, &soutlen);
    for (rounds = 0; sr == SASL_CONTINUE && rounds < 10; rounds++) {
        cr = client_step(tc, client, sout, soutlen, &cout, &coutlen);
        if (cr != SASL_OK && cr != SASL_CONTINUE) break;
        sr = sasl_server_step(server, cout, coutlen, &sout, &soutlen);
    }
    if (sr == SASL_OK) {
        server_ok = 1;
        /* Success data (or none): the client finishes, verifying it if it can. */
        if (cr == SASL_CONTINUE)
            cr = client_step(tc, client, sout, sout ? soutlen : 0, &cout, &coutlen);
        client_ok = cr == SASL_OK;
        if (sasl_getprop(server, SASL_USERNAME, &username) != SASL_OK) username = NULL;
    }

done:
    client_detail = sasl_errdetail(client);
    server_detail = sasl_errdetail(server);
    snprintf(cdetail, sizeof(cdetail), "%s", client_detail ? client_detail : "");
    snprintf(sdetail, sizeof(sdetail), "%s", server_detail ? server_detail : "");
    if (tc->expect_ok) {
        ok = server_ok && client_ok && username != NULL &&
             strcmp((const char *)username, tc->expect_as) == 0;
    } else {
        ok = !server_ok;
    }
    if (ok && tc->detail[0] != '\0' && strstr(cdetail, tc->detail) == NULL) ok = 0;
    if (ok && tc->sdetail[0] != '\0' && strstr(sdetail, tc->sdetail) == NULL) ok = 0;
    printf("%s %s user=%s expect=%s chosen=%s client=%d server=%d username=%s client_detail=[%s] "
           "server_detail=[%s]\n",
           ok ? "PASS" : "FAIL", tc->mech, tc->user, tc->expect_ok ? "ok" : "fail",
           chosen ? chosen : "-", cr, sr, username ? (const char *)username : "-", cdetail,
           sdetail);
out:
    sasl_dispose(&client);
    sasl_dispose(&server);
    return ok;
}

/* Stores SCRAM keys as an RFC 5803 authPassword value (no userPassword) for `user`. */
static int store_one(const char *user, saslmech_scram_hash hash, const char *password)
{
    saslmech_scram_keys *keys = NULL;
    const uint8_t *text = NULL;
    size_t len = 0;
    char *value = NULL;
    const char *list[2] = {NULL, NULL};
    const char *names[] = {"authPassword", NULL};
    struct propctx *ctx = NULL;
    sasl_conn_t *conn = NULL;
    int r = -1;

    if (saslmech_scram_keys_derive(hash, (const uint8_t *)password, strlen(password),
                                   (const uint8_t *)"saltsaltsaltsalt", 16, 4096,
                                   &keys) != SASLMECH_OK ||
        saslmech_scram_keys_to_rfc5803(keys, &text, &len) != SASLMECH_OK)
        goto out;
    value = malloc(len + 1);
    if (value == NULL) goto out;
    memcpy(value, text, len);
    value[len] = '\0';
    list[0] = value;
    if (sasl_server_new("smtp", "localhost", realm, NULL, NULL, NULL, 0, &conn) != SASL_OK)
        goto out;
    ctx = prop_new(0);
    if (ctx == NULL || prop_request(ctx, names) != SASL_OK ||
        prop_setvals(ctx, "authPassword", list) != SASL_OK)
        goto out;
    if (sasl_auxprop_store(conn, ctx, user) != SASL_OK) {
        fprintf(stderr, "sasl_auxprop_store: %s\n", sasl_errdetail(conn));
        goto out;
    }
    r = 0;
out:
    if (ctx) prop_dispose(&ctx);
    sasl_dispose(&conn);
    saslmech_scram_keys_free(keys);
    free(value);
    return r;
}

/* -k USER:PASSWORD: SCRAM-SHA-256 keys for USER, SCRAM-SHA-1 keys for USER-sha1, SCRAM-SHA-512
 * keys for USER-sha512 (sasldb keeps one value per property). */
static int store_keys(const char *spec)
{
    char user[200], user1[256], user512[256], *colon;
    snprintf(user, sizeof(user), "%s", spec);
    colon = strchr(user, ':');
    if (colon == NULL) return -1;
    *colon = '\0';
    snprintf(user1, sizeof(user1), "%s-sha1", user);
    snprintf(user512, sizeof(user512), "%s-sha512", user);
    if (store_one(user, SASLMECH_SCRAM_SHA_256, colon + 1) != 0) return -1;
    if (store_one(user512, SASLMECH_SCRAM_SHA_512, colon + 1) != 0) return -1;
    return store_one(user1, SASLMECH_SCRAM_SHA_1, colon + 1);
}

int main(int argc, char **argv)
{
    sasl_callback_t server_cbs[] = {
        {SASL_CB_GETPATH, (sasl_callback_ft)&getpath_server, NULL},
        {SASL_CB_GETCONFPATH, (sasl_callback_ft)&getconfpath, NULL},
        {SASL_CB_LOG, (sasl_callback_ft)&log_cb, NULL},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    sasl_callback_t client_cbs[] = {
        {SASL_CB_GETPATH, (sasl_callback_ft)&getpath_client, NULL},
        {SASL_CB_LOG, (sasl_callback_ft)&log_cb, NULL},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    const char *keys_spec = NULL, *app = "sample";
    int opt, i, failures = 0, cases = 0, list = 0;

    while ((opt = getopt(argc, argv, "c:s:f:r:k:a:lv")) != -1) {
        switch (opt) {
        case 'c': client_dir = optarg; break;
        case 's': server_dir = optarg; break;
        case 'f': conf_dir = optarg; break;
        case 'r': realm = optarg; break;
        case 'k': keys_spec = optarg; break;
        case 'a': app = optarg; break;
        case 'l': list = 1; break;
        case 'v': verbose = 1; break;
        default: return 2;
        }
    }
    if (client_dir == NULL || server_dir == NULL || conf_dir == NULL) {
        fprintf(stderr, "usage: inproc -c DIR -s DIR -f CONFDIR [-k USER:PASS] CASE...\n");
        return 2;
    }
    if (sasl_server_init(server_cbs, app) != SASL_OK) {
        fprintf(stderr, "sasl_server_init failed\n");
        return 1;
    }
    if (sasl_client_init(client_cbs) != SASL_OK) {
        fprintf(stderr, "sasl_client_init failed\n");
        return 1;
    }
    if (list && list_mechs() != 0) {
        fprintf(stderr, "listing the mechanisms failed\n");
        failures++;
    }
    if (keys_spec != NULL && store_keys(keys_spec) != 0) {
        fprintf(stderr, "storing authPassword keys failed\n");
        failures++;
    }
    for (i = optind; i < argc; i++) {
        struct test_case tc;
        if (parse_case(argv[i], &tc) != 0) {
            fprintf(stderr, "bad case: %s\n", argv[i]);
            failures++;
            continue;
        }
        cases++;
        if (!run_case(&tc)) failures++;
        free(tc.secret);
    }
    sasl_done();
    printf("%d cases, %d failed\n", cases, failures);
    return failures == 0 ? 0 : 1;
}
