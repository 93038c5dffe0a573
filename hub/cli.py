"""The ``xiaoan`` command. Imports are deferred so ``xiaoan edge`` on a Pi needs nothing of the hub."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.notify.managed import NotifySettings
    from hub.settings import HubSettings
    from hub.setup.service import SchoolSetup
    from hub.store.influx_series import InfluxSeriesStore
    from hub.store.sqlite_series import SqliteSeriesStore
    from hub.store.state import StateStore


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _cmd_hub(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import create_app
    from hub.auth.bootstrap import ensure_first_admin
    from hub.auth.store import AccountStore
    from hub.http_limits import raise_open_files_limit, server_config
    from hub.runtime import check_site
    from hub.settings import load_settings
    from hub.store.sqlite import known_versions, refuse_newer

    settings = load_settings()
    # Before anything opens (and so upgrades) a database: one from a newer release stops here with its message.
    refuse_newer(settings.db_dir, known_versions())
    accounts = AccountStore(settings.db_dir / "hub.sqlite3")
    try:
        ensure_first_admin(accounts, sys.stdout)
    finally:
        accounts.close()
    check_site(settings)  # a hub holding two schools' devices from before stops here, naming them
    # Every connection is a file descriptor: the kernel's usual 1024 must not be what limits the hub.
    open_files, _ = raise_open_files_limit()
    app = create_app(settings)
    uvicorn.Server(server_config(app, settings, open_files)).run()
    return 0


def _cmd_edge(args: argparse.Namespace) -> int:
    from edge.configfile import load_edge_settings

    if args.edge_command == "check-config":
        from edge.checkfiles import Reader, check_files, default_reader

        config = Path(args.file)
        if config.exists() and not os.access(config, os.R_OK):
            print(f"xiaoan edge check-config: {config}: permission denied: it is the service's (640 root:xiaoan);"
                  f" run it with sudo: sudo {sys.argv[0]} edge check-config {config}", file=sys.stderr)
            return 2
        settings = load_edge_settings(config)
        if not args.syntax_only:
            try:
                reader = Reader.named(args.user) if args.user else default_reader()
            except KeyError:
                print(f"xiaoan edge check-config: --user: no user {args.user!r} on this machine", file=sys.stderr)
                return 2
            problems = check_files(settings, reader)
            for problem in problems:
                print(f"{config}: {problem}", file=sys.stderr)
            if problems:
                return 2
        print(f"{args.file}: OK — site {settings.site}, device {settings.device}, {len(settings.sources)} sources"
              + ("" if args.syntax_only else f"; the files it names are readable by {reader.name}"))
        if args.online:
            from edge.checkbroker import check_broker
            from edge.clock import clock_report, kernel_clock_synced

            print(clock_report(settings.clock_sync_check, kernel_clock_synced()))
            answer = check_broker(settings.broker)
            print(answer.line, file=sys.stdout if answer.ok else sys.stderr)
            if not answer.ok:
                return 2
        return 0
    if args.edge_command == "scan":
        from edge.scan import format_scan, scan_serial, scan_w1

        base = Path(args.w1_base)
        print(format_scan(base, scan_w1(base), scan_serial()))
        return 0
    if args.config is None:
        print("xiaoan edge: --config FILE is required", file=sys.stderr)
        return 2
    from edge.agent import Agent
    from edge.clock import SystemClock

    settings = load_edge_settings(Path(args.config))
    agent = Agent(settings, SystemClock(settings.clock_sync_check))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    agent.run()
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from hub.audit import verify_chain
    from hub.settings import load_settings
    from hub.store.state import StateStore

    settings = load_settings()
    path = settings.db_dir / "hub.sqlite3"
    if not path.exists():
        print(f"xiaoan audit: no hub database at {path} (set XIAOAN_HOME)", file=sys.stderr)
        return 2
    store = StateStore(path)
    try:
        entries = store.audit_entries()
    finally:
        store.close()
    problems = verify_chain(entries)
    for problem in problems:
        print(f"TAMPERED: {problem}")
    if problems:
        return 1
    head = entries[-1].hash if entries else "(empty)"
    print(f"audit log intact: {len(entries)} entries, head {head}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo

    return run_demo(Path(args.home) if args.home else None, duration_s=args.duration)


def _cmd_store(args: argparse.Namespace) -> int:
    """Copy the SQLite series history into the store XIAOAN_STORE names (the hub may keep running): InfluxDB
    (XIAOAN_INFLUX_*) or PostgreSQL; with ``--verify`` compare the two and exit 1 on a difference."""
    from hub.settings import load_settings

    settings = load_settings()
    source_path = Path(args.source) if args.source else settings.db_dir / "readings.sqlite3"
    if not source_path.exists():
        print(f"xiaoan store copy: {source_path} does not exist (set XIAOAN_HOME or --from)", file=sys.stderr)
        return 2
    if args.verify and args.restart:
        print("xiaoan store copy: --verify copies nothing, so --restart has no meaning with it", file=sys.stderr)
        return 2
    if settings.store == "postgresql":
        return _copy_into_postgres(settings, source_path, args.batch, args.verify)

    from hub.store.copy import copy_history
    from hub.store.select import open_influx
    from hub.store.sqlite_series import SqliteSeriesStore
    from hub.store.state import StateStore

    checkpoint = Path(str(source_path) + ".copy-progress.json")
    if args.restart:
        checkpoint.unlink(missing_ok=True)
    state = StateStore(settings.db_dir / "hub.sqlite3")
    source = SqliteSeriesStore(source_path)
    target = open_influx(settings, state, site_refresh_s=0.0)
    try:
        if args.verify:
            return _verify_store(settings, source, target)
        progress = copy_history(source, target, checkpoint, batch=args.batch)
    finally:
        target.close()
        source.close()
        state.close()
    copied = progress.copied
    print(f"copied {copied['readings']} readings, {copied['events']} events, {copied['readings_hourly']} hourly"
          f" aggregates to {settings.influx_url} database {settings.influx_database} (InfluxDB now holds"
          f" {progress.readings} readings, {progress.events} events, {progress.hourly} hourly aggregates of"
          " SQLite's)")
    return 0


def _copy_into_postgres(settings: HubSettings, source_path: Path, batch: int, verify: bool) -> int:
    """``xiaoan store copy`` with XIAOAN_STORE=postgresql: no checkpoint, each run copies everything again."""
    from hub.store.pg_copy import copy_into_postgres, verify_postgres_copy
    from hub.store.pg_series import PostgresSeriesStore
    from hub.store.sqlite_series import SqliteSeriesStore

    assert settings.postgres_dsn is not None  # the settings require it with store=postgresql
    source = SqliteSeriesStore(source_path)
    target = PostgresSeriesStore(settings.postgres_dsn)
    try:
        if verify:
            result = verify_postgres_copy(source, target)
            for difference in result.differences:
                print(difference)
            if result.differences:
                print(f"verify: {len(result.differences)} differences ({result.compared} sensors' readings and"
                      " events compared, and every kept hourly aggregate)")
                return 1
            print(f"verify: PostgreSQL holds what SQLite holds ({result.compared} sensors' readings and events"
                  " compared, and every kept hourly aggregate)")
            return 0
        copied = copy_into_postgres(source, target, batch=batch)
    finally:
        target.close()
        source.close()
    print(f"copied {copied.readings} readings, {copied.events} events, {copied.hourly} hourly aggregates to"
          " PostgreSQL" + (f"; {copied.below_cut} readings and events below its last cut were left to its kept hours"
                           if copied.below_cut else ""))
    return 0


def _verify_store(settings: HubSettings, source: SqliteSeriesStore, target: InfluxSeriesStore) -> int:
    from zoneinfo import ZoneInfo

    from hub.store.verify import verify_copy

    days = 86_400.0
    result = verify_copy(source, target, ZoneInfo(settings.timezone),
                         None if settings.raw_retention_days is None else settings.raw_retention_days * days,
                         None if settings.hourly_retention_days is None else settings.hourly_retention_days * days)
    for difference in result.differences:
        print(difference)
    for note in result.notes:
        print(f"note: {note}")
    compared = ", ".join(f"{kind} {rows} on {sensor_days} sensor-days" for kind, (sensor_days, rows)
                         in result.compared.items())
    if result.differences:
        print(f"verify: {len(result.differences)} sensor-days differ ({compared} compared)")
        return 1
    print(f"verify: InfluxDB holds what SQLite holds ({compared} compared, per sensor and {settings.timezone} day)")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from hub.report.command import run

    return run(args)


def _cmd_provision(args: argparse.Namespace) -> int:
    """Broker accounts and ACL (hub.provision); the files go where the school's Mosquitto reads them."""
    from hub.provision import RELOAD_HINT, Provisioner, ProvisionError, edge_snippet

    provisioner = Provisioner(Path(args.dir), broker_user=args.broker_user or None)
    try:
        if args.provision_command == "list":
            for entry in provisioner.entries():
                print(f"{entry.username:24s} {entry.role:7s} {entry.site}")
            return 0
        if args.provision_command == "revoke":
            provisioner.revoke(args.name)
            print(f"revoked {args.name}; {RELOAD_HINT}")
            return 0
        issued = provisioner.add_hub() if args.provision_command == "hub" else provisioner.add_device(
            args.name, args.site)
    except ProvisionError as error:
        print(f"xiaoan provision: {error}", file=sys.stderr)
        return 2
    print(f"# {issued.entry.role} account {issued.entry.username}: password in {issued.password_file}")
    if issued.entry.role == "hub":
        print(f"XIAOAN_MQTT_USERNAME={issued.entry.username}\nXIAOAN_MQTT_PASSWORD_FILE={issued.password_file}")
    else:
        print("# 设备配置 / edge config (broker part):")
        print(edge_snippet(issued, args.broker_host, args.broker_port,
                           Path(args.ca_file) if args.ca_file else None), end="")
    print(f"# {RELOAD_HINT}")
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    """One backup archive now (the hub may keep running), as the nightly duty writes them."""
    import sqlite3
    import tarfile

    from hub.backup import BackupError, backup_sources, make_backup, prune
    from hub.settings import load_settings

    settings = load_settings()
    directory = Path(args.to) if args.to else settings.backup_dir
    if directory is None:
        print("xiaoan backup: say where: --to DIR (or set XIAOAN_BACKUP_DIR)", file=sys.stderr)
        return 2
    broker_dir = Path(args.broker_dir) if args.broker_dir else settings.backup_broker_dir
    try:
        result = make_backup(backup_sources(settings, broker_dir), directory)
        pruned = prune(directory, args.keep) if args.keep else []
    except (BackupError, OSError, sqlite3.Error, tarfile.TarError) as error:
        print(f"xiaoan backup: {error}", file=sys.stderr)
        return 1
    print(f"{result.archive}: {result.files} files, {result.databases} databases, {result.size} bytes")
    for path in pruned:
        print(f"deleted the older backup {path}")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    """A backup into an empty state directory (or over one, with --force, the hub stopped)."""
    import tarfile

    from hub.backup import BackupError, restore
    from hub.settings import load_settings

    home = Path(args.home) if args.home else load_settings().home
    try:
        result = restore(Path(args.archive), home, force=args.force,
                         broker_dir=Path(args.broker_dir) if args.broker_dir else None,
                         config_dir=Path(args.config_dir) if args.config_dir else None)
    except (BackupError, OSError, tarfile.TarError) as error:
        print(f"xiaoan restore: {error}", file=sys.stderr)
        return 2
    print(f"restored {result.files} files ({result.databases} databases) into {home}")
    for target, original in sorted(result.config.items()):
        print(f"  config {target} (was {original}: copy it back there, or point the setting at it)")
    if result.broker_dir is not None:
        print(f"  broker accounts in {result.broker_dir} (then: sudo systemctl reload mosquitto)")
    return 0


