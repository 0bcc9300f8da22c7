"""Defences: the spec syntax, each text and image defence, the defended split with provenance,
and the before/after audit (the same model, cache and users) with its utility cost."""
from __future__ import annotations

import io
import json
import os

import pytest

from prism_core.errors import PrismError
from prism_eval.attackers import ocr
from prism_eval.cues import find_cues
from prism_eval.defences import build_pipeline, parse_spec, slug
from prism_eval.defences.text import redact

HAVE_OCR = ocr.engine()[0] is not None
needs_ocr = pytest.mark.skipif(not HAVE_OCR, reason="tesseract-ocr is not installed")


def _sign(lines, size=(420, 200), font_size=22) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    from prism_core.images import png_bytes
    im = Image.new("RGB", size, (250, 246, 235))
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=font_size)
    for i, line in enumerate(lines):
        d.text((24, 24 + i * (font_size + 12)), line, fill=(10, 10, 10), font=font)
    return png_bytes(im)


# ------------------------------------------------------------------ spec syntax

def test_spec_steps_options_and_errors():
    assert parse_spec("redact") == [("redact", {})]
    assert parse_spec("redact[attributes=age|occupation,weak=true]+downscale[max_side=64]") == [
        ("redact", {"attributes": ["age", "occupation"], "weak": True}),
        ("downscale", {"max_side": 64})]
    # a model spec keeps its colon, and '+' inside brackets belongs to the options
    assert parse_spec("rewrite[model=openai:gpt-4o-mini,base_url=http://h:1/v1]")[0][1] == {
        "model": "openai:gpt-4o-mini", "base_url": "http://h:1/v1"}
    assert slug("rewrite[model=openai:x]+blur-text") == "rewrite-model-openai-x+blur-text"
    with pytest.raises(PrismError, match="did you mean 'redact'"):
        parse_spec("redakt")
    with pytest.raises(PrismError, match="KEY=VALUE"):
        parse_spec("redact[weak]")
    with pytest.raises(PrismError, match="unknown attribute"):
        build_pipeline("redact[attributes=shoe_size]")


# ------------------------------------------------------------------ text defences

TEXTS = ["I'm a nurse and I'm 34. Born in Tokyo, my husband and I love #NurseLife.",
         "My salary is $85k a year, and Ramadan starts tomorrow.",
         "My high blood pressure means less salt. Two weeks in the UK were not enough."]


def test_redaction_removes_every_cue_the_lexicon_reads():
    for text in TEXTS:
        assert find_cues(text, weak=False)
        out = redact(text)
        assert find_cues(out, weak=False) == [], out
    assert redact("I'm a nurse and I'm 34.") == "I'm a [occupation] and I'm [age]."
    only = redact("I'm a nurse and I'm 34.", attributes=["age"])
    assert "nurse" in only and "34" not in only
    assert redact("I'm 34.", placeholder="blank") == "I'm [\u2026]."
    # weak cues only on request
    post = "Just got my nursing badge at St. Mary's, 29 and finally debt-free!"
    assert redact(post) == post
    assert "29" not in redact(post, weak=True) and "nursing" not in redact(post, weak=True)


def test_ner_anonymises_entities_offline():
    pytest.importorskip("presidio_analyzer")
    [out] = build_pipeline("ner").texts(
        ["I'm John Smith from Lagos, write to john.smith@example.org"])
    assert "John Smith" not in out and "Lagos" not in out and "example.org" not in out
    assert "<PERSON>" in out and "<LOCATION>" in out
    step = build_pipeline("ner").steps[0].describe()
    assert step["options"]["model"] and "presidio-analyzer" in step["versions"]


