"""In-process online store: bounded deques per key. The default; no server needed."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence

from engine.state.protocol import Interaction, Recorded


class EmbeddedStore:
    name = "embedded"

    def __init__(self, max_len: int = 200) -> None:
        self._max_len = max_len
        self._sessions: defaultdict[str, deque[Interaction]] = defaultdict(self._new)
        self._users: defaultdict[str, deque[Interaction]] = defaultdict(self._new)

    def _new(self) -> deque[Interaction]:
        return deque(maxlen=self._max_len)

    async def record(self, events: Sequence[Recorded]) -> None:
        for e in events:
            self._sessions[e.session_id].append(e.interaction)
            if e.user_id is not None:
                self._users[e.user_id].append(e.interaction)

    async def session(self, session_id: str, limit: int) -> list[Interaction]:
        return _tail(self._sessions.get(session_id), limit)

    async def user(self, user_id: str, limit: int) -> list[Interaction]:
        return _tail(self._users.get(user_id), limit)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def _tail(q: deque[Interaction] | None, limit: int) -> list[Interaction]:
    if not q or limit <= 0:
        return []
    return list(q)[-limit:]
