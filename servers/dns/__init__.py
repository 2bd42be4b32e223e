"""Cluster DNS: Services, EndpointSlices and Pods published as DNS records.

Why a package of its own: the records are a pure function of the cluster
objects (``view`` indexes them, ``answer`` maps one question to one response),
while ``cache`` and ``server`` turn those responses into wire bytes served at
line rate, and ``main`` feeds the view from informers.
"""
