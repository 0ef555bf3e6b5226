//! GSSAPI (RFC 4752) with Kerberos V5, over MIT's `libgssapi_krb5` through the `libgssapi`
//! crate (feature `gssapi`); GS2-KRB5 (RFC 5801) lives in [`gs2_krb5`], the framing both
//! parse themselves in [`framing`].
//!
//! **Server.** The client's context tokens go to `gss_accept_sec_context` with the acceptor
//! credentials of [`ServerConfig::gssapi_acceptor`] (default: any key of the keytab that
//! `KRB5_KTNAME` names). Once the context is established, the server wraps its
//! security-layer offer: **only "no security layer", with a maximum buffer of 0**. The
//! client's wrapped answer must choose exactly that (anything else is
//! [`Failure::Malformed`]: the client picked what was not offered); it carries the
//! authorization identity. Then the session asks the application
//! [`Request::Principal`]: which local user is this Kerberos principal (and may it log in)?
//! The answer ([`Answer::User`], or [`Answer::Accept`] for the principal's own name) becomes
//! the authentication identity; an authzid that differs from it is then put to the
//! application as [`Request::Authorize`], as for every mechanism.
//!
//! **Client.** `gss_init_sec_context` for `service@host` (host-based service name) with the
//! default credential cache (`KRB5CCNAME`), mutual authentication requested; it answers the
//! server's security-layer offer choosing no layer. No ticket, or an expired one, fails
//! [`ClientSession::new`](crate::ClientSession::new) with [`Error::InvalidArgument`] (the
//! credentials are missing); a service principal the KDC does not know likewise.
//!
//! **Where GSS-API does I/O.** Unlike every other mechanism, these call a library that may
//! block: the client's first `gss_init_sec_context` (in `ClientSession::new`) may contact the
//! KDC for a service ticket and reads the credential cache; the server reads the keytab in
//! `ServerSession::start`/`step` (and `gss_acquire_cred` at `start`). An event-loop
//! application runs those calls on a worker thread (sessions are `Send`): see
//! docs/gssapi.md.

use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext, ServerCtx};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::error::{Error as GssError, MajorFlags};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_HOSTBASED_SERVICE, OidSet};

use super::{ClientMechanism, Next, ServerMechanism, check_identity};
use crate::config::ServerConfig;
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, PrincipalRequest, Request};
use crate::secret::{SecretBuf, SecretStr};

pub mod framing;
pub mod gs2_krb5;

use framing::{LayerMessage, NO_SECURITY_LAYER};

/// `KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN`: the KDC does not know the service principal.
const KDC_ERR_S_PRINCIPAL_UNKNOWN: u32 = 0x96c7_3a07;
/// `KRB5_KDC_UNREACH`: no KDC answered.
const KDC_UNREACH: u32 = 0x96c7_3a9c;
/// `KRB5KRB_AP_ERR_TKT_EXPIRED`.
const TKT_EXPIRED: u32 = 0x96c7_3a20;
/// `KRB5_FCC_NOFILE` (no credential cache) and `KG_EMPTY_CCACHE`.
const FCC_NOFILE: u32 = 0x96c7_3ac3;
const EMPTY_CCACHE: u32 = 0x025e_a10d;
/// `KRB5_CC_NOTFOUND`: no matching credential in the cache.
const CC_NOTFOUND: u32 = 0x96c7_3acb;

/// The routine-error field of a major status (RFC 2744 §3.9.1), which holds a number, not
/// flags.
fn routine_error(major: MajorFlags) -> u32 {
    (major.bits() >> 16) & 0xff
}

/// `GSS_S_BAD_NAME`, `GSS_S_BAD_NAMETYPE`, `GSS_S_NO_CRED`, `GSS_S_CREDENTIALS_EXPIRED`.
const BAD_NAME: u32 = 2;
const BAD_NAMETYPE: u32 = 3;
const NO_CRED: u32 = 7;
const CREDENTIALS_EXPIRED: u32 = 11;

