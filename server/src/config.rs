//! Configuration, read once at start from the environment. With nothing set the server runs on an SQLite file in
//! `./data` (in dev mode, `./data-dev`); an invalid setting stops the start with one line naming the variable and the
//! reason.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::http::client_addr::{ForwardedHeader, TrustedProxies};

/// Where the data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// The embedded default: one file, created and migrated at start.
    Sqlite { path: PathBuf },
    /// `postgres://…`: the engine for several server instances sharing one database.
    Postgres { url: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything the server reads at start. Tests build it directly ([`Config::for_data_dir`]) and change fields.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    /// `None`: generate one on first start and keep it in the data dir. Several instances must share one.
    pub jwt_secret: Option<String>,
    pub dev: bool,
    pub log_format: LogFormat,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long after a refresh token was spent presenting it again still yields a fresh pair in the same family
    /// (`NENE_REFRESH_REUSE_GRACE_SECS`; 0 turns it off): two tabs of one browser share one cookie and may refresh
    /// at the same moment. Past it, a spent token is treated as stolen and its family revoked.
    pub refresh_reuse_grace: Duration,
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_failure_window: Duration,
    pub db_max_connections: u32,
    /// HTTP connections served at once (`NENE_MAX_CONNECTIONS`); more wait in the accept queue. Bounds the
    /// server's memory under a burst (about 20 KB per connection with a request in flight).
    pub max_connections: u32,
    /// Connections one client address may hold open at once (`NENE_MAX_CONNECTIONS_PER_IP`), so one host cannot
    /// take every slot. Trusted proxies are exempt: everyone behind one shares its address.
    pub max_connections_per_ip: u32,
    /// How long a connection may take to deliver a request's headers (`NENE_HEADER_READ_TIMEOUT_SECS`), counted
    /// from its opening or from the first byte of a later request. A connection that sends nothing is closed then.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may sit idle between requests (`NENE_KEEP_ALIVE_TIMEOUT_SECS`). Above the
    /// idle timeout of a proxy's connection pool in front, so the proxy, not the server, closes pooled connections.
    pub keep_alive_timeout: Duration,
    /// How long a graceful shutdown waits for requests in flight before it cuts the connections left
    /// (`NENE_SHUTDOWN_GRACE_SECS`).
    pub shutdown_grace: Duration,
    /// Proxies whose forwarded client address is believed (`NENE_TRUSTED_PROXIES`); nobody by default.
    pub trusted_proxies: TrustedProxies,
    /// The header those proxies write the client's address into (`NENE_FORWARDED_HEADER`).
    pub forwarded_header: ForwardedHeader,
    /// Sign-up attempts one address may make per hour (`NENE_SIGNUPS_PER_IP_PER_HOUR`).
    pub signups_per_ip_per_hour: u32,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>` (`NENE_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    /// TossPayments. Outside dev mode, payments are off unless the secret key is set.
    pub toss: TossConfig,
    /// Background workers (outbox, reconciler). Tests switch them off to step them by hand.
    pub run_workers: bool,
    /// Payment requests one user may make per minute.
    pub payment_requests_per_minute: u32,
    /// Local hour (in each challenge's time zone) of the daily reminder to those who have not proved yet.
    pub reminder_hour: u32,
    /// How long after a challenge's end its settlement waits for the proofs still under review
    /// (`NENE_MODERATION_GRACE_HOURS`); then the system dismisses open reports and restores appealed proofs.
    pub moderation_grace: Duration,
    /// How long the owner of a proof an administrator rejected has to appeal (`NENE_APPEAL_WINDOW_HOURS`). A
    /// challenge's settlement waits for rejections still inside this window, never past the moderation grace time.
    pub appeal_window: Duration,
    /// Firebase Cloud Messaging. Outside dev mode, push is off unless credentials are given.
    pub fcm: FcmConfig,
    /// The built web UI served at `/` (`NENE_UI_DIR`; by default `frontend/dist` when that folder exists).
    pub ui_dir: Option<PathBuf>,
    /// Photos decoded at once (`NENE_PHOTO_DECODERS`; by default one per core). Each decode may take up to
    /// [`crate::photos::MAX_DECODE_BYTES`], so this bounds the memory photo checking can take.
    pub photo_decoders: usize,
    /// New photos one person may upload per UTC day (`NENE_UPLOADS_PER_DAY`), proofs' photos included.
    pub uploads_per_day: u32,
    /// Photo uploads received at once (`NENE_UPLOADS_IN_FLIGHT`): each holds up to 10 MB in memory until it is
    /// checked, so this times 10 MB bounds what uploads take; more are answered 503 at once.
    pub uploads_in_flight: usize,
    /// New photos are refused while the photo store's disk has less free space than this, in MB
    /// (`NENE_MIN_FREE_DISK_MB`; 0 turns the check off), so photos never take the room the database needs.
    pub min_free_disk_mb: u64,
}

