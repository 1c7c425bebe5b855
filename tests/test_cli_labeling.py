"""The labeling workflow through `radscholar projects`, `cases`, `tasks`, `labels`, `agreement` and `datasets`,
and the SDK's calls behind them, against the session's shared platform.

The platform is shared, so every project and site here has a name of its own and every phantom a random
seed (fresh UIDs); assertions look only at what these tests made. Annotators label through the SDK, with
the tokens `platform.user` gives them; the admin drives the command line, signed in like a person.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from radscholar import ApiError, Client
from radscholar import cli as radscholar_cli
from radscholar.cli import app
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Platform

runner = CliRunner()
SHAPE = (16, 48, 48)  # slices, rows, columns
CLASSES = ("normal=#1f77b4", "benign=#2ca02c", "malignant=#d62728")
NAMES = [spec.split("=")[0] for spec in CLASSES]


@pytest.fixture(autouse=True)
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private config and cache folders; no credentials from the environment; output wide enough for UIDs."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RADSCHOLAR_API_KEY", raising=False)
    monkeypatch.delenv("RADSCHOLAR_URL", raising=False)
    monkeypatch.setattr(radscholar_cli.console, "width", 400)
    monkeypatch.setattr(radscholar_cli.err_console, "width", 400)
    return tmp_path


@pytest.fixture
def admin(platform: Platform) -> Iterator[Client]:
    with Client(platform.url) as client:
        client.login(ADMIN_USERNAME, ADMIN_PASSWORD)
        yield client


def radscholar(platform: Platform, *args: str) -> Result:
    """Runs `radscholar ARGS --url URL`."""
    return runner.invoke(app, [*args, "--url", platform.url])


def ok(platform: Platform, *args: str) -> str:
    """The output of a command that must succeed."""
    result = radscholar(platform, *args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def sign_in(platform: Platform) -> None:
    result = runner.invoke(
        app, ["login", "--username", ADMIN_USERNAME, "--password-stdin", "--url", platform.url], input=ADMIN_PASSWORD
    )
    assert result.exit_code == 0, result.output


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rows(output: str, *needles: str) -> list[str]:
    """The lines of a table holding every needle."""
    return [line for line in output.splitlines() if all(needle in line for needle in needles)]


def upload_phantoms(client: Client, folder: Path, site: str) -> list[dict[str, Any]]:
    """Two small chest CT studies with fresh UIDs, uploaded from the site; their manifest entries."""
    import radscholar_phantoms

    radscholar_phantoms.generate("ct", 2, 1, random.randrange(10**9), folder, shape=SHAPE)
    summary = client.upload([folder / "site-a"], site=site)
    assert (summary.stored, summary.rejected) == (2 * SHAPE[0], 0)
    cases: list[dict[str, Any]] = json.loads((folder / "manifest.json").read_text())["cases"]
    return cases


def flipped(label: str) -> str:
    return NAMES[(NAMES.index(label) + 1) % len(NAMES)]


def box(series_uid: str, shift: int = 0) -> dict[str, Any]:
    return {
        "class_name": "benign",
        "series_instance_uid": series_uid,
        "min": [10 + shift, 10, 2],
        "max": [20 + shift, 20, 6],
    }


def test_a_project_from_cases_to_a_frozen_dataset(platform: Platform, admin: Client, tmp_path: Path) -> None:
    site = unique("lab")
    admin.create_site(site, f"Labeling hospital {site}")
    phantoms = upload_phantoms(admin, tmp_path / "ct", site)
    uids = [case["study_instance_uid"] for case in phantoms]
    sign_in(platform)

    # A project with three classes, listed and shown with its schema.
    name = unique("Nodules")
    created = ok(
        platform, "projects", "create", name, "--modality", "CT", "--task", "detection", "--dim", "3D",
        *(arg for spec in CLASSES for arg in ("--class", spec)), "--level", "case", "--site", site,
    )  # fmt: skip
    [project] = [p for p in admin.projects() if p["name"] == name]
    pid = project["id"]
    assert f"created project {name} (id {pid})" in created
    assert (project["task_type"], project["dimensionality"], project["sites"]) == ("DETECTION", "3D", [site])
    assert [(c["name"], c["color"]) for c in project["label_schema"]["classes"]] == [
        tuple(spec.split("=")) for spec in CLASSES
    ]
    assert rows(ok(platform, "projects", "list"), pid, name, "detection", "normal, benign, malignant")
    shown = ok(platform, "projects", "show", pid)
    assert rows(shown, "benign", "#2ca02c") and rows(shown, "label level", "case")
    assert rows(shown, ADMIN_USERNAME, "lead")

    # Cases: the site's two studies by query, then one of them again by UID.
    added = ok(platform, "cases", "add", pid, "--site", site, "--modality", "CT")
    assert f"added 2 cases to project {pid}" in added
    assert all(rows(added, uid) for uid in uids)
    again = ok(platform, "cases", "add", pid, "--study", uids[0])
    assert "added 0 cases" in again and "1 already there" in again

    # Two annotators, added by username and by id; every case to both.
    (first, first_token), (second, second_token) = (platform.user(["annotator"]) for _ in range(2))
    member = ok(platform, "projects", "add-member", pid, first["username"], "--role", "annotator")
    assert f"{first['username']} is annotator of project {pid}" in member
    ok(platform, "projects", "add-member", pid, second["id"], "--role", "annotator")
    assert rows(ok(platform, "projects", "show", pid), second["username"], "annotator")
    assigned = ok(
        platform, "tasks", "assign", pid, "--annotator", first["username"], "--annotator", second["id"], "--each",
        "--site", site,
    )  # fmt: skip
    assert "assigned 4 tasks" in assigned
    assert rows(assigned, first["username"], "2") and rows(assigned, second["username"], "2")
    mine = ok(platform, "tasks", "list", pid, "--assignee", first["username"], "--status", "untagged")
    assert "tasks (2)" in mine and len(rows(mine, first["username"], "untagged")) == 2
    assert "no tasks match" in ok(platform, "tasks", "list", pid, "--assignee", "-")

    # The annotators label through the SDK: the second flips the first case's class and shifts a box.
    task_of: dict[tuple[str, str], str] = {}
    for user, token, differs in ((first, first_token, False), (second, second_token, True)):
        with Client(platform.url, token=token) as annotator:
            assert annotator.tasks(pid).total_size == 2
            while (task := annotator.next_task(pid)) is not None:
                uid = task["case"]["study_instance_uid"]
                case = phantoms[uids.index(uid)]
                label = flipped(case["label"]) if differs and uid == uids[0] else case["label"]
                series = task["case"]["series"][0]["series_instance_uid"]
                draft = annotator.save_annotation(task["id"], base_version=0, labels=[label])
                assert (draft["version"], draft["submitted"]) == (1, False)
                saved = annotator.save_annotation(
                    task["id"],
                    base_version=1,
                    labels=[label],
                    boxes=[box(series, shift=2 if differs and uid == uids[1] else 0)],
                    submit=True,
                )
                assert (saved["version"], saved["author_id"], saved["submitted"]) == (2, user["id"], True)
                task_of[(user["id"], uid)] = task["id"]
            with pytest.raises(ApiError) as stale:
                annotator.save_annotation(task_of[(user["id"], uids[0])], base_version=1, labels=["normal"])
            assert (stale.value.status, stale.value.reason) == (409, "STALE_VERSION")
    history = ok(platform, "labels", "history", task_of[(first["id"], uids[0])])
    assert "2 versions" in history and rows(history, "draft") and rows(history, "yes", phantoms[0]["label"])
    progress = ok(platform, "tasks", "progress", pid)
    assert "progress (2 cases)" in progress
    assert rows(progress, first["username"], "2") and rows(progress, "all", "4")

    # Agreement: the CLI prints what the SDK answers.
    agreement = admin.agreement(pid)
    assert agreement["cases_compared"] == 2 and agreement["kappa_method"] == "cohen"
    firsts = [c["label"] for c in phantoms]
    seconds = [flipped(firsts[0]), firsts[1]]
    p_e = sum(firsts.count(k) / 2 * seconds.count(k) / 2 for k in NAMES)  # chance agreement; observed: 1/2
    assert agreement["class_kappa"] == pytest.approx((0.5 - p_e) / (1 - p_e))
    assert agreement["mean_box_iou"] == pytest.approx((1 + 8 / 12) / 2)  # a 10-wide box shifted by 2
    shown = ok(platform, "agreement", pid)
    assert rows(shown, "class kappa (cohen)", f"{agreement['class_kappa']:.3f}") and rows(
        shown, "mean box IoU", "0.833"
    )
    assert rows(shown, "cases compared", "2")
    case_id = next(t["case"]["id"] for t in admin.tasks(pid) if t["case"]["study_instance_uid"] == uids[0])
    assert "disagreements (2)" in shown  # the first case's class and the second case's boxes
    assert rows(shown, case_id, "class", "0.000", f"{first['username']}: {phantoms[0]['label']}")
    assert rows(shown, "boxes", "0.667")

    # Review as the admin: a rejection needs a comment; accept one reading, adjudicate the other case.
    unexplained = radscholar(platform, "labels", "review", task_of[(second["id"], uids[1])], "--reject")
    assert unexplained.exit_code == 2 and "--comment" in unexplained.output
    both = radscholar(platform, "labels", "review", task_of[(second["id"], uids[1])], "--accept", "--reject")
    assert both.exit_code == 2
    accepted = ok(platform, "labels", "review", task_of[(first["id"], uids[1])], "--accept")
    assert f"task {task_of[(first['id'], uids[1])]}: reviewed" in accepted
    adjudicated = ok(
        platform, "labels", "review", task_of[(first["id"], uids[0])], "--adjudicate", "--comment", "spiculated margin"
    )
    assert f"task {task_of[(second['id'], uids[0])]} of {second['username']}: rejected" in adjudicated
    assert rows(ok(platform, "tasks", "list", pid, "--status", "rejected"), second["username"], "rejected")

    # A frozen dataset version, written as a manifest; freezing again finds the same one.
    bad_split = radscholar(platform, "datasets", "freeze", pid, "--train", "0.9")
    assert bad_split.exit_code == 2 and "sum to" in bad_split.output
    out = tmp_path / "manifest.json"
    frozen = ok(
        platform, "datasets", "freeze", pid, "--train", "0.5", "--validation", "0.5", "--test", "0",
        "--stratify", "none", "--seed", "3", "--out", str(out),
    )  # fmt: skip
    [dataset] = admin.datasets(pid)
    assert f"froze dataset version {dataset['id']}" in frozen and f"manifest written to {out}" in frozen
    manifest = json.loads(out.read_text())
    items = {item["study_instance_uid"]: item for item in manifest["items"]}
    assert set(items) == set(uids)
    assert {uid: item["label_class"] for uid, item in items.items()} == {
        c["study_instance_uid"]: c["label"] for c in phantoms
    }
    assert sorted(manifest["splits"].values()) == ["train", "validation"]
    assert admin.dataset(dataset["id"])["manifest"] == manifest
    again = ok(
        platform, "datasets", "freeze", pid, "--train", "0.5", "--validation", "0.5", "--test", "0", "--seed", "3"
    )
    assert f"the same dataset version exists already: {dataset['id']}" in again
    listed = ok(platform, "datasets", "list", pid)
    assert rows(listed, dataset["id"], "1 / 1 / 0", dataset["content_hash"])
    copy = tmp_path / "copy.json"
    shown = ok(platform, "datasets", "show", dataset["id"], "--out", str(copy))
    assert rows(shown, "train", "1") and rows(shown, "content hash", dataset["content_hash"])
    assert rows(shown, "created by", ADMIN_USERNAME)
    assert json.loads(copy.read_text()) == manifest

    # A member taken out again.
    removed = ok(platform, "projects", "remove-member", pid, second["username"])
    assert f"{second['username']} is no member of project {pid} any more" in removed


def test_an_annotator_works_through_the_command_line_too(platform: Platform, admin: Client, tmp_path: Path) -> None:
    site = unique("lab")
    admin.create_site(site, f"Labeling hospital {site}")
    uids = [c["study_instance_uid"] for c in upload_phantoms(admin, tmp_path / "ct", site)]
    project = admin.create_project(
        unique("Triage"), "CT", "CLASSIFICATION", "3D", classes=[("normal", "#1f77b4"), ("abnormal", "#d62728")]
    )
    pid = project["id"]
    assert admin.add_cases(pid, study_instance_uids=uids)["already_present"] == []
    assert len(admin.add_cases(pid, query={"site": site})["already_present"]) == 2
    annotator, token = platform.user(["annotator"], {pid: "annotator"})
    assert admin.assign_tasks(pid, [annotator["id"]]) == {"assigned": 2, "per_annotator": {annotator["id"]: 2}}
    with Client(platform.url, token=token) as client:
        task = client.next_task(pid)
        assert task is not None
        client.save_annotation(task["id"], base_version=0, labels=["abnormal"], submit=True)
        assert [v["labels"] for v in client.annotation_versions(task["id"])] == [
            [{"class_name": "abnormal", "series_instance_uid": "", "sop_instance_uid": ""}]
        ]
    progress = admin.progress(pid)
    assert progress["per_annotator"][annotator["id"]]["counts"].get("tagged") == 1
    assert [t["id"] for t in admin.tasks(pid, status=["tagged"])] == [task["id"]]
    assert admin.tasks(pid, status="untagged", limit=1).total_size == 1

    # The annotator's own sign-in: their next task is the other case.
    with Client(platform.url, token=token) as client, pytest.MonkeyPatch.context() as patch:
        patch.setenv("RADSCHOLAR_API_KEY", client.create_key("cli")[1])
        following = ok(platform, "tasks", "next", pid)
        assert rows(following, "status", "untagged") and rows(following, "assignee", annotator["username"])
        assert rows(following, "study uid", next(uid for uid in uids if uid != task["case"]["study_instance_uid"]))
        refused = radscholar(platform, "cases", "add", pid, "--study", uids[0])
        assert refused.exit_code == 1 and "error: " in refused.output and "Traceback" not in refused.output
        inbox = ok(platform, "tasks", "mine", "--task", "classification")
        assert rows(inbox, pid, "untagged") and rows(inbox, task["id"], "tagged")
        assert "no tasks match" in ok(platform, "tasks", "mine", "--task", "segmentation")
        assert [t["id"] for t in client.my_tasks(status="tagged")] == [task["id"]]


def test_mistakes_end_with_a_clear_message(platform: Platform, admin: Client) -> None:
    sign_in(platform)
    missing = unique("no-such-project")
    for args in (("projects", "show", missing), ("tasks", "progress", missing), ("agreement", missing)):
        result = radscholar(platform, *args)
        assert result.exit_code == 1, result.output
        assert "error: PROJECT_NOT_FOUND:" in result.output and "Traceback" not in result.output

    bad_class = radscholar(
        platform, "projects", "create", unique("x"), "--modality", "CT", "--task", "detection", "--dim", "3d",
        "--class", "benign=green",
    )  # fmt: skip
    assert bad_class.exit_code == 2 and "NAME=#rrggbb" in bad_class.output
    twice = radscholar(
        platform, "projects", "create", unique("x"), "-m", "CT", "--task", "detection", "--dim", "3d",
        "-c", "benign", "-c", "benign=#2ca02c",
    )  # fmt: skip
    assert twice.exit_code == 2 and "given twice" in twice.output
    bad_task = radscholar(platform, "projects", "create", unique("x"), "-m", "CT", "--task", "drawing", "--dim", "3d")
    assert bad_task.exit_code == 2

    pid = admin.create_project(unique("Mistakes"), "CT", "CLASSIFICATION", "2D", classes=[("a", "#000000")])["id"]
    assert radscholar(platform, "cases", "add", pid).exit_code == 2
    assert radscholar(platform, "cases", "add", pid, "--study", "1.2.3", "--site", "x").exit_code == 2
    assert radscholar(platform, "cases", "add", pid, "--from", "yesterday").exit_code == 2
    unknown_study = radscholar(platform, "cases", "add", pid, "--study", "1.2.3.4.5.6.7")
    assert unknown_study.exit_code == 1 and "error: STUDY_NOT_FOUND:" in unknown_study.output
    stranger = radscholar(platform, "tasks", "assign", pid, "--annotator", unique("nobody"))
    assert stranger.exit_code == 1 and "error: NOT_A_MEMBER:" in stranger.output
    assert "radscholar projects add-member" in stranger.output
    no_user = radscholar(platform, "projects", "add-member", pid, unique("nobody"), "--role", "annotator")
    assert no_user.exit_code == 1 and "error: USER_NOT_FOUND:" in no_user.output
    assert radscholar(platform, "projects", "add-member", pid, ADMIN_USERNAME, "--role", "boss").exit_code == 2
    assert radscholar(platform, "labels", "review", "some-task").exit_code == 2
    empty = radscholar(platform, "datasets", "freeze", pid)
    assert empty.exit_code == 1 and "error: NOTHING_ACCEPTED:" in empty.output
    assert "no dataset versions" in ok(platform, "datasets", "list", pid)
    with pytest.raises(ValueError, match="either"):
        admin.add_cases(pid)


def test_labels_go_in_and_out_as_files(platform: Platform, admin: Client, tmp_path: Path) -> None:
    site = unique("exchange")
    admin.create_site(site, f"Exchange hospital {site}")
    phantoms = upload_phantoms(admin, tmp_path / "ct", site)
    sign_in(platform)
    project = admin.create_project(
        unique("Exchange"), "CT", "CLASSIFICATION", "3D", classes=[tuple(spec.split("=")) for spec in CLASSES]
    )
    pid = project["id"]
    admin.add_cases(pid, study_instance_uids=[case["study_instance_uid"] for case in phantoms])
    reader, _ = platform.user(["annotator"], {pid: "annotator"})
    _, reviewer_token = platform.user(["reviewer"], {pid: "reviewer"})

    classes = tmp_path / "classes.csv"
    classes.write_text(
        "study_instance_uid,class\n" + "".join(f"{c['study_instance_uid']},{c['label']}\n" for c in phantoms)
    )
    imported = ok(platform, "labels", "import", pid, str(classes), "--annotator", reader["username"], "--submit")
    assert "imported 2 class labels and 0 boxes into 2 cases" in imported
    with Client(platform.url, token=reviewer_token) as reviewer:
        for task in reviewer.tasks(pid, status="tagged"):
            reviewer.review_task(task["id"], "accept")

    exported = tmp_path / "accepted.csv"
    assert "wrote" in ok(platform, "labels", "export", pid, "--format", "csv", "--out", str(exported))
    lines = exported.read_text().splitlines()
    assert sorted((line.split(",")[1], line.split(",")[5]) for line in lines[1:]) == sorted(
        (c["study_instance_uid"], c["label"]) for c in phantoms
    )
    assert "annotator_id" in lines[0]

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("study_instance_uid,class\n1.2.3,benign\n")
    refused = radscholar(platform, "labels", "import", pid, str(unknown))
    assert refused.exit_code == 1 and "CASE_NOT_IN_PROJECT" in refused.output
    odd = tmp_path / "labels.txt"
    odd.write_text("x")
    assert radscholar(platform, "labels", "import", pid, str(odd)).exit_code == 2  # neither CSV nor JSON
