BEGIN TRANSACTION;
CREATE TABLE calendar_overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spec TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    removed_by TEXT,
    removed_at REAL
);
INSERT INTO "calendar_overrides" VALUES(1,'{"kind":"no_school","date":"2026-11-20","groups":[],"windows":[],"days":"school_day","reason":"运动会"}','admin',1794790800.0,NULL,NULL);
INSERT INTO "calendar_overrides" VALUES(2,'{"kind":"closed","date":"2026-11-21","groups":[],"windows":[],"days":"school_day","reason":""}','admin',1794790800.0,'admin',1794790860.0);
CREATE TABLE gate_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO "gate_meta" VALUES('last_tick','1794790800.0');
CREATE TABLE patrol_rounds (
    route TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    complete INTEGER NOT NULL,
    missing TEXT NOT NULL,
    evaluated_at REAL NOT NULL,
    PRIMARY KEY (route, start)
) WITHOUT ROWID;
INSERT INTO "patrol_rounds" VALUES('night',1794837600.0,1794841200.0,0,'["south"]',1794790800.0);
CREATE TABLE patrol_visits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    checkpoint TEXT,
    tag TEXT NOT NULL DEFAULT '',
    sensor TEXT NOT NULL,
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    input TEXT NOT NULL DEFAULT '',
    UNIQUE (device, boot_id, seq)
);
INSERT INTO "patrol_visits" VALUES(1,1794790800.0,'north','tag-01','dev-c/reader','dev-c','b1',1,'nfc');
INSERT INTO "patrol_visits" VALUES(2,1794790860.0,NULL,'tag-99','dev-c/reader','dev-c','b1',2,'nfc');
CREATE TABLE sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    grp TEXT NOT NULL,
    closing_at REAL NOT NULL,
    swept_at REAL NOT NULL,
    states TEXT NOT NULL,
    not_closed INTEGER NOT NULL,
    UNIQUE (grp, closing_at)
);
INSERT INTO "sweeps" VALUES(1,'main',1794837600.0,1794837900.0,'{"dev-c/door-1": {"state": "open", "name": "北门", "since": 1794790800.0}}',1);
CREATE INDEX patrol_visits_by_time ON patrol_visits (ts);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('sweeps',1);
INSERT INTO "sqlite_sequence" VALUES('patrol_visits',2);
INSERT INTO "sqlite_sequence" VALUES('calendar_overrides',2);
COMMIT;
