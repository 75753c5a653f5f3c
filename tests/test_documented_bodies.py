"""Where a body's model checks more than its fields one by one (a validator across fields),
the OpenAPI document says it too, so that a client building bodies from the document (an
agent's tool schema, a generated client) gets them right: for bodies of each combination, the
documented schema and the model take the same ones."""

from typing import Any

import jsonschema_rs
import pytest
from pydantic import BaseModel, ValidationError

from ainotes.agent_actions.schemas import ProposalPolicyUpdate, UpdateNoteOp, UpdateTaskOp
from ainotes.workspaces.schemas import MemberCreate

ID = "01JGFJJZ00KR23A7HJGAC7953B"
NOTE = {"op": "update_note", "note_id": ID, "base_version": 1}
TASK = {"op": "update_task", "task_id": ID, "base_version": 1}

CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (MemberCreate, {"user_id": ID, "role": "editor"}),
    (MemberCreate, {"username": "ada", "role": "editor"}),
    (MemberCreate, {"user_id": ID, "username": None, "role": "viewer"}),
    (MemberCreate, {"user_id": None, "username": "ada", "role": "owner"}),
    (MemberCreate, {"user_id": ID, "username": "ada", "role": "editor"}),
    (MemberCreate, {"role": "editor"}),
    (MemberCreate, {"user_id": None, "username": None, "role": "editor"}),
    (UpdateNoteOp, {**NOTE, "title": "New"}),
    (UpdateNoteOp, {**NOTE, "body": ""}),
    (UpdateNoteOp, {**NOTE, "tags": []}),
    (UpdateNoteOp, {**NOTE, "title": None, "tags": ["a"]}),
    (UpdateNoteOp, {**NOTE}),
    (UpdateNoteOp, {**NOTE, "title": None, "body": None, "tags": None}),
    (UpdateTaskOp, {**TASK, "status": "done"}),
    (UpdateTaskOp, {**TASK, "text": "Call Ada", "status": None}),
    (UpdateTaskOp, {**TASK}),
    (UpdateTaskOp, {**TASK, "status": None, "text": None}),
    (ProposalPolicyUpdate, {}),
    (ProposalPolicyUpdate, {"auto_apply": ["create_note"]}),
    (ProposalPolicyUpdate, {"auto_apply": ["trash_note"], "confirm_destructive": True}),
    (ProposalPolicyUpdate, {"auto_apply": ["create_note", "trash_note"]}),
    (ProposalPolicyUpdate, {"auto_apply": ["trash_note"], "confirm_destructive": False}),
    (ProposalPolicyUpdate, {"confirm_destructive": True}),
]


@pytest.mark.parametrize(("model", "body"), CASES)
def test_the_document_and_the_model_take_the_same_bodies(
    model: type[BaseModel], body: dict[str, Any]
) -> None:
    documented = jsonschema_rs.validator_for(model.model_json_schema()).is_valid(body)
    try:
        model.model_validate(body)
        taken = True
    except ValidationError:
        taken = False
    assert documented == taken
