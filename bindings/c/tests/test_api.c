/*
 * Tests of the C API: every exported function, every error path, full handshakes for every
 * mechanism (client and server of this library against each other, raw and base64), and a
 * session parked on a credential request that is answered after other sessions ran.
 *
 * Run under AddressSanitizer + UndefinedBehaviorSanitizer and under valgrind by the Rust
 * integration test tests/capi_c.rs. Exit status 0 only if every check passed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saslmech.h"

#ifndef SASLMECH_EXPECTED_VERSION
#error "build with -DSASLMECH_EXPECTED_VERSION='\"x.y.z\"' (the Makefile does)"
#endif

static unsigned checks, failures;

static void check(int ok, const char *what, const char *file, int line)
{
    checks++;
    if (!ok) {
        failures++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    }
}

#define CHECK(c) check((c) != 0, #c, __FILE__, __LINE__)
#define EQ(a, b)                                                                             \
    do {                                                                                     \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);       \
        checks++;                                                                            \
        if (a_ != b_) {                                                                      \
            failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s is %llu, expected %s = %llu\n", __FILE__, __LINE__, #a, \
                    a_, #b, b_);                                                             \
        }                                                                                    \
    } while (0)
#define OK(x) EQ((x), SASLMECH_OK)
/* A C string as pointer + length. */
#define S(s) (const uint8_t *)(s), strlen(s)
/* A string literal that may contain NUL bytes, as pointer + length. */
#define L(s) (const uint8_t *)(s), (sizeof(s) - 1)
/* Bytes equal to a string literal (which may contain NUL bytes). */
#define SAME(p, n, lit) CHECK((n) == sizeof(lit) - 1 && memcmp((p), (lit), (n)) == 0)

/* Sentinels: out-parameters must keep them when a call fails. */
#define U32_SENTINEL 0xdeadbeefu
static const uint8_t sentinel_byte = 0;
#define PTR_SENTINEL (&sentinel_byte)
#define LEN_SENTINEL ((size_t)0xabcdef)

/* A length no caller may pass (over PTRDIFF_MAX). */
#define HUGE_LEN ((size_t)-1)

/* ------------------------------------------------------------------------------------------ */

static void test_version_and_strings(void)
{
    const char *v = saslmech_version();
    uint32_t n = saslmech_version_number();
    char buf[32];
    uint32_t r;

    CHECK(v != NULL);
    CHECK(strcmp(v, SASLMECH_EXPECTED_VERSION) == 0);
    snprintf(buf, sizeof buf, "%u.%u.%u", (unsigned)(n >> 16), (unsigned)((n >> 8) & 0xff),
             (unsigned)(n & 0xff));
    CHECK(strcmp(buf, v) == 0);

    /* Every result code has its own description; unknown numbers get a fixed one. */
    for (r = 0; r <= SASLMECH_POISONED; r++) {
        uint32_t q;
        const char *s = saslmech_strerror(r);
        CHECK(s != NULL && *s != '\0');
        CHECK(strstr(s, "unknown saslmech_result") == NULL);
        for (q = 0; q < r; q++)
            CHECK(strcmp(s, saslmech_strerror(q)) != 0);
    }
    CHECK(strcmp(saslmech_strerror(SASLMECH_POISONED + 1), "unknown saslmech_result") == 0);
    CHECK(strcmp(saslmech_strerror(0xffffffffu), "unknown saslmech_result") == 0);

    for (r = 0; r <= SASLMECH_FAILURE_SERVER_AUTHENTICATION; r++) {
        uint32_t q;
        const char *s = saslmech_failure_str(r);
        CHECK(s != NULL && *s != '\0');
        CHECK(strstr(s, "unknown") == NULL);
        for (q = 0; q < r; q++)
            CHECK(strcmp(s, saslmech_failure_str(q)) != 0);
    }
    CHECK(strcmp(saslmech_failure_str(SASLMECH_FAILURE_BAD_CREDENTIALS),
                 "authentication credentials invalid") == 0);
    CHECK(strcmp(saslmech_failure_str(16), "unknown saslmech_failure") == 0);
}

