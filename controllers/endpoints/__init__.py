"""The Endpoints and EndpointSlice controller (kube-controller-manager's two loops in one process).

Why one package: ``desired`` is the pure function from (Service, Pods, Nodes,
current objects) to the objects that should exist; ``triggertime`` and
``tracker`` carry the little state the real controllers keep between syncs;
``controller`` feeds all of it from informers and writes the difference.
"""
