"""Reproducible measurements (`make bench`, `make eval`)."""