static void test_mechanisms(void)
{
    static const struct {
        saslmech_mechanism m;
        const char *name, *lower;
        uint32_t props;
    } all[] = {
        {SASLMECH_MECH_PLAIN, "PLAIN", "plain",
         SASLMECH_PROP_CLIENT_FIRST | SASLMECH_PROP_EXPOSES_SECRET | SASLMECH_PROP_REQUIRES_TLS |
             SASLMECH_PROP_USES_PASSWORD},
        {SASLMECH_MECH_LOGIN, "LOGIN", "Login",
         SASLMECH_PROP_EXPOSES_SECRET | SASLMECH_PROP_REQUIRES_TLS | SASLMECH_PROP_USES_PASSWORD},
        {SASLMECH_MECH_CRAM_MD5, "CRAM-MD5", "cram-md5",
         SASLMECH_PROP_WEAK | SASLMECH_PROP_USES_PASSWORD},
        {SASLMECH_MECH_XOAUTH2, "XOAUTH2", "xoauth2",
         SASLMECH_PROP_CLIENT_FIRST | SASLMECH_PROP_REQUIRES_TLS | SASLMECH_PROP_USES_TOKEN},
    };
    const saslmech_mechanism *list = (const saslmech_mechanism *)PTR_SENTINEL;
    size_t len = LEN_SENTINEL, i;
    saslmech_mechanism m = U32_SENTINEL;
    saslmech_properties p = U32_SENTINEL;

    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *name = saslmech_mechanism_name(all[i].m);
        CHECK(name != NULL && strcmp(name, all[i].name) == 0);
        m = 0;
        OK(saslmech_mechanism_from_name(S(all[i].lower), &m));
        EQ(m, all[i].m);
        OK(saslmech_mechanism_properties(all[i].m, &p));
        EQ(p, all[i].props);
    }
    CHECK(saslmech_mechanism_name(0) == NULL);
    CHECK(saslmech_mechanism_name(5) == NULL);
    CHECK(saslmech_mechanism_name(0xffffffffu) == NULL);

    m = U32_SENTINEL;
    EQ(saslmech_mechanism_from_name(S("GSSAPI"), &m), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_mechanism_from_name(S("PLAIN "), &m), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_mechanism_from_name(S(""), &m), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_mechanism_from_name(L("\xff\xfe"), &m), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_mechanism_from_name(NULL, 5, &m), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_mechanism_from_name(S("PLAIN"), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_mechanism_from_name((const uint8_t *)"PLAIN", HUGE_LEN, &m),
       SASLMECH_INVALID_ARGUMENT);
    EQ(m, U32_SENTINEL);

    p = U32_SENTINEL;
    EQ(saslmech_mechanism_properties(0, &p), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_mechanism_properties(99, &p), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_mechanism_properties(SASLMECH_MECH_PLAIN, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(p, U32_SENTINEL);

    OK(saslmech_mechanisms(&list, &len));
    EQ(len, 4);
    EQ(list[0], SASLMECH_MECH_XOAUTH2);
    EQ(list[1], SASLMECH_MECH_CRAM_MD5);
    EQ(list[2], SASLMECH_MECH_PLAIN);
    EQ(list[3], SASLMECH_MECH_LOGIN);
    EQ(saslmech_mechanisms(NULL, &len), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_mechanisms(&list, NULL), SASLMECH_NULL_ARGUMENT);
}

static void test_select(void)
{
    saslmech_mechanism m;

    m = 0;
    OK(saslmech_select(S("PLAIN LOGIN CRAM-MD5 GSSAPI"),
                       SASLMECH_SELECT_PASSWORD | SASLMECH_SELECT_TLS, &m));
    EQ(m, SASLMECH_MECH_CRAM_MD5);
    OK(saslmech_select(S("login\tplain\r\n"), SASLMECH_SELECT_PASSWORD | SASLMECH_SELECT_TLS, &m));
    EQ(m, SASLMECH_MECH_PLAIN);
    OK(saslmech_select(S("PLAIN XOAUTH2"), SASLMECH_SELECT_TOKEN | SASLMECH_SELECT_TLS, &m));
    EQ(m, SASLMECH_MECH_XOAUTH2);
    /* Names that are not UTF-8 are unknown names, ignored. */
    OK(saslmech_select(L("\xff\xfe LOGIN"), SASLMECH_SELECT_PASSWORD | SASLMECH_SELECT_TLS, &m));
    EQ(m, SASLMECH_MECH_LOGIN);
    /* Without TLS the password mechanisms that expose it are skipped unless allowed. */
    m = U32_SENTINEL;
    EQ(saslmech_select(S("PLAIN LOGIN"), SASLMECH_SELECT_PASSWORD, &m), SASLMECH_ABSENT);
    EQ(saslmech_select(S(""), SASLMECH_SELECT_PASSWORD | SASLMECH_SELECT_TLS, &m),
       SASLMECH_ABSENT);
    EQ(saslmech_select(S("PLAIN"), SASLMECH_SELECT_TOKEN | SASLMECH_SELECT_TLS, &m),
       SASLMECH_ABSENT);
    EQ(m, U32_SENTINEL);
    OK(saslmech_select(S("PLAIN LOGIN"),
                       SASLMECH_SELECT_PASSWORD | SASLMECH_SELECT_ALLOW_PLAINTEXT, &m));
    EQ(m, SASLMECH_MECH_PLAIN);

    m = U32_SENTINEL;
    EQ(saslmech_select(S("PLAIN"), 16, &m), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_select(NULL, 0, SASLMECH_SELECT_PASSWORD, &m), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_select(S("PLAIN"), SASLMECH_SELECT_PASSWORD, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(m, U32_SENTINEL);
}

static void test_helpers(void)
{
    bool eq = true;
    uint8_t buf[64], keys[SASLMECH_CRAM_MD5_KEYS_LEN], keys2[SASLMECH_CRAM_MD5_KEYS_LEN];
    char dovecot[11 + 64 + 1];
    size_t n = LEN_SENTINEL, i;

    OK(saslmech_ct_eq_password(S("secret"), S("secret"), &eq));
    CHECK(eq);
    OK(saslmech_ct_eq_password(S("secret"), S("secreT"), &eq));
    CHECK(!eq);
    OK(saslmech_ct_eq_password(S(""), S("x"), &eq));
    CHECK(!eq);
    EQ(saslmech_ct_eq_password(NULL, 0, S("x"), &eq), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_ct_eq_password(S("x"), NULL, 0, &eq), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_ct_eq_password(S("x"), S("x"), NULL), SASLMECH_NULL_ARGUMENT);
    OK(saslmech_ct_eq(S("abc"), S("abc"), &eq));
    CHECK(eq);
    OK(saslmech_ct_eq(S("abc"), S("abd"), &eq));
    CHECK(!eq);
    OK(saslmech_ct_eq(S("abc"), S("abcd"), &eq));
    CHECK(!eq);
    EQ(saslmech_ct_eq(NULL, 1, S("x"), &eq), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_ct_eq(S("x"), S("x"), NULL), SASLMECH_NULL_ARGUMENT);

    /* base64 */
    OK(saslmech_b64_encode(L("\0tim\0tanstaaftanstaaf"), buf, sizeof buf, &n));
    SAME(buf, n, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    OK(saslmech_b64_encode(S(""), buf, 0, &n));
    EQ(n, 0);
    n = LEN_SENTINEL;
    EQ(saslmech_b64_encode(S("tim"), buf, 3, &n), SASLMECH_BUFFER_TOO_SMALL);
    EQ(n, LEN_SENTINEL);
    OK(saslmech_b64_encode(S("tim"), buf, 4, &n));
    SAME(buf, n, "dGlt");
    OK(saslmech_b64_decode(S("dGVzdAB0ZXN0ADEyMzQ="), buf, sizeof buf, &n));
    SAME(buf, n, "test\0test\0" "1234");
    n = LEN_SENTINEL;
    EQ(saslmech_b64_decode(S("=AAA"), buf, sizeof buf, &n), SASLMECH_FAILED);
    EQ(saslmech_b64_decode(S("AAA=BBB="), buf, sizeof buf, &n), SASLMECH_FAILED);
    EQ(saslmech_b64_decode(S("dGlt\r\n"), buf, sizeof buf, &n), SASLMECH_FAILED);
    EQ(saslmech_b64_decode(S("dGltdGlt"), buf, 5, &n), SASLMECH_BUFFER_TOO_SMALL);
    EQ(n, LEN_SENTINEL);
    EQ(saslmech_b64_encode(NULL, 0, buf, sizeof buf, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_b64_encode(S("x"), NULL, 8, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_b64_encode(S("x"), buf, 8, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_b64_decode(NULL, 0, buf, sizeof buf, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_b64_decode(S("AA=="), NULL, 8, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_b64_decode(S("AA=="), buf, 8, NULL), SASLMECH_NULL_ARGUMENT);

    /* CRAM-MD5 key state: from the password, and from Dovecot's text form of the same. */
    memset(keys, 0, sizeof keys);
    OK(saslmech_cram_md5_keys_from_password(S("tanstaaftanstaaf"), keys, sizeof keys));
    strcpy(dovecot, "{CRAM-MD5}");
    for (i = 0; i < sizeof keys; i++)
        snprintf(dovecot + 10 + 2 * i, 3, "%02x", keys[i]);
    memset(keys2, 0, sizeof keys2);
    OK(saslmech_cram_md5_keys_from_dovecot(S(dovecot), keys2, sizeof keys2));
    CHECK(memcmp(keys, keys2, sizeof keys) == 0);
    memset(keys2, 0, sizeof keys2);
    OK(saslmech_cram_md5_keys_from_dovecot(S(dovecot + 10), keys2, sizeof keys2));
    CHECK(memcmp(keys, keys2, sizeof keys) == 0);
    memset(keys2, 0x55, sizeof keys2);
    EQ(saslmech_cram_md5_keys_from_dovecot(S("{CRAM-MD5}00"), keys2, sizeof keys2),
       SASLMECH_FAILED);
    dovecot[20] = 'g';
    EQ(saslmech_cram_md5_keys_from_dovecot(S(dovecot), keys2, sizeof keys2), SASLMECH_FAILED);
    dovecot[20] = '0';
    EQ(saslmech_cram_md5_keys_from_dovecot(L("\xff"), keys2, sizeof keys2), SASLMECH_INVALID_UTF8);
    EQ(saslmech_cram_md5_keys_from_password(S("pw"), keys2, sizeof keys2 - 1),
       SASLMECH_BUFFER_TOO_SMALL);
    EQ(saslmech_cram_md5_keys_from_dovecot(S(dovecot + 10), keys2, 31), SASLMECH_BUFFER_TOO_SMALL);
    EQ(keys2[0], 0x55);
    EQ(saslmech_cram_md5_keys_from_password(NULL, 0, keys2, 32), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_cram_md5_keys_from_password(S("pw"), NULL, 32), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_cram_md5_keys_from_dovecot(NULL, 0, keys2, 32), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_cram_md5_keys_from_dovecot(S("x"), NULL, 32), SASLMECH_NULL_ARGUMENT);
}

/* ------------------------------------------------------------------------------------------ */
/* Server configuration */

static void expect_offered(const saslmech_server_config *c, uint32_t flags, const char *want,
                           int line)
{
    const uint8_t *p = PTR_SENTINEL;
    size_t n = LEN_SENTINEL;
    saslmech_result r = saslmech_server_config_offered(c, flags, &p, &n);
    check(r == SASLMECH_OK, "saslmech_server_config_offered", __FILE__, line);
    check(r == SASLMECH_OK && n == strlen(want) && memcmp(p, want, n) == 0, want, __FILE__, line);
}

static saslmech_server_config *new_config(void)
{
    saslmech_server_config *c = NULL;
    OK(saslmech_server_config_new(&c));
    CHECK(c != NULL);
    return c;
}

static void test_server_config(void)
{
    saslmech_server_config *c = new_config();
    saslmech_server *sentinel = (saslmech_server *)PTR_SENTINEL;
    saslmech_mechanism only_plain[] = {SASLMECH_MECH_PLAIN, SASLMECH_MECH_LOGIN};
    saslmech_mechanism bad[] = {SASLMECH_MECH_PLAIN, 42};
    saslmech_failure v = U32_SENTINEL;
    size_t max = LEN_SENTINEL;
    const uint8_t *p;
    size_t n;

    saslmech_server_config_free(NULL);
    EQ(saslmech_server_config_new(NULL), SASLMECH_NULL_ARGUMENT);

    /* Defaults. */
    expect_offered(c, 0, "CRAM-MD5", __LINE__);
    expect_offered(c, SASLMECH_SERVER_TLS, "XOAUTH2 CRAM-MD5 PLAIN LOGIN", __LINE__);
    OK(saslmech_server_config_max_message(c, &max));
    EQ(max, 65536);
    OK(saslmech_server_config_check(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS, &v));
    EQ(v, SASLMECH_FAILURE_NONE);
    OK(saslmech_server_config_check(c, SASLMECH_MECH_PLAIN, 0, &v));
    EQ(v, SASLMECH_FAILURE_ENCRYPTION_REQUIRED);

    /* Policy setters. */
    OK(saslmech_server_config_set_allow_plaintext(c, true));
    expect_offered(c, 0, "XOAUTH2 CRAM-MD5 PLAIN LOGIN", __LINE__);
    OK(saslmech_server_config_set_allow_weak(c, false));
    expect_offered(c, 0, "XOAUTH2 PLAIN LOGIN", __LINE__);
    OK(saslmech_server_config_check(c, SASLMECH_MECH_CRAM_MD5, SASLMECH_SERVER_TLS, &v));
    EQ(v, SASLMECH_FAILURE_MECHANISM_TOO_WEAK);
    OK(saslmech_server_config_set_allow_weak(c, true));
    OK(saslmech_server_config_set_mechanisms(c, only_plain, 2));
    expect_offered(c, SASLMECH_SERVER_TLS, "PLAIN LOGIN", __LINE__);
    OK(saslmech_server_config_check(c, SASLMECH_MECH_XOAUTH2, SASLMECH_SERVER_TLS, &v));
    EQ(v, SASLMECH_FAILURE_MECHANISM_UNAVAILABLE);
    /* A list with an unknown number is refused whole. */
    EQ(saslmech_server_config_set_mechanisms(c, bad, 2), SASLMECH_UNKNOWN_MECHANISM);
    expect_offered(c, SASLMECH_SERVER_TLS, "PLAIN LOGIN", __LINE__);
    OK(saslmech_server_config_set_mechanisms(c, only_plain, 0));
    expect_offered(c, SASLMECH_SERVER_TLS, "", __LINE__);
    EQ(saslmech_server_config_set_mechanisms(c, NULL, 0), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_set_mechanisms(c, only_plain, HUGE_LEN), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_config_set_mechanisms(NULL, only_plain, 1), SASLMECH_NULL_ARGUMENT);

    /* Limits. */
    OK(saslmech_server_config_set_max_message(c, 100));
    OK(saslmech_server_config_max_message(c, &max));
    EQ(max, 100);
    EQ(saslmech_server_config_set_max_message(c, 0), SASLMECH_INVALID_ARGUMENT);
    OK(saslmech_server_config_max_message(c, &max));
    EQ(max, 100);
    OK(saslmech_server_config_set_max_identity(c, 10));
    OK(saslmech_server_config_set_max_steps(c, 1));
    OK(saslmech_server_config_set_max_steps(c, 65535));
    EQ(saslmech_server_config_set_max_steps(c, 0), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_config_set_max_steps(c, 65536), SASLMECH_INVALID_ARGUMENT);

    /* Host name and nonces. */
    OK(saslmech_server_config_set_hostname(c, S("mx.example.com")));
    EQ(saslmech_server_config_set_hostname(c, L("mx\xff.example.com")), SASLMECH_INVALID_UTF8);
    EQ(saslmech_server_config_set_hostname(c, S("")), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_config_set_hostname(c, S("a b")), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_config_set_hostname(c, S("a>b")), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_config_set_hostname(c, L("a\0b")), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_config_set_hostname(c, NULL, 3), SASLMECH_NULL_ARGUMENT);
    OK(saslmech_server_config_set_nonce_fixed(c, S("1896.697170952")));
    EQ(saslmech_server_config_set_nonce_fixed(c, S("")), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_config_set_nonce_fixed(c, S("a@b")), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_config_set_nonce_fixed(c, S("a b")), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_config_set_nonce_fixed(c, NULL, 1), SASLMECH_NULL_ARGUMENT);
    OK(saslmech_server_config_set_nonce_os(c));

    /* NULL handles and out-parameters; unknown flags. */
    EQ(saslmech_server_config_set_allow_plaintext(NULL, true), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_set_allow_weak(NULL, true), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_set_max_message(NULL, 1), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_set_max_identity(NULL, 1), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_set_max_steps(NULL, 1), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_set_hostname(NULL, S("x")), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_set_nonce_fixed(NULL, S("x")), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_set_nonce_os(NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_max_message(NULL, &max), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_max_message(c, NULL), SASLMECH_NULL_ARGUMENT);
    p = PTR_SENTINEL;
    n = LEN_SENTINEL;
    EQ(saslmech_server_config_offered(NULL, 0, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_offered(c, 0, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_offered(c, 0, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_offered(c, 8, &p, &n), SASLMECH_INVALID_ARGUMENT);
    CHECK(p == PTR_SENTINEL && n == LEN_SENTINEL);
    v = U32_SENTINEL;
    EQ(saslmech_server_config_check(NULL, SASLMECH_MECH_PLAIN, 0, &v), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_check(c, SASLMECH_MECH_PLAIN, 0, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_config_check(c, 77, 0, &v), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_server_config_check(c, SASLMECH_MECH_PLAIN, 0x80, &v), SASLMECH_INVALID_ARGUMENT);
    EQ(v, U32_SENTINEL);
    EQ(saslmech_server_new(c, 77, 0, &sentinel), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_server_new(c, SASLMECH_MECH_PLAIN, 0x80, &sentinel), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_new(NULL, SASLMECH_MECH_PLAIN, 0, &sentinel), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_new(c, SASLMECH_MECH_PLAIN, 0, NULL), SASLMECH_NULL_ARGUMENT);
    CHECK(sentinel == (saslmech_server *)PTR_SENTINEL);
    saslmech_server_config_free(c);
}

/* ------------------------------------------------------------------------------------------ */
/* Server sessions, driven by hand */

static saslmech_server *new_server(const saslmech_server_config *c, saslmech_mechanism m,
                                   uint32_t flags)
{
    saslmech_server *s = NULL;
    OK(saslmech_server_new(c, m, flags, &s));
    CHECK(s != NULL);
    return s;
}

static void expect_challenge(const saslmech_server *s, const char *want, size_t want_len, int line)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    check(saslmech_server_challenge(s, &p, &n) == SASLMECH_OK, "saslmech_server_challenge",
          __FILE__, line);
    check(n == want_len && p != NULL && memcmp(p, want, n) == 0, want, __FILE__, line);
}

static void expect_failure(const saslmech_server *s, saslmech_failure want, int line)
{
    saslmech_failure f = U32_SENTINEL;
    check(saslmech_server_failure(s, &f) == SASLMECH_OK, "saslmech_server_failure", __FILE__,
          line);
    if (f != want) {
        failures++;
        fprintf(stderr, "%s:%d: failure %u (%s), expected %u (%s)\n", __FILE__, line, f,
                saslmech_failure_str(f), want, saslmech_failure_str(want));
    }
    checks++;
}

static void test_server_plain(void)
{
    saslmech_server_config *c = new_config();
    saslmech_server *s;
    saslmech_status st = U32_SENTINEL;
    saslmech_request kind = U32_SENTINEL;
    saslmech_mechanism m = 0;
    const uint8_t *p = PTR_SENTINEL;
    size_t n = LEN_SENTINEL;

    /* Initial response, stored password compared by the library. */
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_mechanism(s, &m));
    EQ(m, SASLMECH_MECH_PLAIN);
    EQ(saslmech_server_status(s, &st), SASLMECH_INVALID_STATE); /* not started */
    EQ(st, U32_SENTINEL);
    OK(saslmech_server_start(s, L("\0tim\0tanstaaftanstaaf"), &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_status(s, &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_VERIFY_PASSWORD);
    OK(saslmech_server_request_authcid(s, &p, &n));
    SAME(p, n, "tim");
    p = PTR_SENTINEL;
    n = LEN_SENTINEL;
    EQ(saslmech_server_request_authzid(s, &p, &n), SASLMECH_ABSENT);
    CHECK(p == PTR_SENTINEL && n == LEN_SENTINEL);
    OK(saslmech_server_request_password(s, &p, &n));
    SAME(p, n, "tanstaaftanstaaf");
    EQ(saslmech_server_request_token(s, &p, &n), SASLMECH_INVALID_STATE);
    /* Wrong state while the request waits: a step, a second start, the challenge. */
    EQ(saslmech_server_step(s, S("x"), &st), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_start_no_ir(s, &st), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_challenge(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_identity_authcid(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_success_data(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_failure(s, &st), SASLMECH_INVALID_STATE);
    /* Answers that do not fit a password request leave it pending. */
    EQ(saslmech_server_answer_token_error(s, S("401"), &st), SASLMECH_WRONG_ANSWER);
    EQ(saslmech_server_answer_cram_md5_keys(s, (const uint8_t *)"0123456789abcdef0123456789abcdef",
                                            32, &st),
       SASLMECH_WRONG_ANSWER);
    OK(saslmech_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_VERIFY_PASSWORD);
    st = U32_SENTINEL;
    OK(saslmech_server_answer_password(s, S("tanstaaftanstaaf"), &st));
    EQ(st, SASLMECH_STATUS_SUCCESS);
    OK(saslmech_server_identity_authcid(s, &p, &n));
    SAME(p, n, "tim");
    OK(saslmech_server_identity_effective(s, &p, &n));
    SAME(p, n, "tim");
    p = PTR_SENTINEL;
    EQ(saslmech_server_identity_authzid(s, &p, &n), SASLMECH_ABSENT);
    EQ(saslmech_server_success_data(s, &p, &n), SASLMECH_ABSENT);
    CHECK(p == PTR_SENTINEL);
    EQ(saslmech_server_request(s, &kind), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_failure(s, &st), SASLMECH_INVALID_STATE);
    /* Everything after the end is refused and changes nothing. */
    EQ(saslmech_server_step(s, S(""), &st), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_answer_accept(s, &st), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_start(s, S(""), &st), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_cancel(s, &st), SASLMECH_INVALID_STATE);
    OK(saslmech_server_status(s, &st));
    EQ(st, SASLMECH_STATUS_SUCCESS);
    saslmech_server_free(s);

    /* No initial response: an empty challenge first. */
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    EQ(saslmech_server_step(s, S("x"), &st), SASLMECH_INVALID_STATE); /* before start */
    EQ(saslmech_server_answer_accept(s, &st), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_request(s, &kind), SASLMECH_INVALID_STATE);
    OK(saslmech_server_start_no_ir(s, &st));
    EQ(st, SASLMECH_STATUS_CHALLENGE);
    expect_challenge(s, "", 0, __LINE__);
    EQ(saslmech_server_answer_accept(s, &st), SASLMECH_INVALID_STATE); /* nothing asked */
    OK(saslmech_server_step(s, L("admin\0tim\0tanstaaftanstaaf"), &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_request_authzid(s, &p, &n));
    SAME(p, n, "admin");
    /* The application checks the password itself, then is asked to authorize. */
    OK(saslmech_server_answer_accept(s, &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_AUTHORIZE);
    OK(saslmech_server_request_authcid(s, &p, &n));
    SAME(p, n, "tim");
    OK(saslmech_server_request_authzid(s, &p, &n));
    SAME(p, n, "admin");
    EQ(saslmech_server_request_password(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_answer_password(s, S("x"), &st), SASLMECH_WRONG_ANSWER);
    OK(saslmech_server_answer_accept(s, &st));
    EQ(st, SASLMECH_STATUS_SUCCESS);
    OK(saslmech_server_identity_authzid(s, &p, &n));
    SAME(p, n, "admin");
    OK(saslmech_server_identity_effective(s, &p, &n));
    SAME(p, n, "admin");
    saslmech_server_free(s);

    /* Authorization refused. */
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, L("admin\0tim\0pw"), &st));
    OK(saslmech_server_answer_accept(s, &st));
    OK(saslmech_server_answer_reject(s, &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_AUTHZ_DENIED, __LINE__);
    saslmech_server_free(s);

    /* Wrong password, unknown user, disabled account, backend down. */
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, L("\0tim\0wrong"), &st));
    OK(saslmech_server_answer_password(s, S("tanstaaftanstaaf"), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    OK(saslmech_server_status(s, &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_BAD_CREDENTIALS, __LINE__);
    EQ(saslmech_server_identity_authcid(s, &p, &n), SASLMECH_INVALID_STATE);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, L("\0nobody\0pw"), &st));
    OK(saslmech_server_answer_unknown_user(s, &st));
    expect_failure(s, SASLMECH_FAILURE_BAD_CREDENTIALS, __LINE__);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, L("\0tim\0pw"), &st));
    OK(saslmech_server_answer_account_disabled(s, &st));
    expect_failure(s, SASLMECH_FAILURE_ACCOUNT_DISABLED, __LINE__);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, L("\0tim\0pw"), &st));
    OK(saslmech_server_answer_temporary_failure(s, &st));
    expect_failure(s, SASLMECH_FAILURE_TEMPORARY, __LINE__);
    saslmech_server_free(s);

    /* Malformed messages, including identities that are not UTF-8. */
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, S("no separators"), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_MALFORMED, __LINE__);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, L("\0t\xffm\0pw"), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_MALFORMED, __LINE__);
    saslmech_server_free(s);

    /* Cancel, mid-exchange and before start. */
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start_no_ir(s, &st));
    OK(saslmech_server_cancel(s, &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_CANCELLED, __LINE__);
    EQ(saslmech_server_cancel(s, &st), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_step(s, S(""), &st), SASLMECH_INVALID_STATE);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_cancel(s, &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_CANCELLED, __LINE__);
    EQ(saslmech_server_start_no_ir(s, &st), SASLMECH_INVALID_STATE);
    saslmech_server_free(s);

    /* Policy is checked at start and reported like any failure. */
    s = new_server(c, SASLMECH_MECH_PLAIN, 0);
    OK(saslmech_server_start(s, L("\0tim\0pw"), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_ENCRYPTION_REQUIRED, __LINE__);
    EQ(saslmech_server_start(s, L("\0tim\0pw"), &st), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_cancel(s, &st), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_request(s, &kind), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_identity_authcid(s, &p, &n), SASLMECH_INVALID_STATE);
    saslmech_server_free(s);

    saslmech_server_config_free(c);
}

static void test_server_null_arguments(void)
{
    saslmech_server_config *c = new_config();
    saslmech_server *s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    saslmech_status st = U32_SENTINEL;
    saslmech_request kind = U32_SENTINEL;
    saslmech_mechanism m = U32_SENTINEL;
    saslmech_failure f = U32_SENTINEL;
    const uint8_t *p = PTR_SENTINEL;
    size_t n = LEN_SENTINEL;
    uint8_t keys[32] = {0};

    saslmech_server_free(NULL);
    EQ(saslmech_server_mechanism(NULL, &m), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_mechanism(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_start(NULL, S(""), &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_start(s, NULL, 0, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_start(s, S(""), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_start(s, (const uint8_t *)"x", HUGE_LEN, &st), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_start_no_ir(NULL, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_start_no_ir(s, NULL), SASLMECH_NULL_ARGUMENT);
    /* None of that started the session. */
    EQ(saslmech_server_status(s, &st), SASLMECH_INVALID_STATE);
    OK(saslmech_server_start_no_ir(s, &st));
    EQ(st, SASLMECH_STATUS_CHALLENGE);
    st = U32_SENTINEL;
    EQ(saslmech_server_step(NULL, S(""), &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_step(s, NULL, 0, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_step(s, S(""), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_cancel(NULL, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_cancel(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_status(NULL, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_status(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_challenge(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_challenge(s, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_challenge(s, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(st, U32_SENTINEL);
    CHECK(p == PTR_SENTINEL && n == LEN_SENTINEL);
    OK(saslmech_server_step(s, L("\0tim\0pw"), &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    st = U32_SENTINEL;
    EQ(saslmech_server_request(NULL, &kind), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_request(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_request_authcid(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_request_authcid(s, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_request_authcid(s, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_request_authzid(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_request_password(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_request_password(s, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_request_token(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_accept(NULL, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_accept(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_reject(NULL, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_reject(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_unknown_user(NULL, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_unknown_user(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_account_disabled(NULL, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_account_disabled(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_temporary_failure(NULL, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_temporary_failure(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_password(NULL, S("pw"), &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_password(s, NULL, 0, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_password(s, S("pw"), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_cram_md5_keys(NULL, keys, 32, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_cram_md5_keys(s, NULL, 32, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_cram_md5_keys(s, keys, 32, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_cram_md5_keys(s, keys, 31, &st), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_server_answer_token_error(NULL, S("401"), &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_token_error(s, NULL, 3, &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_token_error(s, S("401"), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_token_error(s, L("4\xff"), &st), SASLMECH_INVALID_UTF8);
    EQ(saslmech_server_answer_token_error_scope(NULL, S("401"), S("x"), &st),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_token_error_scope(s, NULL, 3, S("x"), &st), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_token_error_scope(s, S("401"), NULL, 1, &st),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_token_error_scope(s, S("401"), S("x"), NULL),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_answer_token_error_scope(s, S("401"), L("\xc3("), &st),
       SASLMECH_INVALID_UTF8);
    EQ(saslmech_server_failure(NULL, &f), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_failure(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_identity_authcid(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_identity_authzid(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_identity_effective(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_identity_effective(s, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_success_data(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_server_success_data(s, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(st, U32_SENTINEL);
    EQ(kind, U32_SENTINEL);
    EQ(f, U32_SENTINEL);
    CHECK(p == PTR_SENTINEL && n == LEN_SENTINEL);
    /* The request is still pending and answerable. */
    OK(saslmech_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_VERIFY_PASSWORD);
    OK(saslmech_server_answer_password(s, S("pw"), &st));
    EQ(st, SASLMECH_STATUS_SUCCESS);
    saslmech_server_free(s);
    saslmech_server_config_free(c);
}

static void test_server_login_base64(void)
{
    saslmech_server_config *c = new_config();
    saslmech_server *s;
    saslmech_status st;
    saslmech_request kind;
    const uint8_t *p, *kept;
    size_t n, kept_len;

    s = new_server(c, SASLMECH_MECH_LOGIN, SASLMECH_SERVER_TLS | SASLMECH_SERVER_BASE64);
    OK(saslmech_server_start_no_ir(s, &st));
    EQ(st, SASLMECH_STATUS_CHALLENGE);
    expect_challenge(s, "VXNlcm5hbWU6", 12, __LINE__); /* "Username:" */
    /* The challenge stays valid across const calls. */
    OK(saslmech_server_challenge(s, &kept, &kept_len));
    OK(saslmech_server_status(s, &st));
    OK(saslmech_server_challenge(s, &p, &n));
    CHECK(p == kept && n == kept_len && memcmp(kept, "VXNlcm5hbWU6", 12) == 0);
    OK(saslmech_server_step(s, S("dGlt"), &st)); /* "tim" */
    EQ(st, SASLMECH_STATUS_CHALLENGE);
    expect_challenge(s, "UGFzc3dvcmQ6", 12, __LINE__); /* "Password:" */
    OK(saslmech_server_step(s, S("dGFuc3RhYWZ0YW5zdGFhZg=="), &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_VERIFY_PASSWORD);
    OK(saslmech_server_request_password(s, &p, &n));
    SAME(p, n, "tanstaaftanstaaf");
    OK(saslmech_server_answer_accept(s, &st));
    EQ(st, SASLMECH_STATUS_SUCCESS);
    saslmech_server_free(s);

    /* Invalid base64 ends the exchange. */
    s = new_server(c, SASLMECH_MECH_LOGIN, SASLMECH_SERVER_TLS | SASLMECH_SERVER_BASE64);
    OK(saslmech_server_start_no_ir(s, &st));
    OK(saslmech_server_step(s, S("dGlt=="), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_INVALID_BASE64, __LINE__);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS | SASLMECH_SERVER_BASE64);
    OK(saslmech_server_start(s, S("AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_INVALID_BASE64, __LINE__);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS | SASLMECH_SERVER_BASE64);
    OK(saslmech_server_start(s, S("AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    saslmech_server_free(s); /* freed with a request pending: wiped, no leak */

    /* Round-trip limit. */
    OK(saslmech_server_config_set_max_steps(c, 1));
    s = new_server(c, SASLMECH_MECH_LOGIN, SASLMECH_SERVER_TLS | SASLMECH_SERVER_BASE64);
    OK(saslmech_server_start_no_ir(s, &st));
    OK(saslmech_server_step(s, S("dGlt"), &st));
    EQ(st, SASLMECH_STATUS_CHALLENGE);
    OK(saslmech_server_step(s, S("cHc="), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_TOO_MANY_STEPS, __LINE__);
    saslmech_server_free(s);
    saslmech_server_config_free(c);
}

static void test_server_oversized(void)
{
    saslmech_server_config *c = new_config();
    saslmech_server *s;
    saslmech_status st;
    char big[200];

    OK(saslmech_server_config_set_max_message(c, 64));
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, S(big), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_TOO_LARGE, __LINE__);
    saslmech_server_free(s);

    s = new_server(c, SASLMECH_MECH_LOGIN, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start_no_ir(s, &st));
    OK(saslmech_server_step(s, S(big), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_TOO_LARGE, __LINE__);
    saslmech_server_free(s);

    /* In base64 mode the text is refused before it is decoded. */
    s = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS | SASLMECH_SERVER_BASE64);
    OK(saslmech_server_start(s, S(big), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_TOO_LARGE, __LINE__);
    saslmech_server_free(s);
    saslmech_server_config_free(c);
}

static void test_server_cram_md5(void)
{
    saslmech_server_config *c = new_config();
    saslmech_server *s;
    saslmech_status st;
    saslmech_request kind;
    const uint8_t *p;
    size_t n;
    uint8_t keys[SASLMECH_CRAM_MD5_KEYS_LEN];
    static const char challenge[] = "<1896.697170952@postoffice.reston.mci.net>";
    static const char response[] = "tim b913a602c7eda7a495b4e6e7334d3890";

    /* RFC 2195's example, with a fixed nonce (tests only). */
    OK(saslmech_server_config_set_hostname(c, S("postoffice.reston.mci.net")));
    OK(saslmech_server_config_set_nonce_fixed(c, S("1896.697170952")));
    OK(saslmech_cram_md5_keys_from_password(S("tanstaaftanstaaf"), keys, sizeof keys));

    s = new_server(c, SASLMECH_MECH_CRAM_MD5, 0);
    OK(saslmech_server_start_no_ir(s, &st));
    EQ(st, SASLMECH_STATUS_CHALLENGE);
    expect_challenge(s, challenge, sizeof challenge - 1, __LINE__);
    OK(saslmech_server_step(s, S(response), &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_SECRET);
    OK(saslmech_server_request_authcid(s, &p, &n));
    SAME(p, n, "tim");
    EQ(saslmech_server_request_authzid(s, &p, &n), SASLMECH_ABSENT);
    EQ(saslmech_server_request_password(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_answer_accept(s, &st), SASLMECH_WRONG_ANSWER);
    OK(saslmech_server_answer_password(s, S("tanstaaftanstaaf"), &st));
    EQ(st, SASLMECH_STATUS_SUCCESS);
    saslmech_server_free(s);

    /* The stored key state instead of the password. */
    s = new_server(c, SASLMECH_MECH_CRAM_MD5, 0);
    OK(saslmech_server_start_no_ir(s, &st));
    OK(saslmech_server_step(s, S(response), &st));
    OK(saslmech_server_answer_cram_md5_keys(s, keys, sizeof keys, &st));
    EQ(st, SASLMECH_STATUS_SUCCESS);
    saslmech_server_free(s);

    /* Wrong secret, unknown user, an initial response it does not take. */
    s = new_server(c, SASLMECH_MECH_CRAM_MD5, 0);
    OK(saslmech_server_start_no_ir(s, &st));
    OK(saslmech_server_step(s, S(response), &st));
    OK(saslmech_server_answer_password(s, S("tanstaaftanstaaF"), &st));
    expect_failure(s, SASLMECH_FAILURE_BAD_CREDENTIALS, __LINE__);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_CRAM_MD5, 0);
    OK(saslmech_server_start_no_ir(s, &st));
    OK(saslmech_server_step(s, S(response), &st));
    OK(saslmech_server_answer_unknown_user(s, &st));
    expect_failure(s, SASLMECH_FAILURE_BAD_CREDENTIALS, __LINE__);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_CRAM_MD5, 0);
    OK(saslmech_server_start(s, S(""), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_UNEXPECTED_INITIAL_RESPONSE, __LINE__);
    saslmech_server_free(s);

    /* Weak mechanisms refused by policy. */
    OK(saslmech_server_config_set_allow_weak(c, false));
    s = new_server(c, SASLMECH_MECH_CRAM_MD5, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start_no_ir(s, &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_MECHANISM_TOO_WEAK, __LINE__);
    saslmech_server_free(s);
    saslmech_server_config_free(c);
}

static void test_server_xoauth2(void)
{
    saslmech_server_config *c = new_config();
    saslmech_server *s;
    saslmech_status st;
    saslmech_request kind;
    const uint8_t *p;
    size_t n;
    static const char ir[] = "user=someuser@example.com\001auth=Bearer "
                             "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001";
    static const char error_json[] =
        "{\"status\":\"400\",\"schemes\":\"bearer\",\"scope\":\"https://mail.google.com/\"}";

    s = new_server(c, SASLMECH_MECH_XOAUTH2, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, L(ir), &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_VALIDATE_TOKEN);
    OK(saslmech_server_request_authcid(s, &p, &n));
    SAME(p, n, "someuser@example.com");
    OK(saslmech_server_request_token(s, &p, &n));
    SAME(p, n, "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    EQ(saslmech_server_request_password(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_server_request_authzid(s, &p, &n), SASLMECH_ABSENT);
    EQ(saslmech_server_answer_password(s, S("x"), &st), SASLMECH_WRONG_ANSWER);
    OK(saslmech_server_answer_accept(s, &st));
    EQ(st, SASLMECH_STATUS_SUCCESS);
    OK(saslmech_server_identity_authcid(s, &p, &n));
    SAME(p, n, "someuser@example.com");
    saslmech_server_free(s);

    /* An invalid token: error challenge, the client's empty response, failure. */
    s = new_server(c, SASLMECH_MECH_XOAUTH2, SASLMECH_SERVER_TLS);
    OK(saslmech_server_start(s, L(ir), &st));
    OK(saslmech_server_answer_token_error_scope(s, S("400"), S("https://mail.google.com/"), &st));
    EQ(st, SASLMECH_STATUS_CHALLENGE);
    expect_challenge(s, error_json, sizeof error_json - 1, __LINE__);
    OK(saslmech_server_step(s, S(""), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(s, SASLMECH_FAILURE_BAD_CREDENTIALS, __LINE__);
    saslmech_server_free(s);
    s = new_server(c, SASLMECH_MECH_XOAUTH2, SASLMECH_SERVER_TLS | SASLMECH_SERVER_BASE64);
    OK(saslmech_server_start_no_ir(s, &st));
    EQ(st, SASLMECH_STATUS_CHALLENGE);
    expect_challenge(s, "", 0, __LINE__);
    OK(saslmech_server_step(s, S("dXNlcj11AWF1dGg9QmVhcmVyIHQBAQ=="), &st)); /* user=u, token t */
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_answer_token_error(s, S("401"), &st));
    EQ(st, SASLMECH_STATUS_CHALLENGE);
    /* base64 of {"status":"401","schemes":"bearer"} */
    expect_challenge(s, "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=", 48, __LINE__);
    OK(saslmech_server_step(s, S(""), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    saslmech_server_free(s);
    saslmech_server_config_free(c);
}

/* ------------------------------------------------------------------------------------------ */
/* Clients */

static saslmech_credentials *creds(const char *authcid, const char *password, const char *token)
{
    saslmech_credentials *cr = NULL;
    OK(saslmech_credentials_new(&cr));
    if (authcid)
        OK(saslmech_credentials_set_authcid(cr, S(authcid)));
    if (password)
        OK(saslmech_credentials_set_password(cr, S(password)));
    if (token)
        OK(saslmech_credentials_set_token(cr, S(token)));
    return cr;
}

static void test_client(void)
{
    saslmech_credentials *cr = creds("test", "1234", NULL);
    saslmech_client *cl = NULL, *sentinel = (saslmech_client *)PTR_SENTINEL;
    saslmech_mechanism m = 0;
    saslmech_failure f = U32_SENTINEL;
    bool has = false, done = true;
    const uint8_t *p = PTR_SENTINEL;
    size_t n = LEN_SENTINEL;

    saslmech_credentials_free(NULL);
    saslmech_client_free(NULL);
    EQ(saslmech_credentials_new(NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_credentials_set_authcid(NULL, S("x")), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_credentials_set_authcid(cr, NULL, 1), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_credentials_set_authcid(cr, L("t\xffst")), SASLMECH_INVALID_UTF8);
    EQ(saslmech_credentials_set_authzid(NULL, S("x")), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_credentials_set_authzid(cr, L("\xc0\x80")), SASLMECH_INVALID_UTF8);
    EQ(saslmech_credentials_set_password(NULL, S("x")), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_credentials_set_password(cr, NULL, 0), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_credentials_set_token(NULL, S("x")), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_credentials_set_token(cr, (const uint8_t *)"t", HUGE_LEN),
       SASLMECH_INVALID_ARGUMENT);
    OK(saslmech_credentials_set_authzid(cr, S("test")));

    EQ(saslmech_client_new(99, cr, 0, &sentinel), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_client_new(SASLMECH_MECH_PLAIN, cr, 2, &sentinel), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_client_new(SASLMECH_MECH_PLAIN, NULL, 0, &sentinel), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_new(SASLMECH_MECH_PLAIN, cr, 0, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_new_with_limit(SASLMECH_MECH_PLAIN, cr, 0, 0, &sentinel),
       SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_client_new_with_limit(SASLMECH_MECH_PLAIN, NULL, 0, 10, &sentinel),
       SASLMECH_NULL_ARGUMENT);
    /* The mechanism needs a token these credentials lack. */
    EQ(saslmech_client_new(SASLMECH_MECH_XOAUTH2, cr, 0, &sentinel), SASLMECH_INVALID_ARGUMENT);
    CHECK(sentinel == (saslmech_client *)PTR_SENTINEL);

    /* PLAIN: an initial response, in base64; RFC 4616's example. */
    OK(saslmech_client_new(SASLMECH_MECH_PLAIN, cr, SASLMECH_CLIENT_BASE64, &cl));
    saslmech_credentials_free(cr); /* the session keeps its own copy */
    OK(saslmech_client_mechanism(cl, &m));
    EQ(m, SASLMECH_MECH_PLAIN);
    EQ(saslmech_client_failure(cl, &f), SASLMECH_INVALID_STATE);
    OK(saslmech_client_is_finished(cl, &done));
    CHECK(!done);
    EQ(saslmech_client_start(NULL, &has, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_start(cl, NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_start(cl, &has, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_start(cl, &has, &p, NULL), SASLMECH_NULL_ARGUMENT);
    CHECK(p == PTR_SENTINEL && n == LEN_SENTINEL);
    OK(saslmech_client_start(cl, &has, &p, &n));
    CHECK(has);
    SAME(p, n, "dGVzdAB0ZXN0ADEyMzQ=");
    EQ(saslmech_client_start(cl, &has, &p, &n), SASLMECH_INVALID_STATE);
    OK(saslmech_client_finish(cl));
    OK(saslmech_client_is_finished(cl, &done));
    CHECK(done);
    EQ(saslmech_client_finish(cl), SASLMECH_INVALID_STATE);
    EQ(saslmech_client_step(cl, S(""), &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_client_mechanism(NULL, &m), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_mechanism(cl, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_is_finished(NULL, &done), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_is_finished(cl, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_failure(NULL, &f), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_failure(cl, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_finish(NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_finish_with_data(NULL, S("")), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_finish_with_data(cl, NULL, 0), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_step(NULL, S(""), &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_step(cl, NULL, 0, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_step(cl, S(""), NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_step(cl, S(""), &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(f, U32_SENTINEL);
    saslmech_client_free(cl);

    /* CRAM-MD5: no initial response, RFC 2195's example, raw. */
    cr = creds("tim", "tanstaaftanstaaf", NULL);
    OK(saslmech_client_new(SASLMECH_MECH_CRAM_MD5, cr, 0, &cl));
    OK(saslmech_client_start(cl, &has, &p, &n));
    CHECK(!has);
    EQ(n, 0);
    OK(saslmech_client_step(cl, S("<1896.697170952@postoffice.reston.mci.net>"), &p, &n));
    SAME(p, n, "tim b913a602c7eda7a495b4e6e7334d3890");
    /* Success data where the mechanism expects none ends the exchange. */
    EQ(saslmech_client_finish_with_data(cl, S("unexpected")), SASLMECH_FAILED);
    OK(saslmech_client_failure(cl, &f));
    EQ(f, SASLMECH_FAILURE_MALFORMED);
    EQ(saslmech_client_finish(cl), SASLMECH_INVALID_STATE);
    saslmech_client_free(cl);

    /* Oversized and undecodable challenges end the exchange. */
    OK(saslmech_client_new_with_limit(SASLMECH_MECH_CRAM_MD5, cr, 0, 8, &cl));
    EQ(saslmech_client_step(cl, S("<123456789>"), &p, &n), SASLMECH_FAILED);
    OK(saslmech_client_failure(cl, &f));
    EQ(f, SASLMECH_FAILURE_TOO_LARGE);
    EQ(saslmech_client_step(cl, S("<1>"), &p, &n), SASLMECH_INVALID_STATE);
    saslmech_client_free(cl);
    OK(saslmech_client_new(SASLMECH_MECH_CRAM_MD5, cr, SASLMECH_CLIENT_BASE64, &cl));
    EQ(saslmech_client_step(cl, S("PDE+*"), &p, &n), SASLMECH_FAILED);
    OK(saslmech_client_failure(cl, &f));
    EQ(f, SASLMECH_FAILURE_INVALID_BASE64);
    saslmech_client_free(cl);
    OK(saslmech_client_new(SASLMECH_MECH_PLAIN, cr, SASLMECH_CLIENT_BASE64, &cl));
    OK(saslmech_client_start(cl, &has, &p, &n));
    EQ(saslmech_client_finish_with_data(cl, S("not base64!")), SASLMECH_FAILED);
    OK(saslmech_client_failure(cl, &f));
    EQ(f, SASLMECH_FAILURE_INVALID_BASE64);
    saslmech_client_free(cl);
    saslmech_credentials_free(cr);

    /* Credentials the mechanism cannot carry. */
    cr = creds("tim", NULL, NULL);
    EQ(saslmech_client_new(SASLMECH_MECH_PLAIN, cr, 0, &sentinel), SASLMECH_INVALID_ARGUMENT);
    OK(saslmech_credentials_set_password(cr, L("pass\0word")));
    EQ(saslmech_client_new(SASLMECH_MECH_PLAIN, cr, 0, &sentinel), SASLMECH_INVALID_ARGUMENT);
    CHECK(sentinel == (saslmech_client *)PTR_SENTINEL);
    saslmech_credentials_free(cr);
}

static void test_client_xoauth2_error(void)
{
    saslmech_credentials *cr =
        creds("someuser@example.com", NULL, "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    saslmech_client *cl = NULL;
    bool has;
    const uint8_t *p;
    size_t n;
    static const char json[] =
        "{\"status\":\"401\",\"schemes\":\"bearer mac\",\"scope\":\"https://mail.google.com/\"}";

    OK(saslmech_client_new(SASLMECH_MECH_XOAUTH2, cr, 0, &cl));
    p = PTR_SENTINEL;
    EQ(saslmech_client_oauth_error(cl, SASLMECH_OAUTH_STATUS, &p, &n), SASLMECH_ABSENT);
    CHECK(p == PTR_SENTINEL);
    OK(saslmech_client_start(cl, &has, &p, &n));
    CHECK(has);
    SAME(p, n,
         "user=someuser@example.com\001auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001");
    /* The error challenge: answered with an empty response, its members readable. */
    OK(saslmech_client_step(cl, S(json), &p, &n));
    EQ(n, 0);
    OK(saslmech_client_oauth_error(cl, SASLMECH_OAUTH_STATUS, &p, &n));
    SAME(p, n, "401");
    OK(saslmech_client_oauth_error(cl, SASLMECH_OAUTH_SCHEMES, &p, &n));
    SAME(p, n, "bearer mac");
    OK(saslmech_client_oauth_error(cl, SASLMECH_OAUTH_SCOPE, &p, &n));
    SAME(p, n, "https://mail.google.com/");
    OK(saslmech_client_oauth_error(cl, SASLMECH_OAUTH_RAW, &p, &n));
    SAME(p, n, json);
    EQ(saslmech_client_oauth_error(cl, SASLMECH_OAUTH_OPENID_CONFIGURATION, &p, &n),
       SASLMECH_ABSENT);
    EQ(saslmech_client_oauth_error(cl, 0, &p, &n), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_client_oauth_error(cl, 6, &p, &n), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_client_oauth_error(NULL, SASLMECH_OAUTH_RAW, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_oauth_error(cl, SASLMECH_OAUTH_RAW, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_client_oauth_error(cl, SASLMECH_OAUTH_RAW, &p, NULL), SASLMECH_NULL_ARGUMENT);
    saslmech_client_free(cl);
    saslmech_credentials_free(cr);
}

/* ------------------------------------------------------------------------------------------ */
/* Full handshakes: this library's client against its server, every mechanism, both modes. */

struct outcome {
    saslmech_status status;
    saslmech_failure failure;
    unsigned requests;
};

/* Answer a request as a user database holding `tim` / `tanstaaftanstaaf` / token `tok`. */
static saslmech_result answer_db(saslmech_server *s, saslmech_status *st)
{
    saslmech_request kind;
    const uint8_t *user, *tok;
    size_t user_len, tok_len;
    bool tim, eq = false;

    OK(saslmech_server_request(s, &kind));
    OK(saslmech_server_request_authcid(s, &user, &user_len));
    tim = user_len == 3 && memcmp(user, "tim", 3) == 0;
    switch (kind) {
    case SASLMECH_REQUEST_VERIFY_PASSWORD:
    case SASLMECH_REQUEST_SECRET:
        return tim ? saslmech_server_answer_password(s, S("tanstaaftanstaaf"), st)
                   : saslmech_server_answer_unknown_user(s, st);
    case SASLMECH_REQUEST_VALIDATE_TOKEN:
        OK(saslmech_server_request_token(s, &tok, &tok_len));
        OK(saslmech_ct_eq_password(tok, tok_len, S("tok"), &eq));
        return tim && eq ? saslmech_server_answer_accept(s, st)
                         : saslmech_server_answer_reject(s, st);
    case SASLMECH_REQUEST_AUTHORIZE:
    default:
        return saslmech_server_answer_reject(s, st);
    }
}

static struct outcome handshake(saslmech_mechanism m, const char *password, const char *token,
                                bool base64)
{
    struct outcome out = {SASLMECH_STATUS_FAILURE, SASLMECH_FAILURE_NONE, 0};
    saslmech_server_config *c = new_config();
    saslmech_credentials *cr = creds("tim", password, token);
    saslmech_client *cl = NULL;
    saslmech_server *s;
    saslmech_status st = 0;
    bool has = false, done = false;
    const uint8_t *p = NULL;
    size_t n = 0;
    int rounds;

    OK(saslmech_client_new(m, cr, base64 ? SASLMECH_CLIENT_BASE64 : 0, &cl));
    saslmech_credentials_free(cr);
    s = new_server(c, m, SASLMECH_SERVER_TLS | (base64 ? SASLMECH_SERVER_BASE64 : 0));
    saslmech_server_config_free(c); /* the session holds its own reference */

    OK(saslmech_client_start(cl, &has, &p, &n));
    if (has)
        OK(saslmech_server_start(s, p, n, &st));
    else
        OK(saslmech_server_start_no_ir(s, &st));
    for (rounds = 0; rounds < 20; rounds++) {
        if (st == SASLMECH_STATUS_CHALLENGE) {
            const uint8_t *ch;
            size_t ch_len;
            OK(saslmech_server_challenge(s, &ch, &ch_len));
            if (saslmech_client_step(cl, ch, ch_len, &p, &n) != SASLMECH_OK) {
                /* The client gave up: tell the server, as a protocol would with "*". */
                OK(saslmech_server_cancel(s, &st));
                continue;
            }
            OK(saslmech_server_step(s, p, n, &st));
        } else if (st == SASLMECH_STATUS_REQUEST) {
            out.requests++;
            OK(answer_db(s, &st));
        } else {
            break;
        }
    }
    out.status = st;
    if (st == SASLMECH_STATUS_SUCCESS) {
        OK(saslmech_client_finish(cl));
        OK(saslmech_client_is_finished(cl, &done));
        CHECK(done);
        OK(saslmech_server_identity_authcid(s, &p, &n));
        SAME(p, n, "tim");
    } else {
        OK(saslmech_server_failure(s, &out.failure));
    }
    saslmech_server_free(s);
    saslmech_client_free(cl);
    return out;
}

static void test_handshakes(void)
{
    static const saslmech_mechanism password_mechs[] = {SASLMECH_MECH_PLAIN, SASLMECH_MECH_LOGIN,
                                                        SASLMECH_MECH_CRAM_MD5};
    size_t i;
    int b64;
    struct outcome o;

    for (b64 = 0; b64 <= 1; b64++) {
        for (i = 0; i < sizeof password_mechs / sizeof password_mechs[0]; i++) {
            o = handshake(password_mechs[i], "tanstaaftanstaaf", NULL, b64);
            EQ(o.status, SASLMECH_STATUS_SUCCESS);
            EQ(o.requests, 1);
            o = handshake(password_mechs[i], "wrong", NULL, b64);
            EQ(o.status, SASLMECH_STATUS_FAILURE);
            EQ(o.failure, SASLMECH_FAILURE_BAD_CREDENTIALS);
        }
        o = handshake(SASLMECH_MECH_XOAUTH2, NULL, "tok", b64);
        EQ(o.status, SASLMECH_STATUS_SUCCESS);
        EQ(o.requests, 1);
        o = handshake(SASLMECH_MECH_XOAUTH2, NULL, "bad", b64);
        EQ(o.status, SASLMECH_STATUS_FAILURE);
        EQ(o.failure, SASLMECH_FAILURE_BAD_CREDENTIALS);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* A session parked on a credential request, answered after other sessions ran. */

static void test_parked_session(void)
{
    saslmech_server_config *c = new_config();
    saslmech_server *parked, *parked2;
    saslmech_status st;
    saslmech_request kind;
    const uint8_t *user, *pw, *p;
    size_t user_len, pw_len, n;
    int i;
    saslmech_mechanism no_plain[] = {SASLMECH_MECH_LOGIN};

    OK(saslmech_server_config_set_allow_plaintext(c, true));
    parked = new_server(c, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_BASE64);
    OK(saslmech_server_start(parked, S("AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_request_authcid(parked, &user, &user_len));
    OK(saslmech_server_request_password(parked, &pw, &pw_len));
    parked2 = new_server(c, SASLMECH_MECH_CRAM_MD5, 0);
    OK(saslmech_server_start_no_ir(parked2, &st));
    OK(saslmech_server_challenge(parked2, &p, &n));

    /* The configuration changes; the parked sessions keep the snapshot they were made with. */
    OK(saslmech_server_config_set_mechanisms(c, no_plain, 1));

    /* Meanwhile many other exchanges run to completion (and allocate and free). */
    for (i = 0; i < 50; i++) {
        struct outcome o = handshake((saslmech_mechanism)(1 + i % 4), "tanstaaftanstaaf", "tok",
                                     i % 2);
        EQ(o.status, SASLMECH_STATUS_SUCCESS);
    }
    {
        saslmech_server *refused = new_server(c, SASLMECH_MECH_PLAIN, 0);
        OK(saslmech_server_start_no_ir(refused, &st));
        EQ(st, SASLMECH_STATUS_FAILURE);
        expect_failure(refused, SASLMECH_FAILURE_MECHANISM_UNAVAILABLE, __LINE__);
        saslmech_server_free(refused);
    }
    saslmech_server_config_free(c);

    /* The pointers into the parked session are still valid (no call changed it). */
    SAME(user, user_len, "tim");
    SAME(pw, pw_len, "tanstaaftanstaaf");
    OK(saslmech_server_status(parked, &st));
    EQ(st, SASLMECH_STATUS_REQUEST);
    OK(saslmech_server_request(parked, &kind));
    EQ(kind, SASLMECH_REQUEST_VERIFY_PASSWORD);
    OK(saslmech_server_answer_password(parked, S("tanstaaftanstaaf"), &st));
    EQ(st, SASLMECH_STATUS_SUCCESS);
    OK(saslmech_server_identity_authcid(parked, &p, &n));
    SAME(p, n, "tim");
    saslmech_server_free(parked);

    /* The other one was waiting on its client: still usable, fails cleanly on bad input. */
    OK(saslmech_server_step(parked2, S("tim 0123"), &st));
    EQ(st, SASLMECH_STATUS_FAILURE);
    expect_failure(parked2, SASLMECH_FAILURE_MALFORMED, __LINE__);
    saslmech_server_free(parked2);
}

/* ------------------------------------------------------------------------------------------ */
/* Protocol adapters: SMTP AUTH, IMAP AUTHENTICATE, POP3 AUTH */

enum proto { SMTP, IMAP, POP3 };

static saslmech_proto_server *new_proto_server(const saslmech_server_config *c, enum proto p)
{
    saslmech_proto_server *s = NULL;
    if (p == SMTP)
        OK(saslmech_smtp_server_new(c, &s));
    else if (p == IMAP)
        OK(saslmech_imap_server_new(c, &s));
    else
        OK(saslmech_pop3_server_new(c, &s));
    CHECK(s != NULL);
    return s;
}

/* The last event's reply is exactly `want` (a C string). */
static void expect_reply(const saslmech_proto_server *s, const char *want, int line)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    saslmech_result r = saslmech_proto_server_reply(s, &p, &n);
    check(r == SASLMECH_OK, "saslmech_proto_server_reply", __FILE__, line);
    if (r != SASLMECH_OK || n != strlen(want) || memcmp(p, want, n) != 0) {
        failures++;
        fprintf(stderr, "%s:%d: reply \"%.*s\", expected \"%s\"\n", __FILE__, line,
                r == SASLMECH_OK ? (int)n : 0, r == SASLMECH_OK ? (const char *)p : "", want);
    }
    checks++;
}

static void expect_phase(const saslmech_proto_server *s, saslmech_phase want, int line)
{
    saslmech_phase ph = U32_SENTINEL;
    check(saslmech_proto_server_phase(s, &ph) == SASLMECH_OK && ph == want,
          "saslmech_proto_server_phase", __FILE__, line);
}

static void expect_proto_failure(const saslmech_proto_server *s, saslmech_failure want, int line)
{
    saslmech_failure f = U32_SENTINEL;
    check(saslmech_proto_server_failure(s, &f) == SASLMECH_OK && f == want,
          "saslmech_proto_server_failure", __FILE__, line);
}

static void expect_advertised(const saslmech_proto_server *s, const char *want, int line)
{
    const uint8_t *p = PTR_SENTINEL;
    size_t n = LEN_SENTINEL;
    saslmech_result r = saslmech_proto_server_advertised(s, &p, &n);
    if (want == NULL) {
        check(r == SASLMECH_ABSENT && p == PTR_SENTINEL && n == LEN_SENTINEL,
              "nothing advertised", __FILE__, line);
        return;
    }
    check(r == SASLMECH_OK && n == strlen(want) && memcmp(p, want, n) == 0, want, __FILE__,
          line);
}

/* A command or line from a C string. */
#define CMD(s, text, ev) saslmech_proto_server_command((s), S(text), (ev))
#define LINE(s, text, ev) saslmech_proto_server_line((s), S(text), (ev))

static void test_proto_server_smtp(void)
{
    saslmech_server_config *c = new_config();
    saslmech_proto_server *s, *other, *sentinel = (saslmech_proto_server *)PTR_SENTINEL;
    saslmech_event ev = U32_SENTINEL;
    saslmech_request kind = U32_SENTINEL;
    saslmech_mechanism m = U32_SENTINEL;
    saslmech_failure f = U32_SENTINEL;
    saslmech_phase ph = U32_SENTINEL;
    const uint8_t *p = PTR_SENTINEL;
    size_t n = LEN_SENTINEL;
    uint8_t keys[SASLMECH_CRAM_MD5_KEYS_LEN] = {0};
    char big[13000];

    saslmech_proto_server_free(NULL);
    EQ(saslmech_smtp_server_new(NULL, &sentinel), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_smtp_server_new(c, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_imap_server_new(NULL, &sentinel), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_imap_server_new(c, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_pop3_server_new(NULL, &sentinel), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_pop3_server_new(c, NULL), SASLMECH_NULL_ARGUMENT);
    CHECK(sentinel == (saslmech_proto_server *)PTR_SENTINEL);

    s = new_proto_server(c, SMTP);
    /* Before STARTTLS only CRAM-MD5 is offered, and PLAIN is refused with 538. */
    expect_advertised(s, "AUTH CRAM-MD5", __LINE__);
    expect_phase(s, SASLMECH_PHASE_IDLE, __LINE__);
    EQ(saslmech_proto_server_event(s, &ev), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_reply(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_failure(s, &f), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_mechanism(s, &m), SASLMECH_ABSENT);
    EQ(saslmech_proto_server_request(s, &kind), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_identity_authcid(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_answer_accept(s, &ev), SASLMECH_INVALID_STATE);
    EQ(LINE(s, "dGlt", &ev), SASLMECH_INVALID_STATE); /* no exchange */
    EQ(CMD(s, "MAIL FROM:<a@b>", &ev), SASLMECH_INVALID_ARGUMENT);
    EQ(CMD(s, "", &ev), SASLMECH_INVALID_ARGUMENT);
    CHECK(ev == U32_SENTINEL && m == U32_SENTINEL && f == U32_SENTINEL);
    CHECK(p == PTR_SENTINEL && n == LEN_SENTINEL);
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", &ev));
    EQ(ev, SASLMECH_EVENT_FAILURE);
    expect_reply(s, "538 5.7.11 Encryption required for requested authentication mechanism\r\n",
                 __LINE__);
    expect_proto_failure(s, SASLMECH_FAILURE_ENCRYPTION_REQUIRED, __LINE__);
    OK(saslmech_proto_server_mechanism(s, &m));
    EQ(m, SASLMECH_MECH_PLAIN);

    OK(saslmech_proto_server_set_tls(s, true));
    expect_advertised(s, "AUTH XOAUTH2 CRAM-MD5 PLAIN LOGIN", __LINE__);
    EQ(saslmech_proto_server_event(s, &ev), SASLMECH_INVALID_STATE); /* forgotten */
    EQ(saslmech_proto_server_mechanism(s, &m), SASLMECH_ABSENT);

    /* Syntax errors and unknown mechanisms are replies, the adapter stays idle. */
    OK(CMD(s, "AUTH", &ev));
    EQ(ev, SASLMECH_EVENT_REPLY);
    expect_reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n", __LINE__);
    OK(CMD(s, "auth plain a b", &ev));
    EQ(ev, SASLMECH_EVENT_REPLY);
    OK(CMD(s, "AUTH GSSAPI", &ev));
    EQ(ev, SASLMECH_EVENT_FAILURE);
    expect_reply(s, "504 5.5.4 Unrecognized authentication type\r\n", __LINE__);
    expect_proto_failure(s, SASLMECH_FAILURE_MECHANISM_UNAVAILABLE, __LINE__);
    EQ(saslmech_proto_server_mechanism(s, &m), SASLMECH_ABSENT);
    OK(CMD(s, "AUTH PLAIN ****", &ev));
    expect_reply(s, "501 5.5.2 Invalid base64 data\r\n", __LINE__);
    OK(CMD(s, "AUTH CRAM-MD5 =", &ev));
    expect_reply(s, "501 5.7.0 Initial response not allowed for this mechanism\r\n", __LINE__);

    /* PLAIN with an initial response: a password request, answered wrong first. */
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", &ev));
    EQ(ev, SASLMECH_EVENT_REQUEST);
    expect_phase(s, SASLMECH_PHASE_REQUEST, __LINE__);
    OK(saslmech_proto_server_event(s, &ev));
    EQ(ev, SASLMECH_EVENT_REQUEST);
    p = PTR_SENTINEL;
    EQ(saslmech_proto_server_reply(s, &p, &n), SASLMECH_INVALID_STATE); /* nothing to write */
    EQ(saslmech_proto_server_failure(s, &f), SASLMECH_INVALID_STATE);
    CHECK(p == PTR_SENTINEL);
    OK(saslmech_proto_server_mechanism(s, &m));
    EQ(m, SASLMECH_MECH_PLAIN);
    OK(saslmech_proto_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_VERIFY_PASSWORD);
    OK(saslmech_proto_server_request_authcid(s, &p, &n));
    SAME(p, n, "tim");
    p = PTR_SENTINEL;
    EQ(saslmech_proto_server_request_authzid(s, &p, &n), SASLMECH_ABSENT);
    CHECK(p == PTR_SENTINEL);
    OK(saslmech_proto_server_request_password(s, &p, &n));
    SAME(p, n, "tanstaaftanstaaf");
    EQ(saslmech_proto_server_request_token(s, &p, &n), SASLMECH_INVALID_STATE);
    /* Wrong state while the request waits. */
    EQ(CMD(s, "AUTH LOGIN", &ev), SASLMECH_INVALID_STATE);
    EQ(LINE(s, "", &ev), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_identity_authcid(s, &p, &n), SASLMECH_INVALID_STATE);
    /* Answers that do not fit leave the request pending. */
    EQ(saslmech_proto_server_answer_token_error(s, S("401"), &ev), SASLMECH_WRONG_ANSWER);
    EQ(saslmech_proto_server_answer_cram_md5_keys(s, keys, sizeof keys, &ev),
       SASLMECH_WRONG_ANSWER);
    EQ(saslmech_proto_server_answer_cram_md5_keys(s, keys, 31, &ev), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_proto_server_answer_token_error(s, L("4\xff"), &ev), SASLMECH_INVALID_UTF8);
    OK(saslmech_proto_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_VERIFY_PASSWORD);
    OK(saslmech_proto_server_answer_password(s, S("another password"), &ev));
    EQ(ev, SASLMECH_EVENT_FAILURE);
    expect_reply(s, "535 5.7.8 Authentication credentials invalid\r\n", __LINE__);
    expect_proto_failure(s, SASLMECH_FAILURE_BAD_CREDENTIALS, __LINE__);
    expect_phase(s, SASLMECH_PHASE_IDLE, __LINE__);
    EQ(saslmech_proto_server_request(s, &kind), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_answer_accept(s, &ev), SASLMECH_INVALID_STATE);

    /* The backend's other answers. */
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_answer_unknown_user(s, &ev));
    expect_reply(s, "535 5.7.8 Authentication credentials invalid\r\n", __LINE__);
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_answer_account_disabled(s, &ev));
    expect_reply(s, "525 5.7.13 User account disabled\r\n", __LINE__);
    expect_proto_failure(s, SASLMECH_FAILURE_ACCOUNT_DISABLED, __LINE__);
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_answer_temporary_failure(s, &ev));
    expect_reply(s, "454 4.7.0 Temporary authentication failure\r\n", __LINE__);
    expect_proto_failure(s, SASLMECH_FAILURE_TEMPORARY, __LINE__);
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_answer_reject(s, &ev));
    expect_proto_failure(s, SASLMECH_FAILURE_BAD_CREDENTIALS, __LINE__);

    /* Cancel with "*", and an overlong exchange line (passed in part, as a server that cannot
     * buffer all of it would). */
    OK(CMD(s, "AUTH LOGIN", &ev));
    EQ(ev, SASLMECH_EVENT_CHALLENGE);
    expect_reply(s, "334 VXNlcm5hbWU6\r\n", __LINE__);
    expect_phase(s, SASLMECH_PHASE_EXCHANGE, __LINE__);
    EQ(CMD(s, "AUTH LOGIN", &ev), SASLMECH_INVALID_STATE);
    OK(LINE(s, "*\r\n", &ev));
    EQ(ev, SASLMECH_EVENT_FAILURE);
    expect_reply(s, "501 5.0.0 Authentication cancelled\r\n", __LINE__);
    expect_proto_failure(s, SASLMECH_FAILURE_CANCELLED, __LINE__);
    memset(big, 'A', sizeof big);
    OK(CMD(s, "AUTH LOGIN", &ev));
    OK(saslmech_proto_server_line(s, (const uint8_t *)big, sizeof big, &ev));
    EQ(ev, SASLMECH_EVENT_FAILURE);
    expect_reply(s, "500 5.5.6 Authentication Exchange line is too long\r\n", __LINE__);
    expect_proto_failure(s, SASLMECH_FAILURE_TOO_LARGE, __LINE__);
    EQ(saslmech_proto_server_line(s, (const uint8_t *)big, HUGE_LEN, &ev),
       SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_proto_server_command(s, (const uint8_t *)big, HUGE_LEN, &ev),
       SASLMECH_INVALID_ARGUMENT);
    memcpy(big, "AUTH PLAIN ", 11);
    OK(saslmech_proto_server_command(s, (const uint8_t *)big, sizeof big, &ev));
    expect_proto_failure(s, SASLMECH_FAILURE_TOO_LARGE, __LINE__);
    EQ(saslmech_proto_server_set_max_line(s, 0), SASLMECH_INVALID_ARGUMENT);
    OK(saslmech_proto_server_set_max_line(s, 20));
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    expect_proto_failure(s, SASLMECH_FAILURE_TOO_LARGE, __LINE__);
    OK(saslmech_proto_server_set_max_line(s, 12288));

    /* Replies can be changed, for this adapter only; bad texts are refused. */
    OK(saslmech_smtp_server_set_reply(s, SASLMECH_SMTP_REPLY_BAD_CREDENTIALS,
                                      S("535 5.7.8 Nope\r\nx")));
    OK(saslmech_smtp_server_set_reply(s, SASLMECH_SMTP_REPLY_ENCRYPTION_REQUIRED,
                                      S("523 5.7.10 Encryption needed")));
    EQ(saslmech_smtp_server_set_reply(s, 0, S("535 x")), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_smtp_server_set_reply(s, SASLMECH_SMTP_REPLY_SYNTAX + 1, S("535 x")),
       SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_smtp_server_set_reply(s, SASLMECH_SMTP_REPLY_SUCCESS, S("OK fine")),
       SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_smtp_server_set_reply(s, SASLMECH_SMTP_REPLY_SUCCESS, S("235")),
       SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_smtp_server_set_reply(s, SASLMECH_SMTP_REPLY_SUCCESS, L("235 \xff")),
       SASLMECH_INVALID_UTF8);
    EQ(saslmech_smtp_server_set_reply(s, SASLMECH_SMTP_REPLY_SUCCESS, NULL, 3),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_smtp_server_set_reply(NULL, SASLMECH_SMTP_REPLY_SUCCESS, S("235 x")),
       SASLMECH_NULL_ARGUMENT);
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_answer_reject(s, &ev));
    expect_reply(s, "535 5.7.8 Nope  x\r\n", __LINE__);
    other = new_proto_server(c, SMTP);
    OK(CMD(other, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    expect_reply(other, "538 5.7.11 Encryption required for requested authentication mechanism\r\n",
                 __LINE__);
    saslmech_proto_server_free(other);

    /* XOAUTH2: a token error is a challenge the client answers with an empty line. */
    OK(CMD(s, "AUTH XOAUTH2 dXNlcj11AWF1dGg9QmVhcmVyIHQBAQ==", &ev)); /* user=u, token t */
    EQ(ev, SASLMECH_EVENT_REQUEST);
    OK(saslmech_proto_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_VALIDATE_TOKEN);
    OK(saslmech_proto_server_request_authcid(s, &p, &n));
    SAME(p, n, "u");
    OK(saslmech_proto_server_request_token(s, &p, &n));
    SAME(p, n, "t");
    EQ(saslmech_proto_server_request_password(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_answer_password(s, S("t"), &ev), SASLMECH_WRONG_ANSWER);
    OK(saslmech_proto_server_answer_token_error(s, S("401"), &ev));
    EQ(ev, SASLMECH_EVENT_CHALLENGE);
    expect_reply(s, "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n", __LINE__);
    OK(LINE(s, "", &ev));
    EQ(ev, SASLMECH_EVENT_FAILURE);
    expect_reply(s, "535 5.7.8 Nope  x\r\n", __LINE__);
    OK(CMD(s, "AUTH XOAUTH2 dXNlcj11AWF1dGg9QmVhcmVyIHQBAQ==", &ev));
    EQ(saslmech_proto_server_answer_token_error_scope(s, S("400"), L("\xc3("), &ev),
       SASLMECH_INVALID_UTF8);
    OK(saslmech_proto_server_answer_token_error_scope(s, S("400"), S("mail"), &ev));
    EQ(ev, SASLMECH_EVENT_CHALLENGE);
    /* base64 of {"status":"400","schemes":"bearer","scope":"mail"} */
    expect_reply(s, "334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=\r\n",
                 __LINE__);
    OK(LINE(s, "*", &ev));
    expect_proto_failure(s, SASLMECH_FAILURE_CANCELLED, __LINE__);

    /* PLAIN with an authorization identity: the password, then the authorization. */
    OK(CMD(s, "AUTH PLAIN YWRtaW4AdGltAHB3", &ev)); /* admin\0tim\0pw */
    OK(saslmech_proto_server_request_authzid(s, &p, &n));
    SAME(p, n, "admin");
    OK(saslmech_proto_server_answer_password(s, S("pw"), &ev));
    EQ(ev, SASLMECH_EVENT_REQUEST);
    OK(saslmech_proto_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_AUTHORIZE);
    OK(saslmech_proto_server_request_authcid(s, &p, &n));
    SAME(p, n, "tim");
    OK(saslmech_proto_server_request_authzid(s, &p, &n));
    SAME(p, n, "admin");
    OK(saslmech_proto_server_answer_accept(s, &ev));
    EQ(ev, SASLMECH_EVENT_SUCCESS);
    expect_reply(s, "235 2.7.0 Authentication successful\r\n", __LINE__);
    expect_phase(s, SASLMECH_PHASE_AUTHENTICATED, __LINE__);
    EQ(saslmech_proto_server_failure(s, &f), SASLMECH_INVALID_STATE);
    OK(saslmech_proto_server_identity_authcid(s, &p, &n));
    SAME(p, n, "tim");
    OK(saslmech_proto_server_identity_authzid(s, &p, &n));
    SAME(p, n, "admin");
    OK(saslmech_proto_server_identity_effective(s, &p, &n));
    SAME(p, n, "admin");
    /* Once authenticated, AUTH is refused; the identity stays. */
    OK(CMD(s, "AUTH LOGIN", &ev));
    EQ(ev, SASLMECH_EVENT_REPLY);
    expect_reply(s, "503 5.5.1 Already authenticated\r\n", __LINE__);
    OK(saslmech_proto_server_identity_effective(s, &p, &n));
    SAME(p, n, "admin");
    OK(saslmech_proto_server_mechanism(s, &m));
    EQ(m, SASLMECH_MECH_PLAIN);
    /* reset forgets it. */
    OK(saslmech_proto_server_reset(s));
    expect_phase(s, SASLMECH_PHASE_IDLE, __LINE__);
    EQ(saslmech_proto_server_identity_authcid(s, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_event(s, &ev), SASLMECH_INVALID_STATE);

    /* LOGIN through challenges, accepted by the application itself. */
    OK(CMD(s, "AUTH LOGIN", &ev));
    OK(LINE(s, "dGlt\r\n", &ev));
    EQ(ev, SASLMECH_EVENT_CHALLENGE);
    expect_reply(s, "334 UGFzc3dvcmQ6\r\n", __LINE__);
    OK(LINE(s, "dGFuc3RhYWZ0YW5zdGFhZg==", &ev));
    EQ(ev, SASLMECH_EVENT_REQUEST);
    OK(saslmech_proto_server_answer_accept(s, &ev));
    EQ(ev, SASLMECH_EVENT_SUCCESS);
    p = PTR_SENTINEL;
    EQ(saslmech_proto_server_identity_authzid(s, &p, &n), SASLMECH_ABSENT);
    CHECK(p == PTR_SENTINEL);
    OK(saslmech_proto_server_identity_effective(s, &p, &n));
    SAME(p, n, "tim");

    /* A reset during a request drops the request. */
    OK(saslmech_proto_server_set_tls(s, true));
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_reset(s));
    EQ(saslmech_proto_server_request(s, &kind), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_server_answer_accept(s, &ev), SASLMECH_INVALID_STATE);
    saslmech_proto_server_free(s);

    /* CRAM-MD5 with the stored key state (RFC 2195's example, fixed nonce: tests only). */
    OK(saslmech_server_config_set_hostname(c, S("postoffice.reston.mci.net")));
    OK(saslmech_server_config_set_nonce_fixed(c, S("1896.697170952")));
    OK(saslmech_cram_md5_keys_from_password(S("tanstaaftanstaaf"), keys, sizeof keys));
    s = new_proto_server(c, SMTP);
    OK(CMD(s, "AUTH CRAM-MD5", &ev));
    EQ(ev, SASLMECH_EVENT_CHALLENGE);
    /* base64 of <1896.697170952@postoffice.reston.mci.net> */
    expect_reply(s, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n", __LINE__);
    /* base64 of "tim b913a602c7eda7a495b4e6e7334d3890" */
    OK(LINE(s, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", &ev));
    EQ(ev, SASLMECH_EVENT_REQUEST);
    OK(saslmech_proto_server_request(s, &kind));
    EQ(kind, SASLMECH_REQUEST_SECRET);
    EQ(saslmech_proto_server_answer_accept(s, &ev), SASLMECH_WRONG_ANSWER);
    OK(saslmech_proto_server_answer_cram_md5_keys(s, keys, sizeof keys, &ev));
    EQ(ev, SASLMECH_EVENT_SUCCESS);
    saslmech_proto_server_free(s);

    /* NULL arguments, with a request pending; nothing is written. */
    s = new_proto_server(c, SMTP);
    OK(saslmech_proto_server_set_tls(s, true));
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    ev = U32_SENTINEL;
    kind = U32_SENTINEL;
    f = U32_SENTINEL;
    m = U32_SENTINEL;
    p = PTR_SENTINEL;
    n = LEN_SENTINEL;
    EQ(saslmech_proto_server_set_tls(NULL, true), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_reset(NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_set_max_line(NULL, 10), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_advertised(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_advertised(s, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_advertised(s, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_command(NULL, S("AUTH PLAIN"), &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_command(s, NULL, 0, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_command(s, S("AUTH PLAIN"), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_line(NULL, S(""), &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_line(s, NULL, 0, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_line(s, S(""), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_phase(NULL, &ph), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_phase(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_event(NULL, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_event(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_reply(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_reply(s, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_reply(s, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_failure(NULL, &f), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_failure(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_mechanism(NULL, &m), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_mechanism(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_request(NULL, &kind), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_request(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_request_authcid(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_request_authcid(s, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_request_authcid(s, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_request_authzid(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_request_password(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_request_password(s, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_request_token(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_accept(NULL, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_accept(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_reject(NULL, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_reject(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_unknown_user(NULL, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_unknown_user(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_account_disabled(NULL, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_account_disabled(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_temporary_failure(NULL, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_temporary_failure(s, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_password(NULL, S("pw"), &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_password(s, NULL, 0, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_password(s, S("pw"), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_cram_md5_keys(NULL, keys, 32, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_cram_md5_keys(s, NULL, 32, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_cram_md5_keys(s, keys, 32, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_token_error(NULL, S("401"), &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_token_error(s, NULL, 3, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_token_error(s, S("401"), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_token_error_scope(NULL, S("401"), S("x"), &ev),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_token_error_scope(s, NULL, 3, S("x"), &ev),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_token_error_scope(s, S("401"), NULL, 1, &ev),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_answer_token_error_scope(s, S("401"), S("x"), NULL),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_identity_authcid(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_identity_authcid(s, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_identity_authzid(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_identity_effective(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_server_identity_effective(s, &p, NULL), SASLMECH_NULL_ARGUMENT);
    CHECK(ev == U32_SENTINEL && kind == U32_SENTINEL && f == U32_SENTINEL && m == U32_SENTINEL);
    CHECK(ph == U32_SENTINEL && p == PTR_SENTINEL && n == LEN_SENTINEL);
    /* Still pending and answerable. */
    OK(saslmech_proto_server_answer_password(s, S("tanstaaftanstaaf"), &ev));
    EQ(ev, SASLMECH_EVENT_SUCCESS);
    saslmech_proto_server_free(s);
    saslmech_server_config_free(c);
}

static void test_proto_server_imap_pop3(void)
{
    saslmech_server_config *c = new_config();
    saslmech_proto_server *s;
    saslmech_event ev;
    saslmech_mechanism only[] = {SASLMECH_MECH_PLAIN, SASLMECH_MECH_CRAM_MD5};
    const uint8_t *p;
    size_t n;

    /* IMAP: capabilities, tags on every reply, bad tags refused. */
    s = new_proto_server(c, IMAP);
    expect_advertised(s, "AUTH=CRAM-MD5 SASL-IR", __LINE__);
    OK(saslmech_proto_server_set_tls(s, true));
    expect_advertised(s, "AUTH=XOAUTH2 AUTH=CRAM-MD5 AUTH=PLAIN AUTH=LOGIN SASL-IR", __LINE__);
    EQ(CMD(s, "a1 LOGIN tim pw", &ev), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_smtp_server_set_reply(s, SASLMECH_SMTP_REPLY_SUCCESS, S("235 x")),
       SASLMECH_INVALID_ARGUMENT);
    OK(CMD(s, "+x AUTHENTICATE PLAIN", &ev));
    EQ(ev, SASLMECH_EVENT_REPLY);
    expect_reply(s, "* BAD Invalid tag\r\n", __LINE__);
    OK(CMD(s, "a1 AUTHENTICATE PLAIN\r\n", &ev));
    EQ(ev, SASLMECH_EVENT_CHALLENGE);
    expect_reply(s, "+ \r\n", __LINE__);
    OK(LINE(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", &ev));
    EQ(ev, SASLMECH_EVENT_REQUEST);
    OK(saslmech_proto_server_answer_password(s, S("wrong"), &ev));
    EQ(ev, SASLMECH_EVENT_FAILURE);
    expect_reply(s, "a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n", __LINE__);
    OK(CMD(s, "a2 authenticate PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_answer_temporary_failure(s, &ev));
    expect_reply(s, "a2 NO [UNAVAILABLE] Temporary authentication failure\r\n", __LINE__);
    OK(CMD(s, "a3 AUTHENTICATE LOGIN", &ev));
    OK(LINE(s, "*", &ev));
    expect_reply(s, "a3 BAD Authentication cancelled\r\n", __LINE__);
    OK(CMD(s, "a4 AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_answer_password(s, S("tanstaaftanstaaf"), &ev));
    EQ(ev, SASLMECH_EVENT_SUCCESS);
    expect_reply(s, "a4 OK AUTHENTICATE completed\r\n", __LINE__);
    OK(saslmech_proto_server_identity_authcid(s, &p, &n));
    SAME(p, n, "tim");
    OK(CMD(s, "a5 AUTHENTICATE PLAIN", &ev));
    EQ(ev, SASLMECH_EVENT_REPLY);
    expect_reply(s, "a5 BAD Already authenticated\r\n", __LINE__);
    saslmech_proto_server_free(s);

    /* POP3: the CAPA line, the bare AUTH list, the replies. */
    OK(saslmech_server_config_set_mechanisms(c, only, 2));
    OK(saslmech_server_config_set_allow_weak(c, false));
    s = new_proto_server(c, POP3);
    expect_advertised(s, NULL, __LINE__); /* PLAIN needs TLS, CRAM-MD5 is too weak */
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    expect_reply(s, "-ERR [AUTH] Plaintext authentication disallowed without TLS\r\n", __LINE__);
    OK(saslmech_proto_server_set_tls(s, true));
    expect_advertised(s, "SASL PLAIN", __LINE__);
    OK(CMD(s, "AUTH", &ev));
    EQ(ev, SASLMECH_EVENT_REPLY);
    expect_reply(s, "+OK\r\nPLAIN\r\n.\r\n", __LINE__);
    OK(CMD(s, "AUTH CRAM-MD5", &ev));
    expect_reply(s, "-ERR Authentication mechanism is too weak\r\n", __LINE__);
    expect_proto_failure(s, SASLMECH_FAILURE_MECHANISM_TOO_WEAK, __LINE__);
    OK(CMD(s, "AUTH PLAIN", &ev));
    expect_reply(s, "+ \r\n", __LINE__);
    OK(LINE(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_answer_unknown_user(s, &ev));
    expect_reply(s, "-ERR [AUTH] Authentication failed\r\n", __LINE__);
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    OK(saslmech_proto_server_answer_accept(s, &ev));
    expect_reply(s, "+OK Authentication successful\r\n", __LINE__);
    OK(CMD(s, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    expect_reply(s, "-ERR Already authenticated\r\n", __LINE__);
    saslmech_proto_server_free(s);
    saslmech_server_config_free(c);
}

/* ------------------------------------------------------------------------------------------ */

static saslmech_proto_client *new_proto_client(enum proto p, saslmech_mechanism m,
                                               const saslmech_credentials *cr)
{
    saslmech_proto_client *cl = NULL;
    if (p == SMTP)
        OK(saslmech_smtp_client_new(m, cr, &cl));
    else if (p == IMAP)
        OK(saslmech_imap_client_new(S("a1"), m, cr, &cl));
    else
        OK(saslmech_pop3_client_new(m, cr, &cl));
    CHECK(cl != NULL);
    return cl;
}

static void expect_client_line(saslmech_proto_client *cl, const char *line, saslmech_event want,
                               const char *send, int at)
{
    saslmech_event ev = U32_SENTINEL;
    const uint8_t *p = NULL;
    size_t n = 0;
    check(saslmech_proto_client_line(cl, S(line), &ev) == SASLMECH_OK && ev == want, line,
          __FILE__, at);
    if (send != NULL)
        check(saslmech_proto_client_output(cl, &p, &n) == SASLMECH_OK && n == strlen(send) &&
                  memcmp(p, send, n) == 0,
              send, __FILE__, at);
}

static void expect_outcome(const saslmech_proto_client *cl, bool authenticated,
                           saslmech_failure failure, const char *status, const char *text,
                           int at)
{
    bool a = !authenticated;
    saslmech_failure f = U32_SENTINEL;
    const uint8_t *p = NULL;
    size_t n = 0;
    check(saslmech_proto_client_outcome(cl, &a, &f) == SASLMECH_OK && a == authenticated &&
              f == failure,
          "saslmech_proto_client_outcome", __FILE__, at);
    check(saslmech_proto_client_outcome_status(cl, &p, &n) == SASLMECH_OK &&
              n == strlen(status) && memcmp(p, status, n) == 0,
          status, __FILE__, at);
    check(saslmech_proto_client_outcome_text(cl, &p, &n) == SASLMECH_OK && n == strlen(text) &&
              memcmp(p, text, n) == 0,
          text, __FILE__, at);
}

static void test_proto_clients(void)
{
    saslmech_credentials *cr = creds("tim", "tanstaaftanstaaf", NULL);
    saslmech_proto_client *cl, *sentinel = (saslmech_proto_client *)PTR_SENTINEL;
    saslmech_event ev = U32_SENTINEL;
    saslmech_mechanism m = U32_SENTINEL;
    saslmech_failure f = U32_SENTINEL;
    bool a = true;
    const uint8_t *p = PTR_SENTINEL;
    size_t n = LEN_SENTINEL;

    saslmech_proto_client_free(NULL);
    EQ(saslmech_smtp_client_new(SASLMECH_MECH_PLAIN, NULL, &sentinel), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_smtp_client_new(SASLMECH_MECH_PLAIN, cr, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_smtp_client_new(99, cr, &sentinel), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_smtp_client_new(SASLMECH_MECH_XOAUTH2, cr, &sentinel), SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_pop3_client_new(SASLMECH_MECH_PLAIN, NULL, &sentinel), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_pop3_client_new(SASLMECH_MECH_PLAIN, cr, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_pop3_client_new(0, cr, &sentinel), SASLMECH_UNKNOWN_MECHANISM);
    EQ(saslmech_imap_client_new(NULL, 2, SASLMECH_MECH_PLAIN, cr, &sentinel),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_imap_client_new(S("a1"), SASLMECH_MECH_PLAIN, NULL, &sentinel),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_imap_client_new(S("a1"), SASLMECH_MECH_PLAIN, cr, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_imap_client_new(S("a+1"), SASLMECH_MECH_PLAIN, cr, &sentinel),
       SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_imap_client_new(S(""), SASLMECH_MECH_PLAIN, cr, &sentinel),
       SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_imap_client_new(L("a\xff"), SASLMECH_MECH_PLAIN, cr, &sentinel),
       SASLMECH_INVALID_UTF8);
    CHECK(sentinel == (saslmech_proto_client *)PTR_SENTINEL);

    /* SMTP PLAIN: the initial response with the command, a multi-line success. */
    cl = new_proto_client(SMTP, SASLMECH_MECH_PLAIN, cr);
    OK(saslmech_proto_client_mechanism(cl, &m));
    EQ(m, SASLMECH_MECH_PLAIN);
    EQ(saslmech_proto_client_line(cl, S("235 ok"), &ev), SASLMECH_INVALID_STATE); /* no start */
    EQ(saslmech_proto_client_output(cl, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_client_outcome(cl, &a, &f), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_client_outcome_status(cl, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_client_outcome_text(cl, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_client_start(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_start(cl, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_start(cl, &p, NULL), SASLMECH_NULL_ARGUMENT);
    CHECK(ev == U32_SENTINEL && f == U32_SENTINEL && a && p == PTR_SENTINEL &&
          n == LEN_SENTINEL);
    OK(saslmech_proto_client_start(cl, &p, &n));
    SAME(p, n, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    EQ(saslmech_proto_client_start(cl, &p, &n), SASLMECH_INVALID_STATE);
    EQ(saslmech_proto_client_set_initial_response(cl, false), SASLMECH_INVALID_STATE);
    EQ(saslmech_smtp_client_set_max_line(cl, 100), SASLMECH_INVALID_STATE);
    expect_client_line(cl, "235-2.7.0 Authentication\r\n", SASLMECH_EVENT_MORE, NULL, __LINE__);
    EQ(saslmech_proto_client_output(cl, &p, &n), SASLMECH_INVALID_STATE);
    expect_client_line(cl, "235 successful", SASLMECH_EVENT_DONE, NULL, __LINE__);
    expect_outcome(cl, true, SASLMECH_FAILURE_NONE, "235", "2.7.0 Authentication\nsuccessful",
                   __LINE__);
    EQ(saslmech_proto_client_line(cl, S("235 again"), &ev), SASLMECH_INVALID_STATE);
    saslmech_proto_client_free(cl);

    /* SMTP without the initial response; a line limit too short for it has the same effect. */
    cl = new_proto_client(SMTP, SASLMECH_MECH_PLAIN, cr);
    EQ(saslmech_smtp_client_set_max_line(cl, 0), SASLMECH_INVALID_ARGUMENT);
    OK(saslmech_smtp_client_set_max_line(cl, 20));
    OK(saslmech_proto_client_start(cl, &p, &n));
    SAME(p, n, "AUTH PLAIN\r\n");
    expect_client_line(cl, "334 ", SASLMECH_EVENT_SEND, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n",
                       __LINE__);
    expect_client_line(cl, "535 5.7.8 Authentication credentials invalid", SASLMECH_EVENT_DONE,
                       NULL, __LINE__);
    expect_outcome(cl, false, SASLMECH_FAILURE_BAD_CREDENTIALS, "535",
                   "5.7.8 Authentication credentials invalid", __LINE__);
    saslmech_proto_client_free(cl);
    cl = new_proto_client(SMTP, SASLMECH_MECH_PLAIN, cr);
    OK(saslmech_proto_client_set_initial_response(cl, false));
    OK(saslmech_proto_client_start(cl, &p, &n));
    SAME(p, n, "AUTH PLAIN\r\n");
    /* The initial response follows the empty challenge. */
    expect_client_line(cl, "334 ", SASLMECH_EVENT_SEND, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n",
                       __LINE__);
    expect_client_line(cl, "454 4.7.0 Temporary authentication failure", SASLMECH_EVENT_DONE,
                       NULL, __LINE__);
    expect_outcome(cl, false, SASLMECH_FAILURE_TEMPORARY, "454",
                   "4.7.0 Temporary authentication failure", __LINE__);
    saslmech_proto_client_free(cl);

    /* SMTP CRAM-MD5 against RFC 2195's challenge; garbage ends the exchange. */
    cl = new_proto_client(SMTP, SASLMECH_MECH_CRAM_MD5, cr);
    OK(saslmech_proto_client_start(cl, &p, &n));
    SAME(p, n, "AUTH CRAM-MD5\r\n");
    expect_client_line(cl, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
                       SASLMECH_EVENT_SEND,
                       "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n", __LINE__);
    expect_client_line(cl, "hello", SASLMECH_EVENT_DONE, NULL, __LINE__);
    expect_outcome(cl, false, SASLMECH_FAILURE_MALFORMED, "", "unparseable server reply",
                   __LINE__);
    saslmech_proto_client_free(cl);
    /* A challenge it cannot answer: "*", then the server's 501. */
    cl = new_proto_client(SMTP, SASLMECH_MECH_CRAM_MD5, cr);
    OK(saslmech_proto_client_start(cl, &p, &n));
    expect_client_line(cl, "334 ****", SASLMECH_EVENT_SEND, "*\r\n", __LINE__);
    expect_client_line(cl, "501 5.0.0 Authentication cancelled", SASLMECH_EVENT_DONE, NULL,
                       __LINE__);
    expect_outcome(cl, false, SASLMECH_FAILURE_INVALID_BASE64, "501",
                   "5.0.0 Authentication cancelled", __LINE__);
    saslmech_proto_client_free(cl);

    /* IMAP LOGIN with a tag, untagged data in between. */
    cl = new_proto_client(IMAP, SASLMECH_MECH_LOGIN, cr);
    EQ(saslmech_smtp_client_set_max_line(cl, 100), SASLMECH_INVALID_ARGUMENT);
    OK(saslmech_proto_client_start(cl, &p, &n));
    SAME(p, n, "a1 AUTHENTICATE LOGIN\r\n");
    expect_client_line(cl, "+ VXNlcm5hbWU6", SASLMECH_EVENT_SEND, "dGlt\r\n", __LINE__);
    expect_client_line(cl, "* OK still here", SASLMECH_EVENT_MORE, NULL, __LINE__);
    expect_client_line(cl, "+ UGFzc3dvcmQ6\r\n", SASLMECH_EVENT_SEND,
                       "dGFuc3RhYWZ0YW5zdGFhZg==\r\n", __LINE__);
    expect_client_line(cl, "a1 NO [UNAVAILABLE] try later", SASLMECH_EVENT_DONE, NULL,
                       __LINE__);
    expect_outcome(cl, false, SASLMECH_FAILURE_TEMPORARY, "NO", "[UNAVAILABLE] try later",
                   __LINE__);
    saslmech_proto_client_free(cl);
    /* IMAP without SASL-IR. */
    cl = new_proto_client(IMAP, SASLMECH_MECH_PLAIN, cr);
    OK(saslmech_proto_client_set_initial_response(cl, false));
    OK(saslmech_proto_client_start(cl, &p, &n));
    SAME(p, n, "a1 AUTHENTICATE PLAIN\r\n");
    expect_client_line(cl, "+ ", SASLMECH_EVENT_SEND, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n",
                       __LINE__);
    expect_client_line(cl, "a1 OK done", SASLMECH_EVENT_DONE, NULL, __LINE__);
    expect_outcome(cl, true, SASLMECH_FAILURE_NONE, "OK", "done", __LINE__);
    saslmech_proto_client_free(cl);

    /* POP3 PLAIN. */
    cl = new_proto_client(POP3, SASLMECH_MECH_PLAIN, cr);
    EQ(saslmech_smtp_client_set_max_line(cl, 100), SASLMECH_INVALID_ARGUMENT);
    OK(saslmech_proto_client_start(cl, &p, &n));
    SAME(p, n, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    expect_client_line(cl, "-ERR [SYS/TEMP] busy", SASLMECH_EVENT_DONE, NULL, __LINE__);
    expect_outcome(cl, false, SASLMECH_FAILURE_TEMPORARY, "-ERR", "[SYS/TEMP] busy", __LINE__);
    saslmech_proto_client_free(cl);

    /* NULL arguments. */
    cl = new_proto_client(POP3, SASLMECH_MECH_PLAIN, cr);
    ev = U32_SENTINEL;
    m = U32_SENTINEL;
    p = PTR_SENTINEL;
    n = LEN_SENTINEL;
    EQ(saslmech_proto_client_set_initial_response(NULL, true), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_smtp_client_set_max_line(NULL, 10), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_mechanism(NULL, &m), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_mechanism(cl, NULL), SASLMECH_NULL_ARGUMENT);
    OK(saslmech_proto_client_start(cl, &p, &n));
    p = PTR_SENTINEL;
    n = LEN_SENTINEL;
    EQ(saslmech_proto_client_line(NULL, S("+OK"), &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_line(cl, NULL, 0, &ev), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_line(cl, S("+OK"), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_line(cl, (const uint8_t *)"+OK", HUGE_LEN, &ev),
       SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_proto_client_output(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_output(cl, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_output(cl, &p, NULL), SASLMECH_NULL_ARGUMENT);
    expect_client_line(cl, "+OK", SASLMECH_EVENT_DONE, NULL, __LINE__);
    EQ(saslmech_proto_client_outcome(NULL, &a, &f), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_outcome(cl, NULL, &f), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_outcome(cl, &a, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_outcome_status(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_outcome_status(cl, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_outcome_status(cl, &p, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_outcome_text(NULL, &p, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_outcome_text(cl, NULL, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_proto_client_outcome_text(cl, &p, NULL), SASLMECH_NULL_ARGUMENT);
    CHECK(ev == U32_SENTINEL && m == U32_SENTINEL && p == PTR_SENTINEL && n == LEN_SENTINEL);
    expect_outcome(cl, true, SASLMECH_FAILURE_NONE, "+OK", "", __LINE__);
    saslmech_proto_client_free(cl);
    saslmech_credentials_free(cr);
}

static void test_advertised_parsers(void)
{
    uint8_t buf[64];
    size_t n = LEN_SENTINEL;
    bool has = false;
    static const char ehlo[] = "250-mx.example.com\r\n250-AUTH=LOGIN\r\n"
                               "250-AUTH login Plain CRAM-MD5 X-UNKNOWN\r\n250 8BITMIME\r\n";
    static const char capa[] = "+OK\r\nUSER\r\nSASL PLAIN cram-md5\r\n.\r\n";
    saslmech_mechanism m;

    OK(saslmech_smtp_ehlo_mechanisms(S(ehlo), buf, sizeof buf, &n));
    SAME(buf, n, "LOGIN PLAIN CRAM-MD5 X-UNKNOWN");
    OK(saslmech_select(buf, n, SASLMECH_SELECT_PASSWORD | SASLMECH_SELECT_TLS, &m));
    EQ(m, SASLMECH_MECH_CRAM_MD5);
    OK(saslmech_smtp_ehlo_mechanisms(S("250 HELP"), buf, sizeof buf, &n));
    EQ(n, 0);
    n = LEN_SENTINEL;
    EQ(saslmech_smtp_ehlo_mechanisms(S(ehlo), buf, 10, &n), SASLMECH_BUFFER_TOO_SMALL);
    EQ(n, LEN_SENTINEL);
    OK(saslmech_imap_capability_mechanisms(
        S("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN auth=xoauth2 AUTH=PLAIN"), buf, sizeof buf,
        &n));
    SAME(buf, n, "PLAIN XOAUTH2");
    OK(saslmech_imap_has_sasl_ir(S("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN"), &has));
    CHECK(has);
    OK(saslmech_imap_has_sasl_ir(S("* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN]"), &has));
    CHECK(has);
    OK(saslmech_imap_has_sasl_ir(S("* CAPABILITY IMAP4rev1 AUTH=PLAIN"), &has));
    CHECK(!has);
    OK(saslmech_pop3_capa_mechanisms(S(capa), buf, sizeof buf, &n));
    SAME(buf, n, "PLAIN CRAM-MD5");
    OK(saslmech_pop3_capa_mechanisms(S("+OK\r\nUSER\r\n.\r\n"), buf, sizeof buf, &n));
    EQ(n, 0);
    EQ(saslmech_pop3_capa_mechanisms(S(capa), buf, 5, &n), SASLMECH_BUFFER_TOO_SMALL);
    EQ(saslmech_imap_capability_mechanisms(S("AUTH=PLAIN"), buf, 4, &n),
       SASLMECH_BUFFER_TOO_SMALL);

    EQ(saslmech_smtp_ehlo_mechanisms(NULL, 0, buf, sizeof buf, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_smtp_ehlo_mechanisms(S(ehlo), NULL, 8, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_smtp_ehlo_mechanisms(S(ehlo), buf, sizeof buf, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_smtp_ehlo_mechanisms((const uint8_t *)ehlo, HUGE_LEN, buf, sizeof buf, &n),
       SASLMECH_INVALID_ARGUMENT);
    EQ(saslmech_imap_capability_mechanisms(NULL, 0, buf, sizeof buf, &n),
       SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_imap_capability_mechanisms(S("x"), NULL, 8, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_imap_capability_mechanisms(S("x"), buf, 8, NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_imap_has_sasl_ir(NULL, 0, &has), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_imap_has_sasl_ir(S("x"), NULL), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_pop3_capa_mechanisms(NULL, 0, buf, sizeof buf, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_pop3_capa_mechanisms(S("x"), NULL, 8, &n), SASLMECH_NULL_ARGUMENT);
    EQ(saslmech_pop3_capa_mechanisms(S("x"), buf, 8, NULL), SASLMECH_NULL_ARGUMENT);
}

/* ------------------------------------------------------------------------------------------ */
/* Full exchanges through each adapter pair: this library's client adapter against its server
 * adapter, over "lines" passed in memory. */

/* Answer as the user database of answer_db, through the adapter. */
static saslmech_result proto_answer_db(saslmech_proto_server *s, saslmech_event *ev)
{
    saslmech_request kind;
    const uint8_t *user, *tok;
    size_t user_len, tok_len;
    bool tim, eq = false;

    OK(saslmech_proto_server_request(s, &kind));
    OK(saslmech_proto_server_request_authcid(s, &user, &user_len));
    tim = user_len == 3 && memcmp(user, "tim", 3) == 0;
    switch (kind) {
    case SASLMECH_REQUEST_VERIFY_PASSWORD:
    case SASLMECH_REQUEST_SECRET:
        return tim ? saslmech_proto_server_answer_password(s, S("tanstaaftanstaaf"), ev)
                   : saslmech_proto_server_answer_unknown_user(s, ev);
    case SASLMECH_REQUEST_VALIDATE_TOKEN:
        OK(saslmech_proto_server_request_token(s, &tok, &tok_len));
        OK(saslmech_ct_eq_password(tok, tok_len, S("tok"), &eq));
        return tim && eq ? saslmech_proto_server_answer_accept(s, ev)
                         : saslmech_proto_server_answer_token_error(s, S("401"), ev);
    case SASLMECH_REQUEST_AUTHORIZE:
    default:
        return saslmech_proto_server_answer_reject(s, ev);
    }
}

struct proto_outcome {
    bool server_ok, client_ok;
    saslmech_failure server_failure, client_failure;
    unsigned requests;
};

static struct proto_outcome proto_pair(enum proto pr, saslmech_mechanism m, const char *password,
                                       const char *token, bool ir)
{
    struct proto_outcome out = {false, false, SASLMECH_FAILURE_NONE, SASLMECH_FAILURE_NONE, 0};
    saslmech_server_config *c = new_config();
    saslmech_credentials *cr = creds("tim", password, token);
    saslmech_proto_server *s = new_proto_server(c, pr);
    saslmech_proto_client *cl = new_proto_client(pr, m, cr);
    saslmech_event sev = 0, cev = 0;
    const uint8_t *p, *r;
    size_t n, rn;
    int rounds;

    saslmech_server_config_free(c);
    saslmech_credentials_free(cr);
    OK(saslmech_proto_server_set_tls(s, true));
    OK(saslmech_proto_client_set_initial_response(cl, ir));
    OK(saslmech_proto_client_start(cl, &p, &n));
    OK(saslmech_proto_server_command(s, p, n, &sev));
    for (rounds = 0; rounds < 20 && cev != SASLMECH_EVENT_DONE; rounds++) {
        if (sev == SASLMECH_EVENT_REQUEST) {
            out.requests++;
            OK(proto_answer_db(s, &sev));
            continue;
        }
        /* Whatever the server writes goes to the client, line by line. */
        OK(saslmech_proto_server_reply(s, &r, &rn));
        OK(saslmech_proto_client_line(cl, r, rn, &cev));
        if (cev == SASLMECH_EVENT_SEND) {
            OK(saslmech_proto_client_output(cl, &p, &n));
            OK(saslmech_proto_server_line(s, p, n, &sev));
        }
    }
    EQ(cev, SASLMECH_EVENT_DONE);
    OK(saslmech_proto_client_outcome(cl, &out.client_ok, &out.client_failure));
    out.server_ok = sev == SASLMECH_EVENT_SUCCESS;
    if (out.server_ok) {
        OK(saslmech_proto_server_identity_authcid(s, &p, &n));
        SAME(p, n, "tim");
        OK(saslmech_proto_server_mechanism(s, &m));
    } else {
        OK(saslmech_proto_server_failure(s, &out.server_failure));
    }
    saslmech_proto_server_free(s);
    saslmech_proto_client_free(cl);
    return out;
}

static void test_proto_pairs(void)
{
    static const saslmech_mechanism password_mechs[] = {SASLMECH_MECH_PLAIN, SASLMECH_MECH_LOGIN,
                                                        SASLMECH_MECH_CRAM_MD5};
    int pr, ir;
    size_t i;
    struct proto_outcome o;

    for (pr = SMTP; pr <= POP3; pr++) {
        for (ir = 0; ir <= 1; ir++) {
            for (i = 0; i < sizeof password_mechs / sizeof password_mechs[0]; i++) {
                o = proto_pair((enum proto)pr, password_mechs[i], "tanstaaftanstaaf", NULL, ir);
                CHECK(o.server_ok && o.client_ok);
                EQ(o.client_failure, SASLMECH_FAILURE_NONE);
                EQ(o.requests, 1);
                o = proto_pair((enum proto)pr, password_mechs[i], "wrong", NULL, ir);
                CHECK(!o.server_ok && !o.client_ok);
                EQ(o.server_failure, SASLMECH_FAILURE_BAD_CREDENTIALS);
                EQ(o.client_failure, SASLMECH_FAILURE_BAD_CREDENTIALS);
            }
            o = proto_pair((enum proto)pr, SASLMECH_MECH_XOAUTH2, NULL, "tok", ir);
            CHECK(o.server_ok && o.client_ok);
            /* A bad token: the error challenge, the client's empty response, the failure. */
            o = proto_pair((enum proto)pr, SASLMECH_MECH_XOAUTH2, NULL, "bad", ir);
            CHECK(!o.server_ok && !o.client_ok);
            EQ(o.server_failure, SASLMECH_FAILURE_BAD_CREDENTIALS);
            EQ(o.client_failure, SASLMECH_FAILURE_BAD_CREDENTIALS);
        }
    }
}

/* Adapters parked on requests while others run, answered afterwards in another order. */
static void test_proto_parked(void)
{
    saslmech_server_config *c = new_config();
    saslmech_proto_server *a, *b;
    saslmech_event ev;
    const uint8_t *user, *p;
    size_t user_len, n;
    int i;

    a = new_proto_server(c, SMTP);
    b = new_proto_server(c, IMAP);
    OK(saslmech_proto_server_set_tls(a, true));
    OK(saslmech_proto_server_set_tls(b, true));
    OK(CMD(a, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ev));
    EQ(ev, SASLMECH_EVENT_REQUEST);
    OK(saslmech_proto_server_request_authcid(a, &user, &user_len));
    OK(CMD(b, "x AUTHENTICATE PLAIN AHRpbQB3cm9uZw==", &ev)); /* tim / wrong */
    EQ(ev, SASLMECH_EVENT_REQUEST);
    saslmech_server_config_free(c);
    for (i = 0; i < 12; i++) {
        struct proto_outcome o = proto_pair((enum proto)(i % 3), (saslmech_mechanism)(1 + i % 4),
                                            "tanstaaftanstaaf", "tok", i % 2);
        CHECK(o.server_ok && o.client_ok);
    }
    OK(saslmech_proto_server_answer_password(b, S("tanstaaftanstaaf"), &ev));
    expect_reply(b, "x NO [AUTHENTICATIONFAILED] Authentication failed\r\n", __LINE__);
    SAME(user, user_len, "tim"); /* still valid: nothing changed `a` */
    OK(saslmech_proto_server_answer_password(a, S("tanstaaftanstaaf"), &ev));
    EQ(ev, SASLMECH_EVENT_SUCCESS);
    OK(saslmech_proto_server_identity_authcid(a, &p, &n));
    SAME(p, n, "tim");
    saslmech_proto_server_free(a);
    saslmech_proto_server_free(b);
}

int main(void)
{
    test_version_and_strings();
    test_mechanisms();
    test_select();
    test_helpers();
    test_server_config();
    test_server_plain();
    test_server_null_arguments();
    test_server_login_base64();
    test_server_oversized();
    test_server_cram_md5();
    test_server_xoauth2();
    test_client();
    test_client_xoauth2_error();
    test_handshakes();
    test_parked_session();
    test_proto_server_smtp();
    test_proto_server_imap_pop3();
    test_proto_clients();
    test_advertised_parsers();
    test_proto_pairs();
    test_proto_parked();
    printf("test_api: %u checks, %u failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
