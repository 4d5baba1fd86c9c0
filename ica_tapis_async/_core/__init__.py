"""Sans-I/O core: builds requests and interprets answers without aiohttp or anyio.

Everything here is a pure function of its arguments, so retry decisions, headers, page tokens and
error mapping are tested without an event loop.
"""
