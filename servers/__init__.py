"""Long-running servers beside the API server: the cluster DNS server.

It follows the API through the controllers' process runtime (controllers.runtime)
and answers on its own port.
"""
