"""DELETE /api/contacts/{id}: an admin erases a contact; a read key cannot; unknown is 404."""

from __future__ import annotations

from audience.store.results import scalar_int
from tests.serve.conftest import Served

CONTACT = "C0000010"


def _rows(served: Served, table: str) -> int:
    return scalar_int(
        served.workspace.database.con,
        f"SELECT count(*) FROM {table} WHERE contact_id = ?",
        [CONTACT],
    )


def test_an_admin_erases_a_contact_and_the_server_forgets_it(served: Served) -> None:
    assert served.client.get(f"/api/contacts/{CONTACT}", headers=served.as_reader()).is_success
    assert _rows(served, "contacts") == 1

    response = served.client.delete(f"/api/contacts/{CONTACT}", headers=served.as_admin())

    assert response.status_code == 200
    body = response.json()
    assert body["contacts"] == 1
    assert body["counts"]["contacts"] == 1
    assert body["counts"]["memberships"] >= 1
    run = served.workspace.run_id()
    assert body["models"] == {run: "rewritten"}
    assert _rows(served, "contacts") == 0
    assert _rows(served, "events") == 0
    logged = served.workspace.database.con.execute(
        "SELECT requested_by FROM erasures WHERE erasure_id = ?", [body["erasure_id"]]
    ).fetchall()
    assert logged[0][0].startswith("key:")
    gone = served.client.get(f"/api/contacts/{CONTACT}", headers=served.as_reader())
    assert gone.status_code == 404
    # The rewritten model was loaded again (its signature checked) and still assigns.
    assigned = served.client.post(
        "/api/assign", json={"features": {"order_count": 1}}, headers=served.as_reader()
    )
    assert assigned.status_code == 200
    assert assigned.json()["run_id"] == run


def test_a_read_key_cannot_erase(served: Served) -> None:
    response = served.client.delete(f"/api/contacts/{CONTACT}", headers=served.as_reader())
    assert response.status_code == 403
    assert _rows(served, "contacts") == 1


def test_an_unknown_contact_is_404_in_one_paragraph(served: Served) -> None:
    response = served.client.delete("/api/contacts/C9999999", headers=served.as_admin())
    assert response.status_code == 404
    assert "no contact C9999999" in response.json()["detail"]
    again = served.client.delete(f"/api/contacts/{CONTACT}", headers=served.as_admin())
    assert again.status_code == 200
    repeated = served.client.delete(f"/api/contacts/{CONTACT}", headers=served.as_admin())
    assert repeated.status_code == 404
    assert "already erased" in repeated.json()["detail"]


def test_a_tampered_model_file_is_a_409_naming_the_fix(served: Served) -> None:
    """After a write (the host calls workspace_changed) the changed file is checked again."""
    run = served.workspace.run_id()
    path = served.workspace.models.path(run)
    content = bytearray(path.read_bytes())
    content[-5] ^= 0xFF
    path.write_bytes(bytes(content))
    served.client.app.state.service.workspace_changed()  # type: ignore[attr-defined]
    response = served.client.post(
        "/api/assign", json={"features": {"order_count": 1}}, headers=served.as_reader()
    )
    assert response.status_code == 409
    assert "does not carry this workspace's signature" in response.json()["detail"]
    assert "audience segment" in response.json()["detail"]
