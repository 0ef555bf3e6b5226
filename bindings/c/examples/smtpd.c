/*
 * smtpd: a small SMTP submission server showing how a C mail server uses saslmech.
 *
 *   smtpd [-d DELAY_MS] ADDRESS PORT      (PORT 0 picks a free port)
 *
 * One thread, one poll() loop, many connections. AUTH is driven through saslmech's base64
 * session calls; when a session asks for credentials (a password to check, a CRAM-MD5
 * secret, a token to validate) the connection is parked and the lookup is answered on a later
 * turn of the loop, DELAY_MS milliseconds later (default 0: the next turn), the way a real
 * server would wait for its user database. Other connections are served meanwhile.
 *
 * Demo only: no TLS, so the plaintext mechanisms are allowed without it (loopback), and
 * messages are accepted and thrown away. Accounts:
 *   demo@example.com      password "demo-password", OAuth token "demo-token"
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
#define MAX_CONNS 64
/* RFC 4954: 12288 octets is a sufficient line length for AUTH exchanges. */
#define MAX_LINE 12288
#define MAX_OUT (64 * 1024)

static const char DEMO_USER[] = "demo@example.com";
static const char DEMO_PASSWORD[] = "demo-password";
static const char DEMO_TOKEN[] = "demo-token";
static const char TEMPFAIL_USER[] = "tempfail@example.com";
static const char DISABLED_USER[] = "disabled@example.com";

/* What the user database stores for CRAM-MD5: the key state, not the password. */
static uint8_t demo_cram_keys[SASLMECH_CRAM_MD5_KEYS_LEN];

enum conn_state { ST_COMMAND, ST_AUTH, ST_DATA };

struct conn {
    int fd;
    enum conn_state state;
    char in[MAX_LINE + 3];
    size_t in_len;
    bool discarding; /* skipping the rest of an overlong line */
    char out[MAX_OUT];
    size_t out_len;
    bool greeted, authenticated, in_mail, has_rcpt, closing;
    saslmech_server *auth; /* the AUTH exchange in progress */
    bool lookup_pending;   /* parked on a credential request */
    long long lookup_due;  /* when to answer it (ms, monotonic) */
};

static struct conn *conns[MAX_CONNS];
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

static void end_auth(struct conn *c)
{
    saslmech_server_free(c->auth);
    c->auth = NULL;
    c->lookup_pending = false;
    c->state = ST_COMMAND;
}

