"""Reads of the quarterly menu: progress, quality signals, results."""