def _open_notify_settings() -> NotifySettings:
    from hub.notify.managed import NotifySettings
    from hub.settings import load_settings
    from hub.store.settings import SettingsStore

    settings = load_settings()
    required = {tier.route for policy in settings.rules.alerts.policies.values() for tier in policy.tiers}
    return NotifySettings(SettingsStore(settings.db_dir / "settings.sqlite3"), required)


def _open_setup() -> tuple[SchoolSetup, StateStore]:
    """The admin page's setup over this hub's YAML, with the record it audits to (close both)."""
    from hub.settings import load_settings
    from hub.setup.service import SchoolSetup
    from hub.store.settings import SettingsStore
    from hub.store.state import StateStore

    settings = load_settings()
    state = StateStore(settings.db_dir / "hub.sqlite3")
    return SchoolSetup(SettingsStore(settings.db_dir / "settings.sqlite3"), settings.rules, state, state), state


def _write_export(text: str, output: str | None) -> None:
    if output:
        out = Path(output)
        # With secrets, a file only its owner reads (the umask may be wider than the hub's).
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(out, 0o600)
    else:
        sys.stdout.write(text)


def _cmd_setup_export(args: argparse.Namespace) -> int:
    """The admin page's setup (sensors, terms, holidays, door groups) as YAML."""
    import yaml

    setup, state = _open_setup()
    try:
        data, latest = setup.export(), setup.latest()
    finally:
        setup.store.close()
        state.close()
    if latest is None:
        print("xiaoan config export: nothing set up on the admin page yet", file=sys.stderr)
        return 1
    head = f"# xiaoan admin page setup (sensors, terms, holidays, door groups), version {latest.id}\n"
    _write_export(head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), args.output)
    return 0


