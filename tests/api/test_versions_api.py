"""Version search over uploaded artifacts that declare versions in their cards."""

from __future__ import annotations

from tests.support.zips import upload


def test_version_queries_find_the_right_artifacts(client, auth):
    made = {v: upload(client, auth, "model", name="clf", version=v)["metadata"]
            for v in ("1.2.0", "1.2.5", "1.3.0", "2.0.0")}
    upload(client, auth, "dataset", name="other", version="1.2.1")

    def ids(body: dict) -> set[str]:
        r = client.post("/artifact/byVersion", headers=auth, json=body)
        assert r.status_code == 200, r.text
        return {a["id"] for a in r.json()}

    assert ids({"version": "1.2.5"}) == {made["1.2.5"]["id"]}
    assert ids({"version": "~1.2.0", "name": "clf"}) == {made["1.2.0"]["id"], made["1.2.5"]["id"]}
    assert ids({"version": "^1.2.0", "types": ["model"]}) == {
        made[v]["id"] for v in ("1.2.0", "1.2.5", "1.3.0")}
    assert ids({"version": "1.2.5-2.0.0", "name": "clf"}) == {
        made[v]["id"] for v in ("1.2.5", "1.3.0", "2.0.0")}
    listed = client.post("/artifact/byVersion", headers=auth, json={"version": "2.0.0"}).json()
    assert listed == [{**made["2.0.0"], "version": "2.0.0"}]


def test_no_match_is_404_and_a_bad_query_is_400(client, auth):
    upload(client, auth, "model", name="clf", version="1.0.0")
    assert client.post("/artifact/byVersion", headers=auth,
                       json={"version": "9.9.9"}).status_code == 404
    bad = client.post("/artifact/byVersion", headers=auth, json={"version": "^banana"})
    assert bad.status_code == 400 and "banana" in bad.json()["message"]
