"""Storage: accessors (disk, SFTP), structures and file sequences.

Nothing here depends on a session: accessors move bytes for a resource identifier, structures
compute resource identifiers from entities (ours or the official client's), and
:mod:`shotbase.storage.sequence` parses and formats file sequence expressions.
"""

from __future__ import annotations

__all__: list[str] = []