def _cmd_setup_import(args: argparse.Namespace) -> int:
    """A YAML file as the next version of the admin page's setup: checked as a whole, then saved, or nothing."""
    import getpass

    from edge.yamlconfig import load_yaml
    from hub.errors import FieldError
    from hub.store.settings import POLL_S

    path = Path(args.file)
    data, _lines = load_yaml(path)
    setup, state = _open_setup()
    try:
        saved = setup.replace(data if isinstance(data, dict) else {}, f"cli:{getpass.getuser()}")
    except FieldError as error:
        print(f"xiaoan config import: {path}: {error}", file=sys.stderr)
        return 2
    finally:
        setup.store.close()
        state.close()
    print(f"saved as version {saved.id} ({', '.join(saved.changes) or 'no change'});"
          f" a running hub uses it within {POLL_S:g} seconds")
    return 0


def _cmd_config_export(args: argparse.Namespace) -> int:
    """The notification settings in force as YAML: secrets masked unless --with-secrets."""
    import yaml

    if args.section == "setup":
        return _cmd_setup_export(args)
    notify = _open_notify_settings()
    try:
        data = notify.export(with_secrets=args.with_secrets)
        latest = notify.latest()
    finally:
        notify.store.close()
    if data is None:
        print("xiaoan config export: no notification settings saved yet", file=sys.stderr)
        return 1
    head = (f"# xiaoan notification settings, version {latest.id if latest else '?'}"
            + ("" if args.with_secrets else " (secrets masked: import keeps the ones this hub holds)") + "\n")
    _write_export(head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), args.output)
    return 0


