"""Probe calibration: checks against a reference on record, offsets sent to the edge, reminders when due.

``config`` is the ``calibration:`` section of the hub config, ``kinds`` the domain values,
``rules`` the pure maths (the offset a check proposes, pass or fail, when a probe is due),
``store`` the record (``calibration.sqlite3``) and ``service`` the component the hub
composes (docs/alerts.md, "Calibration").
"""
