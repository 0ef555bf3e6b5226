//! The secrets a server stores for a user and a client keeps between logins: SCRAM's keys
//! and client cache (`scram`), CRAM-MD5's HMAC-MD5 states (`cram_md5`).

mod cram_md5;
mod scram;

pub use cram_md5::CramMd5Keys;
pub(crate) use scram::{DUMMY_PASSWORD, Salt, keys_from_salted, parse_posit, prepare_password};
pub use scram::{ScramClientCache, ScramHash, ScramKeys};
