//! Builds the application from a [`Config`] and a listener: opens and migrates the database, loads the signing
//! secret, restores the domain clock, and serves until told to stop. Tests start the real thing through here on
//! port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::num::NonZeroU32;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::auth::password::Passwords;
use crate::auth::secret;
use crate::auth::tokens::JwtKeys;
use crate::challenges::batch::JoinBatcher;
use crate::clock::DomainClock;
use crate::config::{Config, DatabaseConfig};
use crate::files::{FileStore, LocalFiles};
use crate::http::upload_slots::UploadSlots;
use crate::integrations::fcm::{FcmClient, ServiceAccount};
use crate::integrations::toss::TossClient;
use crate::payments::Payments;
use crate::photos::Decoders;
use crate::push::Push;
use crate::sandbox::fcm::FcmSandbox;
use crate::sandbox::toss::TossSandbox;
use crate::store::{self, Db, StoreError};
use crate::supervisor::Workers;
use crate::{dev, http, jobs, telemetry};

/// Per-user limit on payment requests.
pub type PaymentLimiter = governor::DefaultKeyedRateLimiter<uuid::Uuid>;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: DomainClock,
    pub jwt: Arc<JwtKeys>,
    pub metrics: PrometheusHandle,
    /// TossPayments, when payments are switched on.
    pub payments: Option<Arc<Payments>>,
    /// Dev mode: the TossPayments sandbox served under `/dev/toss`.
    pub toss_sandbox: Option<TossSandbox>,
    /// Nudges the background workers when a commit queued work for them.
    pub wake: Arc<Notify>,
    /// Server-side secret for derived identifiers (Toss customer keys).
    pub secret_salt: Arc<str>,
    pub payment_limiter: Arc<PaymentLimiter>,
    /// Proof photos and thumbnails, by content hash.
    pub files: FileStore,
    /// The photo decodes allowed at once.
    pub decoders: Decoders,
    /// Photo uploads being received at once (each holds its body in memory until checked).
    pub upload_slots: UploadSlots,
    /// FCM push, when switched on.
    pub push: Option<Arc<Push>>,
    /// Dev mode: the FCM sandbox served under `/dev/fcm`.
    pub fcm_sandbox: Option<FcmSandbox>,
    /// Joins go through one writer that commits the joins waiting at that moment together.
    pub joins: JoinBatcher,
    /// Password hashing, a bounded number at a time.
    pub passwords: Arc<Passwords>,
    /// The supervised background workers and whether each is running (read by `/ready`).
    pub workers: Workers,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not open the database: {0}")]
    Database(#[from] StoreError),
    #[error("could not read or create the JWT secret in {dir}: {source}")]
    Secret { dir: String, source: std::io::Error },
    #[error("could not listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("could not prepare dev mode: {0}")]
    Dev(String),
    #[error(transparent)]
    Mode(#[from] crate::mode::ModeError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("could not set up TossPayments: {0}")]
    Toss(#[from] crate::integrations::toss::TossError),
    #[error("could not set up FCM: {0}")]
    Fcm(#[from] crate::integrations::fcm::FcmError),
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Prepares everything and binds `config.addr` (port 0 picks a free port).
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let listener =
            http::accept::bind(config.addr).map_err(|source| StartError::Bind { addr: config.addr, source })?;
        Self::build_with_listener(config, listener).await
    }

    pub async fn build_with_listener(config: Config, listener: TcpListener) -> Result<Self, StartError> {
        let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.addr, source })?;
        let state = build_state(config, Some(addr)).await?;
        if state.config.dev {
            dev::seed(&state).await.map_err(|e| StartError::Dev(e.to_string()))?;
        }
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| self.state.config.addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Application { listener, state } = self;
        let db = state.db.clone();
        let stop = CancellationToken::new();
        let workers = if state.config.run_workers { jobs::spawn_all(&state, &stop) } else { Vec::new() };
        let limits = http::accept::Limits::from_config(&state.config);
        let app = http::router(state);
        tracing::info!(addr = %listener.local_addr()?, max_connections = limits.max_connections, "serving");
        let stop_all = stop.clone();
        let served = http::accept::serve(listener, app, limits, async move {
            shutdown.await;
            stop_all.cancel();
        })
        .await;
        stop.cancel();
        for worker in workers {
            let _ = worker.await;
        }
        served?;
        db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the database and assembles the shared state (also used by the command-line tools, which pass no
/// address: they serve nothing).
pub async fn build_state(config: Config, addr: Option<SocketAddr>) -> Result<AppState, StartError> {
    config.validate()?;
    let db = Db::connect(&config.database, config.db_max_connections).await?;
    crate::mode::check(&db, crate::mode::Mode::of(config.dev)).await?;
    let secret = match &config.jwt_secret {
        Some(s) => s.clone(),
        None => secret::load_or_create(&config.data_dir)
            .map_err(|source| StartError::Secret { dir: config.data_dir.display().to_string(), source })?,
    };
    let offset_ms = if config.dev {
        let mut tx = db.begin_read().await?;
        let saved = store::settings::get(&mut tx, http::dev::CLOCK_OFFSET_KEY).await?;
        saved.and_then(|v| v.parse().ok()).unwrap_or(0)
    } else {
        0
    };
    match &config.database {
        DatabaseConfig::Sqlite { path } => tracing::info!(path = %path.display(), "database: SQLite"),
        DatabaseConfig::Postgres { .. } => tracing::info!("database: PostgreSQL"),
    }
    let (payments, toss_sandbox) = payments_from(&config, addr)?;
    let files_root = config.data_dir.join("files");
    let (push, fcm_sandbox) = push_from(&config, addr)?;
    let per_minute = NonZeroU32::new(config.payment_requests_per_minute).unwrap_or(NonZeroU32::MIN);
    let workers = Workers::default();
    let decoders = Decoders::new(config.photo_decoders);
    let upload_slots = UploadSlots::new(config.uploads_in_flight);
    Ok(AppState {
        db: db.clone(),
        jwt: Arc::new(JwtKeys::new(&secret)),
        secret_salt: Arc::from(secret.as_str()),
        config: Arc::new(config),
        clock: DomainClock::with_offset_ms(offset_ms),
        metrics: telemetry::metrics_handle(),
        payments: payments.map(Arc::new),
        toss_sandbox,
        wake: Arc::new(Notify::new()),
        payment_limiter: Arc::new(governor::RateLimiter::keyed(governor::Quota::per_minute(per_minute))),
        files: FileStore::Local(LocalFiles::new(files_root)),
        decoders,
        upload_slots,
        push: push.map(Arc::new),
        fcm_sandbox,
        joins: JoinBatcher::start(db.clone(), &workers),
        passwords: Arc::new(Passwords::per_core()),
        workers,
    })
}

const FCM_API: &str = "https://fcm.googleapis.com";
const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Push is on when a service account is configured, and in dev mode against the built-in sandbox (explicit
/// settings win). Otherwise notifications stay in the inbox only, said once at start.
fn push_from(config: &Config, addr: Option<SocketAddr>) -> Result<(Option<Push>, Option<FcmSandbox>), StartError> {
    let fcm = &config.fcm;
    let timeout = std::time::Duration::from_secs(10);
    if let Some(path) = &fcm.credentials {
        let account = ServiceAccount::from_file(path)?;
        let token_url =
            fcm.token_url.clone().or_else(|| account.token_uri.clone()).unwrap_or_else(|| GOOGLE_TOKEN_URL.into());
        let base = fcm.base_url.clone().unwrap_or_else(|| FCM_API.to_owned());
        let client = FcmClient::new(account, &base, &token_url, timeout)?;
        tracing::info!(base = %base, "push: FCM");
        return Ok((Some(Push { fcm: client }), None));
    }
    if config.dev
        && let Some(addr) = addr
    {
        let sandbox = FcmSandbox::new();
        let base = fcm.base_url.clone().unwrap_or_else(|| format!("http://{addr}/dev/fcm"));
        let token_url = fcm.token_url.clone().unwrap_or_else(|| format!("http://{addr}/dev/fcm/token"));
        let client = FcmClient::new(FcmSandbox::test_account(), &base, &token_url, timeout)?;
        tracing::info!(base = %base, "push: dev sandbox of FCM");
        return Ok((Some(Push { fcm: client }), Some(sandbox)));
    }
    if addr.is_some() {
        tracing::info!("push: off (set NENE_FCM_CREDENTIALS to switch it on); notifications stay in the inbox");
    }
    Ok((None, None))
}

/// The live TossPayments API.
const TOSS_API: &str = "https://api.tosspayments.com";
const SANDBOX_SECRET_KEY: &str = "test_sk_nene_sandbox";
const SANDBOX_CLIENT_KEY: &str = "test_ck_nene_sandbox";

/// Payments are on when keys are configured, and in dev mode against the built-in sandbox (unless a Toss base URL
/// or keys are given explicitly, which win). Otherwise they are off, said once at start.
fn payments_from(
    config: &Config,
    addr: Option<SocketAddr>,
) -> Result<(Option<Payments>, Option<TossSandbox>), StartError> {
    let toss = &config.toss;
    if let (Some(secret), Some(client_key)) = (&toss.secret_key, &toss.client_key) {
        let base = toss.base_url.clone().unwrap_or_else(|| TOSS_API.to_owned());
        let client = TossClient::new(&base, secret, toss.timeout)?;
        tracing::info!(base = %base, "payments: TossPayments");
        return Ok((Some(Payments { toss: client, client_key: client_key.clone(), checkout_url: None }), None));
    }
    if config.dev
        && let Some(addr) = addr
    {
        let sandbox = TossSandbox::new(SANDBOX_SECRET_KEY);
        let base = toss.base_url.clone().unwrap_or_else(|| format!("http://{addr}/dev/toss"));
        let client = TossClient::new(&base, SANDBOX_SECRET_KEY, toss.timeout)?;
        tracing::info!(base = %base, "payments: dev sandbox of TossPayments");
        let payments = Payments {
            toss: client,
            client_key: SANDBOX_CLIENT_KEY.to_owned(),
            checkout_url: Some("/dev/toss/sandbox/pay".to_owned()),
        };
        return Ok((Some(payments), Some(sandbox)));
    }
    if addr.is_some() {
        tracing::info!("payments: off (set NENE_TOSS_SECRET_KEY and NENE_TOSS_CLIENT_KEY to switch them on)");
    }
    Ok((None, None))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
