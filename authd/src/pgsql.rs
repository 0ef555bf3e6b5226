//! The PostgreSQL passdb: one `password_query` per lookup, through a small connection pool.
//!
//! The query names its inputs as Dovecot does — `%u` the user, `%n` the user part before `@`,
//! `%d` the domain after `@` (empty without one), `%s` the service — but each is turned into a
//! bound parameter (`$1`, `$2`, ...), never spliced into the SQL text. A placeholder written
//! inside single quotes as Dovecot's examples do (`'%u'`) loses the quotes. `%%` is a `%`.
//!
//! The first row's columns:
//! * `password` (required): the stored secret, `{SCHEME}secret` or bare in the default scheme.
//!   NULL, or a secret that cannot be parsed, leaves the user unable to log in (as unknown).
//! * `nologin` (optional): true (boolean, a non-zero number, or text other than `""`, `0`,
//!   `f`, `false`, `n`, `no`) refuses the login like a wrong password.
//! * `user` (optional): the login name reported to the MTA on success instead of the one the
//!   client typed (Dovecot's `user` field).
//!
//! No row: an unknown user. More than one row, an unreachable database, a query error or a
//! query slower than `query_timeout_ms`: a temporary failure (`FAIL … temp`).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::types::{ToSql, Type};
use tracing::warn;

use crate::config::Pgsql as PgsqlConfig;
use crate::passdb::{Entry, parse_secret};
use crate::scheme::Scheme;

/// What a placeholder stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// `%u`: the whole user name.
    User,
    /// `%n`: the user part (before the last `@`; all of it without one).
    Username,
    /// `%d`: the domain (after the last `@`; empty without one).
    Domain,
    /// `%s`: the service (`smtp`, ...).
    Service,
}

/// Turn `%u`-style placeholders into `$n` parameters. Returns the SQL and, for each `$n`, what
/// to bind. The same placeholder used twice binds one parameter. A placeholder inside a
/// longer string literal (`'%u@x'`) is an error: a parameter cannot live inside a literal.
pub fn translate(query: &str) -> Result<(String, Vec<Param>), String> {
    let mut sql = String::with_capacity(query.len());
    let mut params: Vec<Param> = Vec::new();
    let chars: Vec<char> = query.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut in_quote = false;
    let mut i = 0;
    while let Some(c) = at(i) {
        match c {
            '\'' if !in_quote => {
                // `'%x'` exactly: a quoted placeholder, the quotes dropped.
                if let (Some('%'), Some(x), Some('\'')) = (at(i + 1), at(i + 2), at(i + 3))
                    && x != '%'
                {
                    push_param(&mut sql, &mut params, param_of(x)?);
                    i += 4;
                    continue;
                }
                in_quote = true;
                sql.push('\'');
                i += 1;
            }
            '\'' => {
                // `''` inside a literal is an escaped quote; otherwise the literal ends.
                if at(i + 1) == Some('\'') {
                    sql.push_str("''");
                    i += 2;
                } else {
                    in_quote = false;
                    sql.push('\'');
                    i += 1;
                }
            }
            '%' => match at(i + 1) {
                Some('%') => {
                    sql.push('%');
                    i += 2;
                }
                Some(x) if in_quote => {
                    param_of(x)?;
                    return Err(format!(
                        "%{x} inside a string literal: it is bound as a parameter, so write it alone ('%{x}' or %{x}) and build longer strings with || in SQL"
                    ));
                }
                Some(x) => {
                    push_param(&mut sql, &mut params, param_of(x)?);
                    i += 2;
                }
                None => return Err("a lone % at the end (write %% for a %)".to_owned()),
            },
            other => {
                sql.push(other);
                i += 1;
            }
        }
    }
    Ok((sql, params))
}

fn param_of(c: char) -> Result<Param, String> {
    match c {
        'u' => Ok(Param::User),
        'n' => Ok(Param::Username),
        'd' => Ok(Param::Domain),
        's' => Ok(Param::Service),
        other => Err(format!(
            "unknown placeholder %{other} (use %u, %n, %d, %s, or %% for a %)"
        )),
    }
}

