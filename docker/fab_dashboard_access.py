"""Let FAB roles see the newswatch dashboard: `can_read` on the custom view `newswatch`.

The dashboard asks the auth manager whether the user may read the resource `newswatch`; with the
FAB auth manager nobody may until that permission exists, and `airflow roles add-perms` refuses a
resource that does not exist yet. airflow-init runs this after `airflow db migrate`:

    python docker/fab_dashboard_access.py [ROLE ...]   # default: Viewer User Op Admin

Running it again changes nothing. Another role can then be given it in the UI (Security → List
Roles) or with `airflow roles add-perms ROLE -r newswatch -a can_read`.
"""

from __future__ import annotations

import sys

from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

from newswatch.dashboard.auth import RESOURCE

ROLES = ("Viewer", "User", "Op", "Admin")


def main(roles: list[str]) -> None:
    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        permission = security.create_permission("can_read", RESOURCE)
        for name in roles:
            role = security.find_role(name) or security.add_role(name)
            if permission not in role.permissions:
                security.add_permission_to_role(role, permission)
        print(f"can_read on {RESOURCE}: {', '.join(roles)}")


if __name__ == "__main__":
    main(sys.argv[1:] or list(ROLES))
