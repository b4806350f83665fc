"""Calls: the lifecycle of every call the PBX hands to the controller, and its record."""
