# certmgr backup / restore / verify-backup / -c backup, end to end (issue 3).
# Needs 7z (p7zip-full) and openssl on PATH; scripts/setup installs both.
ck_test(backup_cli_test SOURCES backup_cli_test.cc LIBS ck_test_support ck_archive ck_archive_test_zip Boost::json)
add_dependencies(backup_cli_test certmgr)
# Revocation erases keys, and no backup or restore brings them back (SQLite and PostgreSQL).
ck_test(revoke_restore_test SOURCES revoke_restore_test.cc LIBS ck_test_support ck_archive ck_pg_testing Boost::json)
add_dependencies(revoke_restore_test certmgr)
