"""PostgreSQL plumbing shared by the district service and a school hub's PostgreSQL series store.

The private cluster the tests, benches and demo start (``server``), numbered schema
steps under an advisory lock (``schema``) and a small connection pool (``pool``).
Nothing here knows about schools, readings or records.
"""
