/*
 * saslmech's Cyrus SASL plugin: what the client side (client.c), the server side (server.c)
 * and the shared part (plugin.c) have in common.
 *
 * The plugin is written against Debian's <sasl/saslplug.h> (libsasl2-dev 2.1.28) and links
 * saslmech's static library; everything it needs from libsasl2 arrives through the
 * sasl_utils_t it is given, so it does not link libsasl2.
 */
#ifndef SASLMECH_CYRUS_PLUGIN_H
#define SASLMECH_CYRUS_PLUGIN_H

#include <stddef.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "saslmech.h"

/* The two entry points libsasl2 looks up (everything else is hidden; exports.map agrees). */
#define SMC_EXPORT __attribute__((visibility("default")))

/* How the plugin drives a mechanism: the shape of its exchange as libsasl2 sees it. */
enum smc_kind {
    SMC_PLAIN,    /* one client message, then done */
    SMC_LOGIN,    /* two server prompts, two answers */
    SMC_CRAM,     /* one server challenge, one answer */
    SMC_SCRAM,    /* client-first, server-first, client-final, server-final (verified) */
    SMC_OAUTH,    /* one client message, then success or an error challenge */
};

/* One mechanism the plugin provides, with the flags libsasl2 selects it by. */
struct smc_mech {
    const char *name;            /* as libsasl2 lists it (SCRAM without -PLUS) */
    saslmech_mechanism id;       /* saslmech's mechanism */
    saslmech_mechanism plus_id;  /* SCRAM: the -PLUS variant; 0 otherwise */
    saslmech_scram_hash hash;    /* SCRAM: the hash; 0 otherwise */
    enum smc_kind kind;
    unsigned security_flags;     /* SASL_SEC_* */
    unsigned client_features;    /* SASL_FEAT_* */
    unsigned server_features;    /* SASL_FEAT_* */
};

/* Every mechanism the plugin can provide, strongest first. */
extern const struct smc_mech smc_mechs[];
extern const size_t smc_mech_count;
#define SMC_MAX_MECHS 12

/* The option naming the mechanisms this plugin provides (absent: all of them). */
#define SMC_OPTION_MECHANISMS "saslmech_mechanisms"

/* Fills enabled[i] (for each of smc_mechs) from the saslmech_mechanisms option read through
 * utils->getopt. Returns the number enabled. */
size_t smc_enabled(const sasl_utils_t *utils, int enabled[SMC_MAX_MECHS]);

/* Maps a libsasl2 channel-binding name ("tls-unique", "tls-server-end-point", "tls-exporter")
 * to saslmech's number; 0 if saslmech does not know it. */
saslmech_channel_binding smc_cb_kind(const char *name);

/* The libsasl2 result for a saslmech failure. */
int smc_failure_to_sasl(saslmech_failure failure);

/* utils->seterror and utils->log with printf formatting: libsasl2's own formatter knows only
 * a few conversions (no precision, no %zu), so the message is formatted here first. */
void smc_seterror(const sasl_utils_t *utils, unsigned flags, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void smc_log(const sasl_utils_t *utils, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Marks an exchange as finished, without a security layer. */
void smc_set_done(sasl_out_params_t *oparams);

/* A NUL-terminated copy of (bytes, len) from utils->malloc, or NULL (out of memory, or the
 * bytes contain NUL). Free with smc_free_secret. */
char *smc_strndup(const sasl_utils_t *utils, const uint8_t *bytes, size_t len);

/* Wipes and frees a string from smc_strndup (NULL is a no-op). */
void smc_free_secret(const sasl_utils_t *utils, char *s);

#endif /* SASLMECH_CYRUS_PLUGIN_H */
