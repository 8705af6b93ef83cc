"""Owner ids and how to tell that an owner on this machine has died."""

from __future__ import annotations

import os
import socket
import uuid


def new_owner_id() -> str:
    """``host:pid:random`` — unique per runner, and telling where its process lives."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def is_dead_local_owner(owner: str) -> bool:
    """True when ``owner`` names a process of this machine that no longer exists.

    Such an owner's runs can be taken over at once instead of after its lease lapses
    (a crashed server restarted on the same machine resumes its jobs immediately).
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
