"""Export to a Hub-ready Parquet folder, load it back with plain load_dataset, push (fake HfApi)."""
from __future__ import annotations

from pathlib import Path

import datasets
import pytest
import yaml
from release_factory import make_release

from prism_dataset.builder import PrismBuilder
from prism_dataset.hub import HubError, export_splits, push_folder
from prism_eval.cli import main as prism


def _raw(ds) -> list[dict]:
    """Stored rows; an image's path is kept as its file name (datasets drops folders when it
    embeds images, as push_to_hub does; ``image_ref`` keeps the release's reference)."""
    rows = ds.with_format("arrow")[:].to_pylist()
    for row in rows:
        for post in row["posts"]:
            if post["image"] and post["image"]["path"]:
                post["image"]["path"] = Path(post["image"]["path"]).name
    return rows


@pytest.fixture(scope="module")
def built(tmp_path_factory, v1_dir):
    """A small synthetic build and a small v1 build with images, as {config: DatasetDict}."""
    cache = tmp_path_factory.mktemp("hf")
    synthetic = PrismBuilder(config_name="synthetic", n_users=6, seed=3, image_size=32,
                             cache_dir=str(cache))
    synthetic.download_and_prepare()
    release = make_release(v1_dir, tmp_path_factory.mktemp("rel") / "prism-v1", n_users=4,
                           images=True)
    v1 = PrismBuilder(config_name="v1", data_dir=str(release), cache_dir=str(cache))
    v1.download_and_prepare()
    return {"synthetic": synthetic.as_dataset(), "v1": v1.as_dataset()}


