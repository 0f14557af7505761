//! Dev mode and production never share a database, on SQLite and on PostgreSQL: a database records the mode it was
//! created in, and a server in the other mode refuses to start on it with one clear line. Databases from before
//! the record are classified by what they hold.

use std::sync::Arc;

use nene_server::Application;
use nene_server::app::StartError;
use nene_tests::{Backend, TestDatabase, TestServer, on_both_databases, test_config};

on_both_databases!(
    a_production_database_is_refused_in_dev_mode,
    a_dev_database_is_refused_in_production,
    databases_older_than_the_record_are_classified_by_what_they_hold,
);

/// Starts a server on `db` in the given mode and stops it again; the start must succeed.
async fn run_once(db: &Arc<TestDatabase>, dev: bool) -> TestServer {
    let mut config = test_config(db);
    config.run_workers = false;
    config.dev = dev;
    TestServer::start_on(Arc::clone(db), config).await
}

/// What a start in the given mode says, when it fails.
async fn refusal(db: &Arc<TestDatabase>, dev: bool) -> String {
    let mut config = test_config(db);
    config.run_workers = false;
    config.dev = dev;
    match Application::build(config).await {
        Ok(_) => {
            panic!("a server in {} mode started on the other mode's database", if dev { "dev" } else { "production" })
        }
        Err(e) => {
            assert!(matches!(e, StartError::Mode(_)), "{e}");
            e.to_string()
        }
    }
}

async fn mode_on_record(db: &Arc<TestDatabase>) -> Option<String> {
    let state = nene_server::store::Db::connect(&db.config, 2).await.expect("database opens");
    let mut tx = state.begin_read().await.expect("read");
    let mode = nene_server::store::settings::get(&mut tx, nene_server::mode::MODE_KEY).await.expect("setting");
    drop(tx);
    state.close().await;
    mode
}

async fn a_production_database_is_refused_in_dev_mode(backend: Backend) {
    let db = Arc::new(TestDatabase::create(backend).await);
    let s = run_once(&db, false).await;
    s.signup("real@person.test", "real").await;
    s.stop().await;
    assert_eq!(mode_on_record(&db).await.as_deref(), Some("production"));

    let message = refusal(&db, true).await;
    assert!(message.contains("created by a production server"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    // Nothing of dev mode was written: no demo accounts, no welcome points.
    let s = run_once(&db, false).await;
    assert_eq!(s.count("users").await, 1);
    assert_eq!(s.count("ledger_transfers").await, 0);
    s.stop().await;
}

async fn a_dev_database_is_refused_in_production(backend: Backend) {
    let db = Arc::new(TestDatabase::create(backend).await);
    let s = run_once(&db, true).await;
    assert_eq!(s.count("users").await, 3, "demo accounts seeded");
    s.stop().await;
    assert_eq!(mode_on_record(&db).await.as_deref(), Some("dev"));

    let message = refusal(&db, false).await;
    assert!(message.contains("created in dev mode"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    // Dev mode itself starts on it again, and seeds nothing twice.
    let s = run_once(&db, true).await;
    assert_eq!(s.count("users").await, 3);
    s.stop().await;
}

/// Runs the migration that introduced the record, as it ran on databases made before it.
async fn classify_as_the_migration_does(db: &Arc<TestDatabase>, backend: Backend) -> Option<String> {
    let sql = match backend {
        Backend::Sqlite => include_str!("../../migrations/sqlite/0017_database_mode.sql"),
        Backend::Postgres => include_str!("../../migrations/postgres/0017_database_mode.sql"),
    };
    let state = nene_server::store::Db::connect(&db.config, 2).await.expect("database opens");
    let mut tx = state.begin_write().await.expect("write");
    nene_server::on_conn!(&mut tx, c => {
        sqlx::query("DELETE FROM server_settings WHERE key = 'database_mode'").execute(&mut *c).await.expect("forget");
        sqlx::raw_sql(sql).execute(&mut *c).await.expect("migration runs");
    });
    tx.commit().await.expect("commit");
    state.close().await;
    mode_on_record(db).await
}

async fn databases_older_than_the_record_are_classified_by_what_they_hold(backend: Backend) {
    // An empty database is left for its first start to record.
    let empty = Arc::new(TestDatabase::create(backend).await);
    run_once(&empty, false).await.stop().await;
    assert_eq!(classify_as_the_migration_does(&empty, backend).await, None);
    run_once(&empty, true).await.stop().await;
    assert_eq!(mode_on_record(&empty).await.as_deref(), Some("dev"), "the first start records its own mode");

    // One with people and no trace of dev mode is production.
    let real = Arc::new(TestDatabase::create(backend).await);
    let s = run_once(&real, false).await;
    s.signup("someone@real.test", "someone").await;
    s.stop().await;
    assert_eq!(classify_as_the_migration_does(&real, backend).await.as_deref(), Some("production"));
    refusal(&real, true).await;

    // One that dev mode seeded is dev, and production refuses it.
    let demo = Arc::new(TestDatabase::create(backend).await);
    run_once(&demo, true).await.stop().await;
    assert_eq!(classify_as_the_migration_does(&demo, backend).await.as_deref(), Some("dev"));
    refusal(&demo, false).await;
}