/// Why the client's `gss_init_sec_context` failed, for [`ClientSession::new`].
pub(crate) fn init_error(e: &GssError) -> Error {
    let routine = routine_error(e.major);
    if matches!(routine, NO_CRED | CREDENTIALS_EXPIRED)
        || matches!(
            e.minor,
            TKT_EXPIRED | FCC_NOFILE | EMPTY_CCACHE | CC_NOTFOUND
        )
    {
        return Error::InvalidArgument("no Kerberos ticket, or it expired (run kinit)");
    }
    match e.minor {
        KDC_ERR_S_PRINCIPAL_UNKNOWN => {
            Error::InvalidArgument("the KDC does not know the service principal")
        }
        KDC_UNREACH => Error::Failed(Failure::TemporaryFailure),
        _ if matches!(routine, BAD_NAME | BAD_NAMETYPE) => {
            Error::InvalidArgument("service or host not usable as a GSS-API name")
        }
        _ => Error::Failed(Failure::BadCredentials),
    }
}

/// The target name `service@host` for a client.
pub(crate) fn target_name(creds: &Credentials<'_>) -> Result<Name, Error> {
    let service = creds.service.unwrap_or("");
    let host = creds.host.unwrap_or("");
    if service.is_empty() || host.is_empty() || service.contains(['@', '\0']) || host.contains('\0')
    {
        return Err(Error::InvalidArgument(
            "GSSAPI needs a service name and a host name (Credentials::service, ::host)",
        ));
    }
    let name = format!("{service}@{host}");
    Name::new(name.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE))
        .map_err(|_| Error::InvalidArgument("service or host not usable as a GSS-API name"))
}

/// A client context for Kerberos V5 with mutual authentication.
pub(crate) fn client_context(creds: &Credentials<'_>) -> Result<ClientCtx, Error> {
    let target = target_name(creds)?;
    let flags = CtxFlags::GSS_C_MUTUAL_FLAG | CtxFlags::GSS_C_SEQUENCE_FLAG;
    Ok(ClientCtx::new(None, target, flags, Some(GSS_MECH_KRB5)))
}

/// A server context with the configured acceptor credentials (or the default: any key of the
/// keytab). A keytab that cannot be read is the server's problem: a temporary failure.
pub(crate) fn server_context(config: &ServerConfig) -> Result<ServerCtx, Failure> {
    let Some(acceptor) = config.gssapi_acceptor.as_deref() else {
        return Ok(ServerCtx::new(None));
    };
    let name = Name::new(acceptor.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE))
        .map_err(|_| Failure::TemporaryFailure)?;
    let mut mechs = OidSet::new();
    mechs
        .add(GSS_MECH_KRB5)
        .map_err(|_| Failure::TemporaryFailure)?;
    let cred = Cred::acquire(Some(&name), None, CredUsage::Accept, Some(&mechs))
        .map_err(|_| Failure::TemporaryFailure)?;
    Ok(ServerCtx::new(Some(cred)))
}

/// The initiator's principal of an established context, as text: only Kerberos V5, and no
/// longer than an identity may be. Anything else is `BadCredentials`.
pub(crate) fn principal(ctx: &ServerCtx, max_identity: usize) -> Result<String, Failure> {
    if !ctx.mechanism().is_ok_and(|m| m == GSS_MECH_KRB5) {
        return Err(Failure::BadCredentials);
    }
    let name = ctx.source_name().map_err(|_| Failure::BadCredentials)?;
    let shown = name.display_name().map_err(|_| Failure::BadCredentials)?;
    let text = String::from_utf8(shown.to_vec()).map_err(|_| Failure::BadCredentials)?;
    check_identity(text.as_bytes(), max_identity).map_err(|_| Failure::BadCredentials)?;
    Ok(text)
}

/// The principal-to-user mapping and authorization both mechanisms ask the application for.
#[derive(Debug, Default)]
pub(crate) struct Authorization {
    /// The authenticated Kerberos principal.
    pub(crate) principal: Option<String>,
    /// The authzid the client asked for.
    pub(crate) authzid: Option<SecretStr>,
    /// The local user the application mapped the principal to.
    pub(crate) user: Option<String>,
    /// The configuration's identity limit, for that user name.
    pub(crate) max_identity: usize,
}

