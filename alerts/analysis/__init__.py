"""Incident analysis: an evidence pack of a window in, an explanation a person can act on out.

evidence.py builds the pack from the store, client.py asks Groq (or any
OpenAI-compatible server) through the official SDK, answer.py validates what
comes back, fallback.py explains the same evidence by rules when the model
can't, and runner.py ties them together for the Celery task in tasks.py.
"""
