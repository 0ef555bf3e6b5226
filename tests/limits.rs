//! Limits: every input path refuses oversized messages, too many round trips and over-long
//! identities with the typed failure, and never allocates in proportion to what the peer
//! sends beyond the limit (a counting global allocator measures each call).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use saslmech::{
    ALL_MECHANISMS, Answer, ChannelBindingType, ClientConfig, ClientSession, Credentials, Error,
    Failure, Mechanism, ScramHash, ScramKeys, ServerConfig, ServerSession, ServerStep, Transport,
};

struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(n: usize) {
    let _ = ALLOCATED.try_with(|a| a.set(a.get().saturating_add(n)));
}

// SAFETY: every method forwards to the system allocator unchanged; the counter is a
// const-initialized thread-local `Cell` without a destructor, so touching it never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        count(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        count(new);
        unsafe { System.realloc(p, l, new) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes allocated on this thread while `f` runs.
fn allocated<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATED.with(Cell::get);
    let r = f();
    (r, ALLOCATED.with(Cell::get) - before)
}

const TEN_MIB: usize = 10 << 20;
/// What one refused call may allocate at most, whatever the input's size.
const SMALL: usize = 4096;

/// Every mechanism enabled (EXTERNAL and ANONYMOUS too).
fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new().mechanisms(ALL_MECHANISMS))
}

/// TLS with channel-binding data and an external identity: every mechanism is usable.
fn tls() -> Transport {
    Transport::tls()
        .with_channel_binding(ChannelBindingType::TlsExporter, &[7; 32])
        .with_external_identity("client.example.net")
}

/// A client configuration with channel-binding data (for the `-PLUS` mechanisms).
fn client_config() -> ClientConfig {
    ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, &[7; 32])
}

fn failure(step: Result<ServerStep<'_>, Error>) -> Option<Failure> {
    match step {
        Ok(ServerStep::Failure(f)) => Some(f),
        _ => None,
    }
}

/// A session waiting for a client message (after `start(None)` if the mechanism needs it).
fn waiting(m: Mechanism) -> ServerSession {
    let mut s = ServerSession::new(&config(), m, &tls()).unwrap();
    let _ = s.start(None).unwrap();
    s
}

#[test]
fn oversized_messages_fail_without_proportional_allocation() {
    let raw = vec![b'A'; TEN_MIB];
    // Valid base64 (of 7.5 MiB of zeros), so only the size can refuse it.
    let text = vec![b'A'; TEN_MIB];
    for &m in ALL_MECHANISMS {
        // Initial response, raw and base64.
        let mut s = ServerSession::new(&config(), m, &tls()).unwrap();
        let (f, n) = allocated(|| failure(s.start(Some(&raw))));
        assert_eq!(f, Some(Failure::TooLarge), "{m} start");
        assert!(n <= SMALL, "{m} start allocated {n} bytes");
        let mut s = ServerSession::new(&config(), m, &tls()).unwrap();
        let (f, n) = allocated(|| failure(s.start_b64(Some(&text))));
        assert_eq!(f, Some(Failure::TooLarge), "{m} start_b64");
        assert!(n <= SMALL, "{m} start_b64 allocated {n} bytes");
        // Responses, raw and base64.
        let mut s = waiting(m);
        let (f, n) = allocated(|| failure(s.step(&raw)));
        assert_eq!(f, Some(Failure::TooLarge), "{m} step");
        assert!(n <= SMALL, "{m} step allocated {n} bytes");
        let mut s = waiting(m);
        let (f, n) = allocated(|| failure(s.step_b64(&text)));
        assert_eq!(f, Some(Failure::TooLarge), "{m} step_b64");
        assert!(n <= SMALL, "{m} step_b64 allocated {n} bytes");
        // Clients.
        let creds = Credentials::new()
            .authcid("tim")
            .password(b"pw")
            .token(b"token");
        let mut c = ClientSession::with_config(m, &creds, &client_config()).unwrap();
        let (r, n) = allocated(|| c.step(&raw).map(|_| ()));
        assert_eq!(r, Err(Error::Failed(Failure::TooLarge)), "{m} client step");
        assert!(n <= SMALL, "{m} client step allocated {n} bytes");
        let mut c = ClientSession::with_config(m, &creds, &client_config()).unwrap();
        let (r, n) = allocated(|| c.step_b64(&text).map(|_| ()));
        assert_eq!(
            r,
            Err(Error::Failed(Failure::TooLarge)),
            "{m} client step_b64"
        );
        assert!(n <= SMALL, "{m} client step_b64 allocated {n} bytes");
    }
}

