"""Newsdesk's front ends, conversation and answering."""
