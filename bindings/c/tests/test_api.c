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
    printf("test_api: %u checks, %u failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
