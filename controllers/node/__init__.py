"""The node agent (``kubelite node``): a simulated kubelet, scheduler and node lifecycle controller.

Why simulated (in the spirit of kwok): Services need Pods that have IPs,
phases and readiness, but nothing here runs containers. ``ipam`` hands out
pod IPs from the Node's podCIDR, ``status`` computes the Pod and Node status
a kubelet would post, ``agent`` applies them to this node's Pods, and the
elected ``scheduler`` and ``lifecycle`` act cluster-wide in one agent at a
time; ``main`` wires the process.
"""
