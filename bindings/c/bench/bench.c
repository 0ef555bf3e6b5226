/*
 * bench: saslmech against GNU SASL (libgsasl) and Cyrus SASL (libsasl2), side by side, in one
 * process and one run.
 *
 * Every measured unit is a complete in-memory handshake: a client session and a server session
 * are created, stepped to completion with raw (not base64) tokens passed from one to the other,
 * checked (the server authenticated "user", the client verified the server where the
 * mechanism has mutual authentication) and destroyed. What is set up once per process, as a
 * server would set it up once at start, is outside the measurement: saslmech's server config
 * and client credentials, GNU SASL's context and callback, Cyrus SASL's library initialisation,
 * its callbacks and the in-memory auxprop plugin that holds the user database.
 *
 * Cells (a mechanism with a library) are measured in round-robin: each round runs one batch of
 * every cell, in an order shuffled anew each round, so that machine noise (other processes,
 * frequency changes) falls on all of them alike. A cell's figure is the median over
 * the rounds of the batch's mean time per handshake. Heap allocations per handshake are
 * counted afterwards in a child process (this program again, with --count-only) that runs
 * with the LD_PRELOAD counter malloc_count.so, so the timed process is not slowed by it.
 *
 * Any failed handshake ends the program with status 2 and a message naming the cell: a broken
 * library never shows up as a fast row.
 *
 * Output (stdout or --out FILE): tab-separated lines, read by render.py:
 *   meta <key> <value>
 *   row <group> <library> ok <median_ns> <p25_ns> <p75_ns> <batch> <allocs> <bytes>
 *   row <group> <library> unsupported <reason>
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsasl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "saslmech.h"

/* ------------------------------------------------------------------------------------------ */
/* The account every handshake authenticates, and its SCRAM-SHA-256 secrets (RFC 7677's
 * example user, password and salt), derived once at start with OpenSSL. */

#define USER "user"
#define PASSWORD "pencil"
#define WRONG_PASSWORD "pencil!"
#define ITERATIONS 4096
static const char SALT_B64[] = "W22ZaJ0SNY7soEsUEjb6gQ==";

struct scram_secrets {
    unsigned char salt[64];
    size_t salt_len;
    unsigned char salted[32]; /* SaltedPassword = PBKDF2(password, salt, 4096) */
    unsigned char stored[32]; /* StoredKey = H(HMAC(SaltedPassword, "Client Key")) */
    unsigned char server[32]; /* ServerKey = HMAC(SaltedPassword, "Server Key") */
    char salted_hex[65];
    char stored_b64[45];
    char server_b64[45];
    char cyrus_auth_password[256]; /* SCRAM-SHA-256$<iter>:<salt>$<stored>:<server> */
};

static struct scram_secrets good, bad; /* bad: derived from WRONG_PASSWORD (--sabotage) */

/* --sabotage LIB: that library's server holds the wrong password and keys, so every one of
 * its handshakes must fail (proves that failures are caught, not timed). */
static const char *sabotage;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void derive_secrets(struct scram_secrets *s, const char *password)
{
    unsigned char client_key[32];
    unsigned int len = 0;
    int n;

    n = EVP_DecodeBlock(s->salt, (const unsigned char *)SALT_B64, (int)strlen(SALT_B64));
    if (n < 0)
        die("salt: bad base64");
    s->salt_len = (size_t)n - 2; /* two '=' of padding */
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), s->salt, (int)s->salt_len,
                          ITERATIONS, EVP_sha256(), 32, s->salted) != 1)
        die("PKCS5_PBKDF2_HMAC failed");
    HMAC(EVP_sha256(), s->salted, 32, (const unsigned char *)"Client Key", 10, client_key, &len);
    SHA256(client_key, 32, s->stored);
    HMAC(EVP_sha256(), s->salted, 32, (const unsigned char *)"Server Key", 10, s->server, &len);
    for (int i = 0; i < 32; i++)
        snprintf(s->salted_hex + 2 * i, 3, "%02x", s->salted[i]);
    EVP_EncodeBlock((unsigned char *)s->stored_b64, s->stored, 32);
    EVP_EncodeBlock((unsigned char *)s->server_b64, s->server, 32);
    snprintf(s->cyrus_auth_password, sizeof s->cyrus_auth_password, "SCRAM-SHA-256$%d:%s$%s:%s",
             ITERATIONS, SALT_B64, s->stored_b64, s->server_b64);
}

/* The secrets and password a library's server holds. */
static const struct scram_secrets *server_secrets(const char *lib)
{
    return sabotage != NULL && strcmp(sabotage, lib) == 0 ? &bad : &good;
}
static const char *server_password(const char *lib)
{
    return sabotage != NULL && strcmp(sabotage, lib) == 0 ? WRONG_PASSWORD : PASSWORD;
}

/* ------------------------------------------------------------------------------------------ */
/* What is measured. */

enum group {
    G_PLAIN,
    G_LOGIN,
    G_CRAM_MD5,
    G_SCRAM,       /* SCRAM-SHA-256: client derives from the password, server has stored keys */
    G_SCRAM_PROTO, /* SCRAM-SHA-256 protocol only: the client is given the salted password */
    G_PBKDF2,      /* the client's key derivation alone: PBKDF2-HMAC-SHA-256, 4096 iterations */
    G_COUNT
};

static const char *const group_names[G_COUNT] = {
    "PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "SCRAM-SHA-256 protocol only",
    "PBKDF2-SHA-256 4096",
};

static char errbuf[512];

static int fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* saslmech */

static saslmech_server_config *sm_config;
static saslmech_credentials *sm_credentials;
#ifdef SASLMECH_MECH_SCRAM_SHA_256
/* The server's stored keys (RFC 5803 text read once, as from a user database). */
static saslmech_scram_keys *sm_keys_good, *sm_keys_bad;
/* Protocol only: the client's credentials hold its cache made from the salted password (as
 * after an earlier login to this server), and no password. */
static saslmech_credentials *sm_credentials_salted;
#endif

