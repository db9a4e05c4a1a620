//! Opening, migrating and protecting the database file.

use std::os::unix::fs::PermissionsExt;

use dex_store::{Error, Store};

#[test]
fn a_new_database_is_private_and_at_the_latest_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 6);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the database holds swap secrets");
    drop(store);
    // Re-opening migrates nothing and keeps the version.
    assert_eq!(Store::open(&path).unwrap().schema_version().unwrap(), 6);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SchemaTooNew {
                found: 99,
                supported: 6
            }
        ),
        "{err}"
    );
}

#[test]
fn the_swap_event_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let mut store = Store::open(&path).unwrap();
    let swap = crate::swap(dex_swap::Role::Taker, 1);
    store
        .create_swap(&crate::fixtures::record(&swap), &swap, 1)
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let update = conn
        .execute("UPDATE swap_events SET at = 0", [])
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = conn.execute("DELETE FROM swap_events", []).unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
}
