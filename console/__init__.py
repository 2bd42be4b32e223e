"""The live console: a web page of Services, their selectors and Pods, served by a client of the API server."""
