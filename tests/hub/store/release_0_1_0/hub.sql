BEGIN TRANSACTION;
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    value REAL,
    peak REAL,
    threshold REAL,
    fired_at REAL,
    resolved_at REAL,
    acked_at REAL,
    acked_by TEXT,
    ack_note TEXT,
    closed_at REAL,
    closed_by TEXT,
    action TEXT,
    verified_at REAL,
    verified_by TEXT,
    verify_note TEXT,
    incident TEXT,
    silenced INTEGER NOT NULL DEFAULT 0,
    notified_tier INTEGER NOT NULL DEFAULT -1,
    last_notified_at REAL,
    notify_count INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO "alerts" VALUES(1,'temperature_limits','dev-a/fridge-1','temperature','critical','firing','冷藏柜 1 温度 16.0 °C，超出上限 8 °C（偏离 8.0 °C），自 11-16 07:05 起',1794783900.0,1794783900.0,16.5,16.5,8.0,1794783900.0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,0,1794783900.0,1,'{"device": "dev-a"}');
INSERT INTO "alerts" VALUES(2,'temperature_limits','dev-a/fridge-2','temperature','critical','resolved','冷藏柜 2 温度 16.0 °C，超出上限 8 °C（偏离 8.0 °C），自 11-16 07:07 起',1794784020.0,1.7961928853979029655e+09,3.5,16.2,8.0,1794784020.0,1794784260.0,1.7961928853979029655e+09,'wang','door left open',NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,0,1794784020.0,1,'{"device": "dev-a"}');
INSERT INTO "alerts" VALUES(3,'temperature_limits','dev-b/fridge-3','temperature','critical','verified','冷藏柜 3 温度 16.0 °C，超出上限 8 °C（偏离 8.0 °C），自 11-16 07:12 起',1794784320.0,1.79619288539768719669e+09,3.0,16.0,8.0,1794784320.0,1794784440.0,1.79619288539739060395e+09,'wang',NULL,1.79619288539739060395e+09,'wang','moved the food to fridge 1',1.79619288539768719669e+09,'admin','checked',NULL,0,0,1794784320.0,1,'{"device": "dev-b"}');
INSERT INTO "alerts" VALUES(4,'door_open_too_long','dev-a/door-1','door','warning','pending','dev-a/door-1 门未关闭，自 11-16 08:00 起',1794787200.0,1794787200.0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,-1,NULL,0,'{"device": "dev-a"}');
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_digest TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    name TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at REAL NOT NULL,
    last_used_at REAL,
    revoked_at REAL
);
INSERT INTO "api_tokens" VALUES(1,'0c8dd4e572bd2638310871566197b384bc2b4cb3596d58f49183a70eed83220b','xa_YAAA','dashboard',1,1.79619288542567420003e+09,NULL,NULL);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO "audit" VALUES(1,1794783900.0,'system','alert.firing','alert/1','{"rule":"temperature_limits","state":"firing","subject":"dev-a/fridge-1","value":16.0}','0000000000000000000000000000000000000000000000000000000000000000','95d00483a4ca708bfdddf7ddc1659159db564067c71defad55c1dbc22c467deb');
INSERT INTO "audit" VALUES(2,1794783900.0,'system','alert.notified','alert/1','{"reason":"fire","route":"canteen","state":"firing","subject":"dev-a/fridge-1"}','95d00483a4ca708bfdddf7ddc1659159db564067c71defad55c1dbc22c467deb','642d23f3242215992b158ff13336e7eb0dd9b55e678d7f57dc69f903acf68701');
INSERT INTO "audit" VALUES(3,1794784020.0,'system','alert.firing','alert/2','{"rule":"temperature_limits","state":"firing","subject":"dev-a/fridge-2","value":16.0}','642d23f3242215992b158ff13336e7eb0dd9b55e678d7f57dc69f903acf68701','c97b345106150896d9a3604d66ce1d1b460444497044b85728dc16d2293212d0');
INSERT INTO "audit" VALUES(4,1794784020.0,'system','alert.notified','alert/2','{"reason":"fire","route":"canteen","state":"firing","subject":"dev-a/fridge-2"}','c97b345106150896d9a3604d66ce1d1b460444497044b85728dc16d2293212d0','ae948b790d0901d5189b9b7d6c74ac22ee4ca1cdaca3d60c07feefe8a301e099');
INSERT INTO "audit" VALUES(5,1794784260.0,'system','alert.resolved','alert/2','{"rule":"temperature_limits","state":"resolved","subject":"dev-a/fridge-2","value":3.5}','ae948b790d0901d5189b9b7d6c74ac22ee4ca1cdaca3d60c07feefe8a301e099','d8181c6de424f7d68c40b755742252b922d6eaaed641571740674efea2a7f62c');
INSERT INTO "audit" VALUES(6,1794784320.0,'system','alert.firing','alert/3','{"rule":"temperature_limits","state":"firing","subject":"dev-b/fridge-3","value":16.0}','d8181c6de424f7d68c40b755742252b922d6eaaed641571740674efea2a7f62c','601a7c2e91487bcec97e2c19e09e7b09a140d9ef3ffc4763245da824d987eead');
INSERT INTO "audit" VALUES(7,1794784320.0,'system','alert.notified','alert/3','{"reason":"fire","route":"canteen","state":"firing","subject":"dev-b/fridge-3"}','601a7c2e91487bcec97e2c19e09e7b09a140d9ef3ffc4763245da824d987eead','b7503dd6ae381b48636d04510020843f04b69939defce9bc8c27ee28d52fe6e6');
INSERT INTO "audit" VALUES(8,1794784440.0,'system','alert.resolved','alert/3','{"rule":"temperature_limits","state":"resolved","subject":"dev-b/fridge-3","value":3.0}','b7503dd6ae381b48636d04510020843f04b69939defce9bc8c27ee28d52fe6e6','8637a1d35e7de5c11fde91d9bd9f84f40b3e9e3cec06f6e9ea65c2e105fe631f');
INSERT INTO "audit" VALUES(9,1794787200.0,'system','alert.pending','alert/4','{"rule":"door_open_too_long","state":"pending","subject":"dev-a/door-1","value":null}','8637a1d35e7de5c11fde91d9bd9f84f40b3e9e3cec06f6e9ea65c2e105fe631f','5b1dfa727dbda8e790a013c5f2de8f1e9770be05766c88d413d9fce833619372');
INSERT INTO "audit" VALUES(10,1.79619288539739060395e+09,'wang','close','alert/3','{"state":"closed","subject":"dev-b/fridge-3","text":"moved the food to fridge 1"}','5b1dfa727dbda8e790a013c5f2de8f1e9770be05766c88d413d9fce833619372','5e3d9339ff2acd793df72a7099f75a9977f375bd51e78342cf79f4d6a39db4ef');
INSERT INTO "audit" VALUES(11,1.79619288539768719669e+09,'admin','verify','alert/3','{"state":"verified","subject":"dev-b/fridge-3","text":"checked"}','5e3d9339ff2acd793df72a7099f75a9977f375bd51e78342cf79f4d6a39db4ef','5e7c893e3690af1d046c1a77fbad5b354dfd92834b0cdad938688ba7a8357e86');
INSERT INTO "audit" VALUES(12,1.7961928853979029655e+09,'wang','acknowledge','alert/2','{"state":"resolved","subject":"dev-a/fridge-2","text":"door left open"}','5e7c893e3690af1d046c1a77fbad5b354dfd92834b0cdad938688ba7a8357e86','7ad33c27894cb25b3fc2b5ea6647cb28c4137666ea10be4300dde67b891199c0');
INSERT INTO "audit" VALUES(13,1794790800.0,'admin','silence.created','silence/1','{"reason":"defrost","subject":"dev-b/fridge-3"}','7ad33c27894cb25b3fc2b5ea6647cb28c4137666ea10be4300dde67b891199c0','576733fb2a49b7cafb5f57902a846ee11cc3cd1a877d20fb5eab85b744830ecb');
INSERT INTO "audit" VALUES(14,1794790800.0,'admin','silence.created','silence/2','{"reason":"delivery","subject":"dev-a/fridge-1"}','576733fb2a49b7cafb5f57902a846ee11cc3cd1a877d20fb5eab85b744830ecb','5ba01f81f63a005ae63d5a4dde5e313b2cb02dec013dc403a94a088bb8852189');
INSERT INTO "audit" VALUES(15,1794791100.0,'admin','silence.removed','silence/2','{}','5ba01f81f63a005ae63d5a4dde5e313b2cb02dec013dc403a94a088bb8852189','e2388c90210e86a946773bb28c6a5dd4adef3e4cbdb8385131af7acd86b1d91b');
INSERT INTO "audit" VALUES(16,1794791200.0,'admin','limits.edited','sensor/dev-a/fridge-2','{"before":null,"limits":{"high":6.0,"low":0.0}}','e2388c90210e86a946773bb28c6a5dd4adef3e4cbdb8385131af7acd86b1d91b','513fc38115020a79fb9d758e46de93679df10108896242d9812cd029e0a78379');
INSERT INTO "audit" VALUES(17,1794790800.0,'admin','calendar.override_added','calendar-override/1','{"date":"2026-11-20","days":"school_day","groups":[],"kind":"no_school","reason":"运动会","windows":[]}','513fc38115020a79fb9d758e46de93679df10108896242d9812cd029e0a78379','3fadc29afac95909fabe05e79072213dea80da295fc669c296c9727a726b5ba5');
INSERT INTO "audit" VALUES(18,1794790800.0,'admin','calendar.override_added','calendar-override/2','{"date":"2026-11-21","days":"school_day","groups":[],"kind":"closed","reason":"","windows":[]}','3fadc29afac95909fabe05e79072213dea80da295fc669c296c9727a726b5ba5','8d38577ae7d7c431971d2de7fa0fb747037890d6fb49c27a0b96b5cb2e6925a5');
INSERT INTO "audit" VALUES(19,1794790860.0,'admin','calendar.override_removed','calendar-override/2','{}','8d38577ae7d7c431971d2de7fa0fb747037890d6fb49c27a0b96b5cb2e6925a5','7bd0cdf570449e82583d237ea27a3f38c19c701d43013f6a5d3a913fb6a33af5');
INSERT INTO "audit" VALUES(20,1794798000.0,'admin','report.signed','report/weekly/2026-W46','{"comment":"已审阅","signer_name":"管理员"}','7bd0cdf570449e82583d237ea27a3f38c19c701d43013f6a5d3a913fb6a33af5','5af7dc2ae6036a401586eb498d49f85f25cfd5a14e8ce7017d4d5a6b9d2b3843');
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received REAL NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL
);
INSERT INTO "dead_letters" VALUES(1,0.0,'xiaoan/v1/s1/dev-a/telemetry','malformed JSON on telemetry: Invalid JSON: key must be a string at line 1 column 2',9,X'7B6E6F74206A736F6E');
CREATE TABLE devices (
    device TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'unknown',
    boot_id TEXT,
    version TEXT,
    state_since REAL,
    last_seen REAL,
    health TEXT
);
INSERT INTO "devices" VALUES('dev-a','s1','online','b1','',1794783600.0,1.79619288539591693883e+09,NULL);
INSERT INTO "devices" VALUES('dev-b','s1','online','b1','',1794783600.0,1.79619288539514565463e+09,NULL);
CREATE TABLE ingest_workers (
    worker TEXT PRIMARY KEY,
    done_before REAL NOT NULL,
    beat REAL NOT NULL
) WITHOUT ROWID;
INSERT INTO "ingest_workers" VALUES('hub-worker-1',1794790800.0,1794790800.0);
CREATE TABLE limit_edits (
    key TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
INSERT INTO "limit_edits" VALUES('dev-a/fridge-2','{"low": 0.0, "high": 6.0}','admin',1794791200.0);
CREATE TABLE login_failures (
    key TEXT NOT NULL,
    ts REAL NOT NULL
);
INSERT INTO "login_failures" VALUES('user:wang',1.79619288542590165133e+09);
INSERT INTO "login_failures" VALUES('ip:10.0.0.9',1.79619288542590165133e+09);
CREATE TABLE rule_feed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE rule_state (
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (rule, subject)
) WITHOUT ROWID;
INSERT INTO "rule_state" VALUES('door_open_too_long','dev-a/door-1','{"since": 1794787200.0, "firing": false, "alert_id": 4, "extra": {"observed": {"kind": "door", "severity": "warning", "device": "dev-a", "incident": null, "delay_s": 300.0}}, "memo": {}}');
INSERT INTO "rule_state" VALUES('temperature_limits','dev-a/fridge-1','{"since": 1794783900.0, "firing": true, "peak": 16.5, "alert_id": 1, "extra": {}, "memo": {}}');
CREATE TABLE seen (
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (device, boot_id, seq)
) WITHOUT ROWID;
INSERT INTO "seen" VALUES('dev-a','b1',1,1.79619288538724565509e+09);
INSERT INTO "seen" VALUES('dev-a','b1',2,1.79619288538785457608e+09);
INSERT INTO "seen" VALUES('dev-a','b1',3,1.79619288538825488087e+09);
INSERT INTO "seen" VALUES('dev-a','b1',4,1.79619288539010405541e+09);
INSERT INTO "seen" VALUES('dev-a','b1',5,1.79619288539081144338e+09);
INSERT INTO "seen" VALUES('dev-a','b1',6,1.79619288539107751848e+09);
INSERT INTO "seen" VALUES('dev-a','b1',7,1.79619288539224362371e+09);
INSERT INTO "seen" VALUES('dev-a','b1',8,1.7961928853929669857e+09);
INSERT INTO "seen" VALUES('dev-a','b1',9,1.79619288539374780651e+09);
INSERT INTO "seen" VALUES('dev-a','b1',13,1.79619288539591693883e+09);
INSERT INTO "seen" VALUES('dev-b','b1',10,1.7961928853939716816e+09);
INSERT INTO "seen" VALUES('dev-b','b1',11,1.79619288539416408542e+09);
INSERT INTO "seen" VALUES('dev-b','b1',12,1.79619288539514565463e+09);
CREATE TABLE sensors (
    key TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    sensor TEXT NOT NULL,
    kind TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    profile TEXT NOT NULL DEFAULT '',
    low REAL,
    high REAL,
    last_value REAL,
    last_ts REAL,
    last_fault TEXT,
    last_state TEXT,
    last_received REAL
);
INSERT INTO "sensors" VALUES('dev-a/fridge-1','dev-a','fridge-1','temperature','°C','冷藏柜 1','fridge',NULL,NULL,16.5,1794784020.0,NULL,NULL,1.79619288539010405541e+09);
INSERT INTO "sensors" VALUES('dev-a/fridge-2','dev-a','fridge-2','temperature','°C','冷藏柜 2','fridge',NULL,NULL,3.2,1794784380.0,NULL,NULL,1.79619288539374780651e+09);
INSERT INTO "sensors" VALUES('dev-b/fridge-3','dev-b','fridge-3','temperature','°C','冷藏柜 3','fridge',NULL,NULL,3.0,1794784440.0,NULL,NULL,1.79619288539514565463e+09);
INSERT INTO "sensors" VALUES('dev-a/door-1','dev-a','door-1','door','','','',NULL,NULL,NULL,1794787200.0,NULL,'open',1.79619288539591693883e+09);
CREATE TABLE sessions (
    id_digest TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
) WITHOUT ROWID;
INSERT INTO "sessions" VALUES('4d7e01d9f41d5249582dc32be5d08270fe9f1567b699f165a5472b1ff3866eba',1,1.7961928854254741669e+09,1.7961928854254741669e+09);
INSERT INTO "sessions" VALUES('9f2b45e0b4df0ae66ac26575e76cfcc5586e5dcf9177ebb355745dc35aa2bd2a',2,1.79619288542562556259e+09,1.79619288542562556259e+09);
CREATE TABLE silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    rules TEXT NOT NULL DEFAULT '[]',
    starts_at REAL,
    ends_at REAL,
    window_start TEXT,
    window_end TEXT,
    weekdays TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    removed_at REAL
);
INSERT INTO "silences" VALUES(1,'dev-b/fridge-3','[]',NULL,NULL,NULL,NULL,NULL,'defrost','admin',1794790800.0,NULL);
INSERT INTO "silences" VALUES(2,'dev-a/fridge-1','[]',NULL,NULL,NULL,NULL,NULL,'delivery','admin',1794790800.0,1794791100.0);
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    locale TEXT NOT NULL DEFAULT 'zh-CN',
    disabled INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
