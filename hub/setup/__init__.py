"""The school's own setup from the admin page: sensors named and assigned, terms, holidays and door groups.

``model`` holds the page's document, ``rules`` lays it over the YAML baseline (pure),
``service`` versions it in ``settings.sqlite3`` and hands the result to the running hub.
"""
