//! Builds the application from a [`Config`] and a listener: opens and migrates the database, loads the signing
//! secret, restores the domain clock, and serves until told to stop. Tests start the real thing through here on
//! port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::auth::secret;
use crate::auth::tokens::JwtKeys;
use crate::clock::DomainClock;
use crate::config::{Config, DatabaseConfig};
use crate::store::{self, Db, StoreError};
use crate::{dev, http, telemetry};

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: DomainClock,
    pub jwt: Arc<JwtKeys>,
    pub metrics: PrometheusHandle,
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
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Prepares everything and binds `config.addr` (port 0 picks a free port).
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let listener =
            TcpListener::bind(config.addr).await.map_err(|source| StartError::Bind { addr: config.addr, source })?;
        Self::build_with_listener(config, listener).await
    }

    pub async fn build_with_listener(config: Config, listener: TcpListener) -> Result<Self, StartError> {
        let state = build_state(config).await?;
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
        let app = http::router(state);
        tracing::info!(addr = %listener.local_addr()?, "serving");
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await?;
        db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the database and assembles the shared state (also used by the command-line tools).
pub async fn build_state(config: Config) -> Result<AppState, StartError> {
    let db = Db::connect(&config.database, config.db_max_connections).await?;
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
    Ok(AppState {
        db,
        jwt: Arc::new(JwtKeys::new(&secret)),
        config: Arc::new(config),
        clock: DomainClock::with_offset_ms(offset_ms),
        metrics: telemetry::metrics_handle(),
    })
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