#define SM(call)                                                                              \
    do {                                                                                      \
        saslmech_result r_ = (call);                                                          \
        if (r_ != SASLMECH_OK) {                                                              \
            rc = fail("%s: %s", #call, saslmech_strerror(r_));                               \
            goto out;                                                                         \
        }                                                                                     \
    } while (0)

static int sm_setup(void)
{
    saslmech_mechanism mechs[] = {SASLMECH_MECH_PLAIN, SASLMECH_MECH_LOGIN,
                                  SASLMECH_MECH_CRAM_MD5,
#ifdef SASLMECH_MECH_SCRAM_SHA_256
                                  SASLMECH_MECH_SCRAM_SHA_256,
#endif
    };
    int rc = 0;

    SM(saslmech_server_config_new(&sm_config));
    SM(saslmech_server_config_set_mechanisms(sm_config, mechs, sizeof mechs / sizeof mechs[0]));
    /* The handshakes run in memory, standing for a connection already protected by TLS. */
    SM(saslmech_server_config_set_allow_plaintext(sm_config, true));
    SM(saslmech_credentials_new(&sm_credentials));
    SM(saslmech_credentials_set(sm_credentials, SASLMECH_CREDENTIAL_AUTHCID, (const uint8_t *)USER,
                                strlen(USER)));
    SM(saslmech_credentials_set(sm_credentials, SASLMECH_CREDENTIAL_PASSWORD,
                                (const uint8_t *)PASSWORD, strlen(PASSWORD)));
#ifdef SASLMECH_MECH_SCRAM_SHA_256
    SM(saslmech_scram_keys_from_rfc5803((const uint8_t *)good.cyrus_auth_password,
                                        strlen(good.cyrus_auth_password), &sm_keys_good));
    SM(saslmech_scram_keys_from_rfc5803((const uint8_t *)bad.cyrus_auth_password,
                                        strlen(bad.cyrus_auth_password), &sm_keys_bad));
    {
        saslmech_scram_client_cache *cache = NULL;

        SM(saslmech_scram_client_cache_from_salted_password(SASLMECH_SCRAM_SHA_256, good.salted,
                                                            sizeof good.salted, good.salt,
                                                            good.salt_len, ITERATIONS, &cache));
        SM(saslmech_credentials_new(&sm_credentials_salted));
        SM(saslmech_credentials_set(sm_credentials_salted, SASLMECH_CREDENTIAL_AUTHCID,
                                    (const uint8_t *)USER, strlen(USER)));
        SM(saslmech_credentials_set_scram_cache(sm_credentials_salted, cache));
        saslmech_scram_client_cache_free(cache);
    }
#endif
out:
    return rc;
}

static bool bytes_eq(const uint8_t *p, size_t len, const char *s)
{
    return len == strlen(s) && memcmp(p, s, len) == 0;
}

static int sm_handshake(enum group g)
{
    saslmech_mechanism mech;
    saslmech_server *server = NULL;
    saslmech_client *client = NULL;
    saslmech_server_flags sflags = 0;
    saslmech_credentials *credentials = sm_credentials;
    saslmech_status status;
    bool has_ir = false;
    const uint8_t *out, *in;
    size_t out_len, in_len;
    int rc = 0;

    switch (g) {
    case G_PLAIN:
        mech = SASLMECH_MECH_PLAIN;
        break;
    case G_LOGIN:
        mech = SASLMECH_MECH_LOGIN;
        break;
    case G_CRAM_MD5:
        mech = SASLMECH_MECH_CRAM_MD5;
        break;
#ifdef SASLMECH_MECH_SCRAM_SHA_256
    case G_SCRAM:
        mech = SASLMECH_MECH_SCRAM_SHA_256;
        sflags = SASLMECH_SERVER_SUCCESS_DATA; /* server-final with the success reply */
        break;
    case G_SCRAM_PROTO:
        mech = SASLMECH_MECH_SCRAM_SHA_256;
        sflags = SASLMECH_SERVER_SUCCESS_DATA;
        credentials = sm_credentials_salted;
        break;
#endif
    default:
        return fail("no such group");
    }

    SM(saslmech_server_new(sm_config, mech, sflags, &server));
    SM(saslmech_client_new(mech, credentials, NULL, 0, &client));
    SM(saslmech_client_start(client, &has_ir, &out, &out_len));
    if (has_ir)
        SM(saslmech_server_start(server, out, out_len, &status));
    else
        SM(saslmech_server_start(server, NULL, 0, &status));
    for (int steps = 0;; steps++) {
        if (steps > 10) {
            rc = fail("too many steps");
            goto out;
        }
        if (status == SASLMECH_STATUS_CHALLENGE) {
            SM(saslmech_server_message(server, &in, &in_len));
            SM(saslmech_client_step(client, in, in_len, &out, &out_len));
            SM(saslmech_server_step(server, out, out_len, &status));
        } else if (status == SASLMECH_STATUS_REQUEST) {
            saslmech_request_kind kind;
            saslmech_request *req;
            const char *stored = server_password("saslmech");

            SM(saslmech_server_request(server, &req, &kind));
            SM(saslmech_request_authcid(req, &in, &in_len));
            if (!bytes_eq(in, in_len, USER)) {
                SM(saslmech_request_answer(req, SASLMECH_VERDICT_UNKNOWN_USER));
                SM(saslmech_server_status(server, &status));
                continue;
            }
            if (kind == SASLMECH_REQUEST_VERIFY_PASSWORD ||
                (kind == SASLMECH_REQUEST_SECRET && mech == SASLMECH_MECH_CRAM_MD5)) {
                SM(saslmech_request_answer_password(req, (const uint8_t *)stored, strlen(stored)));
#ifdef SASLMECH_MECH_SCRAM_SHA_256
            } else if (kind == SASLMECH_REQUEST_SECRET) {
                SM(saslmech_request_answer_scram_keys(
                    req, server_secrets("saslmech") == &good ? sm_keys_good : sm_keys_bad));
#endif
            } else {
                rc = fail("unexpected request %u", (unsigned)kind);
                goto out;
            }
            SM(saslmech_server_status(server, &status));
        } else if (status == SASLMECH_STATUS_SUCCESS) {
            if (saslmech_server_message(server, &in, &in_len) == SASLMECH_OK)
                SM(saslmech_client_finish(client, in, in_len));
            else
                SM(saslmech_client_finish(client, NULL, 0));
            const saslmech_identity *id;
            SM(saslmech_server_identity(server, &id));
            SM(saslmech_identity_authcid(id, &in, &in_len));
            if (!bytes_eq(in, in_len, USER))
                rc = fail("authenticated the wrong user");
            goto out;
        } else {
            saslmech_failure f = 0;

            saslmech_server_failure(server, &f);
            rc = fail("server failed: %s", saslmech_failure_str(f));
            goto out;
        }
    }
out:
    saslmech_client_free(client);
    saslmech_server_free(server);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* GNU SASL */

static Gsasl *gs_ctx;

struct gs_hook {
    bool server;
    bool salted; /* the client is given the salted password (protocol only) */
};

static int gs_callback(Gsasl *ctx, Gsasl_session *s, Gsasl_property prop)
{
    const struct gs_hook *hook = gsasl_session_hook_get(s);
    const struct scram_secrets *sec = server_secrets("gsasl");
    const char *authid;

    (void)ctx;
    if (hook == NULL)
        return GSASL_NO_CALLBACK;
    if (!hook->server) {
        switch (prop) {
        case GSASL_AUTHID:
            return gsasl_property_set(s, GSASL_AUTHID, USER);
        case GSASL_PASSWORD:
            return gsasl_property_set(s, GSASL_PASSWORD, PASSWORD);
        case GSASL_SCRAM_SALTED_PASSWORD:
            if (hook->salted)
                return gsasl_property_set(s, GSASL_SCRAM_SALTED_PASSWORD, good.salted_hex);
            return GSASL_NO_CALLBACK;
        default:
            return GSASL_NO_CALLBACK;
        }
    }
    /* Server: secrets only for the one user. */
    switch (prop) {
    case GSASL_PASSWORD:
    case GSASL_SCRAM_STOREDKEY:
    case GSASL_SCRAM_SERVERKEY:
        authid = gsasl_property_fast(s, GSASL_AUTHID);
        if (authid == NULL || strcmp(authid, USER) != 0)
            return GSASL_NO_CALLBACK;
        if (prop == GSASL_PASSWORD)
            return gsasl_property_set(s, GSASL_PASSWORD, server_password("gsasl"));
        if (prop == GSASL_SCRAM_STOREDKEY)
            return gsasl_property_set(s, GSASL_SCRAM_STOREDKEY, sec->stored_b64);
        return gsasl_property_set(s, GSASL_SCRAM_SERVERKEY, sec->server_b64);
    case GSASL_SCRAM_ITER:
        return gsasl_property_set(s, GSASL_SCRAM_ITER, "4096");
    case GSASL_SCRAM_SALT:
        return gsasl_property_set(s, GSASL_SCRAM_SALT, SALT_B64);
    default:
        /* GSASL_VALIDATE_SIMPLE: let the library compare with GSASL_PASSWORD. */
        return GSASL_NO_CALLBACK;
    }
}

static int gs_setup(void)
{
    int r = gsasl_init(&gs_ctx);

    if (r != GSASL_OK)
        return fail("gsasl_init: %s", gsasl_strerror(r));
    gsasl_callback_set(gs_ctx, gs_callback);
    return 0;
}

static int gs_handshake(enum group g)
{
    static const struct gs_hook server_hook = {true, false};
    static const struct gs_hook client_hook = {false, false};
    static const struct gs_hook client_salted_hook = {false, true};
    const char *mech;
    bool client_first;
    Gsasl_session *client = NULL, *server = NULL;
    char *cout = NULL, *sout = NULL;
    size_t cout_len = 0, sout_len = 0;
    int rc = 0, rc_c = GSASL_NEEDS_MORE, rc_s;

    switch (g) {
    case G_PLAIN:
        mech = "PLAIN", client_first = true;
        break;
    case G_LOGIN:
        mech = "LOGIN", client_first = false;
        break;
    case G_CRAM_MD5:
        mech = "CRAM-MD5", client_first = false;
        break;
    case G_SCRAM:
    case G_SCRAM_PROTO:
        mech = "SCRAM-SHA-256", client_first = true;
        break;
    default:
        return fail("no such group");
    }
    if ((rc_s = gsasl_client_start(gs_ctx, mech, &client)) != GSASL_OK ||
        (rc_s = gsasl_server_start(gs_ctx, mech, &server)) != GSASL_OK) {
        rc = fail("start %s: %s", mech, gsasl_strerror(rc_s));
        goto out;
    }
    gsasl_session_hook_set(client, (void *)(g == G_SCRAM_PROTO ? &client_salted_hook
                                                               : &client_hook));
    gsasl_session_hook_set(server, (void *)&server_hook);

    if (client_first) {
        rc_c = gsasl_step(client, NULL, 0, &cout, &cout_len);
        if (rc_c != GSASL_OK && rc_c != GSASL_NEEDS_MORE) {
            rc = fail("client step: %s", gsasl_strerror(rc_c));
            goto out;
        }
    }
    for (int steps = 0;; steps++) {
        if (steps > 10) {
            rc = fail("too many steps");
            goto out;
        }
        rc_s = gsasl_step(server, cout, cout_len, &sout, &sout_len);
        free(cout);
        cout = NULL, cout_len = 0;
        if (rc_s == GSASL_OK) {
            /* Success, possibly with data the client must verify (SCRAM's server-final). */
            if (rc_c == GSASL_NEEDS_MORE || sout_len > 0) {
                rc_c = gsasl_step(client, sout, sout_len, &cout, &cout_len);
                if (rc_c != GSASL_OK) {
                    rc = fail("client final step: %s", gsasl_strerror(rc_c));
                    goto out;
                }
            }
            break;
        }
        if (rc_s != GSASL_NEEDS_MORE) {
            rc = fail("server step: %s", gsasl_strerror(rc_s));
            goto out;
        }
        rc_c = gsasl_step(client, sout, sout_len, &cout, &cout_len);
        free(sout);
        sout = NULL, sout_len = 0;
        if (rc_c != GSASL_OK && rc_c != GSASL_NEEDS_MORE) {
            rc = fail("client step: %s", gsasl_strerror(rc_c));
            goto out;
        }
    }
    {
        const char *who = gsasl_property_fast(server, GSASL_AUTHID);

        if (who == NULL || strcmp(who, USER) != 0)
            rc = fail("authenticated the wrong user");
    }
out:
    free(cout);
    free(sout);
    gsasl_finish(client);
    gsasl_finish(server);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Cyrus SASL, with an in-memory auxprop plugin as its user database (no sasldb, no disk). */

/* The names saslmech's plugin's mechanisms are registered under (see cy_setup). */
#define CYP_MECH_LIST "SM-PLAIN SM-CRAM-MD5 SM-SCRAM-SHA-256"

static int memprop_lookup(void *glob, sasl_server_params_t *sparams, unsigned flags,
                          const char *user, unsigned ulen)
{
    const struct propval *want;
    bool scram = false;

    (void)glob;
    if (sparams == NULL || user == NULL)
        return SASL_BADPARAM;
    if (flags & SASL_AUXPROP_AUTHZID)
        return SASL_OK; /* nothing is stored about authorization identities */
    if (ulen != strlen(USER) || memcmp(user, USER, ulen) != 0)
        return SASL_OK; /* unknown user: leave every property unset */
    want = sparams->utils->prop_get(sparams->propctx);
    if (want == NULL)
        return SASL_OK;
    /* A directory that stores SCRAM keys for SCRAM and the password for the rest: when
     * authPassword is asked for (SCRAM), answer only that, so that the server uses the
     * stored keys instead of deriving them from userPassword. */
    for (const struct propval *p = want; p->name != NULL; p++)
        if (strcmp(p->name, "*authPassword") == 0)
            scram = true;
    for (const struct propval *p = want; p->name != NULL; p++) {
        const char *value = NULL;

        if (p->name[0] != '*')
            continue;
        if (p->values != NULL && !(flags & SASL_AUXPROP_OVERRIDE))
            continue;
        if (scram && strcmp(p->name, "*authPassword") == 0)
            value = server_secrets("cyrus")->cyrus_auth_password;
        else if (!scram && strcmp(p->name, "*userPassword") == 0)
            value = server_password("cyrus");
        if (value == NULL)
            continue;
        if (p->values != NULL)
            sparams->utils->prop_erase(sparams->propctx, p->name);
        sparams->utils->prop_set(sparams->propctx, p->name, value, (int)strlen(value));
    }
    return SASL_OK;
}

static sasl_auxprop_plug_t memprop_plugin = {
    0, 0, NULL, NULL, memprop_lookup, "memprop", NULL,
};

static int memprop_init(const sasl_utils_t *utils, int max_version, int *out_version,
                        sasl_auxprop_plug_t **plug, const char *name)
{
    (void)utils, (void)name;
    if (max_version < SASL_AUXPROP_PLUG_VERSION)
        return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &memprop_plugin;
    return SASL_OK;
}

static int cy_getopt(void *context, const char *plugin, const char *option,
                     const char **result, unsigned *len)
{
    (void)context, (void)plugin;
    if (strcmp(option, "auxprop_plugin") == 0)
        *result = "memprop";
    else if (strcmp(option, "pwcheck_method") == 0)
        *result = "auxprop";
    else if (strcmp(option, "mech_list") == 0)
        *result = "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 " CYP_MECH_LIST;
    else
        return SASL_FAIL;
    if (len != NULL)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

static int cy_log(void *context, int level, const char *message)
{
    (void)context;
    if (level <= SASL_LOG_ERR && getenv("BENCH_VERBOSE") != NULL)
        fprintf(stderr, "cyrus: %s\n", message);
    return SASL_OK;
}

static int cy_simple(void *context, int id, const char **result, unsigned *len)
{
    (void)context;
    if (id == SASL_CB_AUTHNAME)
        *result = USER;
    else if (id == SASL_CB_USER)
        *result = ""; /* no authorization identity */
    else
        return SASL_BADPARAM;
    if (len != NULL)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

static int cy_secret(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
    static union {
        sasl_secret_t s;
        char bytes[sizeof(sasl_secret_t) + sizeof PASSWORD];
    } secret;

    (void)conn, (void)context;
    if (id != SASL_CB_PASS)
        return SASL_BADPARAM;
    secret.s.len = strlen(PASSWORD);
    memcpy(secret.s.data, PASSWORD, sizeof PASSWORD);
    *psecret = &secret.s;
    return SASL_OK;
}

/* Cyrus takes every callback as int (*)(void); the detour through void (*)(void) is the
 * documented way to say the cast is meant. */
#define CB(f) ((int (*)(void))(void (*)(void))(f))

static const sasl_callback_t cy_global_callbacks[] = {
    {SASL_CB_GETOPT, CB(cy_getopt), NULL},
    {SASL_CB_LOG, CB(cy_log), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

static const sasl_callback_t cy_client_callbacks[] = {
    {SASL_CB_AUTHNAME, CB(cy_simple), NULL},
    {SASL_CB_USER, CB(cy_simple), NULL},
    {SASL_CB_PASS, CB(cy_secret), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* Cyrus SASL with saslmech's plugin (bindings/cyrus, libcyrus-saslmech.so), in the same
 * process as Cyrus's own plugins. libsasl2 keeps one plugin per mechanism name (the first
 * registered), so the plugin's PLAIN, CRAM-MD5 and SCRAM-SHA-256 are registered under the names
 * SM-PLAIN, SM-CRAM-MD5 and SM-SCRAM-SHA-256: the plugin file is dlopen()ed and its own init
 * functions are called, and only the names in the returned tables are changed (the plugin's
 * code does not depend on them). libsasl2 then drives it through the same glue, auxprop
 * (memprop) and callbacks as its own plugins. */
static const char *cyrus_plugin_path; /* --cyrus-plugin, else cyrus/ next to this program */
static char cyrus_plugin_default[PATH_MAX + 64];
static const char *cyrus_plugin_missing; /* why the plugin cells cannot run, or NULL */
static sasl_client_plug_init_t *cyp_client_real;
static sasl_server_plug_init_t *cyp_server_real;
static sasl_client_plug_t cyp_client_plugs[3];
static sasl_server_plug_t cyp_server_plugs[3];
static const char *const cyp_names[][2] = {
    {"PLAIN", "SM-PLAIN"},
    {"CRAM-MD5", "SM-CRAM-MD5"},
    {"SCRAM-SHA-256", "SM-SCRAM-SHA-256"},
};

static const char *cyp_rename(const char *name)
{
    for (size_t i = 0; i < sizeof cyp_names / sizeof cyp_names[0]; i++)
        if (strcmp(name, cyp_names[i][0]) == 0)
            return cyp_names[i][1];
    return NULL;
}

static int cyp_client_init(const sasl_utils_t *utils, int max_version, int *out_version,
                           sasl_client_plug_t **pluglist, int *plugcount)
{
    sasl_client_plug_t *list = NULL;
    int count = 0, n = 0, r = cyp_client_real(utils, max_version, out_version, &list, &count);

    if (r != SASL_OK)
        return r;
    for (int i = 0; i < count && n < 3; i++) {
        const char *name = cyp_rename(list[i].mech_name);

        if (name != NULL) {
            cyp_client_plugs[n] = list[i];
            cyp_client_plugs[n++].mech_name = name;
        }
    }
    *pluglist = cyp_client_plugs;
    *plugcount = n;
    return n == 3 ? SASL_OK : SASL_NOMECH;
}

static int cyp_server_init(const sasl_utils_t *utils, int max_version, int *out_version,
                           sasl_server_plug_t **pluglist, int *plugcount)
{
    sasl_server_plug_t *list = NULL;
    int count = 0, n = 0, r = cyp_server_real(utils, max_version, out_version, &list, &count);

    if (r != SASL_OK)
        return r;
    for (int i = 0; i < count && n < 3; i++) {
        const char *name = cyp_rename(list[i].mech_name);

        if (name != NULL) {
            cyp_server_plugs[n] = list[i];
            cyp_server_plugs[n++].mech_name = name;
        }
    }
    *pluglist = cyp_server_plugs;
    *plugcount = n;
    return n == 3 ? SASL_OK : SASL_NOMECH;
}

/* dlopen the plugin; on failure the plugin cells are reported as unsupported (with why). */
static void cyp_load(void)
{
    static char why[PATH_MAX + 128];
    void *so;

    if (cyrus_plugin_path == NULL) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        char *slash;

        if (n <= 0 || (exe[n] = '\0', slash = strrchr(exe, '/')) == NULL) {
            cyrus_plugin_missing = "cannot find this program's directory";
            return;
        }
        snprintf(cyrus_plugin_default, sizeof cyrus_plugin_default,
                 "%.*s/cyrus/libcyrus-saslmech.so", (int)(slash - exe), exe);
        cyrus_plugin_path = cyrus_plugin_default;
    }
    so = dlopen(cyrus_plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (so == NULL) {
        snprintf(why, sizeof why, "plugin not loaded: %s", dlerror());
        cyrus_plugin_missing = why;
        return;
    }
    cyp_client_real = (sasl_client_plug_init_t *)dlsym(so, "sasl_client_plug_init");
    cyp_server_real = (sasl_server_plug_init_t *)dlsym(so, "sasl_server_plug_init");
    if (cyp_client_real == NULL || cyp_server_real == NULL)
        cyrus_plugin_missing = "the plugin lacks its init functions";
}

static int cy_setup(void)
{
    int r;

    if ((r = sasl_server_init(cy_global_callbacks, "saslmech-bench")) != SASL_OK)
        return fail("sasl_server_init: %s", sasl_errstring(r, NULL, NULL));
    if ((r = sasl_auxprop_add_plugin("memprop", memprop_init)) != SASL_OK)
        return fail("sasl_auxprop_add_plugin: %s", sasl_errstring(r, NULL, NULL));
    if ((r = sasl_client_init(NULL)) != SASL_OK)
        return fail("sasl_client_init: %s", sasl_errstring(r, NULL, NULL));
    cyp_load();
    if (cyrus_plugin_missing == NULL) {
        if ((r = sasl_server_add_plugin("cyrus-saslmech", cyp_server_init)) != SASL_OK)
            return fail("sasl_server_add_plugin: %s", sasl_errstring(r, NULL, NULL));
        if ((r = sasl_client_add_plugin("cyrus-saslmech", cyp_client_init)) != SASL_OK)
            return fail("sasl_client_add_plugin: %s", sasl_errstring(r, NULL, NULL));
    }
    return 0;
}

static int cy_mech_handshake(const char *mech);

static int cy_handshake(enum group g)
{
    switch (g) {
    case G_PLAIN:
        return cy_mech_handshake("PLAIN");
    case G_LOGIN:
        return cy_mech_handshake("LOGIN");
    case G_CRAM_MD5:
        return cy_mech_handshake("CRAM-MD5");
    case G_SCRAM:
        return cy_mech_handshake("SCRAM-SHA-256");
    default:
        return fail("no such group");
    }
}

/* The same handshake with saslmech's plugin's mechanisms (see cy_setup). */
static int cyp_handshake(enum group g)
{
    switch (g) {
    case G_PLAIN:
        return cy_mech_handshake("SM-PLAIN");
    case G_CRAM_MD5:
        return cy_mech_handshake("SM-CRAM-MD5");
    case G_SCRAM:
        return cy_mech_handshake("SM-SCRAM-SHA-256");
    default:
        return fail("no such group");
    }
}

static int cy_mech_handshake(const char *mech)
{
    const char *cout = NULL, *sout = NULL, *chosen = NULL;
    unsigned cout_len = 0, sout_len = 0;
    sasl_conn_t *client = NULL, *server = NULL;
    int rc = 0, rc_c, rc_s;

    rc_s = sasl_server_new("smtp", "localhost", NULL, NULL, NULL, NULL, SASL_SUCCESS_DATA,
                           &server);
    if (rc_s != SASL_OK) {
        rc = fail("sasl_server_new: %s", sasl_errstring(rc_s, NULL, NULL));
        goto out;
    }
    rc_c = sasl_client_new("smtp", "localhost", NULL, NULL, cy_client_callbacks, 0, &client);
    if (rc_c != SASL_OK) {
        rc = fail("sasl_client_new: %s", sasl_errstring(rc_c, NULL, NULL));
        goto out;
    }
    rc_c = sasl_client_start(client, mech, NULL, &cout, &cout_len, &chosen);
    if (rc_c != SASL_OK && rc_c != SASL_CONTINUE) {
        rc = fail("sasl_client_start: %s", sasl_errdetail(client));
        goto out;
    }
    rc_s = sasl_server_start(server, mech, cout, cout_len, &sout, &sout_len);
    for (int steps = 0; rc_s == SASL_CONTINUE; steps++) {
        if (steps > 10) {
            rc = fail("too many steps");
            goto out;
        }
        rc_c = sasl_client_step(client, sout, sout_len, NULL, &cout, &cout_len);
        if (rc_c != SASL_OK && rc_c != SASL_CONTINUE) {
            rc = fail("sasl_client_step: %s", sasl_errdetail(client));
            goto out;
        }
        rc_s = sasl_server_step(server, cout, cout_len, &sout, &sout_len);
    }
    if (rc_s != SASL_OK) {
        rc = fail("server: %s", sasl_errdetail(server));
        goto out;
    }
    if (rc_c == SASL_CONTINUE || sout_len > 0) {
        /* Success with data the client must verify (SCRAM's server-final). */
        rc_c = sasl_client_step(client, sout, sout_len, NULL, &cout, &cout_len);
        if (rc_c != SASL_OK) {
            rc = fail("client final step: %s", sasl_errdetail(client));
            goto out;
        }
    }
    {
        const void *who = NULL;

        if (sasl_getprop(server, SASL_USERNAME, &who) != SASL_OK || who == NULL ||
            strcmp(who, USER) != 0)
            rc = fail("authenticated the wrong user");
    }
out:
    sasl_dispose(&client);
    sasl_dispose(&server);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The key derivation alone. */

static int ossl_pbkdf2(enum group g)
{
    unsigned char out[32];

    (void)g;
    if (PKCS5_PBKDF2_HMAC(PASSWORD, (int)strlen(PASSWORD), good.salt, (int)good.salt_len,
                          ITERATIONS, EVP_sha256(), 32, out) != 1)
        return fail("PKCS5_PBKDF2_HMAC failed");
    if (memcmp(out, good.salted, 32) != 0)
        return fail("PKCS5_PBKDF2_HMAC: wrong result");
    return 0;
}

#ifdef SASLMECH_MECH_SCRAM_SHA_256
/* saslmech's derivation through its C API: SaltedPassword, then ClientKey, StoredKey and
 * ServerKey (as gsasl_scram_secrets_from_password), checked against OpenSSL's. */
static int sm_pbkdf2(enum group g)
{
    saslmech_scram_keys *keys = NULL;
    const uint8_t *text;
    size_t len;
    int rc = 0;

    (void)g;
    SM(saslmech_scram_keys_derive(SASLMECH_SCRAM_SHA_256, (const uint8_t *)PASSWORD,
                                  strlen(PASSWORD), good.salt, good.salt_len, ITERATIONS,
                                  &keys));
    SM(saslmech_scram_keys_to_rfc5803(keys, &text, &len));
    if (!bytes_eq(text, len, good.cyrus_auth_password))
        rc = fail("saslmech_scram_keys_derive: wrong keys");
out:
    saslmech_scram_keys_free(keys);
    return rc;
}
#endif

static int gs_pbkdf2(enum group g)
{
    char salted[32], client_key[32], server_key[32], stored_key[32];
    int r;

    (void)g;
    r = gsasl_scram_secrets_from_password(GSASL_HASH_SHA256, PASSWORD, ITERATIONS,
                                          (const char *)good.salt, good.salt_len, salted,
                                          client_key, server_key, stored_key);
    if (r != GSASL_OK)
        return fail("gsasl_scram_secrets_from_password: %s", gsasl_strerror(r));
    if (memcmp(salted, good.salted, 32) != 0)
        return fail("gsasl_scram_secrets_from_password: wrong result");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Cells, timing and counting. */

struct cell {
    enum group group;
    const char *lib;
    int (*run)(enum group);
    const char *unsupported; /* why this cell cannot be measured, or NULL */
    unsigned batch;
    double *samples;
    double allocs, bytes;
};

#define NO_SCRAM_CAPI "saslmech's C API in this build has no SCRAM (SASLMECH_MECH_SCRAM_SHA_256)"

static struct cell cells[] = {
    {G_PLAIN, "saslmech", sm_handshake, NULL, 0, NULL, 0, 0},
    {G_PLAIN, "gsasl", gs_handshake, NULL, 0, NULL, 0, 0},
    {G_PLAIN, "cyrus", cy_handshake, NULL, 0, NULL, 0, 0},
    {G_PLAIN, "cyrus-saslmech", cyp_handshake, NULL, 0, NULL, 0, 0},
    {G_LOGIN, "saslmech", sm_handshake, NULL, 0, NULL, 0, 0},
    {G_LOGIN, "gsasl", gs_handshake, NULL, 0, NULL, 0, 0},
    {G_LOGIN, "cyrus", cy_handshake, NULL, 0, NULL, 0, 0},
    {G_CRAM_MD5, "saslmech", sm_handshake, NULL, 0, NULL, 0, 0},
    {G_CRAM_MD5, "gsasl", gs_handshake, NULL, 0, NULL, 0, 0},
    {G_CRAM_MD5, "cyrus", cy_handshake, NULL, 0, NULL, 0, 0},
    {G_CRAM_MD5, "cyrus-saslmech", cyp_handshake, NULL, 0, NULL, 0, 0},
#ifdef SASLMECH_MECH_SCRAM_SHA_256
    {G_SCRAM, "saslmech", sm_handshake, NULL, 0, NULL, 0, 0},
#else
    {G_SCRAM, "saslmech", NULL, NO_SCRAM_CAPI, 0, NULL, 0, 0},
#endif
    {G_SCRAM, "gsasl", gs_handshake, NULL, 0, NULL, 0, 0},
    {G_SCRAM, "cyrus", cy_handshake, NULL, 0, NULL, 0, 0},
    {G_SCRAM, "cyrus-saslmech", cyp_handshake, NULL, 0, NULL, 0, 0},
#ifdef SASLMECH_MECH_SCRAM_SHA_256
    {G_SCRAM_PROTO, "saslmech", sm_handshake, NULL, 0, NULL, 0, 0},
#else
    {G_SCRAM_PROTO, "saslmech", NULL, NO_SCRAM_CAPI, 0, NULL, 0, 0},
#endif
    {G_SCRAM_PROTO, "gsasl", gs_handshake, NULL, 0, NULL, 0, 0},
    {G_SCRAM_PROTO, "cyrus", NULL,
     "Cyrus SASL's SCRAM client takes only the password (SASL_CB_PASS), not a salted one", 0,
     NULL, 0, 0},
#ifdef SASLMECH_MECH_SCRAM_SHA_256
    {G_PBKDF2, "saslmech", sm_pbkdf2, NULL, 0, NULL, 0, 0},
#else
    {G_PBKDF2, "saslmech", NULL, NO_SCRAM_CAPI, 0, NULL, 0, 0},
#endif
    {G_PBKDF2, "openssl", ossl_pbkdf2, NULL, 0, NULL, 0, 0},
    {G_PBKDF2, "gsasl", gs_pbkdf2, NULL, 0, NULL, 0, 0},
};
#define NCELLS (sizeof cells / sizeof cells[0])

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void run_once(struct cell *c)
{
    if (c->run(c->group) != 0)
        die("%s with %s: handshake failed: %s", group_names[c->group], c->lib, errbuf);
}

/* Time `n` runs; returns the mean in ns. */
static double time_batch(struct cell *c, unsigned n)
{
    uint64_t t0 = now_ns();

    for (unsigned i = 0; i < n; i++)
        run_once(c);
    return (double)(now_ns() - t0) / n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of sorted values, interpolated. */
static double quantile(const double *v, unsigned n, double q)
{
    double pos = q * (n - 1);
    unsigned i = (unsigned)pos;

    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (v[i + 1] - v[i]) * (pos - i);
}

typedef void (*count_begin_fn)(void);
typedef void (*count_end_fn)(uint64_t *, uint64_t *);

static void usage(void)
{
    fputs("usage: bench [--rounds N] [--batch-us US] [--alloc-runs N] [--smoke]\n"
          "             [--out FILE] [--sabotage saslmech|gsasl|cyrus] [--only GROUP]\n"
          "             [--no-alloc-count] [--cyrus-plugin FILE]\n",
          stderr);
    exit(64);
}

static void meta_cpu(FILE *out)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];

    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');

            if (v != NULL) {
                v += 2;
                v[strcspn(v, "\n")] = '\0';
                fprintf(out, "meta\tcpu\t%s\n", v);
            }
            break;
        }
    }
    fclose(f);
}

/* In the counting child (malloc_count.so preloaded): allocations per handshake of every
 * cell, after a warm-up run so that one-time caches are not counted, written to stdout. */
static void count_allocations(unsigned alloc_runs)
{
    count_begin_fn count_begin = (count_begin_fn)dlsym(RTLD_DEFAULT, "malloc_count_begin");
    count_end_fn count_end = (count_end_fn)dlsym(RTLD_DEFAULT, "malloc_count_end");

    if (count_begin == NULL || count_end == NULL)
        die("--count-only needs malloc_count.so in LD_PRELOAD");
    for (size_t i = 0; i < NCELLS; i++) {
        struct cell *c = &cells[i];
        uint64_t calls = 0, bytes = 0;

        if (c->unsupported != NULL)
            continue;
        run_once(c);
        count_begin();
        for (unsigned k = 0; k < alloc_runs; k++)
            run_once(c);
        count_end(&calls, &bytes);
        printf("count\t%zu\t%.2f\t%.1f\n", i, (double)calls / alloc_runs,
               (double)bytes / alloc_runs);
    }
    fflush(stdout);
}

/* Run this program again as the counting child, with malloc_count.so (next to it) preloaded
 * in the child only, so that the timed process runs the C library's allocator untouched. */
static void counts_from_child(unsigned alloc_runs, const char *only)
{
    char exe[PATH_MAX], so[PATH_MAX + 32], runs[16], line[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash;
    int fds[2], status;
    size_t got = 0, want = 0;
    pid_t pid;
    FILE *in;

    if (n <= 0)
        die("readlink /proc/self/exe: %s", strerror(errno));
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        die("odd executable path %s", exe);
    snprintf(so, sizeof so, "%.*s/malloc_count.so", (int)(slash - exe), exe);
    if (access(so, R_OK) != 0)
        die("%s not found (build it with the Makefile, or pass --no-alloc-count)", so);
    snprintf(runs, sizeof runs, "%u", alloc_runs);
    fflush(NULL);
    if (pipe(fds) != 0)
        die("pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        char *args[11] = {exe, "--count-only", "--alloc-runs", runs};
        int k = 4;

        if (sabotage != NULL)
            args[k++] = "--sabotage", args[k++] = (char *)sabotage;
        if (only != NULL)
            args[k++] = "--only", args[k++] = (char *)only;
        if (cyrus_plugin_path != NULL)
            args[k++] = "--cyrus-plugin", args[k++] = (char *)cyrus_plugin_path;
        args[k] = NULL;
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        setenv("LD_PRELOAD", so, 1);
        execv(exe, args);
        _exit(127);
    }
    close(fds[1]);
    in = fdopen(fds[0], "r");
    if (in == NULL)
        die("fdopen: %s", strerror(errno));
    while (fgets(line, sizeof line, in) != NULL) {
        size_t i;
        double allocs, bytes;

        if (sscanf(line, "count\t%zu\t%lf\t%lf", &i, &allocs, &bytes) != 3 || i >= NCELLS)
            die("counting child: unexpected output %s", line);
        cells[i].allocs = allocs, cells[i].bytes = bytes;
        got++;
    }
    fclose(in);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the allocation-counting run failed (status %d)", status);
    for (size_t i = 0; i < NCELLS; i++)
        want += cells[i].unsupported == NULL;
    if (got != want)
        die("counting child reported %zu of %zu cells", got, want);
}

int main(int argc, char **argv)
{
    unsigned rounds = 101, batch_us = 5000, alloc_runs = 64;
    const char *out_path = NULL;
    bool alloc_count = true, count_only = false;
    const char *only = NULL;
    FILE *out = stdout;
    double load[3] = {0, 0, 0};

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--batch-us") == 0 && i + 1 < argc)
            batch_us = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--alloc-runs") == 0 && i + 1 < argc)
            alloc_runs = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--smoke") == 0)
            rounds = 3, batch_us = 200, alloc_runs = 2;
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (strcmp(argv[i], "--sabotage") == 0 && i + 1 < argc)
            sabotage = argv[++i];
        else if (strcmp(argv[i], "--no-alloc-count") == 0)
            alloc_count = false;
        else if (strcmp(argv[i], "--count-only") == 0)
            count_only = true;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--cyrus-plugin") == 0 && i + 1 < argc)
            cyrus_plugin_path = argv[++i];
        else
            usage();
    }
    if (rounds < 1 || batch_us < 1 || alloc_runs < 1)
        usage();
    if (only != NULL) {
        /* One handshake group only (for checks); the others are not run. */
        bool known = false;

        for (size_t i = 0; i < NCELLS; i++) {
            if (strcmp(group_names[cells[i].group], only) == 0)
                known = true;
            else
                cells[i].unsupported = "not selected (--only)";
        }
        if (!known)
            die("--only: no group named %s", only);
    }
    if (!count_only && dlsym(RTLD_DEFAULT, "malloc_count_begin") != NULL)
        die("run bench without LD_PRELOAD: it preloads the counter in its counting child only");

    derive_secrets(&good, PASSWORD);
    derive_secrets(&bad, WRONG_PASSWORD);
    if (sm_setup() != 0 || gs_setup() != 0 || cy_setup() != 0)
        die("setup: %s", errbuf);
    if (cyrus_plugin_missing != NULL)
        for (size_t i = 0; i < NCELLS; i++)
            if (strcmp(cells[i].lib, "cyrus-saslmech") == 0 && cells[i].unsupported == NULL)
                cells[i].unsupported = cyrus_plugin_missing;
    if (count_only) {
        count_allocations(alloc_runs);
        return 0;
    }

    if (out_path != NULL && (out = fopen(out_path, "w")) == NULL)
        die("%s: %s", out_path, strerror(errno));

    /* Warm up and calibrate: a batch takes about batch_us. */
    for (size_t i = 0; i < NCELLS; i++) {
        struct cell *c = &cells[i];
        double mean;
        unsigned n = 1;

        if (c->unsupported != NULL)
            continue;
        run_once(c);
        for (;;) {
            mean = time_batch(c, n);
            if (mean * n >= batch_us * 250.0 || n >= 1u << 24)
                break;
            n *= 4;
        }
        c->batch = (unsigned)(batch_us * 1000.0 / mean);
        if (c->batch < 1)
            c->batch = 1;
        c->samples = calloc(rounds, sizeof(double));
        if (c->samples == NULL)
            die("out of memory");
        fprintf(stderr, "bench: %-28s %-9s batch %u\n", group_names[c->group], c->lib,
                c->batch);
    }

    if (getloadavg(load, 3) < 0)
        load[0] = load[1] = load[2] = -1;
    fprintf(out, "meta\tformat\tsaslmech-bench 1\n");
    {
        char date[64];
        time_t t = time(NULL);
        struct utsname u;

        strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
        fprintf(out, "meta\tdate\t%s\n", date);
        if (uname(&u) == 0)
            fprintf(out, "meta\tkernel\t%s %s %s\n", u.sysname, u.release, u.machine);
    }
    meta_cpu(out);
    fprintf(out, "meta\tcores\t%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    fprintf(out, "meta\tload_start\t%.2f %.2f %.2f\n", load[0], load[1], load[2]);
    fprintf(out, "meta\trounds\t%u\n", rounds);
    fprintf(out, "meta\tbatch_us\t%u\n", batch_us);
    fprintf(out, "meta\talloc_runs\t%u\n", alloc_runs);
    fprintf(out, "meta\tsaslmech\t%s\n", saslmech_version());
    fprintf(out, "meta\tgsasl\t%s\n", gsasl_check_version(NULL));
    {
        const char *impl = NULL, *ver = NULL;

        sasl_version_info(&impl, &ver, NULL, NULL, NULL, NULL);
        fprintf(out, "meta\tcyrus\t%s %s\n", impl ? impl : "?", ver ? ver : "?");
    }
    fprintf(out, "meta\topenssl\t%s\n", OpenSSL_version(OPENSSL_VERSION));

    /* The rounds: one batch of every cell per round, in an order shuffled anew each round
     * (Fisher-Yates with a fixed-seed xorshift, so runs are comparable). */
    {
        size_t order[NCELLS];
        uint64_t x = 0x9e3779b97f4a7c15u;

        for (size_t k = 0; k < NCELLS; k++)
            order[k] = k;
        for (unsigned r = 0; r < rounds; r++) {
            for (size_t k = NCELLS - 1; k > 0; k--) {
                size_t j, t;

                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                j = (size_t)(x % (k + 1));
                t = order[k], order[k] = order[j], order[j] = t;
            }
            for (size_t k = 0; k < NCELLS; k++) {
                struct cell *c = &cells[order[k]];

                if (c->unsupported == NULL)
                    c->samples[r] = time_batch(c, c->batch);
            }
        }
    }

    /* Allocations per handshake, counted in a child process. */
    for (size_t i = 0; i < NCELLS; i++)
        cells[i].allocs = cells[i].bytes = -1;
    if (alloc_count)
        counts_from_child(alloc_runs, only);

    if (getloadavg(load, 3) < 0)
        load[0] = load[1] = load[2] = -1;
    fprintf(out, "meta\tload_end\t%.2f %.2f %.2f\n", load[0], load[1], load[2]);
    for (size_t i = 0; i < NCELLS; i++) {
        struct cell *c = &cells[i];

        if (c->unsupported != NULL) {
            fprintf(out, "row\t%s\t%s\tunsupported\t%s\n", group_names[c->group], c->lib,
                    c->unsupported);
            continue;
        }
        qsort(c->samples, rounds, sizeof(double), cmp_double);
        fprintf(out, "row\t%s\t%s\tok\t%.1f\t%.1f\t%.1f\t%u\t%.2f\t%.1f\n",
                group_names[c->group], c->lib, quantile(c->samples, rounds, 0.5),
                quantile(c->samples, rounds, 0.25), quantile(c->samples, rounds, 0.75),
                c->batch, c->allocs, c->bytes);
    }
    if (out != stdout && fclose(out) != 0)
        die("%s: %s", out_path, strerror(errno));
    return 0;
}
