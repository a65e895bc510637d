"""The engine's API as types: request bodies (types.py), the reply views clients read (views.py),
bytes to types at the edge (wire.py) and the OpenAPI document generated from them (openapi.py).

No kernel, no UI: the engine, the client and every front end import it.
"""