#[test]
fn messages_within_the_limit_cost_a_small_multiple_of_their_size() {
    let max = 4096;
    let config = Arc::new(
        ServerConfig::new()
            .mechanisms(ALL_MECHANISMS)
            .max_message(max),
    );
    let text = vec![b'A'; max / 3 * 4]; // decodes to max - 1 bytes
    for &m in ALL_MECHANISMS {
        let mut s = ServerSession::new(&config, m, &tls()).unwrap();
        let _ = s.start(None).unwrap();
        let (f, n) = allocated(|| failure(s.step_b64(&text)));
        assert_ne!(
            f,
            Some(Failure::TooLarge),
            "{m}: a message at the limit is not too large"
        );
        assert!(n <= 4 * max, "{m}: {n} bytes for a {max}-byte message");
        // The counter does count: decoding needed room for the message.
        assert!(n >= max - 1, "{m}: only {n} bytes counted");
        // One byte over is refused.
        let mut s = ServerSession::new(&config, m, &tls()).unwrap();
        let _ = s.start(None).unwrap();
        assert_eq!(
            failure(s.step(&vec![b'A'; max + 1])),
            Some(Failure::TooLarge),
            "{m}"
        );
    }
    // The client's limit.
    let mut cc = ClientConfig::default();
    cc.max_challenge = 100;
    let creds = Credentials::new().authcid("tim").password(b"pw");
    let mut c = ClientSession::with_config(Mechanism::CramMd5, &creds, &cc).unwrap();
    assert_eq!(c.step(&[b'<'; 101]), Err(Error::Failed(Failure::TooLarge)));
    let mut c = ClientSession::with_config(Mechanism::CramMd5, &creds, &cc).unwrap();
    assert!(c.step(&[b'<'; 100]).is_ok());
}

