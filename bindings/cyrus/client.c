/*
 * saslmech's Cyrus SASL plugin, client side: sasl_client_plug_init and the mechanism steps,
 * each forwarding to saslmech's client (saslmech_client_*).
 *
 * Credentials come from the application's SASL_CB_AUTHNAME, SASL_CB_USER and SASL_CB_PASS
 * callbacks or, when it has none, from SASL_INTERACT prompts. For OAUTHBEARER and XOAUTH2 the
 * "password" is the bearer token, as Postfix's smtp_sasl_password_maps hands it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

enum client_state {
    CS_NEW,         /* no saslmech session yet (credentials not gathered) */
    CS_RUNNING,     /* messages go back and forth */
    CS_OAUTH_ERROR, /* the server sent an OAuth error challenge, answered; the login failed */
    CS_DONE,        /* finished (doneflag set) */
};

struct client_ctx {
    const struct smc_mech *mech;
    saslmech_client *client;
    enum client_state state;
    unsigned steps; /* server challenges answered */
};

static sasl_client_plug_t client_plugs[SMC_MAX_MECHS];

/* ---- credentials ------------------------------------------------------------------------ */

static sasl_interact_t *find_prompt(sasl_interact_t **prompt_need, unsigned long id)
{
    sasl_interact_t *p;
    if (prompt_need == NULL || *prompt_need == NULL) return NULL;
    for (p = *prompt_need; p->id != SASL_CB_LIST_END; p++) {
        if (p->id == id) return p;
    }
    return NULL;
}

/* A simple value (SASL_CB_AUTHNAME, SASL_CB_USER): from an answered prompt, else from the
 * application's callback. SASL_INTERACT: neither exists (prompt for it). */
static int get_simple(const sasl_utils_t *utils, sasl_interact_t **prompt_need,
                      unsigned long id, const char **out, unsigned *out_len)
{
    sasl_interact_t *prompt = find_prompt(prompt_need, id);
    sasl_getsimple_t *proc = NULL;
    void *context = NULL;
    int r;

    *out = NULL;
    *out_len = 0;
    if (prompt != NULL) {
        if (prompt->result == NULL) return SASL_BADPARAM;
        *out = prompt->result;
        /* Some applications fill in the result without its length. */
        *out_len = prompt->len != 0 ? prompt->len : (unsigned)strlen(prompt->result);
        return SASL_OK;
    }
    r = utils->getcallback(utils->conn, id, (sasl_callback_ft *)&proc, &context);
    if (r == SASL_INTERACT) return SASL_INTERACT;
    if (r != SASL_OK || proc == NULL) return r == SASL_OK ? SASL_FAIL : r;
    r = proc(context, (int)id, out, out_len);
    if (r != SASL_OK) return r;
    if (*out != NULL && *out_len == 0) *out_len = (unsigned)strlen(*out);
    return SASL_OK;
}

/* The password (or token): from an answered prompt, else from the SASL_CB_PASS callback. */
static int get_password(const sasl_utils_t *utils, sasl_interact_t **prompt_need,
                        const char **out, unsigned *out_len)
{
    sasl_interact_t *prompt = find_prompt(prompt_need, SASL_CB_PASS);
    sasl_getsecret_t *proc = NULL;
    sasl_secret_t *secret = NULL;
    void *context = NULL;
    int r;

    *out = NULL;
    *out_len = 0;
    if (prompt != NULL) {
        if (prompt->result == NULL) return SASL_BADPARAM;
        *out = prompt->result;
        /* Some applications fill in the result without its length. */
        *out_len = prompt->len != 0 ? prompt->len : (unsigned)strlen(prompt->result);
        return SASL_OK;
    }
    r = utils->getcallback(utils->conn, SASL_CB_PASS, (sasl_callback_ft *)&proc, &context);
    if (r == SASL_INTERACT) return SASL_INTERACT;
    if (r != SASL_OK || proc == NULL) return r == SASL_OK ? SASL_FAIL : r;
    r = proc(utils->conn, context, SASL_CB_PASS, &secret);
    if (r != SASL_OK) return r;
    if (secret == NULL) return SASL_BADPARAM;
    *out = (const char *)secret->data;
    *out_len = (unsigned)secret->len;
    return SASL_OK;
}

