/*
 * saslmech's Cyrus SASL plugin, server side: sasl_server_plug_init and the mechanism steps,
 * each forwarding to a saslmech server session (saslmech_server_*) whose requests are
 * answered synchronously from libsasl2's own lookups:
 * - PLAIN, LOGIN: the password through utils->checkpass (so pwcheck_method decides);
 * - CRAM-MD5, SCRAM: the secret from the auxprop layer: userPassword (plaintext) or, for SCRAM,
 *   the RFC 5803 authPassword stored keys (the property Cyrus's own SCRAM reads);
 * - OAUTHBEARER, XOAUTH2: the bearer token through utils->checkpass, as the user's password;
 * Authorization identities go through canon_user; libsasl2 applies its proxy policy when the
 * step returns SASL_OK.
 */
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

struct server_ctx {
    const struct smc_mech *mech;
    saslmech_server *server;
};

static sasl_server_plug_t server_plugs[SMC_MAX_MECHS];

/* The secret that keys the salts SCRAM shows for unknown users and plaintext passwords: random
 * per process (set at plugin initialization). */
static unsigned char scram_secret[32];

/* canon_user on saslmech's (not NUL-terminated) bytes: libsasl2's canonicalization reads the
 * name as a C string whatever length it is given, so it gets a terminated copy. */
static int canon(sasl_server_params_t *sparams, const uint8_t *name, size_t len, unsigned flags,
                 sasl_out_params_t *oparams) {
    char *copy = smc_strndup(sparams->utils, name, len);
    int r;
    if (copy == NULL) return len > 0 && memchr(name, '\0', len) ? SASL_BADPROT : SASL_NOMEM;
    r = sparams->canon_user(sparams->utils->conn, copy, (unsigned)len, flags, oparams);
    sparams->utils->free(copy);
    return r;
}

/* ---- answering saslmech's requests ------------------------------------------------------- */

/* Verdict for a checkpass result. */
static saslmech_verdict checkpass_verdict(int r) {
    switch (r) {
    case SASL_OK: return SASLMECH_VERDICT_ACCEPT;
    case SASL_NOUSER: return SASLMECH_VERDICT_UNKNOWN_USER;
    case SASL_DISABLED: return SASLMECH_VERDICT_ACCOUNT_DISABLED;
    case SASL_UNAVAIL:
    case SASL_TRYAGAIN:
    case SASL_NOMEM: return SASLMECH_VERDICT_TEMPORARY_FAILURE;
    default: return SASLMECH_VERDICT_REJECT;
    }
}

/* Canonicalizes the authentication id, then checks the password (or token) through
 * utils->checkpass. Returns the checkpass result (or the canon_user error). */
static int check_password(sasl_server_params_t *sparams, sasl_out_params_t *oparams,
                          const uint8_t *user, size_t user_len, const uint8_t *pass,
                          size_t pass_len) {
    const sasl_utils_t *utils = sparams->utils;
    char *pw;
    int r;

    if (user_len == 0) return SASL_BADAUTH;
    r = canon(sparams, user, user_len, SASL_CU_AUTHID, oparams);
    if (r != SASL_OK) return r;
    /* sasl_checkpass wants NUL-terminated strings; a password with NUL cannot match. */
    pw = smc_strndup(utils, pass, pass_len);
    if (pw == NULL) return pass_len > 0 && memchr(pass, '\0', pass_len) ? SASL_BADAUTH : SASL_NOMEM;
    if (pass_len == 0) {
        smc_free_secret(utils, pw);
        return SASL_BADAUTH;
    }
    r = utils->checkpass(utils->conn, oparams->authid, oparams->alen, pw, (unsigned)pass_len);
    smc_free_secret(utils, pw);
    return r;
}

static saslmech_result answer_verify_password(struct server_ctx *ctx,
                                              sasl_server_params_t *sparams,
                                              sasl_out_params_t *oparams,
                                              saslmech_request *request) {
    const uint8_t *user = NULL, *pass = NULL;
    size_t user_len = 0, pass_len = 0;
    int r;
    (void)ctx;
    if (saslmech_request_authcid(request, &user, &user_len) != SASLMECH_OK ||
        saslmech_request_password(request, &pass, &pass_len) != SASLMECH_OK)
        return saslmech_request_answer(request, SASLMECH_VERDICT_REJECT);
    r = check_password(sparams, oparams, user, user_len, pass, pass_len);
    return saslmech_request_answer(request, checkpass_verdict(r));
}