fn push_param(sql: &mut String, params: &mut Vec<Param>, p: Param) {
    let n = match params.iter().position(|q| *q == p) {
        Some(i) => i,
        None => {
            params.push(p);
            params.len().saturating_sub(1)
        }
    };
    sql.push('$');
    sql.push_str(&n.saturating_add(1).to_string());
}

/// The PostgreSQL passdb.
pub struct PgPassdb {
    pool: Pool,
    sql: String,
    params: Vec<Param>,
    query_timeout: Duration,
    wait_timeout: Duration,
    default: Scheme,
    /// The first slow entry any lookup returned: an unknown user's password is checked
    /// against it, so that unknown users cost what real ones do.
    decoy: ArcSwapOption<Entry>,
}

impl std::fmt::Debug for PgPassdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPassdb")
            .field("sql", &self.sql)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Why a lookup could not be answered (a temporary failure), for the log line.
pub type TempFail = &'static str;

fn truthy_text(s: &str) -> bool {
    !matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "f" | "false" | "n" | "no"
    )
}

impl PgPassdb {
    /// Build the pool (no connection is made until the first lookup: the daemon starts
    /// with the database down).
    pub fn new(config: &PgsqlConfig, default: Scheme) -> Result<PgPassdb, String> {
        let (sql, params) =
            translate(&config.password_query).map_err(|e| format!("pgsql.password_query: {e}"))?;
        let mut pg: tokio_postgres::Config = config
            .connection
            .parse()
            .map_err(|e| format!("pgsql.connection: {e}"))?;
        let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        let query_timeout = Duration::from_millis(config.query_timeout_ms);
        pg.connect_timeout(connect_timeout);
        if pg.get_application_name().is_none() {
            pg.application_name("saslmech-authd");
        }
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                // Reuse checks only that the connection is still open (no extra round trip
                // per login): a server that shuts down or dies closes its sockets, which the
                // connection task notices, and a connection that saw any error is never put
                // back (see `lookup`).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(query_timeout))
            .create_timeout(Some(connect_timeout))
            .recycle_timeout(Some(query_timeout))
            .build()
            .map_err(|e| format!("pgsql: {e}"))?;
        Ok(PgPassdb {
            pool,
            sql,
            params,
            query_timeout,
            wait_timeout: query_timeout.saturating_add(connect_timeout),
            default,
            decoy: ArcSwapOption::empty(),
        })
    }

    /// The SQL sent (with `$n` parameters).
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The entry standing in for unknown users, once a slow one has been seen.
    pub fn decoy(&self) -> Option<Arc<Entry>> {
        self.decoy.load_full()
    }

