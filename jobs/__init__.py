"""cronflare's Modal side: the job catalog, its schedules, and the handlers that run on Modal."""
