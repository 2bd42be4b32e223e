"""kctl's verbs, one module per kubectl command family."""
