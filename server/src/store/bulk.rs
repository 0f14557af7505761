//! Multi-row statements built from columns of values: one statement per kind of row, whatever the number of rows.
//!
//! The rows reach the statement as a row source that fits both `INSERT INTO t (…) <rows>` and
//! `WITH v (…) AS (<rows>) UPDATE …`. On PostgreSQL that is `SELECT * FROM unnest($1::uuid[], $2::text[], …)`: one
//! array per column, so the statement's text is the same for every batch size and each connection prepares it
//! once, and the server decodes a few arrays instead of parsing and planning a `VALUES` list of thousands of
//! parameters (a list of 20,000 placeholders takes longer to plan than its rows take to insert). `unnest` yields
//! the rows in array order, so identities handed out by an insert follow the order given. SQLite prepares
//! in-process at little cost and has no arrays: it gets `VALUES (?, …), …`, one chunk of rows per statement under
//! its parameter limit.

use sqlx::Arguments;
use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteArguments;
use uuid::Uuid;

use super::{StoreResult, Tx, rows_per_statement, value_rows};

/// One column of a bulk statement's rows; every column of a statement has one value per row.
pub(crate) enum Col<'a> {
    Uuid(Vec<Uuid>),
    OptUuid(Vec<Option<Uuid>>),
    Text(Vec<&'a str>),
    OptText(Vec<Option<&'a str>>),
    Int(Vec<i64>),
    OptInt(Vec<Option<i64>>),
}

impl Col<'_> {
    fn len(&self) -> usize {
        match self {
            Col::Uuid(v) => v.len(),
            Col::OptUuid(v) => v.len(),
            Col::Text(v) => v.len(),
            Col::OptText(v) => v.len(),
            Col::Int(v) => v.len(),
            Col::OptInt(v) => v.len(),
        }
    }

    /// The PostgreSQL array type the column is bound as.
    fn pg_array(&self) -> &'static str {
        match self {
            Col::Uuid(_) | Col::OptUuid(_) => "uuid[]",
            Col::Text(_) | Col::OptText(_) => "text[]",
            Col::Int(_) | Col::OptInt(_) => "int8[]",
        }
    }
}

/// The number of rows the columns hold; they must agree.
fn row_count(cols: &[Col<'_>]) -> usize {
    let n = cols.first().map_or(0, Col::len);
    debug_assert!(cols.iter().all(|c| c.len() == n), "bulk columns of different lengths");
    n
}

/// `SELECT * FROM unnest($1::uuid[], …)` for these columns.
fn pg_source(cols: &[Col<'_>]) -> String {
    let arrays: Vec<String> = cols.iter().enumerate().map(|(i, c)| format!("${}::{}", i + 1, c.pg_array())).collect();
    format!("SELECT * FROM unnest({})", arrays.join(", "))
}

fn pg_arguments(cols: &[Col<'_>]) -> StoreResult<PgArguments> {
    let mut args = PgArguments::default();
    for c in cols {
        let added = match c {
            Col::Uuid(v) => args.add(v.as_slice()),
            Col::OptUuid(v) => args.add(v.as_slice()),
            Col::Text(v) => args.add(v.as_slice()),
            Col::OptText(v) => args.add(v.as_slice()),
            Col::Int(v) => args.add(v.as_slice()),
            Col::OptInt(v) => args.add(v.as_slice()),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// The values of rows `range`, row by row, as SQLite binds them.
fn sqlite_arguments<'q>(cols: &'q [Col<'_>], range: std::ops::Range<usize>) -> StoreResult<SqliteArguments<'q>> {
    let mut args = SqliteArguments::default();
    for r in range {
        for c in cols {
            let added = match c {
                Col::Uuid(v) => args.add(v[r]),
                Col::OptUuid(v) => args.add(v[r]),
                Col::Text(v) => args.add(v[r]),
                Col::OptText(v) => args.add(v[r]),
                Col::Int(v) => args.add(v[r]),
                Col::OptInt(v) => args.add(v[r]),
            };
            added.map_err(sqlx::Error::Encode)?;
        }
    }
    Ok(args)
}

/// Chunks of rows for SQLite, each within the parameter limit.
fn sqlite_chunks(rows: usize, cols: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let per = rows_per_statement(cols);
    (0..rows).step_by(per).map(move |start| start..(start + per).min(rows))
}

/// Runs `sql(rows)` over the rows; returns the rows affected. Nothing is sent when there are no rows.
pub(crate) async fn execute(tx: &mut Tx, cols: &[Col<'_>], sql: impl Fn(&str) -> String) -> StoreResult<u64> {
    let rows = row_count(cols);
    if rows == 0 {
        return Ok(0);
    }
    match tx {
        Tx::Postgres(c) => {
            let sql = sql(&pg_source(cols));
            Ok(sqlx::query_with(&sql, pg_arguments(cols)?).execute(&mut **c).await?.rows_affected())
        }
        Tx::Sqlite(c) => {
            let mut affected = 0;
            for range in sqlite_chunks(rows, cols.len()) {
                let sql = sql(&format!("VALUES {}", value_rows(false, range.len(), cols.len(), 1)));
                let args = sqlite_arguments(cols, range)?;
                affected += sqlx::query_with(&sql, args).execute(&mut **c).await?.rows_affected();
            }
            Ok(affected)
        }
    }
}

/// Runs `sql(rows)` over the rows and returns what it returns, chunk after chunk in order.
pub(crate) async fn fetch<T>(tx: &mut Tx, cols: &[Col<'_>], sql: impl Fn(&str) -> String) -> StoreResult<Vec<T>>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let rows = row_count(cols);
    if rows == 0 {
        return Ok(Vec::new());
    }
    match tx {
        Tx::Postgres(c) => {
            let sql = sql(&pg_source(cols));
            Ok(sqlx::query_as_with::<_, T, _>(&sql, pg_arguments(cols)?).fetch_all(&mut **c).await?)
        }
        Tx::Sqlite(c) => {
            let mut out = Vec::with_capacity(rows);
            for range in sqlite_chunks(rows, cols.len()) {
                let sql = sql(&format!("VALUES {}", value_rows(false, range.len(), cols.len(), 1)));
                let args = sqlite_arguments(cols, range)?;
                out.extend(sqlx::query_as_with::<_, T, _>(&sql, args).fetch_all(&mut **c).await?);
            }
            Ok(out)
        }
    }
}
