"""Labeling rules as pure code; persistence sits behind ports.py."""
