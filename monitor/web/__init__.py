"""The web dashboard and the HTTP endpoint of ``monitor run`` (issue 12).

``server`` runs uvicorn on the service's event loop with the endpoint's limits; ``app``
routes requests (Starlette); ``views`` turns the store's values into pages (Jinja2,
autoescaped).  Every SQL query lives in ``monitor.store.dashboard``.
"""