def test_rewrite_through_an_openai_compatible_backend(monkeypatch):
    from fake_openai import FakeOpenAIServer, last_user_text

    def reply(body):  # the "model" drops the occupation from the post between the tags
        post = last_user_text(body).split("<user_data>")[1].split("</user_data>")[0].strip()
        return "Rewritten post: " + post.replace("nurse", "worker")

    monkeypatch.setenv("FAKE_KEY", "k")
    with FakeOpenAIServer(reply=reply) as server:
        pipe = build_pipeline(f"rewrite[model=openai:fake,base_url={server.base_url},"
                              "api_key_env=FAKE_KEY]")
        out = pipe.texts(["I'm a nurse in Lagos.", "Hello there"])
        assert out == ["I'm a worker in Lagos.", "Hello there"]
        assert server.requests == 2
        assert pipe.describe()["steps"][0]["prompt"]["name"] == "defence_rewrite"
        pipe.close()


def test_rewrite_failures_leave_the_post_and_are_counted():
    pipe = build_pipeline("rewrite[model=dummy,error=down]")
    assert pipe.texts(["I'm a nurse.", "x"]) == ["I'm a nurse.", "x"]
    assert pipe.steps[0].describe()["failed"] == 2
    with pytest.raises(PrismError, match="give the model"):
        build_pipeline("rewrite")


# ------------------------------------------------------------------ image defences

