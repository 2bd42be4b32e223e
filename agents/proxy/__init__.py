"""The service proxy (``kubelite proxy``): kube-proxy's job, done in user space on loopback addresses.

``servicemap`` turns Services and EndpointSlices into service ports and the
endpoints each traffic policy may use; ``dataplane`` listens on ClusterIPs,
NodePorts and LoadBalancer IPs and forwards connections; ``iptables``
renders the rules kube-proxy's iptables mode would program for the same
state; ``main`` is the process.
"""