@pytest.fixture(scope="module")
def exported(built, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    export_splits(dict(built["synthetic"]), out, "synthetic", regenerate="prism export ...")
    export_splits(dict(built["v1"]), out, "v1")
    return out


def _card(folder: Path) -> dict:
    text = (folder / "README.md").read_text()
    return yaml.safe_load(text.split("---")[1])


def test_load_dataset_on_the_folder_gives_the_builders_rows(built, exported, tmp_path):
    for config, split in (("synthetic", "train"), ("v1", "test")):
        loaded = datasets.load_dataset(str(exported), config, cache_dir=str(tmp_path))
        original = built[config][split]
        assert list(loaded) == [split]
        assert loaded[split].features == original.features       # ClassLabel names kept
        assert _raw(loaded[split]) == _raw(original)             # every field, image bytes too
    images = [p["image"] for r in _raw(built["v1"]["test"]) for p in r["posts"] if p["image"]]
    assert images and all(i["bytes"] for i in images)            # embedded, not paths


def test_streaming_load_gives_the_same_rows(built, exported):
    stream = datasets.load_dataset(str(exported), "synthetic", split="train", streaming=True)
    for row, original in zip(stream, built["synthetic"]["train"]):
        assert row["user_id"] == original["user_id"]
        assert row["attributes"] == original["attributes"]
        assert [p["image"].tobytes() for p in row["posts"]] == \
            [p["image"].tobytes() for p in original["posts"]]


def test_card_lists_configs_features_provenance_and_licence(exported, tmp_path):
    card = _card(exported)
    configs = {c["config_name"]: c for c in card["configs"]}
    assert configs["synthetic"]["data_files"] == [{"split": "train", "path": "synthetic/train-*"}]
    assert configs["v1"].get("default") is True and "default" not in configs["synthetic"]
    assert card["license"] == "cc-by-4.0"
    infos = {i["config_name"]: i for i in card["dataset_info"]}
    assert infos["synthetic"]["splits"][0]["num_examples"] == 6
    prov = card["prism"]["synthetic"]["provenance"]["train"]
    assert prov["source"] == "synthetic" and prov["seed"] == 3 and prov["prior"].startswith("default@")
    body = (exported / "README.md").read_text()
    assert "## Provenance" in body and "prism export ..." in body and "## Licence" in body
    default = datasets.load_dataset(str(exported), cache_dir=str(tmp_path))
    assert list(default) == ["test"]                             # v1 is the default config


def test_reexport_replaces_the_configs_shards(built, tmp_path):
    splits = dict(built["synthetic"])
    export_splits(splits, tmp_path, "synthetic", max_shard_bytes=20_000)
    assert len(list((tmp_path / "synthetic").glob("train-*.parquet"))) > 1
    export_splits(splits, tmp_path, "synthetic")
    assert [p.name for p in (tmp_path / "synthetic").glob("*.parquet")] == \
        ["train-00000-of-00001.parquet"]
    loaded = datasets.load_dataset(str(tmp_path), "synthetic", split="train",
                                   cache_dir=str(tmp_path / "c"))
    assert _raw(loaded) == _raw(built["synthetic"]["train"])


class FakeHfApi:
    """Records what push_folder asks of the Hub; holds a remote repo with another config."""
    instances: list = []

    def __init__(self, token=None, **kwargs):
        self.token, self.calls = token, []
        FakeHfApi.instances.append(self)

    def whoami(self):
        return {"name": "me"}

    def create_repo(self, repo_id, repo_type=None, private=None, exist_ok=False):
        self.calls.append(("create_repo", repo_id, repo_type, private, exist_ok))

    def list_repo_files(self, repo_id, repo_type=None, revision=None):
        return ["README.md", "other/test-00000-of-00001.parquet",
                "synthetic/train-00000-of-00002.parquet", "synthetic/train-00001-of-00002.parquet"]

    def hf_hub_download(self, repo_id, filename, repo_type=None, revision=None):
        path = Path(self.remote_dir) / filename
        path.write_text("---\nlicense: mit\nconfigs:\n- config_name: other\n  data_files:\n"
                        "  - split: test\n    path: other/test-*\n---\n# remote card\n")
        return str(path)

    def create_commit(self, repo_id, operations, repo_type=None, revision=None,
                      commit_message=None):
        self.calls.append(("create_commit", repo_id, operations, repo_type, revision,
                           commit_message))
        return "https://hub.example/commit/1"


def test_push_uploads_one_commit_with_a_merged_card(exported, tmp_path, monkeypatch):
    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    monkeypatch.setattr(FakeHfApi, "remote_dir", str(tmp_path), raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    FakeHfApi.instances.clear()
    assert push_folder(exported, "me/prism", private=True) == "https://hub.example/commit/1"
    api = FakeHfApi.instances[-1]
    assert api.token == "hf_secret_token"
    assert api.calls[0] == ("create_repo", "me/prism", "dataset", True, True)
    _, repo, ops, repo_type, _, message = api.calls[1]
    assert repo == "me/prism" and repo_type == "dataset" and "synthetic" in message
    added = {op.path_in_repo: op for op in ops if type(op).__name__ == "CommitOperationAdd"}
    deleted = {op.path_in_repo for op in ops if type(op).__name__ == "CommitOperationDelete"}
    assert set(added) == {"README.md", "synthetic/train-00000-of-00001.parquet",
                          "v1/test-00000-of-00001.parquet"}
    assert deleted == {"synthetic/train-00001-of-00002.parquet",
                       "synthetic/train-00000-of-00002.parquet"}   # stale shards only
    card = added["README.md"].path_or_fileobj.decode()
    header = yaml.safe_load(card.split("---")[1])
    assert {c["config_name"] for c in header["configs"]} == {"other", "synthetic", "v1"}
    assert header["license"] == "mit"                      # the repository's own choice stays
    assert "hf_secret_token" not in card


def test_push_refuses_a_folder_without_a_card(tmp_path):
    with pytest.raises(HubError, match="README.md"):
        push_folder(tmp_path, "me/prism")


def test_export_and_push_commands(tmp_path, monkeypatch, capsys):
    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    monkeypatch.setattr(FakeHfApi, "list_repo_files", lambda self, *a, **k: [])
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # the fake Hub answers
    out = tmp_path / "out"
    code = prism(["export", "--config", "synthetic", "--n-users", "3", "--seed", "1",
                  "--image-backend", "none", "--cache-dir", str(tmp_path / "hf"),
                  "--out", str(out)])
    assert code == 0 and "3 users" in capsys.readouterr().out
    card = _card(out)
    assert "--n-users 3 --seed 1" in card["prism"]["synthetic"]["regenerate"]
    assert prism(["push", "--repo-id", "me/prism", "--folder", str(out)]) == 0
    printed = capsys.readouterr()
    assert "me/prism" in printed.out and "hf_secret_token" not in printed.out + printed.err
    with pytest.raises(SystemExit):
        prism(["export", "--out", str(out), "--config", "v2"])


def test_push_without_a_token_is_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no saved login
    assert prism(["push", "--repo-id", "me/prism", "--config", "synthetic", "--n-users", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Hugging Face token" in err[0] and "HF_TOKEN" in err[0]


def test_push_with_the_hub_unreachable_is_one_line(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants as constants
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    import huggingface_hub.hf_api as hf_api
    monkeypatch.setattr(hf_api, "ENDPOINT", "http://127.0.0.1:9", raising=False)
    assert prism(["push", "--repo-id", "me/prism", "--folder", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot use the Hub" in err[0]
    assert "hf_secret_token" not in err[0]
