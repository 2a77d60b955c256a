"""The Textual console. Imports domain, store API and sync; never httpx or tinydb."""