/// Where and how to reach FCM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FcmConfig {
    /// `None`: `https://fcm.googleapis.com` (or the sandbox in dev mode).
    pub base_url: Option<String>,
    /// `None`: the service account's `token_uri`, else Google's token endpoint.
    pub token_url: Option<String>,
    /// Path of the service-account JSON file.
    pub credentials: Option<PathBuf>,
}

/// Where and how to reach TossPayments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TossConfig {
    /// `None`: the real API (`https://api.tosspayments.com`), or the sandbox in dev mode.
    pub base_url: Option<String>,
    pub secret_key: Option<String>,
    pub client_key: Option<String>,
    pub timeout: Duration,
}

impl Default for TossConfig {
    fn default() -> Self {
        TossConfig { base_url: None, secret_key: None, client_key: None, timeout: Duration::from_secs(30) }
    }
}

/// The longest grace for a just-spent refresh token: it exists for requests racing each other, not for replays.
const MAX_REFRESH_REUSE_GRACE_SECS: u64 = 120;
/// The longest a settlement may be held for moderation: a month. Stakes are people's money; they are not kept in
/// escrow indefinitely for want of an administrator.
const MAX_MODERATION_GRACE_HOURS: u64 = 720;
/// The longest appeal window: a month, like the grace time that bounds it anyway.
const MAX_APPEAL_WINDOW_HOURS: u64 = 720;
/// Where the data lives when `NENE_DATA_DIR` is not set.
pub const DATA_DIR: &str = "./data";
/// The same in dev mode: the demo's database never shares a folder with a real one.
pub const DEV_DATA_DIR: &str = "./data-dev";

