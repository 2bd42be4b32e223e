"""Robustness: a recorded history of API operations and watches, checked for linearizability and watch guarantees.

Why its own package: the checker is pure (``history``, ``linearizable``, ``watches``) and table-tested on
its own; ``traffic`` drives a live API server through ``kubeclient`` to produce the histories it checks.
It sits on the client floor: it may import apimachinery and kubeclient, nothing of the server.
"""
