"""Newsdesk's index: ingest, chunking, embedding, storage and search."""
