"""What the Modal image carries: the Python packages the runtime needs, and the local sources."""

# The runtime's own third-party packages, pinned as in pyproject.toml (a test checks).
PYTHON_PACKAGES = (
    "cronsim==2.8",
    "fastapi==0.165.0",
    "httpx==0.28.1",
    "pydantic==2.14.3",
    "pyyaml==6.0.3",
    "tzdata==2026.6",
)
# The machinery and the user's jobs: the image carries both, and a change to either redeploys.
SOURCE_PACKAGES = ("cronflare", "jobs")
# What the watcher of a target's call asks for: Modal's smallest container (0.125 cores,
# 128 MiB), gone 2 s (Modal's shortest scaledown window) after the call it watched. Here, not
# in modal_app, so that `cronflare cost` prices the same numbers without importing Modal.
WATCHER_CPU, WATCHER_MEMORY, WATCHER_SCALEDOWN = 0.125, 128, 2