impl Authorization {
    pub(crate) fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        Some(Request::Principal(PrincipalRequest {
            mechanism,
            principal: self.principal.as_deref()?,
            authzid: self.authzid.as_ref().map(SecretStr::as_str),
        }))
    }

    /// Apply the answer to [`Request::Principal`]: success with the mapped user, a failure, or
    /// an answer that does not fit (which changes nothing).
    pub(crate) fn answer(&mut self, answer: Answer<'_>) -> Result<Next, Error> {
        let user = match answer {
            Answer::Accept => self.principal.clone(),
            Answer::User(user) => match check_identity(user.as_bytes(), self.max_identity) {
                Ok(u) => Some(u.to_owned()),
                Err(_) => {
                    return Err(Error::InvalidArgument(
                        "user name empty, too long or with NUL",
                    ));
                }
            },
            Answer::Reject => return Ok(Next::Failure(Failure::AuthzDenied)),
            Answer::UnknownUser => return Ok(Next::Failure(Failure::BadCredentials)),
            _ => return Err(Error::WrongAnswer),
        };
        self.user = user;
        Ok(Next::Success)
    }

    pub(crate) fn identity(&self) -> Option<Identity<'_>> {
        Some(Identity {
            authcid: self.user.as_deref()?,
            authzid: self.authzid.as_ref().map(SecretStr::as_str),
        })
    }

    pub(crate) fn wipe(&mut self) {
        *self = Authorization::default();
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ServerState {
    #[default]
    Start,
    /// Establishing the context.
    Context,
    /// The context is established and its last token sent: the client answers empty.
    WantEmpty,
    /// The security-layer offer is sent.
    WantLayer,
    /// Asking the application about the principal.
    Pending,
    Done,
    Failed,
}

/// The server side of GSSAPI.
#[derive(Default)]
pub struct Server {
    state: ServerState,
    ctx: Option<ServerCtx>,
    authz: Authorization,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("gssapi::Server")
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

    fn accept(&mut self, c: &ServerConfig, out: &mut SecretBuf, token: &[u8]) -> Next {
        if token.is_empty() {
            return self.fail(Failure::Malformed);
        }
        let Some(ctx) = self.ctx.as_mut() else {
            return self.fail(Failure::Malformed);
        };
        let reply = match ctx.step(token, None) {
            Ok(reply) => reply,
            Err(_) => return self.fail(Failure::BadCredentials),
        };
        out.clear();
        if let Some(reply) = reply.as_deref() {
            out.extend(reply);
        }
        if !ctx.is_complete() {
            self.state = ServerState::Context;
            return Next::Challenge;
        }
        match principal(ctx, c.max_identity) {
            Ok(p) => self.authz.principal = Some(p),
            Err(f) => return self.fail(f),
        }
        if out.is_empty() {
            self.offer(out)
        } else {
            // RFC 4752 §3.1: the last context token, answered by an empty response.
            self.state = ServerState::WantEmpty;
            Next::Challenge
        }
    }

    /// Wrap the security-layer offer: no security layer only, maximum buffer 0.
    fn offer(&mut self, out: &mut SecretBuf) -> Next {
        let offer = LayerMessage {
            layers: NO_SECURITY_LAYER,
            max_buffer: 0,
            authzid: b"",
        }
        .to_vec();
        let Some(ctx) = self.ctx.as_mut() else {
            return self.fail(Failure::Malformed);
        };
        match ctx.wrap(false, &offer) {
            Ok(wrapped) => {
                out.clear();
                out.extend(&wrapped);
                self.state = ServerState::WantLayer;
                Next::Challenge
            }
            Err(_) => self.fail(Failure::TemporaryFailure),
        }
    }

    fn choose(&mut self, c: &ServerConfig, response: &[u8]) -> Next {
        let Some(ctx) = self.ctx.as_mut() else {
            return self.fail(Failure::Malformed);
        };
        let plain = match ctx.unwrap(response) {
            Ok(p) => SecretBuf::from_slice(&p),
            Err(_) => return self.fail(Failure::Malformed),
        };
        let Some(msg) = LayerMessage::parse(plain.as_slice()) else {
            return self.fail(Failure::Malformed);
        };
        // Only "no security layer" was offered; the maximum buffer size means nothing then.
        if msg.layers != NO_SECURITY_LAYER {
            return self.fail(Failure::Malformed);
        }
        if !msg.authzid.is_empty() {
            match check_identity(msg.authzid, c.max_identity) {
                Ok(z) => self.authz.authzid = Some(SecretStr::from_str(z)),
                Err(f) => return self.fail(f),
            }
        }
        // The context has done its work: release it (and the keytab's key schedule).
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
            Some(token) => self.accept(c, out, token),
            None => {
                self.state = ServerState::Context;
                Next::StaticChallenge(b"")
            }
        }
    }

    fn step(&mut self, c: &ServerConfig, out: &mut SecretBuf, response: &[u8]) -> Next {
        match self.state {
            ServerState::Context => self.accept(c, out, response),
            ServerState::WantEmpty if response.is_empty() => self.offer(out),
            ServerState::WantLayer => self.choose(c, response),
            _ => self.fail(Failure::Malformed),
        }
    }

    fn answer(&mut self, _: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error> {
        if self.state != ServerState::Pending {
            return Err(Error::InvalidState);
        }
        let next = self.authz.answer(answer)?;
        self.state = match next {
            Next::Success => ServerState::Done,
            _ => ServerState::Failed,
        };
        Ok(next)
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
        self.authz.wipe();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    /// Establishing the context (the initial token is ready).
    Context,
    /// The context is established: the next challenge is the security-layer offer.
    Established,
    /// The security-layer answer is sent.
    Done,
}

/// The client side of GSSAPI.
pub struct Client {
    state: ClientState,
    ctx: ClientCtx,
    out: SecretBuf,
    authzid: String,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("gssapi::Client")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Start the context: this may contact the KDC for a service ticket.
    pub(crate) fn new(creds: &Credentials<'_>) -> Result<Client, Error> {
        let authzid = creds.authzid.unwrap_or("");
        if authzid.contains('\0') {
            return Err(Error::InvalidArgument("authzid contains NUL"));
        }
        let mut ctx = client_context(creds)?;
        let first = ctx.step(None, None).map_err(|e| init_error(&e))?;
        let mut out = SecretBuf::new();
        if let Some(first) = first.as_deref() {
            out.extend(first);
        }
        Ok(Client {
            state: if ctx.is_complete() {
                ClientState::Established
            } else {
                ClientState::Context
            },
            ctx,
            out,
            authzid: authzid.to_owned(),
        })
    }

    fn layer(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        let plain = self
            .ctx
            .unwrap(challenge)
            .map_err(|_| Failure::ServerAuthentication)?;
        let offer = LayerMessage::parse(&plain).ok_or(Failure::Malformed)?;
        if offer.layers & NO_SECURITY_LAYER == 0 {
            // The server insists on a security layer, which this engine does not implement.
            return Err(Failure::MechanismUnavailable);
        }
        let answer = LayerMessage {
            layers: NO_SECURITY_LAYER,
            max_buffer: 0,
            authzid: self.authzid.as_bytes(),
        }
        .to_vec();
        let wrapped = self
            .ctx
            .wrap(false, &answer)
            .map_err(|_| Failure::Malformed)?;
        self.out.clear();
        self.out.extend(&wrapped);
        self.state = ClientState::Done;
        Ok(self.out.as_slice())
    }
}

impl ClientMechanism for Client {
    fn start(&mut self) -> Option<&[u8]> {
        Some(self.out.as_slice())
    }

    fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        match self.state {
            ClientState::Context => {
                // An empty challenge asks for the initial token (no initial response sent).
                if challenge.is_empty() {
                    return Ok(self.out.as_slice());
                }
                let reply = self
                    .ctx
                    .step(Some(challenge), None)
                    .map_err(|_| Failure::ServerAuthentication)?;
                self.out.clear();
                if let Some(reply) = reply.as_deref() {
                    self.out.extend(reply);
                }
                if self.ctx.is_complete() {
                    self.state = ClientState::Established;
                }
                Ok(self.out.as_slice())
            }
            ClientState::Established => self.layer(challenge),
            // Some servers (gsasl 2.2) send one more empty challenge after the last message.
            ClientState::Done if challenge.is_empty() => {
                self.out.clear();
                Ok(self.out.as_slice())
            }
            ClientState::Done => Err(Failure::Malformed),
        }
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        if self.state != ClientState::Done || data.is_some_and(|d| !d.is_empty()) {
            return Err(Failure::Malformed);
        }
        Ok(())
    }
}
