BEGIN TRANSACTION;
CREATE TABLE events (
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    synced INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (device, boot_id, seq)
) WITHOUT ROWID;
INSERT INTO "events" VALUES('dev-a','b1',13,1794787200000,'dev-a/door-1','door','open','{"source": "reed"}',1);
CREATE TABLE readings (
    sensor TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    value REAL,
    fault TEXT,
    synced INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (sensor, ts_ms)
) WITHOUT ROWID;
INSERT INTO "readings" VALUES('dev-a/fridge-1',1794783660000,4.0,NULL,1);
INSERT INTO "readings" VALUES('dev-a/fridge-1',1794783780000,4.5,NULL,1);
INSERT INTO "readings" VALUES('dev-a/fridge-1',1794783900000,16.0,NULL,1);
INSERT INTO "readings" VALUES('dev-a/fridge-1',1794784020000,16.5,NULL,1);
INSERT INTO "readings" VALUES('dev-a/fridge-2',1794783900000,3.0,NULL,1);
INSERT INTO "readings" VALUES('dev-a/fridge-2',1794784020000,16.0,NULL,1);
INSERT INTO "readings" VALUES('dev-a/fridge-2',1794784140000,16.2,NULL,1);
INSERT INTO "readings" VALUES('dev-a/fridge-2',1794784260000,3.5,NULL,1);
INSERT INTO "readings" VALUES('dev-a/fridge-2',1794784380000,3.2,NULL,1);
INSERT INTO "readings" VALUES('dev-b/fridge-3',1794784200000,2.0,NULL,1);
INSERT INTO "readings" VALUES('dev-b/fridge-3',1794784320000,16.0,NULL,1);
INSERT INTO "readings" VALUES('dev-b/fridge-3',1794784440000,3.0,NULL,1);
CREATE TABLE readings_hourly (
    sensor TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    mean REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (sensor, hour_ms)
) WITHOUT ROWID;
INSERT INTO "readings_hourly" VALUES('dev-a/fridge-1',1789599600000,3.0,8.9,5.95,60);
INSERT INTO "readings_hourly" VALUES('dev-a/fridge-1',1789603200000,9.0,11.9,10.45,30);
CREATE INDEX events_by_time ON events (ts_ms);
CREATE INDEX events_by_sensor ON events (sensor, ts_ms);
COMMIT;
