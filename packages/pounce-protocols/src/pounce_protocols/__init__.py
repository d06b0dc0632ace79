"""Sans-I/O protocol machines for the Pounce ASGI server.

``pounce_protocols.http1`` contains the HTTP/1.1 machines.
"""

from __future__ import annotations

__all__: list[str] = []
