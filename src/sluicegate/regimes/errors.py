"""Errors raised while reading law-as-data files: they name the file and the key."""

from __future__ import annotations


class RegimeDataError(ValueError):
    """A regime, reform or data file is malformed; the message names file and key."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.reason = message
        super().__init__(f"{file}: {key}: {message}" if key else f"{file}: {message}")


class UnknownRegimeError(KeyError):
    def __init__(self, regime_id: str, known: list[str]) -> None:
        import difflib

        close = difflib.get_close_matches(regime_id, known, n=3, cutoff=0.4)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        self.regime_id = regime_id
        self.message = f"unknown regime {regime_id!r}{hint}; known: {', '.join(known)}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