static bool same(const uint8_t *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* The RFC 4954 / RFC 5248 reply for a failed exchange. */
static void reply_failure(struct conn *c)
{
    saslmech_failure f = SASLMECH_FAILURE_BAD_CREDENTIALS;

    saslmech_server_failure(c->auth, &f);
    switch (f) {
    case SASLMECH_FAILURE_MALFORMED:
    case SASLMECH_FAILURE_INVALID_BASE64:
        reply(c, "501 5.5.2 Cannot decode response");
        break;
    case SASLMECH_FAILURE_CANCELLED:
        reply(c, "501 5.5.2 Authentication cancelled");
        break;
    case SASLMECH_FAILURE_UNEXPECTED_INITIAL_RESPONSE:
        reply(c, "501 5.7.0 Initial response not allowed for this mechanism");
        break;
    case SASLMECH_FAILURE_TEMPORARY:
        reply(c, "454 4.7.0 Temporary authentication failure");
        break;
    case SASLMECH_FAILURE_ACCOUNT_DISABLED:
        reply(c, "525 5.7.13 User account disabled");
        break;
    case SASLMECH_FAILURE_MECHANISM_UNAVAILABLE:
        reply(c, "504 5.5.4 Unrecognized authentication type");
        break;
    case SASLMECH_FAILURE_MECHANISM_TOO_WEAK:
        reply(c, "534 5.7.9 Authentication mechanism is too weak");
        break;
    case SASLMECH_FAILURE_ENCRYPTION_REQUIRED:
        reply(c, "538 5.7.11 Encryption required for requested authentication mechanism");
        break;
    case SASLMECH_FAILURE_TOO_LARGE:
        reply(c, "500 5.5.6 Authentication Exchange line is too long");
        break;
    case SASLMECH_FAILURE_TOO_MANY_STEPS:
        reply(c, "501 5.5.2 Too many authentication round trips");
        break;
    default:
        reply(c, "535 5.7.8 Authentication credentials invalid");
        break;
    }
}

/* Act on what the session said it needs next. */
static void on_status(struct conn *c, saslmech_status status)
{
    const uint8_t *p;
    size_t n;

    switch (status) {
    case SASLMECH_STATUS_CHALLENGE:
        if (saslmech_server_challenge(c->auth, &p, &n) != SASLMECH_OK) {
            reply(c, "454 4.7.0 Temporary authentication failure");
            end_auth(c);
            return;
        }
        /* An empty challenge is "334 " with the space (RFC 4954). */
        reply(c, "334 %.*s", (int)n, (const char *)p);
        c->state = ST_AUTH;
        return;
    case SASLMECH_STATUS_REQUEST:
        /* Park the connection; the lookup is answered on a later loop turn. */
        c->lookup_pending = true;
        c->lookup_due = now_ms() + lookup_delay_ms;
        return;
    case SASLMECH_STATUS_SUCCESS:
        if (saslmech_server_identity_effective(c->auth, &p, &n) == SASLMECH_OK)
            fprintf(stderr, "smtpd: fd %d authenticated as %.*s\n", c->fd, (int)n,
                    (const char *)p);
        reply(c, "235 2.7.0 Authentication successful");
        c->authenticated = true;
        end_auth(c);
        return;
    case SASLMECH_STATUS_FAILURE:
    default:
        reply_failure(c);
        end_auth(c);
        return;
    }
}

/* The "user database": answer the parked request. */
static void answer_lookup(struct conn *c)
{
    saslmech_request kind;
    saslmech_status status = SASLMECH_STATUS_FAILURE;
    const uint8_t *user, *token;
    size_t user_len, token_len;
    bool demo, equal = false;
    saslmech_result r;

    c->lookup_pending = false;
    if (saslmech_server_request(c->auth, &kind) != SASLMECH_OK ||
        saslmech_server_request_authcid(c->auth, &user, &user_len) != SASLMECH_OK) {
        reply(c, "454 4.7.0 Temporary authentication failure");
        end_auth(c);
        return;
    }
    demo = same(user, user_len, DEMO_USER);
    if (same(user, user_len, TEMPFAIL_USER)) {
        r = saslmech_server_answer_temporary_failure(c->auth, &status);
    } else if (same(user, user_len, DISABLED_USER)) {
        r = saslmech_server_answer_account_disabled(c->auth, &status);
    } else {
        switch (kind) {
        case SASLMECH_REQUEST_VERIFY_PASSWORD:
            /* The library compares in constant time. */
            r = demo ? saslmech_server_answer_password(c->auth, (const uint8_t *)DEMO_PASSWORD,
                                                       strlen(DEMO_PASSWORD), &status)
                     : saslmech_server_answer_unknown_user(c->auth, &status);
            break;
        case SASLMECH_REQUEST_SECRET:
            r = demo ? saslmech_server_answer_cram_md5_keys(c->auth, demo_cram_keys,
                                                            sizeof demo_cram_keys, &status)
                     : saslmech_server_answer_unknown_user(c->auth, &status);
            break;
        case SASLMECH_REQUEST_VALIDATE_TOKEN:
            r = saslmech_server_request_token(c->auth, &token, &token_len);
            if (r == SASLMECH_OK)
                r = saslmech_ct_eq_password(token, token_len, (const uint8_t *)DEMO_TOKEN,
                                            strlen(DEMO_TOKEN), &equal);
            if (r == SASLMECH_OK)
                r = demo && equal ? saslmech_server_answer_accept(c->auth, &status)
                                  : saslmech_server_answer_reject(c->auth, &status);
            break;
        case SASLMECH_REQUEST_AUTHORIZE:
        default:
            /* No one may act as someone else here. */
            r = saslmech_server_answer_reject(c->auth, &status);
            break;
        }
    }
    if (r != SASLMECH_OK) {
        fprintf(stderr, "smtpd: answer: %s\n", saslmech_strerror(r));
        reply(c, "454 4.7.0 Temporary authentication failure");
        end_auth(c);
        return;
    }
    on_status(c, status);
}

static void cmd_auth(struct conn *c, char *args)
{
    char *mech_name = args, *ir = NULL, *sp;
    saslmech_mechanism mech;
    saslmech_status status;
    saslmech_result r;

    if (c->authenticated || c->in_mail) {
        reply(c, "503 5.5.1 %s",
              c->authenticated ? "Already authenticated" : "Mail transaction in progress");
        return;
    }
    if (!c->greeted) {
        reply(c, "503 5.5.1 Send EHLO first");
        return;
    }
    if (*mech_name == '\0') {
        reply(c, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
        return;
    }
    sp = strchr(args, ' ');
    if (sp) {
        *sp = '\0';
        ir = sp + 1;
    }
    if (saslmech_mechanism_from_name((const uint8_t *)mech_name, strlen(mech_name), &mech) !=
        SASLMECH_OK) {
        reply(c, "504 5.5.4 Unrecognized authentication type");
        return;
    }
    r = saslmech_server_new(config, mech, SASLMECH_SERVER_BASE64, &c->auth);
    if (r != SASLMECH_OK)
        die("saslmech_server_new", r);
    if (ir == NULL)
        r = saslmech_server_start_no_ir(c->auth, &status);
    else if (strcmp(ir, "=") == 0) /* an empty initial response */
        r = saslmech_server_start(c->auth, (const uint8_t *)"", 0, &status);
    else
        r = saslmech_server_start(c->auth, (const uint8_t *)ir, strlen(ir), &status);
    if (r != SASLMECH_OK) {
        reply(c, "454 4.7.0 Temporary authentication failure");
        end_auth(c);
        return;
    }
    on_status(c, status);
}

static void auth_line(struct conn *c, char *line)
{
    saslmech_status status;
    saslmech_result r;

    if (strcmp(line, "*") == 0)
        r = saslmech_server_cancel(c->auth, &status);
    else
        r = saslmech_server_step(c->auth, (const uint8_t *)line, strlen(line), &status);
    if (r != SASLMECH_OK) {
        reply(c, "454 4.7.0 Temporary authentication failure");
        end_auth(c);
        return;
    }
    on_status(c, status);
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

static void command_line(struct conn *c, char *line)
{
    char *args;

    if (is_cmd(line, "EHLO", &args)) {
        const uint8_t *names;
        size_t len;
        c->greeted = true;
        c->in_mail = c->has_rcpt = false;
        reply(c, "250-" HOSTNAME);
        if (!c->authenticated &&
            saslmech_server_config_offered(config, 0, &names, &len) == SASLMECH_OK && len > 0)
            reply(c, "250-AUTH %.*s", (int)len, (const char *)names);
        reply(c, "250 ENHANCEDSTATUSCODES");
    } else if (is_cmd(line, "HELO", &args)) {
        c->greeted = true;
        c->in_mail = c->has_rcpt = false;
        reply(c, "250 " HOSTNAME);
    } else if (is_cmd(line, "AUTH", &args)) {
        cmd_auth(c, args);
    } else if (is_cmd(line, "MAIL", &args)) {
        if (!c->authenticated)
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

static void data_line(struct conn *c, const char *line)
{
    if (strcmp(line, ".") == 0) {
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
        size_t used;

        if (lf == NULL) {
            if (c->in_len > MAX_LINE + 1) {
                /* Overlong: answer once, then skip to the end of the line. */
                if (c->state == ST_AUTH) {
                    saslmech_status st;
                    saslmech_server_cancel(c->auth, &st);
                    end_auth(c);
                    reply(c, "500 5.5.6 Authentication Exchange line is too long");
                } else if (c->state == ST_COMMAND) {
                    reply(c, "500 5.5.2 Line too long");
                }
                c->discarding = true;
                c->in_len = 0;
            }
            return;
        }
        used = (size_t)(lf - c->in) + 1;
        *lf = '\0';
        if (lf > c->in && lf[-1] == '\r')
            lf[-1] = '\0';
        if (c->discarding)
            c->discarding = false;
        else if (c->state == ST_AUTH)
            auth_line(c, c->in);
        else if (c->state == ST_DATA)
            data_line(c, c->in);
        else
            command_line(c, c->in);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
}

static void close_conn(size_t i)
{
    struct conn *c = conns[i];

    saslmech_server_free(c->auth); /* wipes whatever the exchange received */
    close(c->fd);
    free(c);
    conns[i] = NULL;
}

static void accept_conn(int lfd)
{
    int fd = accept(lfd, NULL, NULL);
    size_t i;

    if (fd < 0)
        return;
    for (i = 0; i < MAX_CONNS; i++)
        if (conns[i] == NULL)
            break;
    if (i == MAX_CONNS || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        static const char busy[] = "421 4.3.2 Too many connections\r\n";
        ssize_t ignored = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
        (void)ignored;
        close(fd);
        return;
    }
    conns[i] = calloc(1, sizeof *conns[i]);
    if (conns[i] == NULL) {
        close(fd);
        return;
    }
    conns[i]->fd = fd;
    reply(conns[i], "220 " HOSTNAME " ESMTP saslmech demo");
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

static void setup_config(void)
{
    saslmech_result r;

    if ((r = saslmech_server_config_new(&config)) != SASLMECH_OK)
        die("saslmech_server_config_new", r);
    /* Loopback demo without TLS: allow the mechanisms that send the password. */
    if ((r = saslmech_server_config_set_allow_plaintext(config, true)) != SASLMECH_OK)
        die("set_allow_plaintext", r);
    if ((r = saslmech_server_config_set_hostname(config, (const uint8_t *)HOSTNAME,
                                                 strlen(HOSTNAME))) != SASLMECH_OK)
        die("set_hostname", r);
    r = saslmech_cram_md5_keys_from_password((const uint8_t *)DEMO_PASSWORD,
                                             strlen(DEMO_PASSWORD), demo_cram_keys,
                                             sizeof demo_cram_keys);
    if (r != SASLMECH_OK)
        die("cram_md5_keys_from_password", r);
}

int main(int argc, char **argv)
{
    int lfd, opt;
    struct sigaction sa;
    size_t i;

    while ((opt = getopt(argc, argv, "d:")) != -1) {
        if (opt == 'd')
            lookup_delay_ms = atoll(optarg);
        else
            goto usage;
    }
    if (argc - optind != 2)
        goto usage;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    setup_config();
    lfd = listen_on(argv[optind], argv[optind + 1]);

    while (!stopping) {
        struct pollfd pfd[MAX_CONNS + 1];
        struct conn *who[MAX_CONNS + 1];
        nfds_t n = 0;
        long long now = now_ms(), next_due = -1;
        int timeout, ready;

        pfd[n].fd = lfd;
        pfd[n].events = POLLIN;
        who[n++] = NULL;
        for (i = 0; i < MAX_CONNS; i++) {
            struct conn *c = conns[i];
            if (c == NULL)
                continue;
            pfd[n].fd = c->fd;
            /* A parked or closing connection reads nothing until it is answered. */
            pfd[n].events = (short)((c->lookup_pending || c->closing ? 0 : POLLIN) |
                                    (c->out_len > 0 ? POLLOUT : 0));
            who[n++] = c;
            if (c->lookup_pending && (next_due < 0 || c->lookup_due < next_due))
                next_due = c->lookup_due;
        }
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
        for (i = 0; i < MAX_CONNS; i++) {
            struct conn *c = conns[i];
            if (c && c->lookup_pending && c->lookup_due <= now) {
                answer_lookup(c);
                process_input(c);
            }
        }

        for (i = 0; i < MAX_CONNS; i++)
            if (conns[i] && conns[i]->closing && conns[i]->out_len == 0)
                close_conn(i);

        if (ready > 0 && (pfd[0].revents & POLLIN))
            accept_conn(lfd);
    }

    for (i = 0; i < MAX_CONNS; i++)
        if (conns[i])
            close_conn(i);
    close(lfd);
    saslmech_server_config_free(config);
    fprintf(stderr, "smtpd: stopped\n");
    return 0;

usage:
    fprintf(stderr, "usage: smtpd [-d DELAY_MS] ADDRESS PORT\n");
    return 2;
}
