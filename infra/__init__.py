"""cronflare's deploy side: stack settings, the deploy plan, the CLI and the Pulumi program."""
