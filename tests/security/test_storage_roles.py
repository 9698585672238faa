"""What the app's identity may do in storage (infra/): the narrowest built-in data roles that
do the job, and the input container the policy defaults to, created with the others."""

from __future__ import annotations

from jobs.core.resources import INPUTS_CONTAINER
from tests.infra.bicep import INFRA, STORAGE_MODULE, parse, variable

MAIN = INFRA / "main.bicep"
# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles)
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"  # incl. generateUserDelegationKey
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
STORAGE_ACCOUNT_CONTRIBUTOR = "17d1049b-9a84-46fb-8f53-869881c3d3ab"  # control plane, keys


def test_the_apps_identity_gets_blob_data_contributor_not_owner() -> None:
    roles = variable(MAIN, "storageDataRoleIds")
    assert sorted(roles) == sorted(
        [BLOB_DATA_CONTRIBUTOR, QUEUE_DATA_CONTRIBUTOR, TABLE_DATA_CONTRIBUTOR]
    )
    assert BLOB_DATA_OWNER not in roles
    assert STORAGE_ACCOUNT_CONTRIBUTOR not in roles


def test_the_apps_identity_gets_exactly_those_roles_on_the_storage_account() -> None:
    app_roles = parse(MAIN)["modules"]["appRoles"]["config"]["params"]
    assert app_roles["storageRoleIds"] == "storageDataRoleIds"
    assert app_roles["principalType"] == "ServicePrincipal"


def test_the_default_input_container_is_created_by_infra() -> None:
    assert INPUTS_CONTAINER in variable(STORAGE_MODULE, "appContainers")
