"""The embedded DNS server at 127.0.0.11, as Docker runs one in every user-network sandbox.

- names.py: the name table (who may resolve what, on which network);
- server.py: one thread that answers every sandbox's queries (dnslib does the wire format);
- sandbox.py: per-sandbox plumbing: sockets, Docker's DOCKER_OUTPUT/DOCKER_POSTROUTING nat
  chains, and the sandbox's resolv.conf;
- feature.py: hooks it all into the controller and the engine (routes, inspect fields);
- events.py: the query log, as typed events.

Importing this package (or events.py) loads no kernel library: fronts may import the events.
"""
