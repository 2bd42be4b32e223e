"""kctl: a small kubectl-like client built on kubelite's async client library.

Why: users already know kubectl's verbs, flags and output shapes, so kctl
copies them (tabwriter columns, the server's Table responses, error lines and
exit codes) instead of inventing its own; everything talks to the API server
through ``kubeclient.client.Client``.
"""