def _jpeg_with_exif() -> bytes:
    from PIL import Image
    im = Image.new("RGB", (640, 480), (120, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()


def test_strip_downscale_and_remove():
    from PIL import Image
    data = _jpeg_with_exif()
    assert b"SecretCam" in data
    out = build_pipeline("strip-metadata").image(data)
    assert b"SecretCam" not in out.data and Image.open(io.BytesIO(out.data)).size == (640, 480)
    small = build_pipeline("downscale[max_side=64,quality=30]").image(data)
    im = Image.open(io.BytesIO(small.data))
    assert max(im.size) == 64 and im.format == "JPEG"
    assert build_pipeline("remove-image").image(data).data is None
    # composed: after removal nothing else runs
    assert build_pipeline("strip-metadata+remove-image+downscale").image(data).data is None


@needs_ocr
@pytest.mark.parametrize("spec", ["blur-text", "pixelate-text", "blur-text[only=cues]"])
def test_hiding_text_in_pictures_stops_ocr_reading_the_cue(spec):
    badge = _sign(["Hi, I'm a nurse", "at Tokyo Mercy Hospital"])
    engine = ocr.engine()[0]
    assert "nurse" in ocr.read_text(badge, engine)
    out = build_pipeline(spec).image(badge)
    assert 0 < out.obscured < 1
    assert "nurse" not in ocr.read_text(out.data, engine).lower()


# ------------------------------------------------------------------ split and audit

@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A defence audit on 8 synthetic users: redaction (text) and blur-text (images)."""
    from prism_eval.defences import defence_audit
    out = tmp_path_factory.mktemp("defence") / "audit"
    specs = ["redact"] + (["blur-text"] if HAVE_OCR else [])
    result = defence_audit(dataset="synthetic", n_users=8, out=str(out), progress=False,
                           variants=["posts-only", "image-only"], defences=specs)
    return result


def test_redaction_lowers_the_explicit_cue_top1_with_the_same_users_and_cache(audited):
    comp = json.loads((audited.out / "defence.json").read_text())
    assert comp["users"] == 8 and comp["model"] == "lexicon"
    d = next(d for d in comp["defences"] if d["spec"] == "redact")
    text = d["channels"]["text"]
    assert text["run"] == "posts-only"
    explicit = text["by_mode"]["explicit"]
    assert explicit["before"] > 0 and explicit["after"] < explicit["before"]
    assert text["after"] < text["before"]
    # what it cost: some words changed, the posts still mostly alike
    u = d["utility"]["text"]
    assert 0 < u["words_changed"] < 0.5 and 50 < u["chrf"] < 100
    # the same users before and after, in one shared response cache
    before = [json.loads(x)["user_id"] for x in
              (audited.out / "before" / "posts-only" / "results.jsonl").read_text().splitlines()]
    after = [json.loads(x)["user_id"] for x in
             (audited.out / "redact" / "posts-only" / "results.jsonl").read_text().splitlines()]
    assert before == after and len(before) == 8
    assert (audited.out / "cache.sqlite").is_file()


@needs_ocr
def test_blurring_text_lowers_the_image_channel(audited):
    comp = json.loads((audited.out / "defence.json").read_text())
    d = next(d for d in comp["defences"] if d["spec"] == "blur-text")
    image = d["channels"]["image"]
    assert image["before"] > 0 and image["after"] < image["before"]
    assert d["utility"]["image"]["hidden_area"] > 0
    # posts are untouched by an image defence, so the text channel is unchanged
    assert d["channels"]["text"]["after"] == d["channels"]["text"]["before"]
    assert d["utility"]["text"]["words_changed"] == 0


def test_defended_split_has_provenance_and_reads_back(audited):
    import datasets
    split = audited.out / "splits" / "redact"
    prov = json.loads((split / "defence.json").read_text())
    assert prov["spec"] == "redact" and prov["users"] == 8
    assert prov["steps"][0]["name"] == "redact" and prov["source"]["dataset"] == "synthetic"
    ds = datasets.load_from_disk(str(split))
    assert len(ds) == 8 and "prism_defence" in ds.info.description
    texts = [p["text"] for u in ds.select_columns(["posts"]) for p in u["posts"] if p["text"]]
    assert any("[" in t for t in texts)
    assert all(find_cues(t, weak=False) == [] for t in texts)


def test_report_has_the_defence_section_and_figure(audited):
    md = (audited.out / "report.md").read_text()
    assert "## Defences: leakage before and after, and what they cost" in md
    assert "![Top-1 before and after each defence](figures/defences.png)" in md
    assert "Utility cost" in md and "| redact |" in md
    assert (audited.out / "figures" / "defences.png").stat().st_size > 1000
    assert "before" in str(audited) and "redact" in audited.table()


def test_prism_defend_command_writes_a_split(tmp_path, capsys):
    import datasets

    from prism_eval.cli import main
    out = tmp_path / "d"
    assert main(["defend", "--defence", "redact+remove-image", "--n-users", "3",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "defended 3 users" in printed and "words changed" in printed
    ds = datasets.load_from_disk(str(out))
    assert all(p["image"] is None for u in ds for p in u["posts"])
    prov = json.loads((out / "defence.json").read_text())
    assert prov["utility"]["image"]["removed"] == 1.0
    assert [s["name"] for s in prov["steps"]] == ["redact", "remove-image"]
    assert os.path.isfile(out / "dataset_info.json")


def test_a_channel_without_images_is_not_measured_never_zero():
    from prism_eval.defences.tables import comparison, markdown_tables

    def summary(top1, image_calls):
        return {"scores": {"top1": top1, "attributes": {"age": {"top1": top1}}},
                "calls": {"ok": image_calls, "failed": 0, "unparsed": 0},
                "config": {"dataset": {"images": {"referenced": 4, "found": 0}}}}
    before = {"posts-only": summary(0.5, 1), "image-only": summary(0.0, 0)}
    after = {"redact": {"posts-only": summary(0.25, 1), "image-only": summary(0.0, 0)}}
    util = {"text": {"words_changed": 0.1, "chrf": 90.0},
            "image": {"removed": None, "hidden_area": None, "reencoded": None}}
    comp = comparison(before, after, {"redact": {"utility": util, "steps": []}},
                      {"model": "m", "dataset": "d", "users": 2})
    [d] = comp["defences"]
    assert d["channels"]["text"]["before"] == 0.5 and d["channels"]["text"]["after"] == 0.25
    assert "no images" in d["channels"]["image"]["not_measured"]
    md = markdown_tables(comp)
    assert "| age | 50.0 → 25.0 (-25.0) | not measured |" in md
    # after a defence, an image run that reads nothing measured what is left: zero
    after = {"remove-image": {"posts-only": summary(0.5, 1), "image-only": summary(0.0, 0)}}
    before = {"posts-only": summary(0.5, 1), "image-only": summary(0.25, 3)}
    comp = comparison(before, after, {"remove-image": {"utility": util, "steps": []}},
                      {"model": "m", "dataset": "d", "users": 2})
    image = comp["defences"][0]["channels"]["image"]
    assert image["before"] == 0.25 and image["after"] == 0.0