#[test]
fn too_many_round_trips() {
    // LOGIN takes two messages: with a limit of one, the second fails, with or without the
    // user name as initial response.
    let one = Arc::new(ServerConfig::new().max_steps(1));
    let mut s = ServerSession::new(&one, Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(None).unwrap();
    assert!(matches!(
        s.step(b"tim"),
        Ok(ServerStep::Challenge(b"Password:"))
    ));
    assert_eq!(failure(s.step(b"pw")), Some(Failure::TooManySteps));
    let mut s = ServerSession::new(&one, Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(Some(b"tim")).unwrap();
    assert_eq!(failure(s.step_b64(b"cHc=")), Some(Failure::TooManySteps));
    // XOAUTH2 and OAUTHBEARER: the acknowledgement of the error challenge (empty, `^A`) is
    // a second message.
    let oauth: [(Mechanism, &[u8], &[u8]); 2] = [
        (
            Mechanism::XOAuth2,
            b"user=tim\x01auth=Bearer abc\x01\x01",
            b"",
        ),
        (
            Mechanism::OAuthBearer,
            b"n,a=tim,\x01auth=Bearer abc\x01\x01",
            b"\x01",
        ),
    ];
    for (mechanism, message, ack) in oauth {
        let mut s = ServerSession::new(&one, mechanism, &Transport::tls()).unwrap();
        let _ = s.start(Some(message)).unwrap();
        assert!(
            matches!(s.answer(Answer::Reject), Ok(ServerStep::Challenge(_))),
            "{mechanism}"
        );
        assert_eq!(
            failure(s.step(ack)),
            Some(Failure::TooManySteps),
            "{mechanism}"
        );
    }
    // SCRAM: client-first and client-final are two messages; the empty acknowledgement of
    // server-final (protocols without success data) is not a round trip.
    let keys = ScramKeys::derive(ScramHash::Sha256, b"pencil", b"salt", 1).unwrap();
    for (max_steps, ok) in [(1, false), (2, true)] {
        let config = Arc::new(ServerConfig::new().max_steps(max_steps));
        let creds = Credentials::new().authcid("user").password(b"pencil");
        let cc = ClientConfig::new().scram_iterations(1, 1);
        let mut c = ClientSession::with_config(Mechanism::ScramSha256, &creds, &cc).unwrap();
        let transport = Transport::tls().with_success_data(false);
        let mut s = ServerSession::new(&config, Mechanism::ScramSha256, &transport).unwrap();
        let first = c.start().unwrap().unwrap().to_vec();
        assert!(matches!(s.start(Some(&first)), Ok(ServerStep::Request(_))));
        let Ok(ServerStep::Challenge(server_first)) = s.answer(Answer::ScramKeys(&keys)) else {
            panic!("no server-first");
        };
        let last = c.step(server_first).unwrap().to_vec();
        let step = s.step(&last);
        if !ok {
            assert_eq!(failure(step), Some(Failure::TooManySteps));
            continue;
        }
        let Ok(ServerStep::Challenge(server_final)) = step else {
            panic!("no server-final");
        };
        let ack = c.step(server_final).unwrap().to_vec();
        assert!(matches!(s.step(&ack), Ok(ServerStep::Success(_))));
    }
    // At the default limit every mechanism completes.
    let mut s = ServerSession::new(&config(), Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(Some(b"tim")).unwrap();
    assert!(matches!(s.step(b"pw"), Ok(ServerStep::Request(_))));
}

#[test]
fn over_long_identities() {
    fn first_message(m: Mechanism, id: &str) -> Vec<u8> {
        match m {
            Mechanism::Plain => format!("\0{id}\0pw").into_bytes(),
            Mechanism::Login => id.as_bytes().to_vec(),
            Mechanism::CramMd5 => format!("{id} 0123456789abcdef0123456789abcdef").into_bytes(),
            Mechanism::XOAuth2 => format!("user={id}\x01auth=Bearer abc\x01\x01").into_bytes(),
            Mechanism::OAuthBearer => format!("n,a={id},\x01auth=Bearer abc\x01\x01").into_bytes(),
            m if m.channel_binding() => format!("p=tls-exporter,,n={id},r=abc").into_bytes(),
            m if m.is_scram() => format!("n,,n={id},r=abc").into_bytes(),
            // The authzid.
            Mechanism::External => id.as_bytes().to_vec(),
            // The trace has its own limit of 255 characters (below).
            Mechanism::Anonymous => Vec::new(),
            _ => unreachable!("{m}: add its first message"),
        }
    }
    for (limit, config) in [
        (ServerConfig::DEFAULT_MAX_IDENTITY, config()),
        (
            255,
            Arc::new(
                ServerConfig::new()
                    .mechanisms(ALL_MECHANISMS)
                    .max_identity(255),
            ),
        ),
        // Below 255 is raised to 255, which RFC 4616 requires servers to accept.
        (
            255,
            Arc::new(
                ServerConfig::new()
                    .mechanisms(ALL_MECHANISMS)
                    .max_identity(10),
            ),
        ),
    ] {
        for &m in ALL_MECHANISMS {
            if m == Mechanism::Anonymous {
                continue;
            }
            for (len, refused) in [(limit, false), (limit + 1, true)] {
                let id = "u".repeat(len);
                let mut s = ServerSession::new(&config, m, &tls()).unwrap();
                let _ = s.start(None).unwrap();
                let msg = first_message(m, &id);
                let f = failure(s.step(&msg));
                assert_eq!(
                    f == Some(Failure::TooLarge),
                    refused,
                    "{m} identity of {len}: {f:?}"
                );
            }
        }
        // PLAIN's authzid too.
        let id = "z".repeat(limit + 1);
        let mut s = ServerSession::new(&config, Mechanism::Plain, &Transport::tls()).unwrap();
        let msg = format!("{id}\0tim\0pw");
        assert_eq!(
            failure(s.start(Some(msg.as_bytes()))),
            Some(Failure::TooLarge)
        );
        // SCRAM's authzid too.
        let mut s = ServerSession::new(&config, Mechanism::ScramSha1, &tls()).unwrap();
        let msg = format!("n,a={id},n=tim,r=abc");
        assert_eq!(
            failure(s.start(Some(msg.as_bytes()))),
            Some(Failure::TooLarge)
        );
    }
    // ANONYMOUS: the trace is at most 255 characters (not octets), whatever max_identity.
    for (trace, refused) in [
        ("é".repeat(255), false),
        ("é".repeat(256), true),
        ("a".repeat(256), true),
    ] {
        let mut s = ServerSession::new(&config(), Mechanism::Anonymous, &tls()).unwrap();
        let f = failure(s.start(Some(trace.as_bytes())));
        assert_eq!(f == Some(Failure::TooLarge), refused, "{f:?}");
        assert!(s.is_finished());
    }
}

/// The protocol adapters: an over-long command or exchange line is refused with the
/// protocol's "line too long" reply and allocates nothing in proportion; a server adapter's
/// round trips are bounded by `max_steps`; a client adapter refuses an oversized challenge
/// (answering `*`), gives up after too many challenges, and bounds a multi-line reply's text.
#[test]
fn protocol_adapters() {
    use saslmech::proto::imap::{ImapClient, ImapServer};
    use saslmech::proto::pop3::{Pop3Client, Pop3Server};
    use saslmech::proto::smtp::{SmtpClient, SmtpServer};
    use saslmech::proto::{ClientEvent, ServerEvent};
    use support::adapters::{ClientSide, ServerSide};

    fn too_long(event: ServerEvent, reply: &[u8]) {
        match event {
            ServerEvent::Failure { failure, reply: r } => {
                assert_eq!(failure, Failure::TooLarge);
                assert!(r.starts_with(reply), "{:?}", String::from_utf8_lossy(&r));
            }
            other => panic!("{other:?}"),
        }
    }
    let huge_command = |prefix: &[u8]| {
        let mut l = prefix.to_vec();
        l.extend(std::iter::repeat_n(b'A', TEN_MIB));
        l
    };
    let line = vec![b'A'; TEN_MIB];
    let config = || Arc::new(ServerConfig::new().allow_plaintext_without_tls(true));

    struct ServerCase {
        name: &'static str,
        server: Box<dyn ServerSide>,
        /// A PLAIN command, before its huge initial response, and the reply it gets.
        plain: &'static [u8],
        plain_reply: &'static [u8],
        /// A LOGIN command, and the reply to a huge line after it.
        login: &'static [u8],
        line_reply: &'static [u8],
    }
    let servers = [
        ServerCase {
            name: "SMTP",
            server: Box::new(SmtpServer::new(config())),
            plain: b"AUTH PLAIN ",
            plain_reply: b"500 5.5.6",
            login: b"AUTH LOGIN\r\n",
            line_reply: b"500 5.5.6",
        },
        ServerCase {
            name: "IMAP",
            server: Box::new(ImapServer::new(config())),
            plain: b"a1 AUTHENTICATE PLAIN ",
            plain_reply: b"a1 BAD",
            login: b"a2 AUTHENTICATE LOGIN\r\n",
            line_reply: b"a2 BAD",
        },
        ServerCase {
            name: "POP3",
            server: Box::new(Pop3Server::new(config())),
            plain: b"AUTH PLAIN ",
            plain_reply: b"-ERR",
            login: b"AUTH LOGIN\r\n",
            line_reply: b"-ERR",
        },
    ];
    for ServerCase {
        name,
        server: mut s,
        plain,
        plain_reply,
        login,
        line_reply,
    } in servers
    {
        let cmd = huge_command(plain);
        let (e, n) = allocated(|| s.command(&cmd).unwrap());
        too_long(e, plain_reply);
        assert!(n <= SMALL, "{name} command: {n} bytes");
        let _ = s.command(login).unwrap();
        let (e, n) = allocated(|| s.line(&line).unwrap());
        too_long(e, line_reply);
        assert!(n <= SMALL, "{name} line: {n} bytes");
    }

    // Round trips through an adapter: LOGIN with max_steps 1.
    let one = Arc::new(
        ServerConfig::new()
            .allow_plaintext_without_tls(true)
            .max_steps(1),
    );
    let mut s = SmtpServer::new(one);
    let _ = s.command(b"AUTH LOGIN dGlt\r\n").unwrap();
    match s.line(b"cHc=\r\n").unwrap() {
        ServerEvent::Failure { failure, .. } => assert_eq!(failure, Failure::TooManySteps),
        other => panic!("{other:?}"),
    }

    // Clients: an oversized challenge is refused without decoding it (`*`, then the
    // server's failure reply ends it with TooLarge). The SMTP client keeps at most 4 KiB of a
    // reply's text (as printable text, then the outcome's copy): a fixed bound, whatever the
    // line's length.
    const CLIENT_SMALL: usize = 16 * 1024;
    // The POP3 client once copied the whole line into a String before looking at it: 10 MiB.
    let creds = Credentials::new().authcid("tim").password(b"pw");
    // (protocol, client, challenge prefix, the server's failure reply to `*`)
    let smtp: Box<dyn ClientSide> = Box::new(SmtpClient::new(Mechanism::Login, &creds).unwrap());
    let clients = [
        ("SMTP", smtp, "334 ", "501 5.0.0 cancelled\r\n"),
        (
            "IMAP",
            Box::new(ImapClient::new("a1", Mechanism::Login, &creds).unwrap()),
            "+ ",
            "a1 BAD cancelled\r\n",
        ),
        (
            "POP3",
            Box::new(Pop3Client::new(Mechanism::Login, &creds).unwrap()),
            "+ ",
            "-ERR cancelled\r\n",
        ),
    ];
    for (name, mut c, prefix, cancelled) in clients {
        let _ = c.start().unwrap();
        let mut big = prefix.as_bytes().to_vec();
        big.extend(std::iter::repeat_n(b'A', TEN_MIB));
        let (e, n) = allocated(|| c.feed(&big).unwrap());
        assert!(
            matches!(&e, ClientEvent::Send(l) if l.as_slice() == b"*\r\n"),
            "{name}: {e:?}"
        );
        assert!(n <= CLIENT_SMALL, "{name} client challenge: {n} bytes");
        match c.feed(cancelled.as_bytes()).unwrap() {
            ClientEvent::Done(o) => assert_eq!(o.failure, Some(Failure::TooLarge), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }

    // Too many challenges: the client gives up (`*`) instead of answering forever.
    let mut c = SmtpClient::new(Mechanism::Login, &creds).unwrap();
    let _ = c.start().unwrap();
    let mut gave_up = false;
    for _ in 0..100 {
        match c.reply(b"334 \r\n").unwrap() {
            ClientEvent::Send(l) if l.as_slice() == b"*\r\n" => {
                gave_up = true;
                break;
            }
            ClientEvent::Send(_) => {}
            ClientEvent::Done(_) => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(gave_up, "the client answered challenges without end");

    // A multi-line reply's text is bounded, however many lines come.
    let mut c = SmtpClient::new(Mechanism::Plain, &creds).unwrap();
    let _ = c.start().unwrap();
    let long = format!("535-{}\r\n", "x".repeat(1000));
    let (_, n) = allocated(|| {
        for _ in 0..10_000 {
            assert!(matches!(
                c.reply(long.as_bytes()).unwrap(),
                ClientEvent::More
            ));
        }
    });
    assert!(n <= 64 * 1024, "10 MB of continuation lines cost {n} bytes");
    match c.reply(b"535 5.7.8 no\r\n").unwrap() {
        ClientEvent::Done(o) => assert!(o.text.len() <= 4097, "{}", o.text.len()),
        other => panic!("{other:?}"),
    }
}