INSERT INTO "users" VALUES(1,'admin','管理员','admin','zh-CN',0,'$argon2id$v=19$m=8192,t=1,p=1$P4pFILejWDM6/WIEPZyGGA$lqGhAFMxSGgYv+YlmxbUlqUmiSduXd2BtMDKnESlQ7c',1.7961928854124708175e+09,1.7961928854124708175e+09);
INSERT INTO "users" VALUES(2,'wang','王老师','canteen_manager','zh-CN',0,'$argon2id$v=19$m=8192,t=1,p=1$x+YisorVVgY+xnaGmKjAqA$eCJBiPSuH3j9lN7xZ8gqRvLTxYBRSU+cbfeZB0uAMAk',1.7961928854249579906e+09,1.7961928854249579906e+09);
INSERT INTO "users" VALUES(3,'gate','门卫','gatekeeper','zh-CN',0,NULL,1.79619288542531609529e+09,1.79619288542531609529e+09);
CREATE INDEX alerts_by_state ON alerts (state);
CREATE INDEX alerts_by_time ON alerts (started_at);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX login_failures_by_key ON login_failures (key, ts);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('alerts',4);
INSERT INTO "sqlite_sequence" VALUES('audit',20);
INSERT INTO "sqlite_sequence" VALUES('dead_letters',1);
INSERT INTO "sqlite_sequence" VALUES('silences',2);
INSERT INTO "sqlite_sequence" VALUES('users',3);
INSERT INTO "sqlite_sequence" VALUES('api_tokens',1);
COMMIT;
