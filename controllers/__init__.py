"""Controllers: separate processes that reconcile objects through the API server."""