static saslmech_result answer_token(struct server_ctx *ctx, sasl_server_params_t *sparams,
                                    sasl_out_params_t *oparams, saslmech_request *request) {
    const uint8_t *user = NULL, *token = NULL;
    size_t user_len = 0, token_len = 0;
    int r;
    saslmech_verdict verdict;
    if (saslmech_request_authcid(request, &user, &user_len) != SASLMECH_OK ||
        saslmech_request_token(request, &token, &token_len) != SASLMECH_OK)
        return saslmech_request_answer(request, SASLMECH_VERDICT_REJECT);
    if (user_len == 0) {
        /* OAUTHBEARER without a=: there is no user to check the token for. */
        smc_seterror(sparams->utils, 0,
                                 "%s: the client named no user (a=)", ctx->mech->name);
        return saslmech_request_answer(request, SASLMECH_VERDICT_REJECT);
    }
    r = check_password(sparams, oparams, user, user_len, token, token_len);
    verdict = checkpass_verdict(r);
    if (verdict == SASLMECH_VERDICT_ACCEPT)
        return saslmech_request_answer_token_owner(request, user, user_len);
    if (verdict == SASLMECH_VERDICT_TEMPORARY_FAILURE)
        return saslmech_request_answer(request, verdict);
    /* The error challenge each mechanism's clients expect. */
    if (ctx->mech->id == SASLMECH_MECH_XOAUTH2)
        return saslmech_request_answer_token_error(request, (const uint8_t *)"401", 3, NULL, 0);
    return saslmech_request_answer_token_error(request, (const uint8_t *)"invalid_token", 13,
                                               NULL, 0);
}

/* CRAM-MD5 and SCRAM: the stored secret from the auxprop layer. */
static saslmech_result answer_secret(struct server_ctx *ctx, sasl_server_params_t *sparams,
                                     sasl_out_params_t *oparams, saslmech_request *request) {
    const sasl_utils_t *utils = sparams->utils;
    const char *names_scram[] = {SASL_AUX_PASSWORD, "*authPassword", NULL};
    const char *names_cram[] = {SASL_AUX_PASSWORD, NULL};
    const char **names = ctx->mech->kind == SMC_SCRAM ? names_scram : names_cram;
    struct propval values[2];
    const uint8_t *user = NULL;
    size_t user_len = 0;
    saslmech_result sr = SASLMECH_OK;
    int r;

    if (saslmech_request_authcid(request, &user, &user_len) != SASLMECH_OK || user_len == 0)
        return saslmech_request_answer(request, SASLMECH_VERDICT_UNKNOWN_USER);
    r = utils->prop_request(sparams->propctx, names);
    if (r != SASL_OK) return saslmech_request_answer(request, SASLMECH_VERDICT_TEMPORARY_FAILURE);
    /* canon_user looks the properties up. The authorization identity, if the client sends
     * one, is canonicalized after success. */
    r = canon(sparams, user, user_len, SASL_CU_AUTHID | SASL_CU_AUTHZID, oparams);
    if (r != SASL_OK) return saslmech_request_answer(request, SASLMECH_VERDICT_UNKNOWN_USER);

    memset(values, 0, sizeof(values));
    r = utils->prop_getnames(sparams->propctx, names, values);
    if (r >= 0 && values[0].name != NULL && values[0].values != NULL &&
        values[0].values[0] != NULL) {
        const char *pw = values[0].values[0];
        sr = saslmech_request_answer_password(request, (const uint8_t *)pw, strlen(pw));
        utils->prop_erase(sparams->propctx, SASL_AUX_PASSWORD);
        return sr;
    }
    if (ctx->mech->kind == SMC_SCRAM && r >= 0 && values[1].name != NULL &&
        values[1].values != NULL) {
        size_t i;
        for (i = 0; values[1].values[i] != NULL; i++) {
            saslmech_scram_keys *keys = NULL;
            saslmech_scram_hash hash = 0;
            uint32_t iterations = 0;
            const char *v = values[1].values[i];
            while (*v == ' ') v++;
            if (saslmech_scram_keys_from_rfc5803((const uint8_t *)v, strlen(v), &keys) !=
                SASLMECH_OK)
                continue;
            if (saslmech_scram_keys_params(keys, &hash, &iterations) == SASLMECH_OK &&
                hash == ctx->mech->hash) {
                sr = saslmech_request_answer_scram_keys(request, keys);
                saslmech_scram_keys_free(keys);
                return sr;
            }
            saslmech_scram_keys_free(keys);
        }
    }
    return saslmech_request_answer(request, SASLMECH_VERDICT_UNKNOWN_USER);
}

