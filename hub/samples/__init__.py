"""Food-sample retention (留样): every meal sampled, kept 48 hours, cold the whole time, and on record.

``config`` holds the numbers a province may set differently, ``rules`` the pure
decisions (deadlines, overlaps, weights), ``store`` the record in SQLite,
``monitor`` what runs in the hub (edge events, timers, alarms), ``labels`` the
printable box labels and ``daily`` the daily record (留样记录). This package
imports nothing at package level so that ``hub.settings`` can use its config.
"""
