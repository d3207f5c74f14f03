"""What runs on Modal: the Modal app, the signed dispatcher, the job wrapper and its executors
(Modal's spawn, or local worker processes), the idempotency store, request signing, and the
RunContext a handler receives.

Imports `cronflare.catalog` only. This package ships in the Modal image, so it must not import
Pulumi, the CLI or anything that image does not install (rich, typer).
"""
