"""The validation step of a request: the document's limits, the subject count and graphql-core's
validation, each cached by the document's text; a refusal is logged for every subject named."""

from __future__ import annotations

from graphql import DocumentNode
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from api.errors import DomainError
from api.i18n import current_locale

from .errors import to_graphql_error
from .limits import DocumentLimits, QueryTooComplex, check_document
from .named_subjects import named_subjects
from .text_cache import TextCache

# documents validate once per language: (schema, text, rules, locale) -> errors
_validated = TextCache()
# the limits' verdict on a document within them (one over a limit is checked again, so that
# each refusal gets its own error)
_within_limits = TextCache()


def _validate(schema, document: DocumentNode, rules: tuple, text: str | None, locale: str) -> list:
    """Once per document and language: a literal's error (a bad Date, schema/scalars.py) is
    written in the language of the request."""
    if text is None:
        return validate_document(schema, document, rules)
    return _validated.get((schema, text, rules, locale), lambda: validate_document(schema, document, rules), text)


def _over_limits(
    document: DocumentNode, limits: DocumentLimits, text: str | None
) -> QueryTooComplex | None:
    if text is not None and _within_limits.get(
        (text, limits), lambda: check_document(document, limits) is None, text
    ):
        return None
    return check_document(document, limits)


LIMITS = DocumentLimits()


async def check_request(ec: ExecutionContext) -> None:
    """The validation step (schema/extension.py), in place of strawberry's ValidationCache: the
    document's limits (schema/limits.py) first, then the request's subject count (the batch
    maximum across all fields), and only then graphql-core's validation, with introspection
    refused unless the settings turn it on. A refusal names the limit and is logged for every
    subject the document named."""
    ctx = ec.context
    document = ec.graphql_document
    assert document is not None  # parsed, or strawberry answered already
    named = named_subjects(
        document, ec.operation_name, ec.variables, ctx.principal.subject_key
    )
    refusal: DomainError | None = (
        ctx.operation_refusal or _over_limits(document, LIMITS, ec.query) or ctx.over_batch(named)
    )
    if refusal is not None:
        try:
            await ctx.refuse(named, refusal)
        except DomainError as e:  # the refusal could not be logged: say so
            refusal = e
        ec.pre_execution_errors = [to_graphql_error(refusal)]
    else:
        rules = tuple(ec.validation_rules)
        if not ctx.state.settings.graphql_introspection:
            rules = (*rules, NoSchemaIntrospectionCustomRule)
        ec.pre_execution_errors = _validate(ec.schema._schema, document, rules, ec.query, current_locale())
