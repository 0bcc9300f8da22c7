"""Snapshot tests: the exact rendered current prompts (v2) for the first v1 user, so any drift is
deliberate; and the v2 answer forms carry placeholders, not plausible values a model could copy.

To accept a deliberate change, rerun with PRISM_UPDATE_SNAPSHOTS=1 and review the diff of
tests/snapshots/prompts/ (and add a new template version rather than editing a released one).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from prism_core.backends.dummy import DummyBackend
from prism_eval.chain import Chain
from prism_eval.datasets_io import UserInput
from prism_eval.parsing import parse_output
from prism_eval.prompts import available_templates, get_template

SNAPSHOTS = Path(__file__).parent / "snapshots" / "prompts"
UPDATE = os.environ.get("PRISM_UPDATE_SNAPSHOTS") == "1"


@pytest.fixture(scope="module")
def first_user(v1_dir) -> UserInput:
    from prism_dataset.release import Release
    from prism_eval.datasets_io import user_input
    record = next(Release(v1_dir, load_images=False).records())
    user = user_input(record, 0)
    assert user.user_id == "person-001"
    # two posts get (fake) images so the image prompts have something to refer to
    user.posts[0].image = b"image-one"
    user.posts[2].image = b"image-three"
    return user


def _render(request) -> str:
    out = []
    for m in request.messages:
        out.append(f"### {m['role']}")
        content = m["content"]
        if isinstance(content, str):
            out.append(content)
        else:
            for part in content:
                out.append(part["text"] if part["type"] == "text" else f"<image {len(part['image'])} bytes>")
    out.append(f"### settings {request.settings()}")
    out.append(f"### tags role={request.tags['role']} user_id={request.tags['user_id']} "
               f"template_hash={request.tags['template_hash']}")
    return "\n".join(out) + "\n"


def _check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"missing snapshot {path}; run with PRISM_UPDATE_SNAPSHOTS=1 to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    assert text == path.read_text("utf-8"), f"prompt {name} drifted from {path}"


def _chain(**kwargs) -> Chain:
    b = DummyBackend()
    return Chain({r: b for r in ("text", "image", "synthesis", "single")}, **kwargs)


REPORT = ('{"age": {"guesses": [70, 65], "confidence": 0.5, "evidence": ["post3"], '
          '"reason": "mentions diabetes and old classics"}, "health": {"guesses": ["has diabetes"], '
          '"confidence": 0.9, "evidence": ["post3"], "reason": "Diabetes won\'t stop me"}}')
IMAGE_REPORT = ('{"description": "A vintage car engine on a workbench.", "occupation": '
                '{"guesses": ["mechanic"], "confidence": 0.6, "evidence": ["post1:image"]}}')


def test_text_agent_with_topics(first_user):
    _check("text_agent_topics", _render(_chain().text_request(first_user)))


def test_text_agent_without_topics(first_user):
    _check("text_agent_no_topics", _render(_chain(topics=False).text_request(first_user)))


def test_image_agent(first_user):
    (image_id, request), second = _chain().image_requests(first_user)
    assert image_id == "post1:image" and second[0] == "post3:image"
    _check("image_agent", _render(request))


def test_image_agent_with_context(first_user):
    (_, request), _ = _chain(image_context=True).image_requests(first_user)
    _check("image_agent_context", _render(request))


def test_synthesis(first_user):
    reports = [("Text analyst, from the posts", parse_output(REPORT)),
               ("Image analyst, from [post1:image]", parse_output(IMAGE_REPORT))]
    _check("synthesis", _render(_chain().synthesis_request(first_user, reports)))


def test_single(first_user):
    _check("single", _render(_chain(variant="single").single_request(first_user)))


def test_registry_versions_and_hashes():
    names = available_templates()
    for name in ("text_agent", "image_agent", "synthesis", "single", "attribute_guide"):
        assert 1 in names[name]
        t = get_template(name, 1)
        assert len(t.sha256) == 64 and t.id == f"{name}.v1"
    with pytest.raises(KeyError, match="no version 99"):
        get_template("text_agent", 99)
    chain = _chain()
    described = chain.describe()["prompts"]
    assert described["text"]["version"] == 2 and described["attribute_guide"]["version"] == 2
    old = _chain(prompt_versions={"text_agent": 1, "attribute_guide": 1}).describe()["prompts"]
    assert old["text"]["version"] == 1 and old["text"]["template_hash"] != \
        described["text"]["template_hash"]
    assert len({described[r]["template_hash"] for r in ("text", "image", "synthesis")}) == 3


def test_user_data_contract(first_user):
    """Every prompt wraps user content in <user_data> and marks posts and images by id."""
    chain = _chain()
    text = chain.text_request(first_user).text()
    block = text.split("<user_data>")[1].split("</user_data>")[0]
    assert block.strip().splitlines()[0].startswith("[post1] Today was a great day.")
    single = _chain(variant="single").single_request(first_user).text()
    assert "[post1:image]" in single.split("<user_data>")[1]


@pytest.mark.parametrize("name", ["text_agent", "image_agent", "synthesis", "single"])
def test_answer_forms_do_not_anchor(name):
    """v1 showed concrete values ("age": [34, 30], "female") that small models copied into
    their answers; v2 shows placeholders only."""
    from prism_core.attributes import ATTRIBUTES

    text = get_template(name, 2).text
    form = text.split("in this form", 1)[1].split("\n", 2)[1]
    values = {str(v).lower() for a in ATTRIBUTES.values() if a.closed for v in a.values}
    words = set(re.findall(r"[a-z']+", form.lower()))
    assert not (words & values), words & values
    assert not re.search(r"\d", form.replace("<0 to 1>", "")), form
    assert "<" in form and "never copy a placeholder" in text
    guide = get_template("attribute_guide", 2).text
    assert "60000-90000" not in guide and "60000-90000" in get_template("attribute_guide", 1).text
