"""The IRIS adapter: an httpx client, the JSON-to-domain parser, the simulator and its demo data."""
