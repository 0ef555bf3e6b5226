/*
 * smtpd: a small SMTP submission server showing how a C mail server uses saslmech.
 *
 *   smtpd [-d DELAY_MS] [-m MECH,MECH,...] [-c MAX_CONNS] [-t SECS] [-T SECS] [-s SECS]
 *         [-S SECS] ADDRESS PORT                              (PORT 0 picks a free port)
 *
 * One thread, one poll() loop, many connections. Each connection owns a saslmech SMTP AUTH
 * adapter (saslmech_proto_server_new): the server hands it the AUTH command and the lines of
 * the exchange and writes back the reply bytes it gives (334, 235, 535, 454, ...), so there is
 * no AUTH framing, base64 or reply-code table here. When the adapter asks for credentials (a
 * password to check, CRAM-MD5's or SCRAM's stored keys, a token to validate) the connection
 * is parked and the
 * lookup is answered on a later turn of the loop, DELAY_MS milliseconds later (default 0: the
 * next turn), the way a real server would wait for its user database. Other connections are
 * served meanwhile. -m enables only the mechanisms listed, in that order (default: the
 * library's, SCRAM-SHA-256 first).
 *
 * Limits, so that idle or slow clients cannot hold the server (times in seconds, decimals
 * allowed):
 *   -c MAX_CONNS  connections served at once (default 64); one more gets "421 4.3.2" and is
 *                 closed at once
 *   -t SECS       time to send one complete command or message line, CRLF included, and to
 *                 take the replies (default 300, as Postfix's smtpd_timeout); counted per line,
 *                 not per read, so a byte now and then does not keep a connection
 *   -s SECS       time for the whole session (default 1800)
 *   -T SECS, -S SECS   the same two under stress (defaults 10 and 120), as Postfix's stress
 *                 mode: from when the table is full until it is no more than three quarters full
 * A connection that runs out of time gets "421 4.4.2 localhost Error: timeout exceeded" and is
 * closed.
 *
 * Lines end in CRLF only. A bare LF, in a command or in a message, gets "521 5.5.2 localhost
 * Error: bare <LF> received" and the connection is closed, as Postfix does with
 * smtpd_forbid_bare_newline; so a message ends only at CRLF "." CRLF (no SMTP smuggling). An
 * over-long line gets one "500 5.5.2 Line too long", however long it is. A command with a NUL
 * or an octet outside printable ASCII gets "500 5.5.2" (AUTH commands: the adapter's 501).
 *
 * Demo only: no TLS, so the plaintext mechanisms are allowed without it (loopback), and
 * messages are accepted and thrown away. Accounts:
 *   demo@example.com      password "demo-password" (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1,
 *                         SCRAM-SHA-256), OAuth token "demo-token" (XOAUTH2, OAUTHBEARER)
 *   tempfail@example.com  the "database" is down for this one (454)
 *   disabled@example.com  account disabled (525)
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "saslmech.h"

#define HOSTNAME "localhost"
/* RFC 4954: 12288 octets is a sufficient line length for AUTH exchanges. */
#define MAX_LINE 12288
#define MAX_OUT (64 * 1024)

static const char DEMO_USER[] = "demo@example.com";
static const char DEMO_PASSWORD[] = "demo-password";
static const char DEMO_TOKEN[] = "demo-token";
static const char TEMPFAIL_USER[] = "tempfail@example.com";
static const char DISABLED_USER[] = "disabled@example.com";

/* What the user database stores for CRAM-MD5 and SCRAM: keys, not the password. */
static uint8_t demo_cram_keys[SASLMECH_CRAM_MD5_KEYS_LEN];
static saslmech_scram_keys *demo_scram_sha1, *demo_scram_sha256;

enum conn_state { ST_COMMAND, ST_DATA };

struct conn {
    int fd;
    enum conn_state state;
    char in[MAX_LINE + 3];
    size_t in_len;
    bool discarding; /* skipping the rest of an overlong line */
    char out[MAX_OUT];
    size_t out_len;
    bool greeted, in_mail, has_rcpt, closing;
    saslmech_proto_server *smtp; /* SMTP AUTH for this connection */
    bool lookup_pending;         /* parked on a credential request */
    long long lookup_due;        /* when to answer it (ms, monotonic) */
    long long started;           /* when the connection was accepted (ms, monotonic) */
    long long line_started;      /* when the wait for the current line began */
    bool prev_cr;                /* the last octet dropped while discarding was a CR */
};

