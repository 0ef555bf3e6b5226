//! GS2-KRB5 (RFC 5801): Kerberos V5 through the GS2 bridge. The client's first message is a
//! GS2 header (`n,` or `y,`, an optional `a=authzid`, `,`) followed by the initial context
//! token without its RFC 2743 framing; the GSS-API channel bindings carry the header
//! (RFC 5801 §5.1), so the header cannot be changed in transit. No security layer exists in
//! GS2; mutual authentication is required: the server's last context token goes to the client
//! as success data (or, where the protocol cannot carry it, as a final challenge).
//!
//! The channel-bound variant GS2-KRB5-PLUS is not implemented (no peer here can test it): a
//! `p=` header fails with [`Failure::ChannelBinding`]. A `y` header is accepted, since this
//! server offers no `-PLUS` mechanism; the client sends `y` when its `ClientConfig` has
//! channel-binding data, else `n`.

use libgssapi::context::{ClientCtx, SecurityContext, ServerCtx};

use super::framing::{
    Gs2ChannelBinding, KRB5_OID, add_token_header, escape_saslname, parse_gs2_header,
    strip_token_header,
};
use super::{Authorization, client_context, init_error, principal, server_context};
use crate::config::{ClientConfig, ServerConfig};
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::mech::{ClientMechanism, Next, ServerMechanism, check_identity};
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, Request};
use crate::secret::{SecretBuf, SecretStr};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ServerState {
    #[default]
    Start,
    /// Waiting for the first message (header and token).
    WantFirst,
    /// Establishing the context after the first token.
    Context,
    Pending,
    Done,
    Failed,
}

/// The server side of GS2-KRB5.
#[derive(Default)]
pub struct Server {
    state: ServerState,
    ctx: Option<ServerCtx>,
    /// The GS2 header without `F,`: the channel bindings' application data.
    header: Vec<u8>,
    /// The acceptor's last context token, sent as success data.
    last: SecretBuf,
    authz: Authorization,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("gs2_krb5::Server")
            .field("state", &self.state)
            .field("principal", &self.authz.principal)
            .finish_non_exhaustive()
    }
}

impl Server {
    fn fail(&mut self, f: Failure) -> Next {
        self.state = ServerState::Failed;
        self.ctx = None;
        Next::Failure(f)
    }

    fn first(&mut self, c: &ServerConfig, out: &mut SecretBuf, msg: &[u8]) -> Next {
        let (header, inner) = match parse_gs2_header(msg) {
            Ok(parsed) => parsed,
            Err(f) => return self.fail(f),
        };
        match header.channel_binding {
            Gs2ChannelBinding::None | Gs2ChannelBinding::ClientOnly => {}
            Gs2ChannelBinding::Bound(_) => return self.fail(Failure::ChannelBinding),
        }
        // Kerberos V5 tokens have the standard framing, which the client must strip.
        if header.nonstandard {
            return self.fail(Failure::Malformed);
        }
        if let Some(z) = header.authzid.as_deref() {
            match check_identity(z.as_bytes(), c.max_identity) {
                Ok(z) => self.authz.authzid = Some(SecretStr::from_str(z)),
                Err(f) => return self.fail(f),
            }
        }
        self.header = header.bound_header;
        let Some(token) = add_token_header(inner, KRB5_OID) else {
            return self.fail(Failure::TooLarge);
        };
        self.accept(c, out, &token)
    }

    fn accept(&mut self, c: &ServerConfig, out: &mut SecretBuf, token: &[u8]) -> Next {
        if token.is_empty() {
            return self.fail(Failure::Malformed);
        }
        let Some(ctx) = self.ctx.as_mut() else {
            return self.fail(Failure::Malformed);
        };
        let reply = match ctx.step(token, Some(&self.header)) {
            Ok(reply) => reply,
            // A header changed in transit fails here too (bad bindings).
            Err(_) => return self.fail(Failure::BadCredentials),
        };
        if !ctx.is_complete() {
            out.clear();
            if let Some(reply) = reply.as_deref() {
                out.extend(reply);
            }
            self.state = ServerState::Context;
            return Next::Challenge;
        }
        self.last.clear();
        if let Some(reply) = reply.as_deref() {
            self.last.extend(reply);
        }
        match principal(ctx, c.max_identity) {
            Ok(p) => self.authz.principal = Some(p),
            Err(f) => return self.fail(f),
        }
        self.ctx = None;
        self.state = ServerState::Pending;
        Next::Request
    }
}