/// A setting that cannot be used, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl Config {
    /// The defaults, with data kept under `data_dir`.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: DatabaseConfig::Sqlite { path: data_dir.join("nene.db") },
            data_dir,
            jwt_secret: None,
            dev: false,
            log_format: LogFormat::Pretty,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::from_secs(20),
            login_failures_per_account: 10,
            login_failures_per_ip: 50,
            login_failure_window: Duration::from_secs(15 * 60),
            db_max_connections: 16,
            max_connections: 2048,
            max_connections_per_ip: 128,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(75),
            shutdown_grace: Duration::from_secs(20),
            trusted_proxies: TrustedProxies::none(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            signups_per_ip_per_hour: 20,
            metrics_token: None,
            toss: TossConfig::default(),
            run_workers: true,
            payment_requests_per_minute: 30,
            reminder_hour: 20,
            moderation_grace: Duration::from_secs(48 * 3600),
            appeal_window: Duration::from_secs(24 * 3600),
            fcm: FcmConfig::default(),
            ui_dir: None,
            photo_decoders: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            uploads_per_day: 50,
            uploads_in_flight: 64,
            min_free_disk_mb: 1024,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads settings from a map of variables (the environment, or a test's own).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let dev = get("NENE_DEV").map(|v| parse_bool("NENE_DEV", v)).transpose()?.unwrap_or(false);
        // Dev mode has a folder of its own, so trying the demo never opens (and is never refused by) the real data.
        let default_dir = if dev { DEV_DATA_DIR } else { DATA_DIR };
        let data_dir = PathBuf::from(get("NENE_DATA_DIR").unwrap_or(default_dir));
        let mut config = Config::for_data_dir(data_dir);
        config.dev = dev;

        if let Some(addr) = get("NENE_ADDR") {
            config.addr = addr.parse().map_err(|_| ConfigError {
                name: "NENE_ADDR",
                reason: format!("`{addr}` is not an address like 127.0.0.1:8080"),
            })?;
        }
        if let Some(url) = get("DATABASE_URL") {
            config.database = parse_database_url(url, &config.data_dir)?;
        }
        if let Some(secret) = get("NENE_JWT_SECRET") {
            if secret.len() < 32 {
                return Err(ConfigError { name: "NENE_JWT_SECRET", reason: "must be at least 32 characters".into() });
            }
            config.jwt_secret = Some(secret.to_owned());
        }
        if let Some(format) = get("NENE_LOG_FORMAT") {
            config.log_format = match format {
                "json" => LogFormat::Json,
                "pretty" | "text" => LogFormat::Pretty,
                other => {
                    return Err(ConfigError {
                        name: "NENE_LOG_FORMAT",
                        reason: format!("`{other}` is neither `pretty` nor `json`"),
                    });
                }
            };
        }
        if let Some(n) = get("NENE_LOGIN_FAILURES_PER_ACCOUNT") {
            config.login_failures_per_account = parse_positive("NENE_LOGIN_FAILURES_PER_ACCOUNT", n)?;
        }
        if let Some(n) = get("NENE_LOGIN_FAILURES_PER_IP") {
            config.login_failures_per_ip = parse_positive("NENE_LOGIN_FAILURES_PER_IP", n)?;
        }
        if let Some(secs) = get("NENE_REFRESH_REUSE_GRACE_SECS") {
            config.refresh_reuse_grace = match secs.parse::<u64>() {
                Ok(s) if s <= MAX_REFRESH_REUSE_GRACE_SECS => Duration::from_secs(s),
                _ => {
                    return Err(ConfigError {
                        name: "NENE_REFRESH_REUSE_GRACE_SECS",
                        reason: format!("`{secs}` is not a number of seconds from 0 to {MAX_REFRESH_REUSE_GRACE_SECS}"),
                    });
                }
            };
        }
        if let Some(n) = get("NENE_DB_MAX_CONNECTIONS") {
            config.db_max_connections = parse_positive("NENE_DB_MAX_CONNECTIONS", n)?;
        }
        if let Some(n) = get("NENE_MAX_CONNECTIONS") {
            config.max_connections = parse_positive("NENE_MAX_CONNECTIONS", n)?;
        }
        if let Some(n) = get("NENE_MAX_CONNECTIONS_PER_IP") {
            config.max_connections_per_ip = parse_positive("NENE_MAX_CONNECTIONS_PER_IP", n)?;
        }
        for (name, slot) in [
            ("NENE_HEADER_READ_TIMEOUT_SECS", &mut config.header_read_timeout),
            ("NENE_KEEP_ALIVE_TIMEOUT_SECS", &mut config.keep_alive_timeout),
            ("NENE_SHUTDOWN_GRACE_SECS", &mut config.shutdown_grace),
        ] {
            if let Some(secs) = get(name) {
                *slot = Duration::from_secs(u64::from(parse_positive(name, secs)?));
            }
        }
        if let Some(list) = get("NENE_TRUSTED_PROXIES") {
            config.trusted_proxies =
                TrustedProxies::parse(list).map_err(|reason| ConfigError { name: "NENE_TRUSTED_PROXIES", reason })?;
        }
        if let Some(header) = get("NENE_FORWARDED_HEADER") {
            config.forwarded_header = ForwardedHeader::parse(header)
                .map_err(|reason| ConfigError { name: "NENE_FORWARDED_HEADER", reason })?;
        }
        if let Some(n) = get("NENE_SIGNUPS_PER_IP_PER_HOUR") {
            config.signups_per_ip_per_hour = parse_positive("NENE_SIGNUPS_PER_IP_PER_HOUR", n)?;
        }
        if let Some(token) = get("NENE_METRICS_TOKEN") {
            if token.len() < 16 {
                return Err(ConfigError {
                    name: "NENE_METRICS_TOKEN",
                    reason: "must be at least 16 characters".into(),
                });
            }
            config.metrics_token = Some(token.to_owned());
        }
        if let Some(n) = get("NENE_PHOTO_DECODERS") {
            config.photo_decoders = parse_positive("NENE_PHOTO_DECODERS", n)? as usize;
        }
        if let Some(n) = get("NENE_UPLOADS_IN_FLIGHT") {
            config.uploads_in_flight = parse_positive("NENE_UPLOADS_IN_FLIGHT", n)? as usize;
        }
        if let Some(n) = get("NENE_UPLOADS_PER_DAY") {
            config.uploads_per_day = parse_positive("NENE_UPLOADS_PER_DAY", n)?;
        }
        if let Some(mb) = get("NENE_MIN_FREE_DISK_MB") {
            config.min_free_disk_mb = mb.parse().map_err(|_| ConfigError {
                name: "NENE_MIN_FREE_DISK_MB",
                reason: format!("`{mb}` is not a whole number of megabytes (0 turns the check off)"),
            })?;
        }
        if let Some(url) = get("NENE_TOSS_BASE_URL") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError {
                    name: "NENE_TOSS_BASE_URL",
                    reason: format!("`{url}` is not an http(s) URL"),
                });
            }
            config.toss.base_url = Some(url.trim_end_matches('/').to_owned());
        }
        config.toss.secret_key = get("NENE_TOSS_SECRET_KEY").map(str::to_owned);
        config.toss.client_key = get("NENE_TOSS_CLIENT_KEY").map(str::to_owned);
        if let Some(secs) = get("NENE_TOSS_TIMEOUT_SECS") {
            config.toss.timeout = Duration::from_secs(u64::from(parse_positive("NENE_TOSS_TIMEOUT_SECS", secs)?));
        }
        if config.toss.secret_key.is_some() != config.toss.client_key.is_some() {
            return Err(ConfigError {
                name: "NENE_TOSS_CLIENT_KEY",
                reason: "NENE_TOSS_SECRET_KEY and NENE_TOSS_CLIENT_KEY are set together or not at all".into(),
            });
        }
        if let Some(n) = get("NENE_PAYMENT_REQUESTS_PER_MINUTE") {
            config.payment_requests_per_minute = parse_positive("NENE_PAYMENT_REQUESTS_PER_MINUTE", n)?;
        }
        if let Some(hour) = get("NENE_REMINDER_HOUR") {
            config.reminder_hour = match hour.parse::<u32>() {
                Ok(h) if h < 24 => h,
                _ => {
                    return Err(ConfigError {
                        name: "NENE_REMINDER_HOUR",
                        reason: format!("`{hour}` is not an hour 0 to 23"),
                    });
                }
            };
        }
        if let Some(hours) = get("NENE_MODERATION_GRACE_HOURS") {
            config.moderation_grace = match hours.parse::<u64>() {
                Ok(h) if h <= MAX_MODERATION_GRACE_HOURS => Duration::from_secs(h * 3600),
                _ => {
                    return Err(ConfigError {
                        name: "NENE_MODERATION_GRACE_HOURS",
                        reason: format!("`{hours}` is not a number of hours from 0 to {MAX_MODERATION_GRACE_HOURS}"),
                    });
                }
            };
        }
        if let Some(hours) = get("NENE_APPEAL_WINDOW_HOURS") {
            config.appeal_window = match hours.parse::<u64>() {
                Ok(h) if h <= MAX_APPEAL_WINDOW_HOURS => Duration::from_secs(h * 3600),
                _ => {
                    return Err(ConfigError {
                        name: "NENE_APPEAL_WINDOW_HOURS",
                        reason: format!("`{hours}` is not a number of hours from 0 to {MAX_APPEAL_WINDOW_HOURS}"),
                    });
                }
            };
        }
        for (name, slot) in
            [("NENE_FCM_BASE_URL", &mut config.fcm.base_url), ("NENE_FCM_TOKEN_URL", &mut config.fcm.token_url)]
        {
            if let Some(url) = get(name) {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError { name, reason: format!("`{url}` is not an http(s) URL") });
                }
                *slot = Some(url.trim_end_matches('/').to_owned());
            }
        }
        if let Some(path) = get("NENE_FCM_CREDENTIALS") {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(ConfigError {
                    name: "NENE_FCM_CREDENTIALS",
                    reason: format!("{} is not a readable service-account JSON file", path.display()),
                });
            }
            config.fcm.credentials = Some(path);
        }
        config.ui_dir = match get("NENE_UI_DIR") {
            Some(dir) if !Path::new(dir).join("index.html").is_file() => {
                return Err(ConfigError {
                    name: "NENE_UI_DIR",
                    reason: format!("`{dir}` has no index.html (build the web UI with `cargo xtask ui`)"),
                });
            }
            Some(dir) => Some(PathBuf::from(dir)),
            None => Some(PathBuf::from("frontend/dist")).filter(|dir| dir.join("index.html").is_file()),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks that hold however the config was made (environment or code).
    pub fn validate(&self) -> Result<(), ConfigError> {
        // Dev mode plays with money freely (sandboxes, a movable clock); it must never hold keys that move real money.
        let live = |k: &Option<String>| k.as_deref().is_some_and(|k| k.starts_with("live_"));
        if self.dev && (live(&self.toss.secret_key) || live(&self.toss.client_key)) {
            return Err(ConfigError {
                name: "NENE_TOSS_SECRET_KEY",
                reason: "dev mode refuses live TossPayments keys; use test keys or no keys".into(),
            });
        }
        Ok(())
    }
}

