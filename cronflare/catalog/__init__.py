"""The job catalog: its pydantic model, cron schedules (parse, next fires, the Cloudflare
dialect), validation with one `job <name>: <field>: <message>` line per problem, and loading
the user's catalog through CRONFLARE_CATALOG.

Imports nothing else of cronflare: every other part builds on this one.
"""
