"""The node agent (``kubelite node``): a kubelet, plus the elected scheduler and node lifecycle controller.

Two runtimes. The simulated one (the default, in the spirit of kwok) runs
nothing: Services need Pods that have IPs, phases and readiness, and
``status`` computes what a kubelet would post. The process runtime
(``--runtime process``, ``runtime``) runs every container as a local
process bound to its loopback Pod IP: ``podenv`` builds its environment and
command line, ``probes`` checks it, ``containerlogs`` keeps its output and
``kubeletserver`` serves it to ``kubectl logs``; ``echo`` holds the built-in
images. ``ipam`` hands out pod IPs from the Node's podCIDR, ``agent`` drives
this node's Pods, ``heartbeat`` keeps the Node and its Lease fresh, the
elected ``scheduler`` and ``lifecycle`` act cluster-wide in one agent at a
time; ``main`` wires the process.
"""
