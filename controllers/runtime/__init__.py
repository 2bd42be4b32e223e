"""The shared controller runtime: informer, workqueue, controller base, leader election, process plumbing."""
