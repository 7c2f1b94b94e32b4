"""What ``artdirector serve`` is configured with, checked before anything loads (light: the CLI imports it)."""

from __future__ import annotations

from dataclasses import dataclass

from artdirector.errors import BadInput


@dataclass(frozen=True)
class ServeSettings:
    token: str | None = None  # required as a bearer token on every /v1 call when set
    queue: int = 16  # requests that may wait for the director; one more gets 503
    max_body: int = 256 * 1024  # bytes
    retry_after: int = 2  # seconds, in a 503's Retry-After
    kept_runs: int = 200  # image runs kept on disk (and served at /v1/images); older ones are deleted

    def __post_init__(self) -> None:
        if self.queue < 1 or self.max_body < 1024:
            raise BadInput("the queue holds at least 1 request and a body may be at least 1024 bytes")
        if self.kept_runs < 1:
            raise BadInput("the server keeps at least 1 image run")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose the director beyond this machine without a token."""
    if host not in LOOPBACK and not token:
        raise BadInput(f"serving on {host} would let anyone on the network use this machine: give a token "
                       "(ARTDIRECTOR_TOKEN) or bind 127.0.0.1")