/* Asks the application for the values it has no callback for. */
static int make_prompts(const sasl_utils_t *utils, sasl_interact_t **prompt_need, int want_auth,
                        int want_user, int want_pass, const struct smc_mech *mech)
{
    size_t n = (size_t)(want_auth + want_user + want_pass), i = 0;
    sasl_interact_t *prompts = utils->malloc(sizeof(sasl_interact_t) * (n + 1));
    if (prompts == NULL) return SASL_NOMEM;
    memset(prompts, 0, sizeof(sasl_interact_t) * (n + 1));
    if (want_user) {
        prompts[i].id = SASL_CB_USER;
        prompts[i].challenge = "Authorization Name";
        prompts[i].prompt = "Please enter your authorization name";
        i++;
    }
    if (want_auth) {
        prompts[i].id = SASL_CB_AUTHNAME;
        prompts[i].challenge = "Authentication Name";
        prompts[i].prompt = "Please enter your authentication name";
        i++;
    }
    if (want_pass) {
        prompts[i].id = SASL_CB_PASS;
        prompts[i].challenge = mech->kind == SMC_OAUTH ? "Bearer token" : "Password";
        prompts[i].prompt = mech->kind == SMC_OAUTH ? "Please enter your OAuth 2.0 bearer token"
                                                    : "Please enter your password";
        i++;
    }
    prompts[i].id = SASL_CB_LIST_END;
    if (prompt_need == NULL) {
        utils->free(prompts);
        return SASL_BADPARAM;
    }
    *prompt_need = prompts;
    return SASL_INTERACT;
}

/* "a.b.c.d;port" (libsasl2's ipremoteport): the port, or 0. */
static uint16_t remote_port(const sasl_client_params_t *cparams)
{
    const char *semi;
    unsigned long port;
    char *end = NULL;
    if (cparams->ipremoteport == NULL) return 0;
    semi = strrchr(cparams->ipremoteport, ';');
    if (semi == NULL) return 0;
    port = strtoul(semi + 1, &end, 10);
    if (end == semi + 1 || *end != '\0' || port == 0 || port > 65535) return 0;
    return (uint16_t)port;
}

static int set_text(saslmech_credentials *creds, saslmech_credential field, const char *value,
                    unsigned len)
{
    return saslmech_credentials_set(creds, field, (const uint8_t *)value, len) == SASLMECH_OK
               ? SASL_OK
               : SASL_BADPARAM;
}

