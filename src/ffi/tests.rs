//! Unit tests of the boundary itself: panics, poisoning, numbers. The C tests
//! (`bindings/c/tests/test_api.c`) drive every export from C.

use super::enums::*;
use super::general::VERSION;
use super::panic::*;
use super::*;
use crate::Failure;
use crate::mechanism;
use core::ptr::null_mut;

/// Found by the capi fuzz campaign (`corpus/capi/regress-finish-after-finish-base64`): a
/// base64 client that had finished took a second `finish` with data with malformed
/// base64 as a failure, so it was then both finished and failed. It is refused as
/// `SASLMECH_INVALID_STATE` and records nothing.
#[test]
fn a_finished_client_refuses_another_finish_without_failing() {
    let mut creds = null_mut();
    let mut c = null_mut();
    // SAFETY: valid out-pointers and byte strings; handles freed once at the end.
    unsafe {
        assert_eq!(saslmech_credentials_new(&mut creds), SASLMECH_OK);
        assert_eq!(
            saslmech_credentials_set(creds, SASLMECH_CREDENTIAL_AUTHCID, b"tim".as_ptr(), 3),
            SASLMECH_OK
        );
        assert_eq!(
            saslmech_credentials_set(creds, SASLMECH_CREDENTIAL_PASSWORD, b"pw".as_ptr(), 2),
            SASLMECH_OK
        );
        let flags = SASLMECH_CLIENT_BASE64;
        assert_eq!(
            saslmech_client_new(SASLMECH_MECH_PLAIN, creds, core::ptr::null(), flags, &mut c),
            SASLMECH_OK
        );
        let (mut has, mut p, mut n) = (false, core::ptr::null(), 0usize);
        assert_eq!(
            saslmech_client_start(c, &mut has, &mut p, &mut n),
            SASLMECH_OK
        );
        assert_eq!(saslmech_client_finish(c, core::ptr::null(), 0), SASLMECH_OK);
        for data in [&b"!!"[..], b"", b"AA=="] {
            let r = saslmech_client_finish(c, data.as_ptr(), data.len());
            assert_eq!(r, SASLMECH_INVALID_STATE);
        }
        assert_eq!(
            saslmech_client_finish(c, core::ptr::null(), 0),
            SASLMECH_INVALID_STATE
        );
        let mut done = false;
        assert_eq!(saslmech_client_is_finished(c, &mut done), SASLMECH_OK);
        assert!(done);
        let mut f = saslmech_failure::SASLMECH_FAILURE_MALFORMED;
        assert_eq!(saslmech_client_failure(c, &mut f), SASLMECH_INVALID_STATE);
        saslmech_client_free(c);
        saslmech_credentials_free(creds);
    }
}

fn server() -> (*mut saslmech_server_config, *mut saslmech_server) {
    let mut cfg = null_mut();
    let mut s = null_mut();
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!(saslmech_server_config_new(&mut cfg), SASLMECH_OK);
        assert_eq!(
            saslmech_server_new(cfg, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS, &mut s),
            SASLMECH_OK
        );
    }
    (cfg, s)
}

#[test]
fn a_panic_is_caught_and_poisons_the_session() {
    let (cfg, s) = server();
    let mut st = SASLMECH_STATUS_CHALLENGE;
    // SAFETY: `s` is live and used by this thread only.
    unsafe {
        let r = with_mut(s, |_| -> R<()> { panic!("deliberate panic in a test") });
        assert_eq!(r, SASLMECH_PANIC);
        assert_eq!(
            saslmech_server_start(s, core::ptr::null(), 0, &mut st),
            SASLMECH_POISONED
        );
        assert_eq!(saslmech_server_status(s, &mut st), SASLMECH_POISONED);
        assert_eq!(st, SASLMECH_STATUS_CHALLENGE, "out-parameter written");
        saslmech_server_free(s);
        saslmech_server_config_free(cfg);
    }
}

#[test]
fn a_panic_in_a_const_call_poisons_too() {
    let (cfg, s) = server();
    let mut m = 0;
    // SAFETY: `s` is live and used by this thread only.
    unsafe {
        let r = with_ref(s.cast_const(), |_| -> R<()> { panic!("deliberate panic") });
        assert_eq!(r, SASLMECH_PANIC);
        assert_eq!(saslmech_server_mechanism(s, &mut m), SASLMECH_POISONED);
        assert_eq!(m, 0);
        // The config it was made from is a different handle, unaffected.
        let mut max = 0;
        assert_eq!(
            saslmech_server_config_max_message(cfg, &mut max),
            SASLMECH_OK
        );
        saslmech_server_free(s);
        saslmech_server_config_free(cfg);
    }
}

#[test]
fn a_panic_poisons_an_adapter_and_free_still_works() {
    let mut cfg = null_mut();
    let mut s = null_mut();
    let mut ev = SASLMECH_EVENT_MORE;
    // SAFETY: valid out-pointers; `s` is live and used by this thread only.
    unsafe {
        assert_eq!(saslmech_server_config_new(&mut cfg), SASLMECH_OK);
        assert_eq!(
            saslmech_proto_server_new(cfg, SASLMECH_PROTOCOL_SMTP, &mut s),
            SASLMECH_OK
        );
        let line = b"AUTH PLAIN";
        let r = with_mut(s, |_| -> R<()> { panic!("deliberate panic in a test") });
        assert_eq!(r, SASLMECH_PANIC);
        assert_eq!(
            saslmech_proto_server_command(s, line.as_ptr(), line.len(), &mut ev),
            SASLMECH_POISONED
        );
        assert_eq!(ev, SASLMECH_EVENT_MORE, "out-parameter written");
        saslmech_proto_server_free(s);
        saslmech_server_config_free(cfg);
    }
}

