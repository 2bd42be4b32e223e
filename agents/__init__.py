"""Long-running per-node agents: the node agent (a kubelet with the scheduler role) and the service proxy.

They are not reconcilers of one kind but processes that own a node's share of the
work; they run on the same process runtime as the controllers (controllers.runtime).
"""