static int answer(struct server_ctx *ctx, sasl_server_params_t *sparams,
                  sasl_out_params_t *oparams) {
    saslmech_request *request = NULL;
    saslmech_request_kind kind = 0;
    saslmech_result sr;

    if (saslmech_server_request(ctx->server, &request, &kind) != SASLMECH_OK) return SASL_FAIL;
    switch (kind) {
    case SASLMECH_REQUEST_VERIFY_PASSWORD:
        sr = answer_verify_password(ctx, sparams, oparams, request);
        break;
    case SASLMECH_REQUEST_VALIDATE_TOKEN: sr = answer_token(ctx, sparams, oparams, request); break;
    case SASLMECH_REQUEST_SECRET: sr = answer_secret(ctx, sparams, oparams, request); break;
    case SASLMECH_REQUEST_AUTHORIZE:
        /* libsasl2 decides: after SASL_OK it applies its proxy policy (the application's
         * SASL_CB_PROXY_POLICY, by default authid == authzid) to the canonicalized ids. */
        sr = saslmech_request_answer(request, SASLMECH_VERDICT_ACCEPT);
        break;
    default: sr = saslmech_request_answer(request, SASLMECH_VERDICT_REJECT); break;
    }
    return sr == SASLMECH_OK ? SASL_OK : SASL_FAIL;
}

/* ---- success and failure ----------------------------------------------------------------- */

static int succeeded(struct server_ctx *ctx, sasl_server_params_t *sparams,
                     const char **serverout, unsigned *serveroutlen,
                     sasl_out_params_t *oparams) {
    const saslmech_identity *identity = NULL;
    const uint8_t *authcid = NULL, *authzid = NULL, *data = NULL;
    size_t authcid_len = 0, authzid_len = 0, data_len = 0;
    int r;

    if (saslmech_server_identity(ctx->server, &identity) != SASLMECH_OK ||
        saslmech_identity_authcid(identity, &authcid, &authcid_len) != SASLMECH_OK)
        return SASL_FAIL;
    if (saslmech_identity_authzid(identity, &authzid, &authzid_len) != SASLMECH_OK) {
        authzid = NULL;
        authzid_len = 0;
    }

    /* The identity to act as: the authorization identity, else the authentication one. */
    if (authzid != NULL && authzid_len > 0)
        r = canon(sparams, authzid, authzid_len, SASL_CU_AUTHZID, oparams);
    else
        r = canon(sparams, authcid, authcid_len, SASL_CU_AUTHZID, oparams);
    if (r != SASL_OK) return r;

    if (saslmech_server_message(ctx->server, &data, &data_len) == SASLMECH_OK) {
        *serverout = (const char *)data;
        *serveroutlen = (unsigned)data_len;
    }
    smc_set_done(oparams);
    return SASL_OK;
}

static int failed(struct server_ctx *ctx, const sasl_utils_t *utils) {
    saslmech_failure failure = 0;
    if (saslmech_server_failure(ctx->server, &failure) != SASLMECH_OK) return SASL_FAIL;
    smc_seterror(utils, failure == SASLMECH_FAILURE_BAD_CREDENTIALS ? SASL_NOLOG : 0,
                    "%s: %s", ctx->mech->name, saslmech_failure_str(failure));
    return smc_failure_to_sasl(failure);
}

