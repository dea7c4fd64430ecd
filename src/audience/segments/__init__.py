"""Segments: named groups of contacts, from clustering or from rules."""
