BEGIN TRANSACTION;
CREATE TABLE notify_delivery_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    channel TEXT NOT NULL,
    tier TEXT NOT NULL,
    incident_key TEXT NOT NULL,
    alert_ids TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    latency_s REAL NOT NULL DEFAULT 0,
    title TEXT NOT NULL DEFAULT ''
);
INSERT INTO "notify_delivery_log" VALUES(1,1794790800.0,'wecom','urgent','dev-a/fridge-1','[1]','sent','',0.4,'冷藏柜 1 超温');
INSERT INTO "notify_delivery_log" VALUES(2,1794790801.0,'sms','urgent','dev-a/fridge-1','[1, 2]','failed','timeout',5.0,'冷藏柜 1 超温');
CREATE INDEX notify_delivery_by_ts ON notify_delivery_log (ts);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('notify_delivery_log',2);
COMMIT;