fn parse_database_url(url: &str, data_dir: &std::path::Path) -> Result<DatabaseConfig, ConfigError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(DatabaseConfig::Postgres { url: url.to_owned() })
    } else if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Ok(DatabaseConfig::Sqlite { path: data_dir.join("nene.db") });
        }
        Ok(DatabaseConfig::Sqlite { path: PathBuf::from(path) })
    } else {
        Err(ConfigError { name: "DATABASE_URL", reason: "must start with postgres:// or sqlite:".into() })
    }
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError { name, reason: format!("`{v}` is not a yes/no value (1, 0, true, false)") }),
    }
}

fn parse_positive(name: &'static str, v: &str) -> Result<u32, ConfigError> {
    match v.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError { name, reason: format!("`{v}` is not a whole number above 0") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn nothing_set_means_sqlite_in_data() {
        let c = Config::from_vars(&HashMap::new()).unwrap();
        assert_eq!(c.database, DatabaseConfig::Sqlite { path: PathBuf::from("./data/nene.db") });
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert!(!c.dev);
        assert_eq!(c.login_failures_per_account, 10);
        assert_eq!(c.login_failures_per_ip, 50);
    }

    #[test]
    fn dev_mode_keeps_its_own_data_folder() {
        let c = Config::from_vars(&vars(&[("NENE_DEV", "1")])).unwrap();
        assert!(c.dev);
        assert_eq!(c.data_dir, PathBuf::from("./data-dev"));
        assert_eq!(c.database, DatabaseConfig::Sqlite { path: PathBuf::from("./data-dev/nene.db") });
        let c = Config::from_vars(&vars(&[("NENE_DEV", "1"), ("NENE_DATA_DIR", "/srv/demo")])).unwrap();
        assert_eq!(c.database, DatabaseConfig::Sqlite { path: PathBuf::from("/srv/demo/nene.db") });
        let c = Config::from_vars(&vars(&[("NENE_DEV", "0")])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn postgres_url_is_recognised() {
        let c = Config::from_vars(&vars(&[("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x")])).unwrap();
        assert!(matches!(c.database, DatabaseConfig::Postgres { .. }));
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let e = Config::from_vars(&vars(&[("NENE_ADDR", "nowhere")])).unwrap_err();
        assert_eq!(e.name, "NENE_ADDR");
        let e = Config::from_vars(&vars(&[("DATABASE_URL", "mysql://x")])).unwrap_err();
        assert_eq!(e.name, "DATABASE_URL");
        let e = Config::from_vars(&vars(&[("NENE_JWT_SECRET", "short")])).unwrap_err();
        assert_eq!(e.name, "NENE_JWT_SECRET");
        let e = Config::from_vars(&vars(&[("NENE_LOGIN_FAILURES_PER_IP", "0")])).unwrap_err();
        assert_eq!(e.name, "NENE_LOGIN_FAILURES_PER_IP");
        let e = Config::from_vars(&vars(&[
            ("NENE_DEV", "1"),
            ("NENE_TOSS_SECRET_KEY", "live_sk_x"),
            ("NENE_TOSS_CLIENT_KEY", "live_ck_x"),
        ]))
        .unwrap_err();
        assert_eq!(e.name, "NENE_TOSS_SECRET_KEY");
        let e = Config::from_vars(&vars(&[("NENE_TOSS_SECRET_KEY", "test_sk_x")])).unwrap_err();
        assert_eq!(e.name, "NENE_TOSS_CLIENT_KEY");
        let e = Config::from_vars(&vars(&[("NENE_REFRESH_REUSE_GRACE_SECS", "3600")])).unwrap_err();
        assert_eq!(e.name, "NENE_REFRESH_REUSE_GRACE_SECS");
        let e = Config::from_vars(&vars(&[("NENE_DEV", "maybe")])).unwrap_err();
        assert!(e.to_string().starts_with("invalid setting NENE_DEV"));
        let e = Config::from_vars(&vars(&[("NENE_UI_DIR", "/no/such/folder")])).unwrap_err();
        assert_eq!(e.name, "NENE_UI_DIR");
        for (name, value) in [
            ("NENE_TRUSTED_PROXIES", "10.0.0.0/8, lb.internal"),
            ("NENE_FORWARDED_HEADER", "x-real-ip"),
            ("NENE_HEADER_READ_TIMEOUT_SECS", "0"),
            ("NENE_KEEP_ALIVE_TIMEOUT_SECS", "soon"),
            ("NENE_SHUTDOWN_GRACE_SECS", "-1"),
            ("NENE_MAX_CONNECTIONS_PER_IP", "0"),
            ("NENE_SIGNUPS_PER_IP_PER_HOUR", "many"),
            ("NENE_METRICS_TOKEN", "short"),
        ] {
            let e = Config::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert_eq!(e.name, name, "{e}");
        }
        for bad in ["-1", "721", "two days"] {
            let e = Config::from_vars(&vars(&[("NENE_MODERATION_GRACE_HOURS", bad)])).unwrap_err();
            assert_eq!(e.name, "NENE_MODERATION_GRACE_HOURS");
        }
        for name in ["NENE_PHOTO_DECODERS", "NENE_UPLOADS_PER_DAY", "NENE_UPLOADS_IN_FLIGHT"] {
            assert_eq!(Config::from_vars(&vars(&[(name, "0")])).unwrap_err().name, name);
        }
        let e = Config::from_vars(&vars(&[("NENE_MIN_FREE_DISK_MB", "-5")])).unwrap_err();
        assert_eq!(e.name, "NENE_MIN_FREE_DISK_MB");
    }

    #[test]
    fn edge_settings_are_read() {
        let c = Config::from_vars(&vars(&[
            ("NENE_TRUSTED_PROXIES", "10.0.0.0/8,::1"),
            ("NENE_FORWARDED_HEADER", "forwarded"),
            ("NENE_HEADER_READ_TIMEOUT_SECS", "5"),
            ("NENE_KEEP_ALIVE_TIMEOUT_SECS", "120"),
            ("NENE_SHUTDOWN_GRACE_SECS", "3"),
            ("NENE_MAX_CONNECTIONS_PER_IP", "1000"),
            ("NENE_SIGNUPS_PER_IP_PER_HOUR", "3"),
            ("NENE_METRICS_TOKEN", "a-long-enough-metrics-token"),
        ]))
        .unwrap();
        assert!(c.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(c.trusted_proxies.contains("::1".parse().unwrap()));
        assert_eq!(c.forwarded_header, ForwardedHeader::Forwarded);
        assert_eq!(c.header_read_timeout, Duration::from_secs(5));
        assert_eq!(c.keep_alive_timeout, Duration::from_secs(120));
        assert_eq!(c.shutdown_grace, Duration::from_secs(3));
        assert_eq!(c.max_connections_per_ip, 1000);
        assert_eq!(c.signups_per_ip_per_hour, 3);
        assert_eq!(c.metrics_token.as_deref(), Some("a-long-enough-metrics-token"));
        let d = Config::from_vars(&HashMap::new()).unwrap();
        assert!(d.trusted_proxies.is_empty());
        assert_eq!(d.metrics_token, None);
    }

    #[test]
    fn moderation_grace_is_two_days_unless_set() {
        assert_eq!(Config::from_vars(&HashMap::new()).unwrap().moderation_grace, Duration::from_secs(48 * 3600));
        let c = Config::from_vars(&vars(&[("NENE_MODERATION_GRACE_HOURS", "0")])).unwrap();
        assert_eq!(c.moderation_grace, Duration::ZERO);
        let c = Config::from_vars(&vars(&[("NENE_MODERATION_GRACE_HOURS", "72")])).unwrap();
        assert_eq!(c.moderation_grace, Duration::from_secs(72 * 3600));
    }

    #[test]
    fn upload_limits_are_read() {
        let c = Config::from_vars(&HashMap::new()).unwrap();
        assert!(c.photo_decoders >= 1);
        assert_eq!((c.uploads_per_day, c.min_free_disk_mb), (50, 1024));
        let c = Config::from_vars(&vars(&[
            ("NENE_PHOTO_DECODERS", "3"),
            ("NENE_UPLOADS_PER_DAY", "7"),
            ("NENE_MIN_FREE_DISK_MB", "0"),
        ]))
        .unwrap();
        assert_eq!((c.photo_decoders, c.uploads_per_day, c.min_free_disk_mb), (3, 7, 0));
    }

    #[test]
    fn appeal_window_is_a_day_unless_set_and_at_most_a_month() {
        assert_eq!(Config::from_vars(&HashMap::new()).unwrap().appeal_window, Duration::from_secs(24 * 3600));
        let c = Config::from_vars(&vars(&[("NENE_APPEAL_WINDOW_HOURS", "0")])).unwrap();
        assert_eq!(c.appeal_window, Duration::ZERO);
        let c = Config::from_vars(&vars(&[("NENE_APPEAL_WINDOW_HOURS", "720")])).unwrap();
        assert_eq!(c.appeal_window, Duration::from_secs(720 * 3600));
        for bad in ["721", "-1", "a day"] {
            let e = Config::from_vars(&vars(&[("NENE_APPEAL_WINDOW_HOURS", bad)])).unwrap_err();
            assert_eq!(e.name, "NENE_APPEAL_WINDOW_HOURS");
        }
    }
}
