"""Alarm rules as pure functions of (rule, state, input, time) → (state, transition); no I/O here."""