def _cmd_config_import(args: argparse.Namespace) -> int:
    """A YAML file as the next version of the notification settings: checked as a whole, then saved, or nothing."""
    import getpass

    from edge.yamlconfig import load_yaml
    from hub.errors import FieldError
    from hub.notify.config import validate_notify_config
    from hub.store.settings import POLL_S

    if args.section == "setup":
        return _cmd_setup_import(args)
    path = Path(args.file)
    data, lines = load_yaml(path)
    notify = _open_notify_settings()
    try:
        unmasked = notify.unmask(data if isinstance(data, dict) else {})
        validate_notify_config(unmasked, path, lines)  # file:line: key for what the YAML itself gets wrong
        saved = notify.replace(unmasked, f"cli:{getpass.getuser()}")
    except FieldError as error:
        print(f"xiaoan config import: {path}: {error}", file=sys.stderr)
        return 2
    finally:
        notify.store.close()
    print(f"saved as version {saved.id} ({', '.join(saved.changes) or 'no change'});"
          f" a running hub uses it within {POLL_S:g} seconds")
    return 0


def _add_config_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = commands.add_parser("config", help="settings in the database (notification channels and routes, the"
                                 " admin page's setup), to and from YAML; a running hub follows an import")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    sections = {"choices": ("notify", "setup"), "default": "notify",
                "help": "notify: channels and routes (default); setup: sensors, terms, holidays, door groups"}
    export = config_commands.add_parser("export", help="write the settings in force as YAML (secrets masked)")
    export.add_argument("--section", **sections)  # type: ignore[arg-type]
    export.add_argument("--with-secrets", action="store_true",
                        help="write bot keys, webhook URLs and passwords in full (keep the file safe)")
    export.add_argument("-o", "--output", help="a file (mode 0600) instead of standard output")
    export.set_defaults(func=_cmd_config_export)
    imported = config_commands.add_parser("import", help="replace the settings with a YAML file, as a new version")
    imported.add_argument("file")
    imported.add_argument("--section", **sections)  # type: ignore[arg-type]
    imported.set_defaults(func=_cmd_config_import)


