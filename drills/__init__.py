"""Fault drills (`make drill`): break the platform the way production breaks and print what held.

Each drill runs against PostgreSQL and a real gunicorn with deploy/gunicorn.conf.py, prints one PASS/FAIL
line with its numbers, and `python -m drills` exits non-zero if any failed. docs/operations.md says what
each one proves.
"""
