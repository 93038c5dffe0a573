"""The alert engine: applies the pure rules to incoming data and keeps the alert records."""
