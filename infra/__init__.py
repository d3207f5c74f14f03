"""The Pulumi program, and only that: its inputs, the Scheduler component, and the dynamic
providers in `infra.providers`. It uses `cronflare`; nothing in `cronflare` imports it.
"""
