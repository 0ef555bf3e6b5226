//! Memory: the size of each public session type, and the heap a server session holds after
//! each step of each mechanism (a counting allocator tracks live bytes). Not timed.
//! `cargo bench --bench footprint`.
//!
//! Asserts the target: a `ServerSession` value is at most 256 bytes.

mod support;

use std::mem::size_of;
use std::sync::atomic::Ordering;

use saslmech::proto::imap::{ImapClient, ImapServer};
use saslmech::proto::pop3::{Pop3Client, Pop3Server};
use saslmech::proto::smtp::{SmtpClient, SmtpServer};
use saslmech::{
    ClientSession, CramMd5Keys, ScramClientCache, ScramKeys, ServerConfig, ServerSession,
    ServerStep,
};
use support::{Counting, Fixture, LIVE, Recording, cases, count_allocations, handshake, record};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The session-value target of the performance issue.
const MAX_SERVER_SESSION: usize = 256;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Replay the recorded client against a fresh server session, noting the live heap bytes the
/// session holds after each call.
fn server_heap(f: &Fixture, case: &support::Case, rec: &Recording) -> Vec<(&'static str, usize)> {
    let m = case.mechanism;
    let transport = f.transport(m);
    // Allocated before the count starts, and never grown: only the session's heap is counted.
    let mut marks = Vec::with_capacity(16);
    let base = live();
    let mut s = ServerSession::new(&f.server_fixed, m, transport).unwrap();
    marks.push(("new", live() - base));
    let mut responses = rec.responses.iter();
    let mut what = "start";
    let mut step = s.start(rec.ir.as_deref()).unwrap();
    loop {
        let next = match step {
            ServerStep::Challenge(_) => "step",
            ServerStep::Request(_) => "answer",
            ServerStep::Success(_) => "success",
            ref other => panic!("{}: {other:?}", case.name),
        };
        marks.push((what, live() - base));
        what = next;
        step = match step {
            ServerStep::Challenge(_) => s.step(responses.next().unwrap()).unwrap(),
            ServerStep::Request(r) => {
                let a = f.answer(case, &r);
                s.answer(a).unwrap()
            }
            _ => break,
        };
    }
    drop(s);
    assert_eq!(live(), base, "{}: the session left heap behind", case.name);
    marks
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    println!("## Size of each session value (bytes)\n");
    println!("| type | size_of |");
    println!("|---|---:|");
    let sizes: [(&str, usize); 11] = [
        ("ServerSession", size_of::<ServerSession>()),
        ("ClientSession", size_of::<ClientSession>()),
        ("SmtpServer", size_of::<SmtpServer>()),
        ("SmtpClient", size_of::<SmtpClient>()),
        ("ImapServer", size_of::<ImapServer>()),
        ("ImapClient", size_of::<ImapClient>()),
        ("Pop3Server", size_of::<Pop3Server>()),
        ("Pop3Client", size_of::<Pop3Client>()),
        ("ServerConfig", size_of::<ServerConfig>()),
        ("ScramKeys", size_of::<ScramKeys>()),
        ("ScramClientCache", size_of::<ScramClientCache>()),
    ];
    for (name, n) in sizes {
        println!("| `{name}` | {n} |");
    }
    println!("| `CramMd5Keys` | {} |", size_of::<CramMd5Keys>());

    let f = Fixture::new();
    println!("\n## Heap held by a server session after each call (live bytes)\n");
    println!("Raw steps, fixed nonces, the backend answering at once. `new` is after");
    println!("`ServerSession::new`; each later column is after that call returned.\n");
    println!("| mechanism | heap after each call | allocations per full handshake |");
    println!("|---|---|---:|");
    for case in cases() {
        let rec = record(&f, &case);
        let marks = server_heap(&f, &case, &rec);
        let marks: Vec<String> = marks.iter().map(|(w, n)| format!("{w} {n}")).collect();
        let allocs = count_allocations(|| {
            handshake(&f, &case);
        });
        println!("| {} | {} | {allocs} |", case.name, marks.join(", "));
    }
    let n = size_of::<ServerSession>();
    assert!(
        n <= MAX_SERVER_SESSION,
        "size_of::<ServerSession>() = {n} > {MAX_SERVER_SESSION}"
    );
    println!("\nServerSession is {n} bytes (target: at most {MAX_SERVER_SESSION}).");
}