/* The connection table and its limits (ms). */
static struct conn **conns;
static size_t max_conns = 64;
static long long command_timeout = 300000, session_timeout = 1800000;
static long long stress_command_timeout = 10000, stress_session_timeout = 120000;
static bool stressed; /* the table was full and has not yet drained to 3/4 */
static saslmech_server_config *config;
static long long lookup_delay_ms;
static volatile sig_atomic_t stopping;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what, saslmech_result r)
{
    fprintf(stderr, "smtpd: %s: %s\n", what, saslmech_strerror(r));
    exit(1);
}

static void reply(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room = sizeof c->out - c->out_len;

    va_start(ap, fmt);
    n = vsnprintf(c->out + c->out_len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 2 >= room) {
        /* The client is not reading its replies: drop it. */
        c->closing = true;
        c->out_len = 0;
        return;
    }
    c->out_len += (size_t)n;
    memcpy(c->out + c->out_len, "\r\n", 2);
    c->out_len += 2;
}

/* Queue bytes the adapter produced (they end with CRLF already). */
static void write_out(struct conn *c, const uint8_t *p, size_t n)
{
    if (n > sizeof c->out - c->out_len) {
        c->closing = true;
        c->out_len = 0;
        return;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static bool same(const uint8_t *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

static saslmech_phase phase(const struct conn *c)
{
    saslmech_phase ph = SASLMECH_PHASE_IDLE;
    saslmech_proto_server_phase(c->smtp, &ph);
    return ph;
}

/* Act on what the adapter produced: write its reply, or park the connection on a lookup. */
static void on_event(struct conn *c, saslmech_event ev)
{
    const uint8_t *p;
    size_t n;
    saslmech_failure f;
    const saslmech_identity *id;

    if (ev == SASLMECH_EVENT_REQUEST) {
        /* Nothing to write yet; the lookup is answered on a later loop turn. */
        c->lookup_pending = true;
        c->lookup_due = now_ms() + lookup_delay_ms;
        return;
    }
    if (ev == SASLMECH_EVENT_SUCCESS &&
        saslmech_proto_server_identity(c->smtp, &id) == SASLMECH_OK &&
        saslmech_identity_effective(id, &p, &n) == SASLMECH_OK)
        fprintf(stderr, "smtpd: fd %d authenticated as %.*s\n", c->fd, (int)n, (const char *)p);
    if (ev == SASLMECH_EVENT_FAILURE && saslmech_proto_server_failure(c->smtp, &f) == SASLMECH_OK)
        fprintf(stderr, "smtpd: fd %d authentication failed: %s\n", c->fd,
                saslmech_failure_str(f));
    if (saslmech_proto_server_reply(c->smtp, &p, &n) == SASLMECH_OK)
        write_out(c, p, n);
}

/* Report a call the adapter refused (a bug in this program, not the client's doing). */
static void refused(struct conn *c, const char *what, saslmech_result r)
{
    fprintf(stderr, "smtpd: %s: %s\n", what, saslmech_strerror(r));
    saslmech_proto_server_reset(c->smtp);
    reply(c, "454 4.7.0 Temporary authentication failure");
}

/* The "user database": answer the parked request. */
static void answer_lookup(struct conn *c)
{
    saslmech_request_kind kind;
    saslmech_request *req;
    saslmech_event ev = SASLMECH_EVENT_FAILURE;
    const uint8_t *user, *token;
    size_t user_len, token_len;
    bool demo, equal = false;
    saslmech_mechanism mech;
    saslmech_result r;

    c->lookup_pending = false;
    r = saslmech_proto_server_request(c->smtp, &req, &kind);
    if (r == SASLMECH_OK)
        r = saslmech_request_authcid(req, &user, &user_len);
    if (r != SASLMECH_OK) {
        refused(c, "request", r);
        return;
    }
    demo = same(user, user_len, DEMO_USER);
    if (same(user, user_len, TEMPFAIL_USER)) {
        r = saslmech_request_answer(req, SASLMECH_VERDICT_TEMPORARY_FAILURE);
    } else if (same(user, user_len, DISABLED_USER)) {
        r = saslmech_request_answer(req, SASLMECH_VERDICT_ACCOUNT_DISABLED);
    } else {
        switch (kind) {
        case SASLMECH_REQUEST_VERIFY_PASSWORD:
            /* The library compares in constant time. */
            r = demo ? saslmech_request_answer_password(req, (const uint8_t *)DEMO_PASSWORD,
                                                        strlen(DEMO_PASSWORD))
                     : saslmech_request_answer(req, SASLMECH_VERDICT_UNKNOWN_USER);
            break;
        case SASLMECH_REQUEST_SECRET:
            /* CRAM-MD5 or SCRAM: the stored keys for the mechanism in use. */
            if (!demo) {
                r = saslmech_request_answer(req, SASLMECH_VERDICT_UNKNOWN_USER);
            } else if ((r = saslmech_proto_server_mechanism(c->smtp, &mech)) != SASLMECH_OK) {
                break;
            } else if (mech == SASLMECH_MECH_CRAM_MD5) {
                r = saslmech_request_answer_cram_md5_keys(req, demo_cram_keys,
                                                          sizeof demo_cram_keys);
            } else {
                bool sha1 =
                    mech == SASLMECH_MECH_SCRAM_SHA_1 || mech == SASLMECH_MECH_SCRAM_SHA_1_PLUS;
                r = saslmech_request_answer_scram_keys(
                    req, sha1 ? demo_scram_sha1 : demo_scram_sha256);
            }
            break;
        case SASLMECH_REQUEST_VALIDATE_TOKEN:
            r = saslmech_request_token(req, &token, &token_len);
            if (r == SASLMECH_OK)
                r = saslmech_ct_eq_password(token, token_len, (const uint8_t *)DEMO_TOKEN,
                                            strlen(DEMO_TOKEN), &equal);
            if (r != SASLMECH_OK)
                break;
            if (equal) {
                /* The token is the demo user's: say whose it is, and the library compares
                 * that owner with the user the client named (asking to authorize when they
                 * differ). A bare accept of a token is refused. */
                r = saslmech_request_answer_token_owner(req, (const uint8_t *)DEMO_USER,
                                                        strlen(DEMO_USER));
            } else {
                /* The error challenge (XOAUTH2: an HTTP status; OAUTHBEARER: RFC 6750's error
                 * code); the client's reply to it ends the exchange with 535. */
                const char *error = "401";
                if (saslmech_proto_server_mechanism(c->smtp, &mech) == SASLMECH_OK &&
                    mech == SASLMECH_MECH_OAUTHBEARER)
                    error = "invalid_token";
                r = saslmech_request_answer_token_error(req, (const uint8_t *)error,
                                                        strlen(error), NULL, 0);
            }
            break;
        case SASLMECH_REQUEST_AUTHORIZE:
        default:
            /* No one may act as someone else here. */
            r = saslmech_request_answer(req, SASLMECH_VERDICT_REJECT);
            break;
        }
    }
    if (r == SASLMECH_OK)
        r = saslmech_proto_server_event(c->smtp, &ev);
    if (r != SASLMECH_OK) {
        refused(c, "answer", r);
        return;
    }
    on_event(c, ev);
}

static void cmd_auth(struct conn *c, const char *line, size_t len)
{
    saslmech_event ev;
    saslmech_result r;

    /* What the adapter cannot know: the SMTP session around it. */
    if (!c->greeted) {
        reply(c, "503 5.5.1 Send EHLO first");
        return;
    }
    if (c->in_mail) {
        reply(c, "503 5.5.1 Mail transaction in progress");
        return;
    }
    r = saslmech_proto_server_command(c->smtp, (const uint8_t *)line, len, &ev);
    if (r != SASLMECH_OK) {
        refused(c, "command", r);
        return;
    }
    on_event(c, ev);
}

/* A line of the AUTH exchange (base64, empty, or "*"), or the overlong part of one. */
static void auth_line(struct conn *c, const char *line, size_t len)
{
    saslmech_event ev;
    saslmech_result r = saslmech_proto_server_line(c->smtp, (const uint8_t *)line, len, &ev);

    if (r != SASLMECH_OK) {
        refused(c, "line", r);
        return;
    }
    on_event(c, ev);
}

static bool is_cmd(const char *line, const char *cmd, char **args)
{
    size_t n = strlen(cmd);
    size_t i;

    for (i = 0; i < n; i++) {
        char ch = line[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch != cmd[i])
            return false;
    }
    if (line[n] != '\0' && line[n] != ' ')
        return false;
    *args = (char *)line + n + (line[n] == ' ');
    return true;
}

/* True if the line is printable ASCII and spaces only: no NUL, no control, nothing above 0x7F. */
static bool printable(const char *line, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
            return false;
    return true;
}

static void command_line(struct conn *c, char *line, size_t len)
{
    char *args;
    bool authenticated = phase(c) == SASLMECH_PHASE_AUTHENTICATED;

    /* The verbs below are compared as C strings: a NUL (or any octet outside printable ASCII)
     * is refused here, except in AUTH, whose whole line goes to the adapter (501). */
    if (!printable(line, len) &&
        !(len >= 5 && printable(line, 5) && is_cmd(line, "AUTH", &args) && line[4] == ' ')) {
        reply(c, "500 5.5.2 Error: invalid characters in command");
        return;
    }
    if (is_cmd(line, "EHLO", &args)) {
        const uint8_t *keyword;
        size_t n;
        c->greeted = true;
        c->in_mail = c->has_rcpt = false;
        reply(c, "250-" HOSTNAME);
        /* "AUTH XOAUTH2 CRAM-MD5 PLAIN LOGIN", from the policy (and the TLS state). */
        if (!authenticated &&
            saslmech_server_config_offered(config, 0, &keyword, &n) == SASLMECH_OK && n > 0)
            reply(c, "250-AUTH %.*s", (int)n, (const char *)keyword);
        reply(c, "250 ENHANCEDSTATUSCODES");
    } else if (is_cmd(line, "HELO", &args)) {
        c->greeted = true;
        c->in_mail = c->has_rcpt = false;
        reply(c, "250 " HOSTNAME);
    } else if (is_cmd(line, "AUTH", &args)) {
        cmd_auth(c, line, len);
    } else if (is_cmd(line, "MAIL", &args)) {
        if (!authenticated)
            reply(c, "530 5.7.0 Authentication required");
        else if (c->in_mail)
            reply(c, "503 5.5.1 Nested MAIL command");
        else {
            c->in_mail = true;
            reply(c, "250 2.1.0 Ok");
        }
    } else if (is_cmd(line, "RCPT", &args)) {
        if (!c->in_mail)
            reply(c, "503 5.5.1 Need MAIL command");
        else {
            c->has_rcpt = true;
            reply(c, "250 2.1.5 Ok");
        }
    } else if (is_cmd(line, "DATA", &args)) {
        if (!c->has_rcpt)
            reply(c, "503 5.5.1 Need RCPT command");
        else {
            c->state = ST_DATA;
            reply(c, "354 End data with <CR><LF>.<CR><LF>");
        }
    } else if (is_cmd(line, "RSET", &args)) {
        c->in_mail = c->has_rcpt = false;
        reply(c, "250 2.0.0 Ok");
    } else if (is_cmd(line, "NOOP", &args)) {
        reply(c, "250 2.0.0 Ok");
    } else if (is_cmd(line, "HELP", &args)) {
        reply(c, "214 2.0.0 saslmech demo smtpd");
    } else if (is_cmd(line, "QUIT", &args)) {
        reply(c, "221 2.0.0 Bye");
        c->closing = true;
    } else {
        reply(c, "500 5.5.2 Command unrecognized");
    }
}

static void data_line(struct conn *c, const char *line, size_t len)
{
    /* Only "." between two CRLFs ends the message: bare LFs never get this far. */
    if (len == 1 && line[0] == '.') {
        c->state = ST_COMMAND;
        c->in_mail = c->has_rcpt = false;
        reply(c, "250 2.0.0 Ok: message accepted (and discarded)");
    }
}

/* Handle every complete line in the input buffer, unless the connection waits on a lookup. */
static void process_input(struct conn *c)
{
    while (!c->closing && !c->lookup_pending) {
        char *lf = memchr(c->in, '\n', c->in_len);
        size_t used, len;
        bool cr;

        if (lf == NULL) {
            if (c->in_len > MAX_LINE + 1) {
                /* Overlong: answer once per line, then skip to its end. In an AUTH exchange
                 * the part we have is enough for the adapter to end it with its 500 5.5.6. */
                if (!c->discarding) {
                    if (phase(c) == SASLMECH_PHASE_EXCHANGE)
                        auth_line(c, c->in, c->in_len);
                    else if (c->state == ST_COMMAND)
                        reply(c, "500 5.5.2 Line too long");
                }
                c->discarding = true;
                c->prev_cr = c->in[c->in_len - 1] == '\r';
                c->in_len = 0;
            }
            return;
        }
        used = (size_t)(lf - c->in) + 1;
        len = used - 1;
        cr = len > 0 ? c->in[len - 1] == '\r' : c->discarding && c->prev_cr;
        if (!cr) {
            /* RFC 5321 lines end in CRLF. A bare LF is how SMTP smuggling hides a second
             * message (LF . LF): refuse it and hang up, as Postfix does. */
            fprintf(stderr, "smtpd: fd %d: bare <LF> received\n", c->fd);
            reply(c, "521 5.5.2 " HOSTNAME " Error: bare <LF> received");
            c->closing = true;
            c->in_len = 0;
            return;
        }
        *lf = '\0';
        if (len > 0)
            c->in[--len] = '\0';
        if (c->discarding)
            c->discarding = false;
        else if (c->state == ST_DATA)
            data_line(c, c->in, len);
        else if (phase(c) == SASLMECH_PHASE_EXCHANGE)
            auth_line(c, c->in, len); /* bytes as received, NULs included */
        else
            command_line(c, c->in, len);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        c->line_started = now_ms(); /* the next line has its own time */
    }
}

static void close_conn(size_t i)
{
    struct conn *c = conns[i];
    char sink[4096];
    int n;

    saslmech_proto_server_free(c->smtp); /* wipes whatever the exchange received */
    /* Read what the client sent on (a bounded amount, without waiting), so that closing with
     * unread input does not reset the connection before the client reads the last reply. */
    shutdown(c->fd, SHUT_WR);
    for (n = 0; n < 16 && recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; n++)
        continue;
    close(c->fd);
    free(c);
    conns[i] = NULL;
}

static size_t conn_count(void)
{
    size_t i, n = 0;

    for (i = 0; i < max_conns; i++)
        n += conns[i] != NULL;
    return n;
}

/* Stress mode starts when the table is full and lasts until it is no more than 3/4 full. */
static void update_stress(void)
{
    size_t n = conn_count();

    if (n >= max_conns && !stressed) {
        stressed = true;
        fprintf(stderr, "smtpd: connection table full: stress timeouts\n");
    } else if (stressed && n <= max_conns - max_conns / 4 && n < max_conns) {
        stressed = false;
        fprintf(stderr, "smtpd: stress over: normal timeouts\n");
    }
}

/* When the connection runs out of time: its current line, or its session. A connection
 * parked on a lookup waits for us, not for its client: only its session counts then. */
static long long deadline(const struct conn *c)
{
    long long session = c->started + (stressed ? stress_session_timeout : session_timeout);
    long long line = c->line_started + (stressed ? stress_command_timeout : command_timeout);

    return c->lookup_pending || line > session ? session : line;
}

static void accept_conn(int lfd)
{
    int fd = accept(lfd, NULL, NULL);
    size_t i;
    saslmech_result r;

    if (fd < 0)
        return;
    for (i = 0; i < max_conns; i++)
        if (conns[i] == NULL)
            break;
    if (i == max_conns || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        static const char busy[] = "421 4.3.2 Too many connections\r\n";
        ssize_t ignored = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
        close(fd);
        update_stress();
        return;
    }
    conns[i] = calloc(1, sizeof *conns[i]);
    if (conns[i] == NULL) {
        close(fd);
        return;
    }
    r = saslmech_proto_server_new(config, SASLMECH_PROTOCOL_SMTP, &conns[i]->smtp);
    if (r != SASLMECH_OK)
        die("saslmech_proto_server_new", r);
    conns[i]->fd = fd;
    conns[i]->started = conns[i]->line_started = now_ms();
    reply(conns[i], "220 " HOSTNAME " ESMTP saslmech demo");
    update_stress();
}

static int listen_on(const char *host, const char *port)
{
    struct addrinfo hints, *res;
    int fd, one = 1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char name[64], serv[16];

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        fprintf(stderr, "smtpd: bad address %s port %s\n", host, port);
        exit(2);
    }
    fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, name, sizeof name, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        perror("smtpd: listen");
        exit(1);
    }
    freeaddrinfo(res);
    printf("smtpd: listening on %s:%s\n", name, serv);
    fflush(stdout);
    return fd;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Enable the mechanisms named in a comma-separated list, in its order. */
static void set_mechanisms(const char *list)
{
    saslmech_mechanism mechs[16];
    size_t n = 0;
    saslmech_result r;

    while (*list != '\0') {
        size_t len = strcspn(list, ",");
        if (n == sizeof mechs / sizeof mechs[0] ||
            saslmech_mechanism_from_name((const uint8_t *)list, len, &mechs[n]) != SASLMECH_OK) {
            fprintf(stderr, "smtpd: unknown mechanism or too many: %.*s\n", (int)len, list);
            exit(2);
        }
        n++;
        list += len + (list[len] == ',');
    }
    if ((r = saslmech_server_config_set_mechanisms(config, mechs, n)) != SASLMECH_OK)
        die("set_mechanisms", r);
}

static void setup_config(const char *mechanisms)
{
    saslmech_result r;

    if ((r = saslmech_server_config_new(&config)) != SASLMECH_OK)
        die("saslmech_server_config_new", r);
    /* Loopback demo without TLS: allow the mechanisms that send the password. */
    if ((r = saslmech_server_config_set_allow_plaintext(config, true)) != SASLMECH_OK)
        die("set_allow_plaintext", r);
    /* CRAM-MD5 and SCRAM are answered with stored keys: unknown users cost the same. */
    if ((r = saslmech_server_config_set_secret_storage(config, SASLMECH_SECRET_STORAGE_KEYS)) !=
        SASLMECH_OK)
        die("saslmech_server_config_set_secret_storage", r);
    if (mechanisms != NULL)
        set_mechanisms(mechanisms);
    if ((r = saslmech_server_config_set_hostname(config, (const uint8_t *)HOSTNAME,
                                                 strlen(HOSTNAME))) != SASLMECH_OK)
        die("set_hostname", r);
    r = saslmech_cram_md5_keys_from_password((const uint8_t *)DEMO_PASSWORD,
                                             strlen(DEMO_PASSWORD), demo_cram_keys,
                                             sizeof demo_cram_keys);
    if (r != SASLMECH_OK)
        die("cram_md5_keys_from_password", r);
    /* A real server reads these from its database (saslmech_scram_keys_from_rfc5803). */
    /* A NULL salt: a fresh random one. */
    r = saslmech_scram_keys_derive(SASLMECH_SCRAM_SHA_1, (const uint8_t *)DEMO_PASSWORD,
                                   strlen(DEMO_PASSWORD), NULL, 0, 4096, &demo_scram_sha1);
    if (r == SASLMECH_OK)
        r = saslmech_scram_keys_derive(SASLMECH_SCRAM_SHA_256, (const uint8_t *)DEMO_PASSWORD,
                                       strlen(DEMO_PASSWORD), NULL, 0, 4096, &demo_scram_sha256);
    if (r != SASLMECH_OK)
        die("scram_keys_derive", r);
}

/* Seconds (decimals allowed) as milliseconds, at least 1; -1 if not a number. */
static long long seconds(const char *text)
{
    char *end;
    double secs = strtod(text, &end);

    if (end == text || *end != '\0' || !(secs > 0) || secs > 1e9)
        return -1;
    return secs * 1000 < 1 ? 1 : (long long)(secs * 1000);
}

/* Close connections whose time is up, with a 421 if their replies are not stuck. */
static void expire(long long now)
{
    size_t i;

    for (i = 0; i < max_conns; i++) {
        struct conn *c = conns[i];
        if (c == NULL || now < deadline(c))
            continue;
        fprintf(stderr, "smtpd: fd %d: timeout%s\n", c->fd, stressed ? " (stress)" : "");
        if (!c->closing) {
            static const char msg[] = "421 4.4.2 " HOSTNAME " Error: timeout exceeded\r\n";
            ssize_t ignored = send(c->fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)ignored;
        }
        close_conn(i);
    }
}

int main(int argc, char **argv)
{
    const char *mechanisms = NULL;
    int lfd, opt;
    struct sigaction sa;
    struct pollfd *pfd;
    struct conn **who;
    size_t i;

    while ((opt = getopt(argc, argv, "d:m:c:t:T:s:S:")) != -1) {
        long long ms = optarg != NULL ? seconds(optarg) : -1;
        if (opt == 'd')
            lookup_delay_ms = atoll(optarg);
        else if (opt == 'm')
            mechanisms = optarg;
        else if (opt == 'c' && atoll(optarg) > 0 && atoll(optarg) <= 65536)
            max_conns = (size_t)atoll(optarg);
        else if (opt == 't' && ms > 0)
            command_timeout = ms;
        else if (opt == 'T' && ms > 0)
            stress_command_timeout = ms;
        else if (opt == 's' && ms > 0)
            session_timeout = ms;
        else if (opt == 'S' && ms > 0)
            stress_session_timeout = ms;
        else
            goto usage;
    }
    if (argc - optind != 2)
        goto usage;
    conns = calloc(max_conns, sizeof *conns);
    pfd = calloc(max_conns + 1, sizeof *pfd);
    who = calloc(max_conns + 1, sizeof *who);
    if (conns == NULL || pfd == NULL || who == NULL) {
        perror("smtpd");
        return 1;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    setup_config(mechanisms);
    lfd = listen_on(argv[optind], argv[optind + 1]);

    while (!stopping) {
        nfds_t n = 0;
        long long now = now_ms(), next_due = -1;
        int timeout, ready;

        pfd[n].fd = lfd;
        pfd[n].events = POLLIN;
        who[n++] = NULL;
        for (i = 0; i < max_conns; i++) {
            struct conn *c = conns[i];
            if (c == NULL)
                continue;
            /* Wake up for the earliest deadline too. */
            if (next_due < 0 || deadline(c) < next_due)
                next_due = deadline(c);
            pfd[n].fd = c->fd;
            /* A parked or closing connection reads nothing until it is answered. */
            pfd[n].events = (short)((c->lookup_pending || c->closing ? 0 : POLLIN) |
                                    (c->out_len > 0 ? POLLOUT : 0));
            who[n++] = c;
            if (c->lookup_pending && (next_due < 0 || c->lookup_due < next_due))
                next_due = c->lookup_due;
        }
        if (next_due >= 0 && next_due - now > 60000)
            next_due = now + 60000;
        timeout = next_due < 0 ? -1 : next_due <= now ? 0 : (int)(next_due - now);

        ready = poll(pfd, n, timeout);
        if (ready < 0 && errno != EINTR) {
            perror("smtpd: poll");
            break;
        }

        for (i = 1; ready > 0 && i < n; i++) {
            struct conn *c = who[i];
            size_t room = sizeof c->in - 1 - c->in_len;
            /* With no room left (a parked client pipelining), leave the rest in the socket. */
            if (room > 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t got = recv(c->fd, c->in + c->in_len, room, 0);
                if (got > 0) {
                    c->in_len += (size_t)got;
                    process_input(c);
                } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                    c->closing = true;
                    c->out_len = 0;
                }
            }
            if (c->out_len > 0 && (pfd[i].revents & POLLOUT)) {
                ssize_t sent = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
                if (sent > 0) {
                    memmove(c->out, c->out + sent, c->out_len - (size_t)sent);
                    c->out_len -= (size_t)sent;
                } else if (sent < 0 && errno != EAGAIN && errno != EINTR) {
                    c->closing = true;
                    c->out_len = 0;
                }
            }
        }

        /* Answer the lookups that are due, then resume those connections' input. */
        now = now_ms();
        for (i = 0; i < max_conns; i++) {
            struct conn *c = conns[i];
            if (c && c->lookup_pending && c->lookup_due <= now) {
                answer_lookup(c);
                c->line_started = now; /* the client's time runs again from here */
                process_input(c);
            }
        }

        for (i = 0; i < max_conns; i++)
            if (conns[i] && conns[i]->closing && conns[i]->out_len == 0)
                close_conn(i);
        expire(now_ms());
        update_stress();

        if (ready > 0 && (pfd[0].revents & POLLIN))
            accept_conn(lfd);
    }

    for (i = 0; i < max_conns; i++)
        if (conns[i])
            close_conn(i);
    free(conns);
    free(pfd);
    free(who);
    close(lfd);
    saslmech_server_config_free(config);
    saslmech_scram_keys_free(demo_scram_sha1);
    saslmech_scram_keys_free(demo_scram_sha256);
    fprintf(stderr, "smtpd: stopped\n");
    return 0;

usage:
    fprintf(stderr, "usage: smtpd [-d DELAY_MS] [-m MECH,MECH,...] [-c MAX_CONNS] [-t SECS] [-T SECS]\n"
                    "             [-s SECS] [-S SECS] ADDRESS PORT\n");
    return 2;
}