#[test]
fn guards_without_a_handle() {
    assert_eq!(guard(|| panic!("deliberate panic")), SASLMECH_PANIC);
    assert_eq!(guard(|| Err(SASLMECH_ABSENT)), SASLMECH_ABSENT);
    assert_eq!(guard(|| Ok(())), SASLMECH_OK);
    assert_eq!(guard_value(7, || panic!("deliberate panic")), 7);
    // SAFETY: NULL is a valid argument to every export.
    unsafe {
        assert_eq!(
            with_mut::<saslmech_server>(null_mut(), |_| Ok(())),
            SASLMECH_NULL_ARGUMENT
        );
        free::<saslmech_server>(null_mut());
    }
}

#[test]
fn failure_descriptions_match_the_rust_ones() {
    let all = [
        Failure::BadCredentials,
        Failure::AuthzDenied,
        Failure::AccountDisabled,
        Failure::Malformed,
        Failure::InvalidBase64,
        Failure::UnexpectedInitialResponse,
        Failure::Cancelled,
        Failure::TemporaryFailure,
        Failure::MechanismUnavailable,
        Failure::MechanismTooWeak,
        Failure::EncryptionRequired,
        Failure::TooManySteps,
        Failure::TooLarge,
        Failure::ChannelBinding,
        Failure::ServerAuthentication,
    ];
    for f in all {
        let text = failure_text(failure_to_c(f) as u32).to_str().unwrap();
        assert_eq!(text, f.as_str());
    }
}

#[test]
fn mechanism_numbers_round_trip() {
    assert_eq!(MECHANISMS.len(), mechanism::ALL.len());
    for (n, m) in MECHANISMS.iter().zip(mechanism::ALL) {
        assert_eq!(mechanism_from_c(*n), Ok(*m));
        let (num, name) = mechanism_to_c(*m);
        assert_eq!(num, *n);
        assert_eq!(name.to_str().unwrap(), m.name());
    }
    assert_eq!(VERSION.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

/// GSSAPI and GS2-KRB5 (feature `gssapi`): their numbers and names, and a C server session
/// that fails a token that is no Kerberos ticket as `BAD_CREDENTIALS` (no KDC needed; the
/// exchanges with a KDC are in `tests/gssapi.rs`).
#[cfg(feature = "gssapi")]
#[test]
fn kerberos_mechanisms_through_the_c_api() {
    for (n, m, name) in [
        (SASLMECH_MECH_GSSAPI, crate::Mechanism::Gssapi, "GSSAPI"),
        (
            SASLMECH_MECH_GS2_KRB5,
            crate::Mechanism::Gs2Krb5,
            "GS2-KRB5",
        ),
    ] {
        assert_eq!(mechanism_from_c(n), Ok(m));
        let (num, c_name) = mechanism_to_c(m);
        assert_eq!((num, c_name.to_str().unwrap()), (n, name));
        let mut cfg = null_mut();
        let mut s = null_mut();
        let mut found = 0;
        let mut status = saslmech_status::SASLMECH_STATUS_CHALLENGE;
        let mut failure = saslmech_failure::SASLMECH_FAILURE_MALFORMED;
        // A GS2 header, then four octets that are no context token.
        let token: &[u8] = if n == SASLMECH_MECH_GSSAPI {
            b"\x60\x03\x06\x01\x2a"
        } else {
            b"n,,\x01\x00\x6e\x00"
        };
        // SAFETY: valid out-pointers and byte strings; handles freed once at the end.
        unsafe {
            assert_eq!(
                saslmech_mechanism_from_name(name.as_ptr(), name.len(), &mut found),
                SASLMECH_OK
            );
            assert_eq!(found, n);
            assert_eq!(saslmech_server_config_new(&mut cfg), SASLMECH_OK);
            assert_eq!(
                saslmech_server_config_set_mechanisms(cfg, &n, 1),
                SASLMECH_OK
            );
            assert_eq!(saslmech_server_new(cfg, n, 0, &mut s), SASLMECH_OK);
            assert_eq!(
                saslmech_server_start(s, token.as_ptr(), token.len(), &mut status),
                SASLMECH_OK
            );
            assert_eq!(status, saslmech_status::SASLMECH_STATUS_FAILURE);
            assert_eq!(saslmech_server_failure(s, &mut failure), SASLMECH_OK);
            assert_eq!(failure, saslmech_failure::SASLMECH_FAILURE_BAD_CREDENTIALS);
            saslmech_server_free(s);
            saslmech_server_config_free(cfg);
        }
    }
}

/// `SASLMECH_CREDENTIAL_SERVICE`: UTF-8 only, replacing an earlier value; with the feature
/// `gssapi` it becomes `Credentials::service` (without it, it is accepted and unused).
#[test]
fn the_service_credential_is_utf8_and_reaches_the_credentials() {
    let mut creds = null_mut();
    // SAFETY: valid out-pointer and byte strings; the handle is freed once at the end.
    unsafe {
        assert_eq!(saslmech_credentials_new(&mut creds), SASLMECH_OK);
        assert_eq!(
            saslmech_credentials_set(creds, SASLMECH_CREDENTIAL_SERVICE, b"\xff".as_ptr(), 1),
            SASLMECH_INVALID_UTF8
        );
        for service in ["imap", "smtp"] {
            assert_eq!(
                saslmech_credentials_set(
                    creds,
                    SASLMECH_CREDENTIAL_SERVICE,
                    service.as_ptr(),
                    service.len()
                ),
                SASLMECH_OK
            );
        }
        #[cfg(feature = "gssapi")]
        assert_eq!((*creds).borrow().service, Some("smtp"));
        saslmech_credentials_free(creds);
    }
}
