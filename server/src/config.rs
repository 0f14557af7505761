//! Configuration, read once at start from the environment. With nothing set the server runs on an SQLite file in
//! `./data`; an invalid setting stops the start with one line naming the variable and the reason.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_failure_window: Duration,
    pub db_max_connections: u32,
    /// HTTP connections served at once (`NENE_MAX_CONNECTIONS`); more wait in the accept queue. Bounds the
    /// server's memory under a burst (about 20 KB per connection with a request in flight).
    pub max_connections: u32,
    /// TossPayments. Outside dev mode, payments are off unless the secret key is set.
    pub toss: TossConfig,
    /// Background workers (outbox, reconciler). Tests switch them off to step them by hand.
    pub run_workers: bool,
    /// Payment requests one user may make per minute.
    pub payment_requests_per_minute: u32,
    /// Local hour (in each challenge's time zone) of the daily reminder to those who have not proved yet.
    pub reminder_hour: u32,
    /// Firebase Cloud Messaging. Outside dev mode, push is off unless credentials are given.
    pub fcm: FcmConfig,
    /// The built web UI served at `/` (`NENE_UI_DIR`; by default `frontend/dist` when that folder exists).
    pub ui_dir: Option<PathBuf>,
    /// Photos decoded at once (`NENE_PHOTO_DECODERS`; by default one per core). Each decode may take up to
    /// [`crate::photos::MAX_DECODE_BYTES`], so this bounds the memory photo checking can take.
    pub photo_decoders: usize,
    /// New photos one person may upload per UTC day (`NENE_UPLOADS_PER_DAY`), proofs' photos included.
    pub uploads_per_day: u32,
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
            login_failures_per_account: 10,
            login_failures_per_ip: 50,
            login_failure_window: Duration::from_secs(15 * 60),
            db_max_connections: 16,
            max_connections: 2048,
            toss: TossConfig::default(),
            run_workers: true,
            payment_requests_per_minute: 30,
            reminder_hour: 20,
            fcm: FcmConfig::default(),
            ui_dir: None,
            photo_decoders: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            uploads_per_day: 50,
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
        let data_dir = PathBuf::from(get("NENE_DATA_DIR").unwrap_or("./data"));
        let mut config = Config::for_data_dir(data_dir);

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
        if let Some(dev) = get("NENE_DEV") {
            config.dev = parse_bool("NENE_DEV", dev)?;
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
        if let Some(n) = get("NENE_DB_MAX_CONNECTIONS") {
            config.db_max_connections = parse_positive("NENE_DB_MAX_CONNECTIONS", n)?;
        }
        if let Some(n) = get("NENE_MAX_CONNECTIONS") {
            config.max_connections = parse_positive("NENE_MAX_CONNECTIONS", n)?;
        }
        if let Some(n) = get("NENE_PHOTO_DECODERS") {
            config.photo_decoders = parse_positive("NENE_PHOTO_DECODERS", n)? as usize;
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
        let e = Config::from_vars(&vars(&[("NENE_DEV", "maybe")])).unwrap_err();
        assert!(e.to_string().starts_with("invalid setting NENE_DEV"));
        let e = Config::from_vars(&vars(&[("NENE_UI_DIR", "/no/such/folder")])).unwrap_err();
        assert_eq!(e.name, "NENE_UI_DIR");
        for name in ["NENE_PHOTO_DECODERS", "NENE_UPLOADS_PER_DAY"] {
            assert_eq!(Config::from_vars(&vars(&[(name, "0")])).unwrap_err().name, name);
        }
        let e = Config::from_vars(&vars(&[("NENE_MIN_FREE_DISK_MB", "-5")])).unwrap_err();
        assert_eq!(e.name, "NENE_MIN_FREE_DISK_MB");
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
}