/* Gathers the credentials, canonicalizes the identities and makes the saslmech session. */
static int client_begin(struct client_ctx *ctx, sasl_client_params_t *cparams,
                        sasl_interact_t **prompt_need, sasl_out_params_t *oparams)
{
    const sasl_utils_t *utils = cparams->utils;
    const struct smc_mech *mech = ctx->mech;
    const char *authid = NULL, *user = NULL, *pass = NULL;
    unsigned authid_len = 0, user_len = 0, pass_len = 0;
    int r_auth, r_user, r_pass, r;
    saslmech_credentials *creds = NULL;
    saslmech_client_config *config = NULL;
    saslmech_mechanism id = mech->id;
    saslmech_result sr;

    r_auth = get_simple(utils, prompt_need, SASL_CB_AUTHNAME, &authid, &authid_len);
    r_user = get_simple(utils, prompt_need, SASL_CB_USER, &user, &user_len);
    /* SASL_CB_USER is optional, as in Cyrus's own plugins: an application without that
     * callback (Postfix's SMTP client has only AUTHNAME and PASS) names no authzid. */
    if (r_user == SASL_FAIL) {
        r_user = SASL_OK;
        user = NULL;
        user_len = 0;
    }
    r_pass = get_password(utils, prompt_need, &pass, &pass_len);
    r = r_auth != SASL_OK && r_auth != SASL_INTERACT   ? r_auth
        : r_user != SASL_OK && r_user != SASL_INTERACT ? r_user
        : r_pass != SASL_OK && r_pass != SASL_INTERACT ? r_pass
                                                       : SASL_OK;
    if (r != SASL_OK) goto out;
    if (r_auth == SASL_INTERACT || r_pass == SASL_INTERACT) {
        /* Prompt for everything missing; the authorization name only along with the rest
         * (it is optional). */
        if (prompt_need != NULL && *prompt_need != NULL) {
            /* Prompts were answered, yet something is still missing: do not loop. */
            r = SASL_BADPARAM;
            goto out;
        }
        return make_prompts(utils, prompt_need, r_auth == SASL_INTERACT,
                            r_user == SASL_INTERACT, r_pass == SASL_INTERACT, mech);
    }
    if (r_user == SASL_INTERACT) {
        user = NULL;
        user_len = 0;
    }

    /* Canonicalize, as libsasl2 requires of every client plugin. */
    if (authid == NULL || authid_len == 0) {
        smc_seterror(utils, 0, "%s: no authentication name", mech->name);
        r = SASL_BADPARAM;
        goto out;
    } else if (user != NULL && user_len > 0 &&
               (user_len != authid_len || memcmp(user, authid, user_len) != 0)) {
        r = cparams->canon_user(utils->conn, user, user_len, SASL_CU_AUTHZID, oparams);
        if (r == SASL_OK)
            r = cparams->canon_user(utils->conn, authid, authid_len, SASL_CU_AUTHID, oparams);
    } else {
        user = NULL;
        user_len = 0;
        r = cparams->canon_user(utils->conn, authid, authid_len,
                                SASL_CU_AUTHID | SASL_CU_AUTHZID, oparams);
    }
    if (r != SASL_OK) goto out;

    /* The saslmech credentials (copied into the session, then freed here). */
    if (saslmech_credentials_new(&creds) != SASLMECH_OK) {
        r = SASL_NOMEM;
        goto out;
    }
    r = set_text(creds, SASLMECH_CREDENTIAL_AUTHCID, authid, authid_len);
    if (r == SASL_OK)
        r = set_text(creds,
                     mech->kind == SMC_OAUTH ? SASLMECH_CREDENTIAL_TOKEN
                                             : SASLMECH_CREDENTIAL_PASSWORD,
                     pass, pass_len);
    if (r == SASL_OK && user != NULL && user_len > 0)
        r = set_text(creds, SASLMECH_CREDENTIAL_AUTHZID, user, user_len);
    if (r == SASL_OK && mech->id == SASLMECH_MECH_OAUTHBEARER) {
        /* host= and port= are optional: only what is known and valid. */
        if (cparams->serverFQDN != NULL && cparams->serverFQDN[0] != '\0')
            (void)saslmech_credentials_set(creds, SASLMECH_CREDENTIAL_HOST,
                                           (const uint8_t *)cparams->serverFQDN,
                                           strlen(cparams->serverFQDN));
        if (remote_port(cparams) != 0)
            (void)saslmech_credentials_set_port(creds, remote_port(cparams));
    }
    if (r != SASL_OK) {
        smc_seterror(utils, 0, "%s: the credentials are not valid UTF-8", mech->name);
        goto out;
    }

    /* Channel binding: libsasl2 strips -PLUS from the name and says here whether the client
     * chose it (USED), could have (WANT: the server did not offer -PLUS) or cannot (NONE). */
    if (mech->kind == SMC_SCRAM && cparams->cbinding != NULL &&
        cparams->cbindingdisp != SASL_CB_DISP_NONE) {
        saslmech_channel_binding kind = smc_cb_kind(cparams->cbinding->name);
        if (kind == 0 || cparams->cbinding->data == NULL || cparams->cbinding->len == 0) {
            smc_seterror(utils, 0, "%s: unsupported channel binding %s", mech->name,
                         cparams->cbinding->name ? cparams->cbinding->name : "(none)");
            r = SASL_BADBINDING;
            goto out;
        }
        if (saslmech_client_config_new(&config) != SASLMECH_OK ||
            saslmech_client_config_set_channel_binding(config, kind, cparams->cbinding->data,
                                                       cparams->cbinding->len) != SASLMECH_OK) {
            r = SASL_NOMEM;
            goto out;
        }
        if (cparams->cbindingdisp == SASL_CB_DISP_USED) id = mech->plus_id;
    }

    sr = saslmech_client_new(id, creds, config, 0, &ctx->client);
    if (sr != SASLMECH_OK) {
        smc_seterror(utils, 0, "%s: %s", mech->name,
                     sr == SASLMECH_INVALID_ARGUMENT
                         ? (mech->kind == SMC_OAUTH
                                ? "the token (the password) is missing or not an OAuth 2.0 "
                                  "bearer token"
                                : "the credentials are missing or contain NUL")
                         : saslmech_strerror(sr));
        r = sr == SASLMECH_INVALID_ARGUMENT ? SASL_BADPARAM : SASL_FAIL;
        goto out;
    }
    r = SASL_OK;

out:
    saslmech_credentials_free(creds);
    saslmech_client_config_free(config);
    /* The answered prompts are no longer needed (their results belong to the application). */
    if (r != SASL_INTERACT && prompt_need != NULL && *prompt_need != NULL) {
        utils->free(*prompt_need);
        *prompt_need = NULL;
    }
    return r;
}

