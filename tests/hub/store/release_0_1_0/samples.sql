BEGIN TRANSACTION;
CREATE TABLE sample_dishes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id INTEGER NOT NULL REFERENCES sample_records(id),
    name TEXT NOT NULL,
    weight_g REAL,
    code TEXT UNIQUE,
    logged_at REAL NOT NULL,
    source TEXT NOT NULL DEFAULT 'api',
    scanned_at REAL
);
INSERT INTO "sample_dishes" VALUES(1,1,'红烧肉',125.0,'lunch-20261116-01',1794799860.0,'api',NULL);
INSERT INTO "sample_dishes" VALUES(2,1,'米饭',130.0,'lunch-20261116-09',1794799920.0,'station',1794799920.0);
INSERT INTO "sample_dishes" VALUES(3,2,'包子',110.0,'breakfast-20261115-01',1794697260.0,'api',NULL);
CREATE TABLE sample_excursions (
    record_id INTEGER NOT NULL REFERENCES sample_records(id),
    cabinet TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL,
    low REAL NOT NULL,
    high REAL NOT NULL,
    alert_ids TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (record_id, cabinet, start)
) WITHOUT ROWID;
INSERT INTO "sample_excursions" VALUES(1,'kitchen/sample-fridge',1794805200.0,1794807600.0,2.0,9.5,'[1]');
CREATE TABLE sample_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO "sample_meta" VALUES('watch_since','1796192885.379376');
CREATE TABLE sample_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    meal TEXT NOT NULL,
    occasion TEXT NOT NULL DEFAULT '',
    cabinet TEXT NOT NULL DEFAULT '',
    station TEXT NOT NULL DEFAULT '',
    placed_at REAL NOT NULL,
    placed_by TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL DEFAULT '',
    held_until REAL NOT NULL,
    discarded_at REAL,
    discarded_by TEXT,
    discard_note TEXT NOT NULL DEFAULT '',
    early INTEGER NOT NULL DEFAULT 0,
    notice_at REAL,
    opened_at REAL NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (day, meal, occasion)
);
INSERT INTO "sample_records" VALUES(1,'2026-11-16','lunch','','kitchen/sample-fridge','dev-s',1794799800.0,'wang','admin',1794972720.0,NULL,NULL,'',0,NULL,1794799800.0,1794790800.0);
INSERT INTO "sample_records" VALUES(2,'2026-11-15','breakfast','','kitchen/sample-fridge','',1794697200.0,'wang','',1794870060.0,1794870300.0,'wang','48 h done',0,1794866400.0,1794697200.0,1794790800.0);
CREATE INDEX sample_records_open ON sample_records (discarded_at, held_until);
CREATE INDEX sample_dishes_by_record ON sample_dishes (record_id);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('sample_records',2);
INSERT INTO "sqlite_sequence" VALUES('sample_dishes',3);
COMMIT;
