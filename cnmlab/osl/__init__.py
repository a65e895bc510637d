"""The OS layer: the only code that talks netlink (pyroute2), sysctls or iptables.

Like libnetwork's osl package, it knows namespaces, links, addresses, routes and rules, and
nothing of networks or containers. Everything here runs inside the engine's private lab world.
"""
