"""Persisted operations: the GraphQL documents portals ship, listed in a manifest (Apollo's
persisted-query manifest: `{"format": "apollo-persisted-query-manifest", "version": 1,
"operations": [{"id": sha256(body), "name", "type", "body"}]}`), and the automatic persisted
queries of development mode (a hash the server does not know is answered PERSISTED_QUERY_NOT_FOUND;
the client sends the document once with its hash, which is checked and kept, bounded).

In deployment mode only listed documents run, whether named by hash or sent whole
(README "Persisted operations")."""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .env_base import ConfigError
from .errors import DomainError
from .i18n import _

FORMAT = "apollo-persisted-query-manifest"
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CACHE_CHARS = 8 << 20  # development's APQ cache: documents' characters kept at most


class OperationNotListed(DomainError):
    code = "OPERATION_NOT_LISTED"


class PersistedQueryNotFound(DomainError):
    code = "PERSISTED_QUERY_NOT_FOUND"


class PersistedQueryInvalid(DomainError):
    code = "PERSISTED_QUERY_INVALID"


def document_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """id -> body; every id must be its body's sha256 (a portal and the server agree byte for
    byte). A manifest that is not there is empty (development); a broken one stops start-up."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"CREDIT_PERSISTED_OPERATIONS {path}: not readable JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != 1:
        raise ConfigError(f"CREDIT_PERSISTED_OPERATIONS {path}: expected format {FORMAT!r}, version 1")
    listed: dict[str, str] = {}
    for n, op in enumerate(data.get("operations") or [], 1):
        body = op.get("body") if isinstance(op, dict) else None
        if not isinstance(body, str) or op.get("id") != document_hash(body):
            name = op.get("name") if isinstance(op, dict) else None
            raise ConfigError(f"CREDIT_PERSISTED_OPERATIONS {path}: operation {n} ({name}): "
                              "id is not the sha256 of its body")
        listed[op["id"]] = body
    return listed


def manifest_entry(body: str) -> dict[str, Any]:
    """The manifest's line for one document (`credit operations add`)."""
    from graphql import OperationDefinitionNode, parse

    ops = [d for d in parse(body).definitions if isinstance(d, OperationDefinitionNode)]
    name = ops[0].name.value if ops and ops[0].name else None
    kind = ops[0].operation.value if ops else "query"
    return {"id": document_hash(body), "name": name, "type": kind, "body": body}


@dataclass
class PersistedOperations:
    listed: dict[str, str]
    deployment: bool
    cache_size: int = 1000
    # the documents' characters kept, in all: a GraphQL body may be 1 MiB (mostly a comment or a
    # string: the parser's token limit does not bound it), and 1000 of them were a gigabyte
    cache_chars: int = CACHE_CHARS
    _registered: OrderedDict[str, str] = field(default_factory=OrderedDict)
    _chars: int = 0

    @classmethod
    def from_settings(cls, settings) -> PersistedOperations:
        return cls(load_manifest(settings.persisted_operations), settings.mode == "deployment",
                   settings.apq_cache_size)

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> tuple[str | None, DomainError | None]:
        """The document to run and the refusal, if any. A refusal with a document is logged for
        the subjects it names before it is answered; one without a document names none."""
        pq = (extensions or {}).get("persistedQuery")
        if pq is None:
            if query is not None and self.deployment and document_hash(query) not in self.listed:
                return query, not_listed()
            return query, None
        digest = pq.get("sha256Hash") if isinstance(pq, dict) else None
        if not (isinstance(pq, dict) and pq.get("version") == 1 and isinstance(digest, str)
                and SHA256.match(digest)):
            return query, PersistedQueryInvalid(
                _("extensions.persistedQuery needs version 1 and a sha256Hash of 64 lower-case "
                  "hex digits"), field="extensions.persistedQuery", rule="apq")
        if query is None:
            body = self.listed.get(digest) or (None if self.deployment else self._recall(digest))
            if body is not None:
                return body, None
            if self.deployment:
                return None, not_listed()
            return None, PersistedQueryNotFound(
                # Apollo clients know this refusal by the message's first word, in any language
                "PersistedQueryNotFound: " + _("the server does not know this persisted query; "
                                               "send the document with its hash once"), field="extensions.persistedQuery", rule="apq")
        if document_hash(query) != digest:
            return query, PersistedQueryInvalid(
                _("the sha256Hash given does not match the document"),
                field="extensions.persistedQuery.sha256Hash", rule="sha256")
        if digest in self.listed:
            return query, None
        if self.deployment:
            return query, not_listed()
        self._register(digest, query)
        return query, None

    def _recall(self, digest: str) -> str | None:
        body = self._registered.get(digest)
        if body is not None:
            self._registered.move_to_end(digest)
        return body

    def _register(self, digest: str, body: str) -> None:
        if digest in self._registered:
            self._registered.move_to_end(digest)
            return
        if len(body) > self.cache_chars // 16:
            return  # runs, but is not kept: one document may not push out sixteen others' worth
        self._registered[digest] = body
        self._chars += len(body)
        while len(self._registered) > self.cache_size or self._chars > self.cache_chars:
            self._chars -= len(self._registered.popitem(last=False)[1])


def not_listed() -> OperationNotListed:
    return OperationNotListed(
        _("deployment mode runs only the operations in the persisted operations manifest; "
          "send a listed document or its sha256Hash"),
        field="query", rule="persisted_operations")
