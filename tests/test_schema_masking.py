"""The masking of unexpected errors (schema/__init__.py CreditMaskErrors): an error with no code
of ours is answered with the masked message, ours and GraphQL's own stay as they are."""

from __future__ import annotations

from graphql import ExecutionResult, GraphQLError

from api.i18n import use_locale
from schema import CreditMaskErrors, _mask


def _masker() -> CreditMaskErrors:
    with use_locale("zh_CN"):
        from api.i18n import _

        return CreditMaskErrors(should_mask_error=_mask,
                                error_message=_("Internal error; nothing was disclosed."))


def test_unexpected_error_is_masked_and_ours_are_kept():
    internal = GraphQLError("relation secret_table does not exist", original_error=RuntimeError("sql"))
    ours = GraphQLError("not found", original_error=RuntimeError("x"), extensions={"code": "NOT_FOUND"})
    syntax = GraphQLError("Syntax Error: Unexpected Name")
    result = ExecutionResult(data=None, errors=[internal, ours, syntax])
    _masker()._process_result(result)
    assert [e.message for e in result.errors] == [
        "内部错误，未披露任何信息。", "not found", "Syntax Error: Unexpected Name"]
    assert result.errors[0].original_error is None  # nothing of the fault goes out


def test_results_without_errors_are_left_alone():
    ok = ExecutionResult(data={"a": 1}, errors=None)
    _masker()._process_result(ok)
    assert ok.errors is None
    _masker()._process_result(object())  # no errors attribute: nothing to do, no failure