/* ---- the exchange ----------------------------------------------------------------------- */

static int client_failed(struct client_ctx *ctx, const sasl_utils_t *utils, int fallback)
{
    saslmech_failure failure = 0;
    if (saslmech_client_failure(ctx->client, &failure) != SASLMECH_OK) {
        smc_seterror(utils, 0, "%s: the exchange failed", ctx->mech->name);
        return fallback;
    }
    smc_seterror(utils, 0, "%s: %s", ctx->mech->name, saslmech_failure_str(failure));
    return smc_failure_to_sasl(failure);
}

/* The server answered the OAuth token with an error challenge: tell the application why. */
static void oauth_error(struct client_ctx *ctx, const sasl_utils_t *utils)
{
    const uint8_t *status = NULL, *scope = NULL;
    size_t status_len = 0, scope_len = 0;
    if (saslmech_client_oauth_error(ctx->client, SASLMECH_OAUTH_STATUS, &status, &status_len) !=
        SASLMECH_OK) {
        status = (const uint8_t *)"(none)";
        status_len = 6;
    }
    if (saslmech_client_oauth_error(ctx->client, SASLMECH_OAUTH_SCOPE, &scope, &scope_len) !=
        SASLMECH_OK) {
        scope = (const uint8_t *)"";
        scope_len = 0;
    }
    smc_seterror(utils, 0, "%s: the server rejected the token: status %.*s%s%.*s",
                 ctx->mech->name, (int)status_len, (const char *)status,
                 scope_len > 0 ? ", scope " : "", (int)scope_len, (const char *)scope);
    smc_log(utils, SASL_LOG_FAIL,
            "saslmech: %s: the server rejected the token: status %.*s", ctx->mech->name,
            (int)status_len, (const char *)status);
}

static int client_mech_new(void *glob_context, sasl_client_params_t *cparams,
                           void **conn_context)
{
    struct client_ctx *ctx = cparams->utils->malloc(sizeof(*ctx));
    if (ctx == NULL) return SASL_NOMEM;
    memset(ctx, 0, sizeof(*ctx));
    ctx->mech = glob_context;
    ctx->state = CS_NEW;
    *conn_context = ctx;
    return SASL_OK;
}