def _add_backup_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser("backup", help="back up the hub's databases, photos, reports, config and"
                                 " broker accounts into one archive (the hub may keep running)")
    backup.add_argument("--to", help="the directory for the archive (default: $XIAOAN_BACKUP_DIR)")
    backup.add_argument("--keep", type=int, default=None,
                        help="then delete all but the newest KEEP archives there")
    backup.add_argument("--broker-dir", help="also the broker's accounts (the directory of `xiaoan provision`,"
                        " e.g. /etc/mosquitto/xiaoan; default: $XIAOAN_BACKUP_BROKER_DIR)")
    backup.set_defaults(func=_cmd_backup)
    restore = commands.add_parser("restore", help="restore a backup archive into an empty state directory")
    restore.add_argument("archive")
    restore.add_argument("--home", help="the state directory to restore into (default: $XIAOAN_HOME)")
    restore.add_argument("--force", action="store_true",
                         help="overwrite a state directory that is not empty (stop the hub first)")
    restore.add_argument("--broker-dir", help="where the broker's account files go"
                         " (default: HOME/restored-config/broker)")
    restore.add_argument("--config-dir", help="where the config files go (default: HOME/restored-config)")
    restore.set_defaults(func=_cmd_restore)


def _add_provision_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``xiaoan provision``: the broker's accounts, passwords and ACL."""
    provision = commands.add_parser("provision", help="broker accounts: per-device passwords and ACL")
    provision.add_argument("--dir", default="/etc/mosquitto/xiaoan",
                           help="where the broker's passwd, acl and accounts.json live (default /etc/mosquitto/xiaoan)")
    provision.add_argument("--broker-user", default="mosquitto",
                           help="the user the broker runs as, who must read passwd and acl (default mosquitto;"
                                " '' for a broker that runs as you)")
    provision_commands = provision.add_subparsers(dest="provision_command", required=True)
    device = provision_commands.add_parser("device", help="a new device account; prints its edge config")
    device.add_argument("name")
    device.add_argument("--site", required=True, help="the school's site id (the topic level after v1)")
    device.add_argument("--broker-host", default="127.0.0.1", help="for the printed edge config")
    device.add_argument("--broker-port", type=int, default=1883, help="for the printed edge config")
    device.add_argument("--ca-file", help="the school CA, for a TLS listener (scripts/make-ca.sh)")
    provision_commands.add_parser("hub", help="the hub's account (reads every device, $SYS)")
    provision_commands.add_parser("list", help="accounts, roles and sites")
    revoke = provision_commands.add_parser("revoke", help="remove an account (its device is refused after reload)")
    revoke.add_argument("name")
    provision.set_defaults(func=_cmd_provision)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xiaoan", description="校安 xiaoan: school canteen and gate monitoring")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    hub = commands.add_parser("hub", help="run the hub (MQTT ingest, alerts, API, web) — settings from XIAOAN_*")
    hub.set_defaults(func=_cmd_hub)

    edge = commands.add_parser("edge", help="run an edge agent, or check its config")
    edge.add_argument("--config", help="the device's YAML config")
    edge_commands = edge.add_subparsers(dest="edge_command")
    check = edge_commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file")
    check.add_argument("--online", action="store_true",
                       help="also check this machine as the node will run on it: is the clock synced, does the"
                            " broker answer (address, port, TLS and the school CA)")
    check.add_argument("--syntax-only", action="store_true",
                       help="check the keys and values only, not the files the config names"
                            " (a config written on another machine)")
    check.add_argument("--user", help="whose access to the files to check (default: the service user xiaoan"
                       " when run with sudo, else you)")
    scan = edge_commands.add_parser("scan", help="list the 1-wire probes and serial ports this machine sees")
    scan.add_argument("--w1-base", default="/sys/bus/w1/devices", help="the kernel's 1-wire sysfs directory")
    edge.set_defaults(func=_cmd_edge)

    audit = commands.add_parser("audit", help="the hub's audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="check the hash chain; exit 1 if it was tampered with")
    audit.set_defaults(func=_cmd_audit)

    demo = commands.add_parser("demo", help="broker + hub + simulated canteen and gate nodes, with real alarms")
    demo.add_argument("--home", help="state directory (default: $XIAOAN_HOME or ./var)")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.set_defaults(func=_cmd_demo)

    from hub.auth.cli import add_parser as add_user_parser

    add_user_parser(commands)

    store = commands.add_parser("store", help="time-series store tools")
    store_commands = store.add_subparsers(dest="store_command", required=True)
    copy = store_commands.add_parser("copy", help="copy history from the SQLite series store to the store"
                                     " XIAOAN_STORE names: InfluxDB (resumable; XIAOAN_INFLUX_* name it) or"
                                     " PostgreSQL (XIAOAN_POSTGRES_DSN; each run copies everything again)")
    copy.add_argument("--from", dest="source",
                      help="the SQLite series file (default: $XIAOAN_HOME/hub/readings.sqlite3)")
    copy.add_argument("--batch", type=int, default=5000, help="points per write (default 5000)")
    copy.add_argument("--restart", action="store_true",
                      help="ignore the checkpoint of an earlier run (InfluxDB; PostgreSQL keeps none)")
    copy.add_argument("--verify", action="store_true",
                      help="copy nothing: compare SQLite with the target (InfluxDB: per sensor and day;"
                           " PostgreSQL: per sensor, and every kept hourly aggregate), exit 1 on a difference")
    store.set_defaults(func=_cmd_store)

    _add_provision_parser(commands)
    _add_backup_parsers(commands)
    _add_config_parser(commands)

    from hub.report.command import add_arguments

    report = commands.add_parser("report", help="a daily / weekly / monthly report as PDF, JSON and raw-reading CSV")
    add_arguments(report)
    report.set_defaults(func=_cmd_report)
    return parser


#: Commands whose files hold secrets or school data: password hashes and the audit log (hub.sqlite3),
#: photos, readings, the edge outbox, broker accounts, backups of them. Nothing they create is for other local users.
#: (``user`` and ``store`` may be the first to create a database in the state directory.) Not
#: ``report``: it writes where it is told, files made to be handed on.
PRIVATE_COMMANDS = frozenset({"hub", "edge", "demo", "provision", "user", "store", "audit", "backup", "restore",
                              "config"})
PRIVATE_UMASK = 0o077


def main(argv: list[str] | None = None) -> int:
    from edge.yamlconfig import ConfigError
    from hub.sites import SiteConflict
    from hub.store.sqlite import SchemaTooNew

    args = build_parser().parse_args(argv)
    if args.command in PRIVATE_COMMANDS:
        # Before anything is opened: SQLite creates its -wal and -shm files with the database's
        # mode, and directories made on the way inherit the umask too.
        os.umask(PRIVATE_UMASK)
    _configure_logging(args.verbose)
    try:
        result: int = args.func(args)
    except (ConfigError, SchemaTooNew, SiteConflict) as error:
        print(f"xiaoan: {error}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
