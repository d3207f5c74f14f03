"""cronflare's test suite: one folder per package it tests (catalog/, runtime/, local/, cost/,
infra/, jobs/, bench/), with shared fixtures, the cron oracle and the shared vectors here.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
