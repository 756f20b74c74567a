"""The platform's own steps around a GraphQL operation, as one Strawberry extension.

Strawberry builds, per request and per step (operation, parse, validate, execute), a context
manager for every extension that has a hook for that step (a generator wrapped by contextlib,
functools.wraps included): with one extension per check that was nine extensions, 36 hook
look-ups and nine wrapped generators on every request (bench/README.md, "second pass"). Folded
here into one extension, in the order they ran as separate extensions (registration order on
the way in, the reverse on the way out):

- operation: the persisted operation (schema/persisted.py), the parser's token limit (what
  strawberry's MaxTokensLimiter set), the date-literal validation rule (AddValidationRules);
- parse: strawberry's ParserCache (its cache of parsed documents, 256 texts of at most 32 KiB);
- validate: the document's limits, subject count and cached validation (schema/validation.py);
- execute: unstorable text refused and logged (schema/text_input.py), the operation's label for
  the access log and metrics (schema/observe.py); after it, dates in variables name their field
  (schema/scalars.py).

Error masking (MaskErrors, made per request for its message's language) stays strawberry's own
extension, after this one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from graphql import parse
from strawberry.extensions import ParserCache, SchemaExtension

from .observe import label_operation
from .persisted import resolve_persisted
from .scalars import TemporalLiteralRule, name_temporal_fields
from .text_cache import MAX_CACHED_TEXT
from .text_input import refuse_bad_text
from .validation import check_request

MAX_TOKENS = 2000  # a document's tokens, counted by the parser
_parse = ParserCache(maxsize=256).cached_parse_document  # an LRU cache shared by the process


class CreditSteps(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        resolve_persisted(ec)  # a document named by hash; deployment: listed ones only
        ec.parse_options["max_tokens"] = MAX_TOKENS
        ec.validation_rules = (*ec.validation_rules, TemporalLiteralRule)  # dates: INVALID_INPUT
        yield

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        # a long document is parsed each time, not kept (schema/text_cache.py MAX_CACHED_TEXT)
        parse_ = _parse if len(ec.query) <= MAX_CACHED_TEXT else parse
        ec.graphql_document = parse_(ec.query, **ec.parse_options)
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        await check_request(self.execution_context)  # linear-cost limits, then validation
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        await refuse_bad_text(ec)  # unstorable text refused before anything runs (issue 9)
        label_operation(ec)
        yield
        name_temporal_fields(ec)
