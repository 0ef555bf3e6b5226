/*
 * saslmech's Cyrus SASL plugin: the mechanism table, the saslmech_mechanisms option and small
 * helpers shared by the client and server sides.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "plugin.h"

/*
 * The security flags say what each mechanism resists, so that libsasl2's security properties
 * (Postfix's noplaintext, noanonymous, ...) choose truthfully:
 * - SCRAM: no password on the wire, the server proves it knows the verifier (mutual
 *   authentication, which also defeats an active impersonator); an eavesdropper can still run
 *   a dictionary attack on the exchange, so not NODICTIONARY. As Cyrus's own SCRAM.
 * - OAUTHBEARER, XOAUTH2: the bearer token crosses the wire as it is, and whoever reads it can
 *   replay it until it expires: like a password, so not NOPLAINTEXT (Postfix's client needs
 *   smtp_sasl_security_options = noanonymous, over TLS: docs/cyrus-plugin.md).
 * - CRAM-MD5: no password on the wire, but an eavesdropper can run a dictionary attack.
 * - PLAIN, LOGIN: the password crosses the wire.
 * PASS_CREDENTIALS: the server receives what lets it act as the client (password, token).
 */
#define SEC_SCRAM                                                                          \
    (SASL_SEC_NOPLAINTEXT | SASL_SEC_NOACTIVE | SASL_SEC_NOANONYMOUS | SASL_SEC_MUTUAL_AUTH)
#define SEC_OAUTH (SASL_SEC_NOANONYMOUS | SASL_SEC_PASS_CREDENTIALS)
#define SEC_CRAM (SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS)
#define SEC_PASSWORD (SASL_SEC_NOANONYMOUS | SASL_SEC_PASS_CREDENTIALS)

#define FEAT_SCRAM                                                                         \
    (SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY | SASL_FEAT_CHANNEL_BINDING)

/* No EXTERNAL: libsasl2 registers its built-in EXTERNAL before it loads any plugin, and of two
 * mechanisms of equal strength the first registered wins, so a plugin's EXTERNAL is never
 * used (checked with libsasl2 2.1.28); libsasl2's own serves the external identity. */
const struct smc_mech smc_mechs[] = {
    {"SCRAM-SHA-512", SASLMECH_MECH_SCRAM_SHA_512, SASLMECH_MECH_SCRAM_SHA_512_PLUS,
     SASLMECH_SCRAM_SHA_512, SMC_SCRAM, SEC_SCRAM, FEAT_SCRAM, FEAT_SCRAM},
    {"SCRAM-SHA-256", SASLMECH_MECH_SCRAM_SHA_256, SASLMECH_MECH_SCRAM_SHA_256_PLUS,
     SASLMECH_SCRAM_SHA_256, SMC_SCRAM, SEC_SCRAM, FEAT_SCRAM, FEAT_SCRAM},
    {"SCRAM-SHA-1", SASLMECH_MECH_SCRAM_SHA_1, SASLMECH_MECH_SCRAM_SHA_1_PLUS,
     SASLMECH_SCRAM_SHA_1, SMC_SCRAM, SEC_SCRAM, FEAT_SCRAM, FEAT_SCRAM},
    {"OAUTHBEARER", SASLMECH_MECH_OAUTHBEARER, 0, 0, SMC_OAUTH, SEC_OAUTH,
     SASL_FEAT_WANT_CLIENT_FIRST, SASL_FEAT_WANT_CLIENT_FIRST},
    {"XOAUTH2", SASLMECH_MECH_XOAUTH2, 0, 0, SMC_OAUTH, SEC_OAUTH, SASL_FEAT_WANT_CLIENT_FIRST,
     SASL_FEAT_WANT_CLIENT_FIRST},
    {"CRAM-MD5", SASLMECH_MECH_CRAM_MD5, 0, 0, SMC_CRAM, SEC_CRAM, SASL_FEAT_SERVER_FIRST,
     SASL_FEAT_SERVER_FIRST},
    {"PLAIN", SASLMECH_MECH_PLAIN, 0, 0, SMC_PLAIN, SEC_PASSWORD,
     SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY,
     SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY},
    /* LOGIN: the client waits for the prompts; the server also takes the user name as an
     * initial response (neither first-flag: the plugin handles both). */
    {"LOGIN", SASLMECH_MECH_LOGIN, 0, 0, SMC_LOGIN, SEC_PASSWORD, SASL_FEAT_SERVER_FIRST, 0},
};
const size_t smc_mech_count = sizeof(smc_mechs) / sizeof(smc_mechs[0]);

static int is_separator(char c)
{
    return c == ' ' || c == ',' || c == '\t' || c == '\r' || c == '\n';
}

