"""Debugging tools, plugged into the engine through core/hooks.py: anomaly detection, strict
broadcasting, the growing-graph warning, node-by-node gradcheck, and where nodes were made."""
