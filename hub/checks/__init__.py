"""Checklists (日巡视 / 周排查 / 月总查, the food-safety daily record) and hazards that become work orders.

``config`` is the ``checks:`` settings slice, ``rules`` the pure rules (what is due when,
what an answer needs, how a work order moves), ``store`` the record (``checks.sqlite3``),
``prefill`` the answers the hub's own data gives, and ``service`` the component the hub
composes and the routes depend on.
"""
