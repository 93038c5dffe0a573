BEGIN TRANSACTION;
CREATE TABLE reminders (
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    reminded_at REAL NOT NULL,
    PRIMARY KEY (kind, label, reminded_at)
) WITHOUT ROWID;
INSERT INTO "reminders" VALUES('weekly','2026-W46',1794794400.0);
CREATE TABLE report_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO "report_meta" VALUES('last_weekly','2026-W46');
CREATE TABLE report_runs (
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    generated_at REAL NOT NULL,
    path TEXT NOT NULL,
    announced INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, label)
) WITHOUT ROWID;
INSERT INTO "report_runs" VALUES('daily','2026-11-16',1794790800.0,'reports/daily-2026-11-16.pdf',0);
INSERT INTO "report_runs" VALUES('weekly','2026-W46',1794790800.0,'reports/weekly-2026-W46.pdf',0);
CREATE TABLE signoffs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    signed_by TEXT NOT NULL,
    signer_name TEXT NOT NULL,
    signed_at REAL NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, label)
);
INSERT INTO "signoffs" VALUES(1,'weekly','2026-W46','admin','管理员',1794798000.0,'已审阅');
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('signoffs',1);
COMMIT;
