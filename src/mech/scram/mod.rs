//! SCRAM-SHA-1, SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677,
//! draft-melnikov-scram-sha-512), with and without channel binding
//! (`-PLUS`: `tls-exporter` RFC 9266, `tls-server-end-point` RFC 5929, `tls-unique`).
//!
//! ```text
//! C: n,,n=user,r=<client nonce>                       client-first (gs2 header + bare)
//! S: r=<client nonce><server nonce>,s=<salt>,i=4096    server-first
//! C: c=biws,r=<nonce>,p=<ClientProof>                  client-final
//! S: v=<ServerSignature>                               server-final (success data)
//! ```
//!
//! The server works from stored keys ([`ScramKeys`](crate::ScramKeys): salt, iteration count, StoredKey,
//! ServerKey) and never needs the password. It asks for them with
//! [`Request::Secret`](crate::Request::Secret) after the client-first message; an unknown user
//! is answered with a salt and iteration count derived from a server secret, so a probe
//! cannot tell which users exist. It checks the grammar strictly (attribute order, `=2C`/`=3D`
//! escapes, nonce, proof length, nothing after the proof), refuses a `y` flag when it offers
//! `-PLUS` on this connection (a downgrade), fails closed on a channel-binding type it cannot
//! provide, and compares the proof in constant time.
//!
//! The client bounds the iteration count a server may demand and verifies the server's
//! signature before reporting success.
//!
//! Cost: each side keeps what it needs in one buffer sized from the messages, with offsets
//! into it, and fixed-size blocks for keys, so a handshake makes three heap allocations (four
//! with `-PLUS`). The keys and their derivation are vocabulary (`crate::keys`), the hashing
//! is `crate::crypto`; an HMAC key reused across logins ([`ScramClientCache`](crate::ScramClientCache)) keeps its
//! padded blocks compressed.
//!
//! Files: `grammar` (the message syntax both sides share), `channel_binding` (the gs2 flag
//! and the server's table of the transport's binding data), `server`, `client`.

mod channel_binding;
mod client;
mod grammar;
mod server;

pub(crate) use client::Client;
pub(crate) use server::Server;
