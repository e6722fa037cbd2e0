"""Adapters built on httpx: the HTTP transport of outbound webhooks."""