/* ---- the exchange ----------------------------------------------------------------------- */

static int server_start(struct server_ctx *ctx, sasl_server_params_t *sparams,
                        const char *clientin, unsigned clientinlen, saslmech_status *status,
                        sasl_out_params_t *oparams) {
    const sasl_utils_t *utils = sparams->utils;
    const struct smc_mech *mech = ctx->mech;
    saslmech_server_config *config = NULL;
    saslmech_mechanism id = mech->id;
    saslmech_server_flags flags = SASLMECH_SERVER_SUCCESS_DATA;
    int tls = sparams->external_ssf > 0 || sparams->cbinding != NULL;
    saslmech_result sr;
    int r = SASL_FAIL;

    if (mech->kind == SMC_SCRAM) {
        /* libsasl2 offers SCRAM-x-PLUS through this entry; the client's GS2 flag says which
         * one it chose, and libsasl2 checks that against the channel binding it has. */
        char flag = (clientin != NULL && clientinlen > 0) ? clientin[0] : 'n';
        if (flag == 'p') {
            id = mech->plus_id;
            oparams->cbindingdisp = SASL_CB_DISP_USED;
            oparams->cbindingname = sparams->cbinding != NULL ? sparams->cbinding->name : NULL;
        } else {
            oparams->cbindingdisp = flag == 'y' ? SASL_CB_DISP_WANT : SASL_CB_DISP_NONE;
        }
    }
    if (tls) flags |= SASLMECH_SERVER_TLS;

    if (saslmech_server_config_new(&config) != SASLMECH_OK) return SASL_NOMEM;
    if (saslmech_server_config_set_mechanisms(config, &id, 1) != SASLMECH_OK ||
        saslmech_server_config_set_allow_plaintext(config, true) != SASLMECH_OK ||
        saslmech_server_config_set_scram_secret(config, scram_secret, sizeof(scram_secret)) !=
            SASLMECH_OK)
        goto out;
    /* libsasl2's security properties decide which mechanisms may run; the host name only
     * decorates CRAM-MD5's challenge (an unusable one keeps the default). */
    if (sparams->serverFQDN != NULL)
        (void)saslmech_server_config_set_hostname(config, (const uint8_t *)sparams->serverFQDN,
                                                  strlen(sparams->serverFQDN));
    if (mech->kind == SMC_SCRAM) {
        /* The iteration count for users stored as plaintext: Cyrus's own option. */
        const char *value = NULL;
        if (utils->getopt(utils->getopt_context, mech->name, "scram_iteration_counter", &value,
                          NULL) == SASL_OK &&
            value != NULL) {
            char *end = NULL;
            unsigned long n = strtoul(value, &end, 10);
            if (end != value && *end == '\0' && n > 0 && n <= 0xffffffffUL)
                (void)saslmech_server_config_set_scram_iterations(config, (uint32_t)n);
        }
    }

    sr = saslmech_server_new(config, id, flags, &ctx->server);
    if (sr != SASLMECH_OK) goto out;
    if (sparams->cbinding != NULL && sparams->cbinding->data != NULL &&
        sparams->cbinding->len > 0 && smc_cb_kind(sparams->cbinding->name) != 0)
        (void)saslmech_server_set_channel_binding(ctx->server,
                                                  smc_cb_kind(sparams->cbinding->name),
                                                  sparams->cbinding->data,
                                                  sparams->cbinding->len);
    /* clientin NULL: no initial response (server-first mechanisms, LOGIN without one). */
    if (saslmech_server_start(ctx->server, (const uint8_t *)clientin,
                              clientin != NULL ? clientinlen : 0, status) != SASLMECH_OK)
        goto out;
    r = SASL_OK;
out:
    saslmech_server_config_free(config);
    return r;
}

static int server_mech_new(void *glob_context, sasl_server_params_t *sparams,
                           const char *challenge, unsigned challen, void **conn_context) {
    struct server_ctx *ctx;
    (void)challenge;
    (void)challen;
    ctx = sparams->utils->malloc(sizeof(*ctx));
    if (ctx == NULL) return SASL_NOMEM;
    memset(ctx, 0, sizeof(*ctx));
    ctx->mech = glob_context;
    *conn_context = ctx;
    return SASL_OK;
}

