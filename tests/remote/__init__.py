"""The day-two commands against a live Worker: a fake one (httpx.MockTransport), then the local
stack's real one.
"""