impl ServerMechanism for Server {
    fn start(&mut self, c: &ServerConfig, out: &mut SecretBuf, ir: Option<&[u8]>) -> Next {
        self.authz.max_identity = c.max_identity;
        match server_context(c) {
            Ok(ctx) => self.ctx = Some(ctx),
            Err(f) => return self.fail(f),
        }
        match ir {
            Some(msg) => self.first(c, out, msg),
            None => {
                self.state = ServerState::WantFirst;
                Next::StaticChallenge(b"")
            }
        }
    }

    fn step(&mut self, c: &ServerConfig, out: &mut SecretBuf, response: &[u8]) -> Next {
        match self.state {
            ServerState::WantFirst => self.first(c, out, response),
            ServerState::Context => self.accept(c, out, response),
            _ => self.fail(Failure::Malformed),
        }
    }

    fn answer(&mut self, out: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error> {
        if self.state != ServerState::Pending {
            return Err(Error::InvalidState);
        }
        let next = self.authz.answer(answer)?;
        if next != Next::Success {
            self.state = ServerState::Failed;
            return Ok(next);
        }
        self.state = ServerState::Done;
        if self.last.is_empty() {
            return Ok(Next::Success);
        }
        out.clear();
        out.extend(self.last.as_slice());
        Ok(Next::SuccessData)
    }

    fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        if self.state != ServerState::Pending {
            return None;
        }
        self.authz.request(mechanism)
    }

    fn identity(&self) -> Option<Identity<'_>> {
        if self.state != ServerState::Done {
            return None;
        }
        self.authz.identity()
    }

    fn wipe(&mut self) {
        self.ctx = None;
        self.last.clear();
        self.authz.wipe();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    /// The first message is ready; the server's token(s) complete the context.
    Context,
    /// The context is established (the server proved itself).
    Done,
}

/// The client side of GS2-KRB5.
pub struct Client {
    state: ClientState,
    ctx: ClientCtx,
    header: Vec<u8>,
    out: SecretBuf,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("gs2_krb5::Client")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Start the context: this may contact the KDC for a service ticket. With channel-binding
    /// data in `config` the header says `y` (the client could bind; the server offered no
    /// -PLUS), as plain SCRAM does.
    pub(crate) fn new(creds: &Credentials<'_>, config: &ClientConfig) -> Result<Client, Error> {
        let mut header = if config.channel_binding.is_some() {
            b"y,".to_vec()
        } else {
            b"n,".to_vec()
        };
        if let Some(z) = creds.authzid.filter(|z| !z.is_empty()) {
            if z.contains('\0') {
                return Err(Error::InvalidArgument("authzid contains NUL"));
            }
            header.extend_from_slice(b"a=");
            escape_saslname(z, &mut header);
        }
        header.push(b',');
        let mut ctx = client_context(creds)?;
        let token = ctx
            .step(None, Some(&header))
            .map_err(|e| init_error(&e))?
            .ok_or(Error::Failed(Failure::BadCredentials))?;
        let inner =
            strip_token_header(&token, KRB5_OID).ok_or(Error::Failed(Failure::Malformed))?;
        let mut out = SecretBuf::from_slice(&header);
        out.extend(inner);
        Ok(Client {
            state: ClientState::Context,
            ctx,
            header,
            out,
        })
    }

    /// Feed a server token to the context; it must complete it (mutual authentication).
    fn server_token(&mut self, token: &[u8]) -> Result<(), Failure> {
        let reply = self
            .ctx
            .step(Some(token), Some(&self.header))
            .map_err(|_| Failure::ServerAuthentication)?;
        if !self.ctx.is_complete() || reply.is_some_and(|r| !r.is_empty()) {
            // Kerberos V5 with mutual authentication completes on the server's one token.
            return Err(Failure::ServerAuthentication);
        }
        self.state = ClientState::Done;
        Ok(())
    }
}

impl ClientMechanism for Client {
    fn start(&mut self) -> Option<&[u8]> {
        Some(self.out.as_slice())
    }

    fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        match self.state {
            ClientState::Context if challenge.is_empty() => Ok(self.out.as_slice()),
            ClientState::Context => {
                self.server_token(challenge)?;
                self.out.clear();
                Ok(self.out.as_slice())
            }
            ClientState::Done => Err(Failure::Malformed),
        }
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        match (self.state, data) {
            (ClientState::Done, None) => Ok(()),
            (ClientState::Done, Some([])) => Ok(()),
            (ClientState::Context, Some(token)) if !token.is_empty() => self.server_token(token),
            _ => Err(Failure::ServerAuthentication),
        }
    }
}