    /// Look `user` up for `service`. `Ok(None)`: no such user (or one who cannot log in).
    pub async fn lookup(&self, user: &str, service: &str) -> Result<Option<Arc<Entry>>, TempFail> {
        let (username, domain) = user.rsplit_once('@').unwrap_or((user, ""));
        let values: Vec<&str> = self
            .params
            .iter()
            .map(|p| match p {
                Param::User => user,
                Param::Username => username,
                Param::Domain => domain,
                Param::Service => service,
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        // The pool's own wait and create timeouts bound this; the outer one is a backstop.
        let client = match tokio::time::timeout(self.wait_timeout, self.pool.get()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                warn!("pgsql: no database connection: {e}");
                return Err("database unavailable");
            }
            Err(_) => {
                warn!("pgsql: no database connection within the timeout");
                return Err("database unavailable (timeout)");
            }
        };
        let query = async {
            let stmt = client.prepare_cached(&self.sql).await?;
            client.query(&stmt, &params).await
        };
        let rows = match tokio::time::timeout(self.query_timeout, query).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                warn!("pgsql: password_query failed: {e}");
                // Never reuse a connection that just failed (the server may have restarted).
                drop(deadpool_postgres::Object::take(client));
                return Err("database error");
            }
            Err(_) => {
                warn!(
                    timeout_ms = self.query_timeout.as_millis() as u64,
                    "pgsql: password_query timed out; cancelling it"
                );
                let token = client.cancel_token();
                tokio::spawn(async move {
                    let _ = token.cancel_query(NoTls).await;
                });
                drop(deadpool_postgres::Object::take(client));
                return Err("database query timed out");
            }
        };
        drop(client);
        let row = match rows.as_slice() {
            [] => return Ok(None),
            [row] => row,
            _ => {
                warn!(
                    user,
                    rows = rows.len(),
                    "pgsql: password_query returned more than one row"
                );
                return Err("password_query returned more than one row");
            }
        };
        let column = |name: &str| row.columns().iter().position(|c| c.name() == name);
        let Some(pw_col) = column("password") else {
            warn!("pgsql: password_query returned no `password` column");
            return Err("password_query has no password column");
        };
        let password: Option<String> = match row.try_get(pw_col) {
            Ok(p) => p,
            Err(e) => {
                warn!("pgsql: the password column is not text: {e}");
                return Err("password column is not text");
            }
        };
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            warn!(
                user,
                "pgsql: empty or NULL password (the user cannot log in)"
            );
            return Ok(None);
        };
        let (scheme, secret) = match parse_secret(&password, self.default) {
            Ok(s) => s,
            Err(e) => {
                warn!(user, "pgsql: stored password: {e} (the user cannot log in)");
                return Ok(None);
            }
        };
        let nologin = match column("nologin") {
            None => false,
            Some(i) => {
                let ty = row.columns().get(i).map(|c| c.type_().clone());
                match ty {
                    Some(Type::BOOL) => row.try_get::<_, Option<bool>>(i).ok().flatten(),
                    Some(Type::INT2) => row
                        .try_get::<_, Option<i16>>(i)
                        .ok()
                        .flatten()
                        .map(|n| n != 0),
                    Some(Type::INT4) => row
                        .try_get::<_, Option<i32>>(i)
                        .ok()
                        .flatten()
                        .map(|n| n != 0),
                    Some(Type::INT8) => row
                        .try_get::<_, Option<i64>>(i)
                        .ok()
                        .flatten()
                        .map(|n| n != 0),
                    _ => row
                        .try_get::<_, Option<String>>(i)
                        .ok()
                        .flatten()
                        .map(|s| truthy_text(&s)),
                }
                .unwrap_or(false)
            }
        };
        let login = match column("user") {
            None => None,
            Some(i) => match row.try_get::<_, Option<String>>(i) {
                Ok(Some(u)) if !u.is_empty() && crate::protocol::is_safe_value(&u) => Some(u),
                Ok(None) => None,
                Ok(Some(_)) => {
                    warn!(
                        user,
                        "pgsql: unusable `user` column value; keeping the login name"
                    );
                    None
                }
                Err(e) => {
                    warn!("pgsql: the user column is not text: {e}");
                    None
                }
            },
        };
        let entry = Arc::new(Entry {
            scheme,
            secret,
            nologin,
            allow_nets: None,
            login,
        });
        if entry.secret.is_slow() && self.decoy.load().is_none() {
            self.decoy.store(Some(Arc::clone(&entry)));
        }
        Ok(Some(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_parameters() {
        let (sql, p) = translate(
            "SELECT password FROM users WHERE userid = '%u' AND domain = %d AND svc <> '%s' AND n = %n AND again = %u AND x LIKE 'a%%'",
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT password FROM users WHERE userid = $1 AND domain = $2 AND svc <> $3 AND n = $4 AND again = $1 AND x LIKE 'a%'"
        );
        assert_eq!(
            p,
            [Param::User, Param::Domain, Param::Service, Param::Username]
        );
        // A user name never reaches the SQL text: it is not even known here.
        assert!(translate("SELECT %x").is_err());
        assert!(translate("SELECT 1 %").is_err());
        assert_eq!(translate("SELECT 'it''s'").unwrap().0, "SELECT 'it''s'");
        assert!(translate("SELECT 1 WHERE a = '%u@x'").is_err());
        assert_eq!(
            translate("SELECT 'x''%%' || %u").unwrap().0,
            "SELECT 'x''%' || $1"
        );
    }

    #[test]
    fn nologin_text() {
        for t in ["1", "y", "yes", "true", "t", "Y"] {
            assert!(truthy_text(t), "{t}");
        }
        for t in ["", "0", "n", "no", "false", "f", "F"] {
            assert!(!truthy_text(t), "{t}");
        }
    }
}
