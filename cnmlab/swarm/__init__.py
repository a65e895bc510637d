"""Services, as a simplified swarm: replicas, a virtual IP, DNS names and a routing mesh.

- service.py: the Service record, its Docker-shaped JSON and its events (no kernel imports);
- lb.py: the load balancer as iptables rules: the VIP in each sandbox, the mesh on each host;
- manager.py: create / scale / remove / restore, through the controller;
- feature.py: the engine routes (/services) and the controller hooks.
"""