static int server_mech_step(void *conn_context, sasl_server_params_t *sparams,
                            const char *clientin, unsigned clientinlen, const char **serverout,
                            unsigned *serveroutlen, sasl_out_params_t *oparams) {
    struct server_ctx *ctx = conn_context;
    const sasl_utils_t *utils = sparams->utils;
    saslmech_status status = 0;
    int r, rounds;

    *serverout = NULL;
    *serveroutlen = 0;

    if (ctx->server == NULL) {
        r = server_start(ctx, sparams, clientin, clientinlen, &status, oparams);
        if (r != SASL_OK) return r;
    } else if (saslmech_server_step(ctx->server, (const uint8_t *)(clientin ? clientin : ""),
                                    clientin ? clientinlen : 0, &status) != SASLMECH_OK) {
        smc_seterror(utils, 0, "%s: unexpected client message", ctx->mech->name);
        return SASL_BADPROT;
    }

    /* Requests are answered at once (libsasl2's lookups are synchronous); each answer moves
     * the session on. A mechanism asks at most twice (secret or password, then authorization). */
    for (rounds = 0; status == SASLMECH_STATUS_REQUEST && rounds < 8; rounds++) {
        r = answer(ctx, sparams, oparams);
        if (r != SASL_OK) return r;
        if (saslmech_server_status(ctx->server, &status) != SASLMECH_OK) return SASL_FAIL;
    }

    switch (status) {
    case SASLMECH_STATUS_CHALLENGE: {
        const uint8_t *msg = NULL;
        size_t len = 0;
        if (saslmech_server_message(ctx->server, &msg, &len) == SASLMECH_OK) {
            *serverout = (const char *)msg;
            *serveroutlen = (unsigned)len;
        } else {
            *serverout = "";
        }
        return SASL_CONTINUE;
    }
    case SASLMECH_STATUS_SUCCESS: return succeeded(ctx, sparams, serverout, serveroutlen, oparams);
    case SASLMECH_STATUS_FAILURE: return failed(ctx, utils);
    default: return SASL_FAIL;
    }
}

static void server_mech_dispose(void *conn_context, const sasl_utils_t *utils) {
    struct server_ctx *ctx = conn_context;
    if (ctx == NULL) return;
    saslmech_server_free(ctx->server);
    utils->free(ctx);
}

SMC_EXPORT int sasl_server_plug_init(const sasl_utils_t *utils, int max_version,
                                     int *out_version, sasl_server_plug_t **pluglist,
                                     int *plugcount);

int sasl_server_plug_init(const sasl_utils_t *utils, int max_version, int *out_version,
                          sasl_server_plug_t **pluglist, int *plugcount) {
    int enabled[SMC_MAX_MECHS];
    size_t i;
    int n = 0;

    if (max_version < SASL_SERVER_PLUG_VERSION) {
        smc_seterror(utils, 0, "saslmech: libsasl2 server plugin version %d < %d",
                        max_version, SASL_SERVER_PLUG_VERSION);
        return SASL_BADVERS;
    }
    utils->rand(utils->rpool, (char *)scram_secret, sizeof(scram_secret));
    smc_enabled(utils, enabled);
    memset(server_plugs, 0, sizeof(server_plugs));
    for (i = 0; i < smc_mech_count; i++) {
        if (!enabled[i]) continue;
        server_plugs[n].mech_name = smc_mechs[i].name;
        server_plugs[n].max_ssf = 0;
        server_plugs[n].security_flags = smc_mechs[i].security_flags;
        server_plugs[n].features = smc_mechs[i].server_features;
        server_plugs[n].glob_context = (void *)&smc_mechs[i];
        server_plugs[n].mech_new = server_mech_new;
        server_plugs[n].mech_step = server_mech_step;
        server_plugs[n].mech_dispose = server_mech_dispose;
        n++;
    }
    if (n == 0) return SASL_NOMECH;
    *out_version = SASL_SERVER_PLUG_VERSION;
    *pluglist = server_plugs;
    *plugcount = n;
    return SASL_OK;
}