size_t smc_enabled(const sasl_utils_t *utils, int enabled[SMC_MAX_MECHS])
{
    const char *value = NULL;
    unsigned len = 0;
    size_t i, count = 0;

    if (utils->getopt == NULL ||
        utils->getopt(utils->getopt_context, "saslmech", SMC_OPTION_MECHANISMS, &value,
                      &len) != SASL_OK ||
        value == NULL) {
        for (i = 0; i < smc_mech_count; i++) enabled[i] = 1;
        return smc_mech_count;
    }
    if (len == 0) len = (unsigned)strlen(value);
    for (i = 0; i < smc_mech_count; i++) enabled[i] = 0;

    {
        const char *p = value, *end = value + len;
        while (p < end) {
            const char *word;
            size_t wlen;
            int known = 0;
            while (p < end && is_separator(*p)) p++;
            word = p;
            while (p < end && !is_separator(*p)) p++;
            wlen = (size_t)(p - word);
            if (wlen == 0) continue;
            for (i = 0; i < smc_mech_count; i++) {
                size_t nlen = strlen(smc_mechs[i].name);
                /* SCRAM-SHA-256-PLUS names the channel-binding variant of SCRAM-SHA-256,
                 * which libsasl2 offers through the same plugin entry. */
                int plus = smc_mechs[i].plus_id != 0 && wlen == nlen + 5 &&
                           strncasecmp(word + nlen, "-PLUS", 5) == 0;
                if ((wlen == nlen || plus) && strncasecmp(word, smc_mechs[i].name, nlen) == 0) {
                    if (!enabled[i]) count++;
                    enabled[i] = 1;
                    known = 1;
                }
            }
            if (!known) {
                smc_log(utils, SASL_LOG_WARN,
                           "saslmech: %s names a mechanism this plugin does not provide: %.*s",
                           SMC_OPTION_MECHANISMS, (int)wlen, word);
            }
        }
    }
    return count;
}

saslmech_channel_binding smc_cb_kind(const char *name)
{
    if (name == NULL) return 0;
    if (strcasecmp(name, "tls-exporter") == 0) return SASLMECH_CB_TLS_EXPORTER;
    if (strcasecmp(name, "tls-server-end-point") == 0) return SASLMECH_CB_TLS_SERVER_END_POINT;
    if (strcasecmp(name, "tls-unique") == 0) return SASLMECH_CB_TLS_UNIQUE;
    return 0;
}

int smc_failure_to_sasl(saslmech_failure failure)
{
    switch (failure) {
    case SASLMECH_FAILURE_BAD_CREDENTIALS: return SASL_BADAUTH;
    case SASLMECH_FAILURE_AUTHZ_DENIED: return SASL_NOAUTHZ;
    case SASLMECH_FAILURE_ACCOUNT_DISABLED: return SASL_DISABLED;
    case SASLMECH_FAILURE_TEMPORARY: return SASL_TRYAGAIN;
    case SASLMECH_FAILURE_MECHANISM_UNAVAILABLE: return SASL_NOMECH;
    case SASLMECH_FAILURE_MECHANISM_TOO_WEAK: return SASL_TOOWEAK;
    case SASLMECH_FAILURE_ENCRYPTION_REQUIRED: return SASL_ENCRYPT;
    case SASLMECH_FAILURE_CHANNEL_BINDING: return SASL_BADBINDING;
    case SASLMECH_FAILURE_SERVER_AUTHENTICATION: return SASL_BADSERV;
    default: return SASL_BADPROT;
    }
}

void smc_seterror(const sasl_utils_t *utils, unsigned flags, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    utils->seterror(utils->conn, flags, "%s", buf);
}

void smc_log(const sasl_utils_t *utils, int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (utils->log == NULL) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    utils->log(utils->conn, level, "%s", buf);
}

void smc_set_done(sasl_out_params_t *oparams)
{
    oparams->doneflag = 1;
    oparams->mech_ssf = 0;
    oparams->maxoutbuf = 0;
    oparams->encode_context = NULL;
    oparams->encode = NULL;
    oparams->decode_context = NULL;
    oparams->decode = NULL;
    oparams->param_version = 0;
}

char *smc_strndup(const sasl_utils_t *utils, const uint8_t *bytes, size_t len)
{
    char *s;
    if (len > 0 && memchr(bytes, '\0', len) != NULL) return NULL;
    s = utils->malloc((unsigned long)len + 1);
    if (s == NULL) return NULL;
    if (len > 0) memcpy(s, bytes, len);
    s[len] = '\0';
    return s;
}

void smc_free_secret(const sasl_utils_t *utils, char *s)
{
    if (s == NULL) return;
    utils->erasebuffer(s, (unsigned)strlen(s));
    utils->free(s);
}
