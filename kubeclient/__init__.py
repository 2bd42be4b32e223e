"""kubelite's client library: an async Kubernetes REST client and the kctl CLI."""
