"""Offline conversion upload that never loses a row: read, validate, hash, batch, report every row."""
