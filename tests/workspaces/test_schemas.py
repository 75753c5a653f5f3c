"""What the OpenAPI document says of a body agrees with what the server takes."""

from typing import Any

import jsonschema_rs
import pytest
from pydantic import ValidationError

from ainotes.workspaces.schemas import MemberCreate

USER_ID = "01JGFJJZ00KR23A7HJGAC7953B"


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": USER_ID, "role": "editor"},
        {"username": "ada", "role": "editor"},
        {"user_id": USER_ID, "username": None, "role": "viewer"},
        {"user_id": None, "username": "ada", "role": "owner"},
        {"user_id": USER_ID, "username": "ada", "role": "editor"},
        {"role": "editor"},
        {"user_id": None, "username": None, "role": "editor"},
    ],
)
def test_member_create_documents_exactly_one_identifier(body: dict[str, Any]) -> None:
    documented = jsonschema_rs.validator_for(MemberCreate.model_json_schema()).is_valid(body)
    try:
        MemberCreate.model_validate(body)
        taken = True
    except ValidationError:
        taken = False
    assert documented == taken