static int client_mech_step(void *conn_context, sasl_client_params_t *cparams,
                            const char *serverin, unsigned serverinlen,
                            sasl_interact_t **prompt_need, const char **clientout,
                            unsigned *clientoutlen, sasl_out_params_t *oparams)
{
    struct client_ctx *ctx = conn_context;
    const sasl_utils_t *utils = cparams->utils;
    const uint8_t *out = NULL;
    size_t out_len = 0;
    int r;

    *clientout = NULL;
    *clientoutlen = 0;

    switch (ctx->state) {
    case CS_NEW: {
        bool has_ir = false;
        r = client_begin(ctx, cparams, prompt_need, oparams);
        if (r != SASL_OK) return r;
        ctx->state = CS_RUNNING;
        if (saslmech_client_start(ctx->client, &has_ir, &out, &out_len) != SASLMECH_OK)
            return client_failed(ctx, utils, SASL_FAIL);
        if (has_ir) {
            *clientout = (const char *)out;
            *clientoutlen = (unsigned)out_len;
            if (ctx->mech->kind == SMC_PLAIN) {
                /* The client's only message: nothing more to verify. */
                ctx->state = CS_DONE;
                smc_set_done(oparams);
                return SASL_OK;
            }
            /* OAuth: not done yet, the server may still answer with an error challenge. */
            return SASL_CONTINUE;
        }
        if (serverin == NULL) return SASL_CONTINUE; /* the server speaks first */
        break;                                      /* answer this challenge below */
    }
    case CS_RUNNING: break;
    case CS_OAUTH_ERROR:
        /* The error challenge was answered; whatever comes now, the login failed. */
        return SASL_BADAUTH;
    case CS_DONE:
    default:
        smc_seterror(utils, 0, "%s: the exchange is already finished",
                     ctx->mech->name);
        return SASL_BADPROT;
    }

    if (serverin == NULL) serverin = "";

    switch (ctx->mech->kind) {
    case SMC_SCRAM:
        if (ctx->steps == 1) {
            /* server-final, as a challenge or as success data: verify the server's proof. */
            if (saslmech_client_finish(ctx->client, (const uint8_t *)serverin, serverinlen) !=
                SASLMECH_OK)
                return client_failed(ctx, utils, SASL_BADSERV);
            ctx->state = CS_DONE;
            smc_set_done(oparams);
            return SASL_OK;
        }
        break;
    case SMC_OAUTH:
        if (serverinlen == 0) {
            /* Success without data (the application finishing the exchange). */
            if (saslmech_client_finish(ctx->client, NULL, 0) != SASLMECH_OK)
                return client_failed(ctx, utils, SASL_BADPROT);
            ctx->state = CS_DONE;
            smc_set_done(oparams);
            return SASL_OK;
        }
        break;
    default: break;
    }

    if (saslmech_client_step(ctx->client, (const uint8_t *)serverin, serverinlen, &out,
                             &out_len) != SASLMECH_OK)
        return client_failed(ctx, utils, SASL_BADPROT);
    ctx->steps++;
    *clientout = (const char *)out;
    *clientoutlen = (unsigned)out_len;

    switch (ctx->mech->kind) {
    case SMC_OAUTH:
        /* The answer to the error challenge (XOAUTH2's empty response, OAUTHBEARER's ^A)
         * goes out so that the server ends the exchange; the login has failed. */
        oauth_error(ctx, utils);
        ctx->state = CS_OAUTH_ERROR;
        return SASL_CONTINUE;
    case SMC_LOGIN:
        if (ctx->steps < 2) return SASL_CONTINUE;
        break;
    case SMC_SCRAM: return SASL_CONTINUE; /* client-final sent; server-final comes next */
    default: break;
    }
    ctx->state = CS_DONE;
    smc_set_done(oparams);
    return SASL_OK;
}

static void client_mech_dispose(void *conn_context, const sasl_utils_t *utils)
{
    struct client_ctx *ctx = conn_context;
    if (ctx == NULL) return;
    saslmech_client_free(ctx->client);
    utils->free(ctx);
}

SMC_EXPORT int sasl_client_plug_init(const sasl_utils_t *utils, int max_version,
                                     int *out_version, sasl_client_plug_t **pluglist,
                                     int *plugcount);

int sasl_client_plug_init(const sasl_utils_t *utils, int max_version, int *out_version,
                          sasl_client_plug_t **pluglist, int *plugcount)
{
    int enabled[SMC_MAX_MECHS];
    size_t i;
    int n = 0;

    if (max_version < SASL_CLIENT_PLUG_VERSION) {
        smc_seterror(utils, 0, "saslmech: libsasl2 client plugin version %d < %d",
                     max_version, SASL_CLIENT_PLUG_VERSION);
        return SASL_BADVERS;
    }
    smc_enabled(utils, enabled);
    memset(client_plugs, 0, sizeof(client_plugs));
    for (i = 0; i < smc_mech_count; i++) {
        if (!enabled[i]) continue;
        client_plugs[n].mech_name = smc_mechs[i].name;
        client_plugs[n].max_ssf = 0;
        client_plugs[n].security_flags = smc_mechs[i].security_flags;
        client_plugs[n].features = smc_mechs[i].client_features;
        client_plugs[n].required_prompts = NULL;
        client_plugs[n].glob_context = (void *)&smc_mechs[i];
        client_plugs[n].mech_new = client_mech_new;
        client_plugs[n].mech_step = client_mech_step;
        client_plugs[n].mech_dispose = client_mech_dispose;
        n++;
    }
    if (n == 0) return SASL_NOMECH;
    *out_version = SASL_CLIENT_PLUG_VERSION;
    *pluglist = client_plugs;
    *plugcount = n;
    return SASL_OK;
}
