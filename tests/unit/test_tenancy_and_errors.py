import pytest

from core.kernel import ConflictError, DomainError, NotFoundError, TenantContext
from core.kernel.errors import PROBLEM_BASE


def test_a_tenant_context_needs_a_workspace() -> None:
    with pytest.raises(ValueError, match="workspace"):
        TenantContext("")
    assert TenantContext("ws_1", actor_id="usr_1").workspace_id == "ws_1"


def test_domain_errors_carry_a_stable_type_status_and_title() -> None:
    error = NotFoundError("no such invoice", invoice_id="inv_1")

    assert error.status == 404
    assert error.type_uri() == PROBLEM_BASE + "not-found"
    assert error.detail == "no such invoice"
    assert error.extra == {"invoice_id": "inv_1"}


def test_a_domain_error_without_detail_explains_itself_with_its_title() -> None:
    assert ConflictError().detail == ConflictError.title
    assert str(DomainError()) == DomainError.title
