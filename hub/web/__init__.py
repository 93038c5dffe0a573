"""The web app staff use on their phones: a view per role, live over server-sent events, in Chinese and English."""
